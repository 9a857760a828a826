package middleware

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// errNotSaved is returned by Write after the session could not be saved and
// the error handler answered instead of the handler.
var errNotSaved = errors.New("middleware: session not saved; response replaced by the error handler")

// LoadAndSave returns middleware that loads the request's session with
// m.Load, puts it in the request context (session.FromContext) and saves it
// with m.Save just before the response header is written: on the first
// WriteHeader (informational 1xx codes excepted), Write, Flush or ReadFrom,
// or when the handler returns without writing. Changes the handler makes to
// the session after that are rejected (session.ErrAlreadySaved; see
// session.Session, "After the save").
//
// When loading or saving fails, m's error handler answers (default 500) and
// the handler's own response is discarded; no Set-Cookie then points at a
// session that was never saved. A handler that panics saves nothing.
//
// The first response in the process that sets a Secure session cookie in
// answer to plain HTTP from another host logs a warning, as the browser
// drops that cookie (see the package documentation, "Plain HTTP").
func LoadAndSave(m *session.Manager) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s, err := m.Load(r)
			if err != nil {
				m.HandleError(w, r, err)
				return
			}
			r = r.WithContext(session.NewContext(r.Context(), s))
			sw := &responseWriter{ResponseWriter: w, m: m, r: r, s: s}
			next.ServeHTTP(sw, r)
			sw.save()
		})
	}
}

// responseWriter saves the session before the response header goes out.
type responseWriter struct {
	http.ResponseWriter
	m      *session.Manager
	r      *http.Request
	s      *session.Session
	saved  bool
	failed bool
}

// save saves the session once and reports whether the handler may go on
// writing. On failure the error handler writes the response.
func (w *responseWriter) save() bool {
	if w.saved {
		return !w.failed
	}
	w.saved = true
	if err := w.m.Save(w.r.Context(), w.Header(), w.s); err != nil {
		w.failed = true
		h := w.ResponseWriter.Header()
		clear(h) // drop whatever the handler prepared for its own response
		w.m.HandleError(w.ResponseWriter, w.r, err)
		return false
	}
	warnPlainHTTP(w.m, w.r, w.Header()) // a Secure cookie the browser will drop: say so, once
	return true
}

// WriteHeader saves the session, then writes the status code. 1xx codes
// other than 101 pass through without saving, as more headers may follow.
func (w *responseWriter) WriteHeader(code int) {
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		if !w.saved {
			w.ResponseWriter.WriteHeader(code)
		}
		return
	}
	if w.save() {
		w.ResponseWriter.WriteHeader(code)
	}
}

// Write saves the session, then writes b. After a failed save it returns an
// error and writes nothing.
func (w *responseWriter) Write(b []byte) (int, error) {
	if !w.save() {
		return 0, errNotSaved
	}
	return w.ResponseWriter.Write(b)
}

// ReadFrom saves the session, then copies from src, using the underlying
// writer's ReadFrom (sendfile) when it has one.
func (w *responseWriter) ReadFrom(src io.Reader) (int64, error) {
	if !w.save() {
		return 0, errNotSaved
	}
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(writerOnly{w.ResponseWriter}, src)
}

// Flush saves the session, then flushes if the underlying writer can.
func (w *responseWriter) Flush() {
	_ = w.FlushError()
}

// FlushError is Flush with the error, as http.ResponseController uses it.
func (w *responseWriter) FlushError() error {
	if !w.save() {
		return errNotSaved
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack saves the session, then hands over the connection if the
// underlying writer allows it (WebSocket upgrades).
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if !w.save() {
		return nil, nil, errNotSaved
	}
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// Unwrap returns the underlying writer, for http.ResponseController.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// writerOnly hides ReadFrom so io.Copy does not recurse into it.
type writerOnly struct{ io.Writer }
