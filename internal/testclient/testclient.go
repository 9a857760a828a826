// Package testclient holds what the tests of several packages share to
// talk to a web server and watch its logs: Browser, an HTTP client with
// its own cookie jar, and SyncBuffer, a log sink safe for the server's
// goroutines. It is used by tests only.
package testclient

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"sync"
	"testing"
	"time"
)

// SyncBuffer is a bytes.Buffer safe for concurrent use: a log sink the
// server's goroutines write while the test reads it. The zero value is an
// empty buffer ready to use.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p; it never fails.
func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns everything written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Browser is one client of a web server with its own cookie jar, like one
// browser. It does not follow redirects, so tests see the 303s. Its
// methods are safe for concurrent use as long as no field is changed
// meanwhile.
type Browser struct {
	// Base is the server's URL; request paths are relative to it. It may be
	// changed between requests (after a restart on another port): the
	// jar's cookies do not depend on the port.
	Base string
	// UserAgent is sent as the User-Agent header unless empty.
	UserAgent string
	// Client sends the requests: NewBrowser gives it the jar, a 10 s
	// timeout and no redirects. A test may replace its Transport.
	Client *http.Client
}

// NewBrowser returns a Browser of the server at base with an empty cookie
// jar, sending userAgent (none when empty).
func NewBrowser(t testing.TB, base, userAgent string) *Browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &Browser{Base: base, UserAgent: userAgent, Client: &http.Client{
		Jar:           jar,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Send sends a request for Base+path with body (nil for none) and the
// header name/value pairs in hdr, and returns the response with its body
// read and closed, and the body. An error means no complete response
// arrived.
func (b *Browser) Send(method, path string, body io.Reader, hdr ...string) (*http.Response, []byte, error) {
	req, err := http.NewRequest(method, b.Base+path, body)
	if err != nil {
		return nil, nil, err
	}
	if b.UserAgent != "" {
		req.Header.Set("User-Agent", b.UserAgent)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := b.Client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: reading body: %w", method, path, err)
	}
	return resp, data, nil
}

// Cookie returns the cookie called name that the jar would send to Base,
// or nil.
func (b *Browser) Cookie(name string) *http.Cookie {
	u, err := url.Parse(b.Base)
	if err != nil {
		return nil
	}
	for _, c := range b.Client.Jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// SetCookie puts a cookie called name with value and Path=/ in the jar,
// as if Base had set it, replacing any of that name. It fails only when
// Base is not a URL.
func (b *Browser) SetCookie(name, value string) error {
	u, err := url.Parse(b.Base)
	if err != nil {
		return fmt.Errorf("testclient: Base %q: %w", b.Base, err)
	}
	b.Client.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
	return nil
}
