package middleware_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/pkg/memstore"
	"github.com/sesbolt/sesbolt/pkg/middleware"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// benchSetup returns a handler behind LoadAndSave on a memstore and the
// cookie of an existing session holding one key.
func benchSetup(b *testing.B, h http.HandlerFunc) (http.Handler, *http.Cookie) {
	store := memstore.New(&memstore.Options{CleanupInterval: -1})
	b.Cleanup(func() { store.Close() })
	keys, _ := session.NewKeyring(key1)
	now := time.Now()
	mgr, err := session.New(session.Config{Store: store, Keys: keys, Now: func() time.Time { return now }})
	if err != nil {
		b.Fatal(err)
	}
	seed := middleware.LoadAndSave(mgr)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := session.FromContext(r.Context())
		s.Set("user", "alice")
	}))
	rec := httptest.NewRecorder()
	seed.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 {
		b.Fatalf("seeding gave %d cookies", len(cookies))
	}
	return middleware.LoadAndSave(mgr)(h), cookies[0]
}

// discardWriter is a ResponseWriter with no cost of its own.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}

func runBench(b *testing.B, h http.Handler, c *http.Cookie) {
	req := httptest.NewRequest("GET", "/", nil)
	if c != nil {
		req.AddCookie(c)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w := &discardWriter{h: make(http.Header, 4)}
		h.ServeHTTP(w, req)
	}
}

var readHandler = func(w http.ResponseWriter, r *http.Request) {
	name := "anonymous"
	if s, ok := session.FromContext(r.Context()); ok {
		name = s.GetString("user")
	}
	io.WriteString(w, name)
}

// BenchmarkBare is the floor: the handler without sessions.
func BenchmarkBare(b *testing.B) { runBench(b, http.HandlerFunc(readHandler), nil) }

// BenchmarkReadPath loads an existing session and reads a key; nothing is
// written (within the touch interval).
func BenchmarkReadPath(b *testing.B) {
	h, c := benchSetup(b, readHandler)
	runBench(b, h, c)
}

// BenchmarkWritePath sets one key of an existing session per request.
func BenchmarkWritePath(b *testing.B) {
	h, c := benchSetup(b, func(w http.ResponseWriter, r *http.Request) {
		s, _ := session.FromContext(r.Context())
		s.Set("n", 1)
		io.WriteString(w, "ok")
	})
	runBench(b, h, c)
}
