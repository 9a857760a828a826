package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sesbolt/sesbolt/pkg/memstore"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// The demo's whole handler stack (request log, cross-origin protection,
// LoadAndSave, the mux and the route) in-process, on a memstore, with the
// request log formatted but discarded: what the demo and the middleware
// cost per request, without sockets, net/http's connection handling or the
// bbolt store's fsync. BENCHMARKS.md ("The demo's write path over HTTP")
// has the profile this is cut from.

// benchDemo returns the demo's handler and the cookie of a session that
// holds the key "k".
func benchDemo(b *testing.B) (http.Handler, *http.Cookie) {
	b.Helper()
	store := memstore.New(&memstore.Options{CleanupInterval: -1})
	b.Cleanup(func() { store.Close() })
	keys, err := session.NewKeyring(session.GenerateKey())
	if err != nil {
		b.Fatal(err)
	}
	h, err := newServer(config{Store: store, Keys: keys, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("PUT", "/api/session/k", strings.NewReader(`"v"`))
	req.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(rec, req)
	cookies := rec.Result().Cookies()
	if rec.Code != http.StatusNoContent || len(cookies) != 1 {
		b.Fatalf("seeding: status %d, %d cookies", rec.Code, len(cookies))
	}
	return h, cookies[0]
}

// benchWriter is a ResponseWriter with no cost of its own that keeps the
// status, so a run that stops succeeding fails.
type benchWriter struct {
	h    http.Header
	code int
}

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *benchWriter) WriteHeader(code int)        { w.code = code }

// runDemoBench serves req (its body reset to body each time) until b is
// done, failing on any status other than want.
func runDemoBench(b *testing.B, h http.Handler, req *http.Request, body string, want int) {
	rd := strings.NewReader(body)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rd.Reset(body)
		req.Body = io.NopCloser(rd)
		w := &benchWriter{h: make(http.Header, 4)}
		h.ServeHTTP(w, req)
		if w.code != want {
			b.Fatalf("status %d, want %d", w.code, want)
		}
	}
}

// BenchmarkDemoPut is PUT /api/session/k into an existing session: one
// one-key write per request.
func BenchmarkDemoPut(b *testing.B) {
	h, c := benchDemo(b)
	req := httptest.NewRequest("PUT", "/api/session/k", nil)
	req.Header.Set("Content-Type", "application/json")
	req.AddCookie(c)
	runDemoBench(b, h, req, `"value"`, http.StatusNoContent)
}

// BenchmarkDemoGet is GET /api/session of the same session: a read, with
// nothing written (within the touch interval).
func BenchmarkDemoGet(b *testing.B) {
	h, c := benchDemo(b)
	req := httptest.NewRequest("GET", "/api/session", nil)
	req.AddCookie(c)
	runDemoBench(b, h, req, "", http.StatusOK)
}
