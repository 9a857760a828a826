package middleware_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// The session is saved before the first byte of the response. A handler
// that changes it after writing its body must learn that the change was
// not saved (an error, or an error log and a counter), and a logout there
// must still end the session.

// lateRoutes adds POST /late/{method}: it writes a line of body (which
// saves the session), then calls method on the session and writes
// "saved-error=true" when the call returned ErrAlreadySaved.
// POST /late/LoginThenDestroy logs in before the body and destroys after.
func lateRoutes(t *testing.T) func(*http.ServeMux) {
	return func(mux *http.ServeMux) {
		mux.HandleFunc("POST /late/{method}", func(w http.ResponseWriter, r *http.Request) {
			s, _ := session.FromContext(r.Context())
			method := r.PathValue("method")
			if method == "LoginThenDestroy" {
				if err := s.Login("alice"); err != nil {
					t.Error(err)
				}
			}
			io.WriteString(w, "the body has started\n")
			var err error
			switch method {
			case "Set":
				err = s.Set("k", "late")
			case "SetRaw":
				err = s.SetRaw("k", []byte(`"late"`))
			case "Delete":
				s.Delete("k")
			case "Pop":
				var v string
				var ok bool
				ok, err = s.Pop("flash", &v)
				if ok || v != "" {
					t.Errorf("Pop after the save = %v, %q; want false and dst untouched", ok, v)
				}
			case "PopString":
				if v := s.PopString("flash"); v != "" {
					t.Errorf("PopString after the save = %q, want \"\"", v)
				}
			case "Clear":
				s.Clear()
			case "Login":
				err = s.Login("alice")
			case "Renew":
				s.Renew()
			case "Destroy", "LoginThenDestroy":
				s.Destroy()
			default:
				t.Errorf("unknown method %q", method)
			}
			fmt.Fprintf(w, "saved-error=%v", errors.Is(err, session.ErrAlreadySaved))
		})
	}
}

// TestChangesAfterTheSaveAreReported: every method that changes a session,
// called after the response started, is rejected: with ErrAlreadySaved
// where it returns an error, and always with an error log (naming the
// method, not the session) and Counters().LateChanges. The stored session
// is as before, except that Destroy still ends it.
func TestChangesAfterTheSaveAreReported(t *testing.T) {
	for _, tc := range []struct {
		method      string
		returnsErr  bool
		endsSession bool
	}{
		{"Set", true, false},
		{"SetRaw", true, false},
		{"Delete", false, false},
		{"Pop", true, false},
		{"PopString", false, false},
		{"Clear", false, false},
		{"Login", true, false},
		{"Renew", false, false},
		{"Destroy", false, true},
		{"LoginThenDestroy", false, true},
	} {
		t.Run(tc.method, func(t *testing.T) {
			h := newHarness(t, nil)
			rs := newRaceServer(t, h, lateRoutes(t))
			c := h.client()
			rs.call(t, c, "POST", "/set?key=k&val=v", nil)
			rs.call(t, c, "POST", "/set?key=flash&val=hello", nil)
			_, id := rs.call(t, c, "GET", "/id", nil)

			resp, body := rs.call(t, c, "POST", "/late/"+tc.method, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if got := strings.HasSuffix(body, "saved-error=true"); got != tc.returnsErr {
				t.Errorf("%s after the save: returned ErrAlreadySaved = %v, want %v (body %q)", tc.method, got, tc.returnsErr, body)
			}
			if n := h.mgr.Counters().LateChanges; n != 1 {
				t.Errorf("Counters().LateChanges = %d, want 1", n)
			}
			logs := h.logs.String()
			if !strings.Contains(logs, `"level":"ERROR"`) || !strings.Contains(logs, "Session."+strings.TrimPrefix(tc.method, "LoginThen")) {
				t.Errorf("no error log naming Session.%s:\n%s", tc.method, logs)
			}
			if strings.Contains(logs, rs.jarCookie(h, c)) || strings.Contains(logs, id) {
				t.Errorf("the log holds the cookie or the session id:\n%s", logs)
			}

			_, user := rs.call(t, c, "GET", "/whoami", nil)
			_, k := rs.call(t, c, "GET", "/get?key=k", nil)
			_, flash := rs.call(t, c, "GET", "/get?key=flash", nil)
			if tc.endsSession {
				if user != "" || k != "" || flash != "" {
					t.Errorf("a Destroy after the save left the session alive: user %q, k %q, flash %q", user, k, flash)
				}
				sid, err := session.ParseID(id)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := h.mem.Load(context.Background(), sid, h.clock.Now()); !errors.Is(err, session.ErrNotFound) {
					t.Errorf("the destroyed session is still stored: %v", err)
				}
				return
			}
			if _, now := rs.call(t, c, "GET", "/id", nil); now != id || user != "" || k != "v" || flash != "hello" {
				t.Errorf("the late %s changed the session: id %s→%s, user %q, k %q, flash %q", tc.method, id, now, user, k, flash)
			}
		})
	}
}
