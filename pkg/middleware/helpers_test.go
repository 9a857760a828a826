package middleware_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/internal/testclient"
	"github.com/sesbolt/sesbolt/pkg/memstore"
	"github.com/sesbolt/sesbolt/pkg/middleware"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// fakeClock is a settable clock shared by the manager and the store.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// countingStore wraps a store, counts calls and can fail writes.
type countingStore struct {
	session.Store
	loads, applies atomic.Int64
	failApply      atomic.Bool
	failWith       error // returned instead of errDiskFull when set
}

var errDiskFull = errors.New("disk full (injected)")

func (s *countingStore) Load(ctx context.Context, id session.ID, now time.Time) (*session.Record, error) {
	s.loads.Add(1)
	return s.Store.Load(ctx, id, now)
}

func (s *countingStore) Apply(ctx context.Context, c *session.Change) (*session.Record, error) {
	if s.failApply.Load() {
		if s.failWith != nil {
			return nil, s.failWith
		}
		return nil, errDiskFull
	}
	s.applies.Add(1)
	return s.Store.Apply(ctx, c)
}

func (s *countingStore) UserSessions(ctx context.Context, user string, now time.Time) ([]*session.Record, error) {
	return s.Store.(session.UserIndex).UserSessions(ctx, user, now)
}

func (s *countingStore) DeleteUser(ctx context.Context, user string) (int, error) {
	return s.Store.(session.UserIndex).DeleteUser(ctx, user)
}

func (s *countingStore) DeleteUserExcept(ctx context.Context, user string, keep session.ID) (int, error) {
	return s.Store.(session.UserIndex).DeleteUserExcept(ctx, user, keep)
}

// harness is a TLS test server behind LoadAndSave on a memstore.
type harness struct {
	t     *testing.T
	clock *fakeClock
	mem   *memstore.Store
	store *countingStore
	keys  *session.Keyring
	mgr   *session.Manager
	srv   *httptest.Server
	logs  *testclient.SyncBuffer
}

var (
	key1 = bytes.Repeat([]byte{1}, 32)
	key2 = bytes.Repeat([]byte{2}, 32)
)

func newHarness(t *testing.T, configure func(*session.Config)) *harness {
	t.Helper()
	h := &harness{t: t, clock: newFakeClock(), logs: &testclient.SyncBuffer{}}
	h.mem = memstore.New(&memstore.Options{Now: h.clock.Now, CleanupInterval: -1})
	t.Cleanup(func() { h.mem.Close() })
	h.store = &countingStore{Store: h.mem}
	var err error
	h.keys, err = session.NewKeyring(key1)
	if err != nil {
		t.Fatal(err)
	}
	cfg := session.Config{
		Store:       h.store,
		Keys:        h.keys,
		IdleTimeout: 30 * time.Minute,
		Lifetime:    2 * time.Hour,
		Logger:      slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:         h.clock.Now,
	}
	if configure != nil {
		configure(&cfg)
	}
	h.mgr, err = session.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.srv = httptest.NewTLSServer(middleware.LoadAndSave(h.mgr)(testMux()))
	t.Cleanup(h.srv.Close)
	return h
}

// testMux exposes the session API over HTTP for the tests.
func testMux() *http.ServeMux {
	mux := http.NewServeMux()
	sess := func(r *http.Request) *session.Session {
		s, ok := session.FromContext(r.Context())
		if !ok {
			panic("no session in context")
		}
		return s
	}
	mux.HandleFunc("GET /get", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, sess(r).GetString(r.URL.Query().Get("key")))
	})
	mux.HandleFunc("POST /set", func(w http.ResponseWriter, r *http.Request) {
		if err := sess(r).Set(r.URL.Query().Get("key"), r.URL.Query().Get("val")); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if err := sess(r).Login(q.Get("user"), session.Remember(q.Get("remember") == "1")); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	})
	mux.HandleFunc("POST /logout-others", func(w http.ResponseWriter, r *http.Request) {
		n, err := sess(r).DestroyOthers()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, n)
	})
	mux.HandleFunc("POST /renew", func(w http.ResponseWriter, r *http.Request) { sess(r).Renew() })
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) { sess(r).Destroy() })
	mux.HandleFunc("GET /id", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, sess(r).ID().String())
	})
	mux.HandleFunc("GET /static", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "static") })
	mux.HandleFunc("POST /cached", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "private, max-age=60")
		sess(r).Set("k", "v")
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("POST /silent", func(w http.ResponseWriter, r *http.Request) { sess(r).Set("k", "silent") })
	mux.HandleFunc("POST /flush", func(w http.ResponseWriter, r *http.Request) {
		sess(r).Set("k", "flushed")
		if err := http.NewResponseController(w).Flush(); err != nil {
			panic(err)
		}
		io.WriteString(w, "after flush")
	})
	return mux
}

// client returns a client of h's server with its own cookie jar.
func (h *harness) client() *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		h.t.Fatal(err)
	}
	c := *h.srv.Client() // a copy: the server's client is shared
	c.Jar = jar
	return &c
}

// plain returns a client of h's server without a cookie jar.
func (h *harness) plain() *http.Client {
	c := *h.srv.Client()
	c.Jar = nil
	return &c
}

// do sends a request and returns the response with its body read.
func (h *harness) do(c *http.Client, method, path string, header http.Header) (*http.Response, string) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+path, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp, string(body)
}

// cookie returns the session cookie the jar of c holds, or "".
func (h *harness) cookie(c *http.Client) string {
	u, _ := url.Parse(h.srv.URL)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == h.mgr.CookieName() {
			return ck.Value
		}
	}
	return ""
}

// sessionCookie returns the Set-Cookie for the session cookie in resp, or nil.
func sessionCookie(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// rawSetCookie returns the raw Set-Cookie header for name, or "".
func rawSetCookie(resp *http.Response, name string) string {
	for _, v := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(v, name+"=") {
			return v
		}
	}
	return ""
}

// withCookie is a header carrying the session cookie value v.
func (h *harness) withCookie(v string) http.Header {
	return http.Header{"Cookie": {h.mgr.CookieName() + "=" + v}}
}

// newServerFor serves handler behind h's manager on its own TLS server.
func newServerFor(t *testing.T, h *harness, handler http.Handler) *httptest.Server {
	srv := httptest.NewTLSServer(middleware.LoadAndSave(h.mgr)(handler))
	t.Cleanup(srv.Close)
	return srv
}

// rotate replaces h's manager with one whose keyring is keys (the first
// signs), keeping the rest of its configuration and its counters, and
// returns the keyring. No request may be in flight.
func (h *harness) rotate(keys ...[]byte) *session.Keyring {
	h.t.Helper()
	kr, err := session.NewKeyring(keys...)
	if err != nil {
		h.t.Fatal(err)
	}
	cfg := h.mgr.Config()
	cfg.Keys = kr
	mgr, err := session.New(cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	*h.mgr = *mgr
	return kr
}
