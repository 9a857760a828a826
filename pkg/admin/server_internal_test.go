package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
)

// TestGuardWhileClosing: a request of an allowed peer that reaches the
// guard once Close has begun (read just before the server began shutting
// down) is answered 503 "closed" without running the handler, so Close
// never waits for a handler it did not count; before Close, the handler
// runs.
func TestGuardWhileClosing(t *testing.T) {
	s := &SocketServer{uid: os.Geteuid()}
	ran := 0
	h := s.guard(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		ran++
		w.WriteHeader(http.StatusNoContent)
	}))
	serve := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/v1/stats", nil)
		req = req.WithContext(context.WithValue(req.Context(), peerKey{}, peer{uid: s.uid, known: true}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}

	if rec := serve(); rec.Code != http.StatusNoContent || ran != 1 {
		t.Fatalf("before Close: %d, handler ran %d times; want 204, once", rec.Code, ran)
	}
	s.inflight.Wait() // returns at once: the handler was counted out

	s.closing = true
	rec := serve()
	var body struct{ Error Error }
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %q: %v", rec.Body.Bytes(), err)
	}
	if rec.Code != http.StatusServiceUnavailable || body.Error.Code != codeClosed || ran != 1 {
		t.Errorf("while closing: %d %q, handler ran %d times; want 503 closed, handler not run", rec.Code, body.Error.Code, ran)
	}
	hdr := rec.Header()
	if hdr.Get("Connection") != "close" || hdr.Get("Cache-Control") != "no-store" || hdr.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("while closing: headers %v", hdr)
	}
}
