package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// DefaultDialTimeout bounds how long DialSocket's client waits to connect,
// so a missing or wedged socket fails fast instead of hanging.
const DefaultDialTimeout = time.Second

// socketBaseURL is the base URL of a Client on a Unix socket; the host is
// never resolved.
const socketBaseURL = "http://sesbolt"

// Client is a Service that speaks the admin HTTP/JSON API: to a running
// application through its admin socket (DialSocket), or to a handler an
// application mounted on its own server (NewClient). It is safe for
// concurrent use.
//
// Errors the server reports are *Error values that errors.Is maps back to
// the session sentinels (session.ErrNotFound, session.ErrInvalid,
// session.ErrNotSupported, session.ErrTooLarge, ...) and to ErrForbidden;
// failing to reach the server at all is ErrUnavailable; an answer that is
// not this API is ErrProtocol; an incomplete backup is ErrTruncated.
//
// Calls have no overall timeout, because a backup, a check or an expiry of
// every session of a large store may take long; they end when ctx does.
// Give ctx a deadline (or cancel it on a signal) to bound them.
type Client struct {
	base  string       // without a trailing slash
	hc    *http.Client // never nil
	where string       // the socket path or base URL, for error messages
}

// NewClient returns a Client of the admin API whose routes are under
// baseURL (e.g. "https://app.example/admin", the prefix the application
// mounted NewHandler at, where /v1/... follows). hc carries the requests,
// with whatever authentication the application requires; nil means
// http.DefaultClient. A malformed baseURL fails on the first call.
func NewClient(baseURL string, hc *http.Client) *Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), hc: hc, where: baseURL}
}

// DialSocket returns a Client of the admin socket at path (by default a
// database's path plus ".sock"). It does not connect yet: each call dials
// the socket, within DefaultDialTimeout, or reuses an idle connection, so
// a missing socket or stopped application fails fast with ErrUnavailable.
// No proxy is used, whatever the environment says. Close releases idle
// connections.
func DialSocket(path string) *Client {
	d := &net.Dialer{Timeout: DefaultDialTimeout}
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", path)
		},
		MaxIdleConns:           2,
		IdleConnTimeout:        30 * time.Second,
		DisableCompression:     true,
		MaxResponseHeaderBytes: 64 << 10,
	}
	c := NewClient(socketBaseURL, &http.Client{Transport: tr})
	c.where = path
	return c
}

// Close closes the client's idle connections. The client stays usable.
func (c *Client) Close() error {
	c.hc.CloseIdleConnections()
	return nil
}

// List implements Service with GET /v1/sessions. A Limit of zero or less
// asks for the default page size.
func (c *Client) List(ctx context.Context, q ListQuery) (session.Page, error) {
	v := url.Values{}
	if !q.After.IsZero() {
		v.Set("after", q.After.String())
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Filter != session.Live {
		v.Set("filter", q.Filter.String()) // "unknown" is rejected by the server
	}
	if q.User != "" {
		v.Set("user", q.User)
	}
	path := "/v1/sessions"
	if len(v) > 0 {
		path += "?" + v.Encode()
	}
	var resp listResponse
	if err := c.call(ctx, http.MethodGet, path, nil, &resp); err != nil {
		return session.Page{}, err
	}
	if len(resp.Next) > session.MaxCursorSize {
		return session.Page{}, fmt.Errorf("%w: GET /v1/sessions: next is %d bytes long, at most %d", ErrProtocol, len(resp.Next), session.MaxCursorSize)
	}
	page := session.Page{Records: resp.Sessions, Next: session.Cursor(resp.Next)}
	for i, r := range page.Records {
		if r == nil {
			return session.Page{}, fmt.Errorf("%w: GET /v1/sessions: sessions[%d] is null", ErrProtocol, i)
		}
	}
	return page, nil
}

// Get implements Service with GET /v1/sessions/{id}.
func (c *Client) Get(ctx context.Context, id session.ID) (*session.Record, error) {
	var rec *session.Record
	if err := c.call(ctx, http.MethodGet, "/v1/sessions/"+id.String(), nil, &rec); err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, fmt.Errorf("%w: GET /v1/sessions/{id}: null record", ErrProtocol)
	}
	return rec, nil
}

// Expire implements Service: one id is DELETE /v1/sessions/{id}, more are
// POST /v1/expire in batches of at most MaxExpireIDs, so a very long list
// is not expired atomically. On an error it returns the count of the
// batches that succeeded. No ids expire nothing and send nothing.
func (c *Client) Expire(ctx context.Context, ids ...session.ID) (int, error) {
	switch len(ids) {
	case 0:
		return 0, nil
	case 1:
		var resp expireResponse
		err := c.call(ctx, http.MethodDelete, "/v1/sessions/"+ids[0].String(), nil, &resp)
		return resp.Expired, err
	}
	total := 0
	for len(ids) > 0 {
		batch := ids[:min(len(ids), MaxExpireIDs)]
		ids = ids[len(batch):]
		strs := make([]string, len(batch))
		for i, id := range batch {
			strs[i] = id.String()
		}
		var resp expireResponse
		if err := c.call(ctx, http.MethodPost, "/v1/expire", expireRequest{IDs: &strs}, &resp); err != nil {
			return total, err
		}
		total += resp.Expired
	}
	return total, nil
}

// ExpireUser implements Service with POST /v1/expire {"user":user}. An
// empty user is invalid (session.ErrInvalid), since anonymous sessions
// belong to no user.
func (c *Client) ExpireUser(ctx context.Context, user string) (int, error) {
	var resp expireResponse
	err := c.call(ctx, http.MethodPost, "/v1/expire", expireRequest{User: &user}, &resp)
	return resp.Expired, err
}

// ExpireUserExcept implements Service with POST /v1/expire
// {"user":user,"except":keep}. An empty user or a zero keep is invalid
// (session.ErrInvalid); use ExpireUser to spare nothing.
func (c *Client) ExpireUserExcept(ctx context.Context, user string, keep session.ID) (int, error) {
	if keep.IsZero() {
		return 0, fmt.Errorf("%w: admin: ExpireUserExcept with a zero session id", session.ErrInvalid)
	}
	except := keep.String()
	var resp expireResponse
	err := c.call(ctx, http.MethodPost, "/v1/expire", expireRequest{User: &user, Except: &except}, &resp)
	return resp.Expired, err
}

// ExpireAll implements Service with POST /v1/expire {"all":true}.
func (c *Client) ExpireAll(ctx context.Context) (int, error) {
	all := true
	var resp expireResponse
	err := c.call(ctx, http.MethodPost, "/v1/expire", expireRequest{All: &all}, &resp)
	return resp.Expired, err
}

// Purge implements Service with POST /v1/purge {"dry_run":dryRun}.
func (c *Client) Purge(ctx context.Context, dryRun bool) (int, error) {
	var resp purgeResponse
	err := c.call(ctx, http.MethodPost, "/v1/purge", purgeRequest{DryRun: dryRun}, &resp)
	return resp.Purged, err
}

// Stats implements Service with GET /v1/stats.
func (c *Client) Stats(ctx context.Context) (session.Stats, error) {
	var st session.Stats
	err := c.call(ctx, http.MethodGet, "/v1/stats", nil, &st)
	return st, err
}

// Check implements Service with GET /v1/check.
func (c *Client) Check(ctx context.Context) (session.CheckReport, error) {
	var rep session.CheckReport
	err := c.call(ctx, http.MethodGet, "/v1/check", nil, &rep)
	return rep, err
}

// Info implements Service with GET /v1/info. A server older than this
// route answers no_route: the error wraps ErrProtocol.
func (c *Client) Info(ctx context.Context) (Info, error) {
	var info Info
	err := c.call(ctx, http.MethodGet, "/v1/info", nil, &info)
	return info, err
}

// Backup implements Service with GET /v1/backup, streaming the copy to w
// and returning the bytes written to it. The copy is complete only when
// the error is nil: a failure the server met after the first byte, a cut
// connection and a byte count that differs from the server's all return
// an error wrapping ErrTruncated (and, for a reported failure, the
// sentinel of its code); an error of w is returned wrapped as it is.
func (c *Client) Backup(ctx context.Context, w io.Writer) (int64, error) {
	resp, err := c.do(ctx, http.MethodGet, "/v1/backup", "", nil)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, responseError(resp, "GET /v1/backup")
	}
	n, err := io.Copy(w, &readErrMarker{r: resp.Body})
	if err != nil {
		var re *readError
		if errors.As(err, &re) {
			if cerr := ctx.Err(); cerr != nil {
				return n, fmt.Errorf("admin: GET /v1/backup: %w", cerr)
			}
			return n, fmt.Errorf("%w after %d bytes: %w", ErrTruncated, n, re.err)
		}
		return n, fmt.Errorf("admin: backup: writing the copy: %w", err)
	}
	if msg := resp.Trailer.Get(TrailerBackupError); msg != "" {
		code, text, _ := strings.Cut(msg, ": ")
		return n, fmt.Errorf("%w after %d bytes: %w", ErrTruncated, n,
			&Error{Status: http.StatusOK, Code: code, Message: text})
	}
	want, err := strconv.ParseInt(resp.Trailer.Get(TrailerBackupBytes), 10, 64)
	if err != nil {
		return n, fmt.Errorf("%w: no valid %s trailer after %d bytes (a proxy may drop trailers)", ErrTruncated, TrailerBackupBytes, n)
	}
	if want != n {
		return n, fmt.Errorf("%w: received %d bytes, the server sent %d", ErrTruncated, n, want)
	}
	return n, nil
}

// Import implements Service with POST /v1/import, sending recs as JSON
// lines. The server validates every record before writing any, so on an
// error nothing was imported; an invalid record fails with
// session.ErrInvalid and a message naming its line (its index plus one).
func (c *Client) Import(ctx context.Context, recs []*session.Record) (int, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for i, r := range recs {
		if err := enc.Encode(r); err != nil {
			return 0, fmt.Errorf("%w: record %d: %w", session.ErrInvalid, i+1, err)
		}
	}
	resp, err := c.do(ctx, http.MethodPost, "/v1/import", "application/x-ndjson", bytes.NewReader(buf.Bytes()))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var out importResponse
	if err := decodeResponse(resp, "POST /v1/import", &out); err != nil {
		return 0, err
	}
	return out.Imported, nil
}

// call sends a request with in (if non-nil) as its JSON body and decodes
// a 2xx JSON answer into out.
func (c *Client) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	ctype := ""
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("admin: %s %s: encoding the request: %w", method, path, err)
		}
		body, ctype = bytes.NewReader(b), "application/json"
	}
	resp, err := c.do(ctx, method, path, ctype, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return decodeResponse(resp, method+" "+routeOf(path), out)
}

// do sends one request and maps transport failures: a failed dial is
// ErrUnavailable (ErrForbidden when permission was denied), a ctx that
// ended is its error. Its errors name the route, never the URL.
func (c *Client) do(ctx context.Context, method, path, ctype string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, fmt.Errorf("admin: %s: %w", c.where, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "sesbolt-admin/1")
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := c.hc.Do(req)
	if err == nil {
		return resp, nil
	}
	// The *url.Error names the whole URL, whose path may hold a session id
	// and whose query a user name; what names the route instead.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	what := method + " " + routeOf(path)
	if cerr := ctx.Err(); cerr != nil {
		return nil, fmt.Errorf("admin: %s: %w", what, cerr)
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		if errors.Is(op, fs.ErrPermission) {
			return nil, fmt.Errorf("%w: cannot connect to %s: %w", ErrForbidden, c.where, op)
		}
		return nil, fmt.Errorf("%w: no admin server at %s (is the application running?): %w", ErrUnavailable, c.where, op)
	}
	return nil, fmt.Errorf("admin: %s: %w", what, err)
}

// decodeResponse decodes a 2xx JSON body into out, or returns the error a
// non-2xx answer carries.
func decodeResponse(resp *http.Response, what string, out any) error {
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return responseError(resp, what)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%w: %s: decoding the response: %w", ErrProtocol, what, err)
	}
	return nil
}

// responseError returns the *Error in a non-2xx answer, or ErrProtocol
// when the body is not the API's error object.
func responseError(resp *http.Response, what string) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var body struct {
		Error *Error `json:"error"`
	}
	if err := json.Unmarshal(b, &body); err != nil || body.Error == nil || body.Error.Code == "" {
		snippet := strings.TrimSpace(string(b))
		if len(snippet) > 200 {
			snippet = snippet[:200] + "..."
		}
		return fmt.Errorf("%w: %s: HTTP %d: %q", ErrProtocol, what, resp.StatusCode, snippet)
	}
	body.Error.Status = resp.StatusCode
	return body.Error
}

// routeOf returns path without its query and with a session id replaced
// by {id}, so error messages do not carry ids or user names.
func routeOf(path string) string {
	path, _, _ = strings.Cut(path, "?")
	if strings.HasPrefix(path, "/v1/sessions/") {
		return "/v1/sessions/{id}"
	}
	return path
}

// readErrMarker marks errors of the response body, so that Backup tells
// them from errors of the destination writer.
type readErrMarker struct{ r io.Reader }

type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

func (m *readErrMarker) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	if err != nil && err != io.EOF {
		err = &readError{err}
	}
	return n, err
}

var _ Service = (*Client)(nil)
