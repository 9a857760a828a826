package middleware_test

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/sesbolt/sesbolt/pkg/memstore"
	"github.com/sesbolt/sesbolt/pkg/middleware"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// recordHandler is an slog.Handler that keeps every record it is given.
type recordHandler struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *recordHandler) WithGroup(string) slog.Handler            { return h }

func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r.Clone())
	return nil
}

// warnings returns the records at level Warn or above.
func (h *recordHandler) warnings() []slog.Record {
	h.mu.Lock()
	defer h.mu.Unlock()
	var w []slog.Record
	for _, r := range h.records {
		if r.Level >= slog.LevelWarn {
			w = append(w, r)
		}
	}
	return w
}

// plainHTTPApp is LoadAndSave on a memstore with its logs captured, around
// POST /login (logs in), POST /logout (ends the session) and GET /peek
// (reads the session, sets no cookie).
func plainHTTPApp(t *testing.T, cookie session.CookieOptions) (http.Handler, *recordHandler) {
	t.Helper()
	store := memstore.New(&memstore.Options{CleanupInterval: -1})
	t.Cleanup(func() { store.Close() })
	keys, err := session.NewKeyring(key1)
	if err != nil {
		t.Fatal(err)
	}
	logs := &recordHandler{}
	mgr, err := session.New(session.Config{Store: store, Keys: keys, Cookie: cookie, Logger: slog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s, _ := session.FromContext(r.Context())
		if err := s.Login("alice"); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		s, _ := session.FromContext(r.Context())
		s.Destroy()
	})
	mux.HandleFunc("GET /peek", func(w http.ResponseWriter, r *http.Request) {
		s, _ := session.FromContext(r.Context())
		w.Write([]byte(s.UserID()))
	})
	return middleware.LoadAndSave(mgr)(mux), logs
}

// serve sends r to h and returns the recorded response.
func serve(t *testing.T, h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != http.StatusOK {
		t.Fatalf("%s %s: status %d, want 200", r.Method, r.URL.Path, rec.Code)
	}
	return rec
}

// TestPlainHTTPWarning: a Secure session cookie set in answer to plain HTTP
// from a non-loopback address logs one warning that says what to change;
// HTTPS, loopback peers, proxies that say the client used HTTPS, an
// Insecure cookie and responses that set no cookie log nothing.
func TestPlainHTTPWarning(t *testing.T) {
	tests := []struct {
		name   string
		remote string // RemoteAddr; 10.1.2.3:5555 when empty
		tls    bool
		header http.Header
		cookie session.CookieOptions
		path   string // default POST /login
		warn   bool
	}{
		{name: "plain HTTP from a private address", warn: true},
		{name: "plain HTTP from a public address", remote: "100.20.30.40:5555", warn: true},
		{name: "plain HTTP from IPv6", remote: "[fd00::1]:5555", warn: true},
		{name: "proxy says http", header: http.Header{"X-Forwarded-Proto": {"http"}}, warn: true},
		{name: "__Secure- prefix", cookie: session.CookieOptions{Name: "__Secure-sid"}, warn: true},
		{name: "HTTPS", tls: true},
		{name: "loopback IPv4", remote: "127.0.0.1:5555"},
		{name: "loopback 127/8", remote: "127.3.2.1:5555"},
		{name: "loopback IPv6", remote: "[::1]:5555"},
		{name: "loopback IPv4-mapped", remote: "[::ffff:127.0.0.1]:5555"},
		{name: "Unix socket peer", remote: "@"},
		{name: "httptest.NewRequest's address", remote: "192.0.2.1:1234"},
		{name: "documentation IPv6", remote: "[2001:db8::1]:5555"},
		{name: "documentation 203.0.113/24", remote: "203.0.113.9:5555"},
		{name: "no peer address", remote: " "},
		{name: "X-Forwarded-Proto https", header: http.Header{"X-Forwarded-Proto": {"HTTPS"}}},
		{name: "X-Forwarded-Proto list", header: http.Header{"X-Forwarded-Proto": {"http, https"}}},
		{name: "Forwarded proto=https", header: http.Header{"Forwarded": {`for=192.0.2.60;proto="https";by=203.0.113.43`}}},
		{name: "Forwarded second element", header: http.Header{"Forwarded": {"for=192.0.2.60, for=198.51.100.17;proto=https"}}},
		{name: "Insecure cookie", cookie: session.CookieOptions{Insecure: true}},
		{name: "no cookie set", path: "GET /peek"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			middleware.ResetPlainHTTPWarning()
			h, logs := plainHTTPApp(t, tt.cookie)
			method, path := "POST", "/login"
			if tt.path != "" {
				method, path, _ = strings.Cut(tt.path, " ")
			}
			r := httptest.NewRequest(method, "http://myapp.test:8080"+path, nil)
			switch tt.remote {
			case "":
				r.RemoteAddr = "10.1.2.3:5555"
			case " ":
				r.RemoteAddr = ""
			default:
				r.RemoteAddr = tt.remote
			}
			if tt.tls {
				r.TLS = &tls.ConnectionState{}
			}
			for k, v := range tt.header {
				r.Header[k] = v
			}
			rec := serve(t, h, r)

			warnings := logs.warnings()
			if !tt.warn {
				if len(warnings) != 0 {
					t.Fatalf("logged %q, want no warning", warnings[0].Message)
				}
				return
			}
			if len(warnings) != 1 {
				t.Fatalf("logged %d warnings, want 1", len(warnings))
			}
			w := warnings[0]
			for _, want := range []string{"plain HTTP", "HTTPS", "X-Forwarded-Proto: https", "session.CookieOptions{Insecure: true}"} {
				if !strings.Contains(w.Message, want) {
					t.Errorf("warning %q does not mention %q", w.Message, want)
				}
			}
			attrs := map[string]string{}
			w.Attrs(func(a slog.Attr) bool {
				attrs[a.Key] = a.Value.String()
				return true
			})
			wantName := tt.cookie.Name
			if wantName == "" {
				wantName = session.DefaultCookieName
			}
			if attrs["cookie"] != wantName || attrs["host"] != "myapp.test:8080" || len(attrs) != 2 {
				t.Errorf("warning attributes %v, want cookie=%s host=myapp.test:8080 only", attrs, wantName)
			}
			setCookie := rec.Header().Get("Set-Cookie")
			value := strings.TrimPrefix(strings.SplitN(setCookie, ";", 2)[0], wantName+"=")
			if value == "" || strings.Contains(w.Message, value) || strings.Contains(attrs["cookie"]+attrs["host"], value) {
				t.Errorf("warning %q %v holds the cookie value (Set-Cookie %q)", w.Message, attrs, setCookie)
			}
		})
	}
}

// TestPlainHTTPWarningOncePerProcess: the warning is logged by the first
// such response only, also across managers; and a response that only
// removes the cookie (logout) does not count as setting one.
func TestPlainHTTPWarningOncePerProcess(t *testing.T) {
	middleware.ResetPlainHTTPWarning()
	h1, logs1 := plainHTTPApp(t, session.CookieOptions{})
	h2, logs2 := plainHTTPApp(t, session.CookieOptions{})

	// A login over HTTPS, then its logout over plain HTTP: only a removal.
	login := httptest.NewRequest("POST", "https://myapp.test/login", nil)
	login.TLS = &tls.ConnectionState{}
	cookie := serve(t, h1, login).Result().Cookies()[0]
	logout := httptest.NewRequest("POST", "http://myapp.test/logout", nil)
	logout.RemoteAddr = "10.1.2.3:5555"
	logout.AddCookie(cookie)
	if got := serve(t, h1, logout).Header().Get("Set-Cookie"); !strings.Contains(got, "Max-Age=0") {
		t.Fatalf("logout's Set-Cookie %q does not remove the cookie", got)
	}
	if n := len(logs1.warnings()); n != 0 {
		t.Fatalf("a cookie removal logged %d warnings, want 0", n)
	}

	for range 3 {
		for _, h := range []http.Handler{h1, h2} {
			r := httptest.NewRequest("POST", "http://myapp.test/login", nil)
			r.RemoteAddr = "10.1.2.3:5555"
			serve(t, h, r)
		}
	}
	if n1, n2 := len(logs1.warnings()), len(logs2.warnings()); n1+n2 != 1 || n1 != 1 {
		t.Fatalf("warnings: %d from the first manager, %d from the second; want 1 and 0", n1, n2)
	}
}
