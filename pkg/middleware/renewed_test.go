package middleware_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// Requests that carry the pre-login cookie while, or after, the login
// renews the session (a polling XHR, a second tab, a double-submitted form)
// must not log the user out: their responses leave the browser's cookie
// alone, and nothing of the logged-in session reaches the old cookie.

// raceServer serves, behind h's manager, the routes of testMux plus:
//   - /whoami: the session's user;
//   - /slow/{op}: signals entered once its session is loaded, waits for
//     release, then does op to the session ("read" reads key "cart",
//     "write" sets "poll", "login" logs in "mallory") and answers.
type raceServer struct {
	*httptest.Server
	entered, release chan struct{}
}

// newRaceServer starts a raceServer for h; routes, when given, add routes
// of their own to its mux.
func newRaceServer(t *testing.T, h *harness, routes ...func(*http.ServeMux)) *raceServer {
	rs := &raceServer{entered: make(chan struct{}, 1), release: make(chan struct{})}
	mux := testMux()
	for _, add := range routes {
		add(mux)
	}
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		s, _ := session.FromContext(r.Context())
		io.WriteString(w, s.UserID())
	})
	mux.HandleFunc("POST /slow/{op}", func(w http.ResponseWriter, r *http.Request) {
		s, _ := session.FromContext(r.Context())
		rs.entered <- struct{}{}
		<-rs.release
		switch r.PathValue("op") {
		case "read":
			io.WriteString(w, s.GetString("cart"))
		case "write":
			if err := s.Set("poll", "seen"); err != nil {
				t.Error(err)
			}
		case "login":
			if err := s.Login("mallory"); err != nil {
				t.Error(err)
			}
		}
	})
	rs.Server = newServerFor(t, h, mux)
	return rs
}

// call sends a request to rs with client c and returns the response (body
// closed) and its body.
func (rs *raceServer) call(t *testing.T, c *http.Client, method, path string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, rs.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

// jarCookie returns the session cookie c's jar holds for rs, or "".
func (rs *raceServer) jarCookie(h *harness, c *http.Client) string {
	u, _ := url.Parse(rs.URL)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == h.mgr.CookieName() {
			return ck.Value
		}
	}
	return ""
}

// stale sends a request carrying the cookie value old, as a request the
// browser sent before the login's response arrived, and hands the response
// to c's jar, as the browser does when that response arrives last.
func (rs *raceServer) stale(t *testing.T, h *harness, c *http.Client, old, method, path string) (*http.Response, string) {
	t.Helper()
	resp, body := rs.call(t, h.plain(), method, path, h.withCookie(old))
	u, _ := url.Parse(rs.URL)
	c.Jar.SetCookies(u, resp.Cookies())
	return resp, body
}

// loggedIn fails the test unless c's jar holds cookie want and its next
// request is alice's session with her cart.
func (rs *raceServer) loggedIn(t *testing.T, h *harness, c *http.Client, want string) {
	t.Helper()
	if got := rs.jarCookie(h, c); got != want {
		t.Fatalf("the jar holds cookie %q, want the login's %q: the user was logged out", got, want)
	}
	if _, user := rs.call(t, c, "GET", "/whoami", nil); user != "alice" {
		t.Fatalf("the next request is user %q, want alice", user)
	}
	if _, cart := rs.call(t, c, "GET", "/get?key=cart", nil); cart != "book" {
		t.Fatalf("the next request's cart is %q, want book", cart)
	}
}

// loginScene is a browser (client c with a jar) that stored a cart in an
// anonymous session, then logged in as alice on rs.
type loginScene struct {
	h            *harness
	rs           *raceServer
	c            *http.Client
	old, login   string // the cookie before and after the login
	oldID, newID string // the session's id before and after the login
}

func newLoginScene(t *testing.T) *loginScene {
	h := newHarness(t, nil)
	sc := &loginScene{h: h, rs: newRaceServer(t, h), c: h.client()}
	sc.rs.call(t, sc.c, "POST", "/set?key=cart&val=book", nil)
	sc.old = sc.rs.jarCookie(h, sc.c)
	_, sc.oldID = sc.rs.call(t, sc.c, "GET", "/id", nil)
	sc.rs.call(t, sc.c, "POST", "/login?user=alice", nil)
	sc.login = sc.rs.jarCookie(h, sc.c)
	_, sc.newID = sc.rs.call(t, sc.c, "GET", "/id", nil)
	return sc
}

// TestRequestOverlappingLoginKeepsTheLogin: a request that loaded the
// pre-login session, then finishes after the login committed, whatever it
// does (reads past the touch interval, so it writes a touch; writes; reads
// with a cookie of an older key, which is re-issued after a touch), gets
// its change dropped and no Set-Cookie: the jar keeps the login's cookie.
func TestRequestOverlappingLoginKeepsTheLogin(t *testing.T) {
	for _, tc := range []struct {
		name, op string
		rotate   bool // put a new key first: the request's cookie is re-signed
	}{
		{"read", "read", false},
		{"write", "write", false},
		{"resign", "read", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op := tc.op
			h := newHarness(t, nil)
			rs := newRaceServer(t, h)
			c := h.client()
			rs.call(t, c, "POST", "/set?key=cart&val=book", nil)
			if tc.rotate {
				h.rotate(key2, key1)
			}

			done := make(chan *http.Response, 1)
			go func() {
				req, _ := http.NewRequest("POST", rs.URL+"/slow/"+op, nil)
				resp, err := c.Do(req) // carries the pre-login cookie; its response goes to the jar
				if err != nil {
					t.Error(err)
					close(done)
					return
				}
				resp.Body.Close()
				done <- resp
			}()
			<-rs.entered
			if !tc.rotate {
				h.clock.Advance(10 * time.Minute) // past the touch interval: even a read writes
			}
			rs.call(t, c, "POST", "/login?user=alice", nil)
			login := rs.jarCookie(h, c)
			close(rs.release)
			resp := <-done
			if resp == nil {
				t.FailNow()
			}
			if resp.StatusCode != http.StatusOK {
				t.Errorf("the overlapping request got %d, want 200", resp.StatusCode)
			}
			if v := resp.Header.Values("Set-Cookie"); len(v) != 0 {
				t.Errorf("the overlapping request set %q; it must leave the cookie alone", v)
			}
			rs.loggedIn(t, h, c, login)
			if _, poll := rs.call(t, c, "GET", "/get?key=poll", nil); poll != "" {
				t.Errorf("the overlapping request's write reached the logged-in session: %q", poll)
			}
			if op == "write" && h.mgr.Counters().Dropped != 1 {
				t.Errorf("Counters().Dropped = %d, want 1", h.mgr.Counters().Dropped)
			}
		})
	}
}

// TestRequestAfterLoginKeepsTheLogin: a request sent with the pre-login
// cookie that the server sees only after the login committed, read-only or
// writing, sets no cookie (its fresh session is never stored) and drops its
// write, so the login's cookie survives its response.
func TestRequestAfterLoginKeepsTheLogin(t *testing.T) {
	for _, tc := range []struct{ name, method, path string }{
		{"read", "GET", "/get?key=cart"},
		{"write", "POST", "/set?key=poll&val=seen"},
		{"renew", "POST", "/renew"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := newLoginScene(t)
			h, rs, c := sc.h, sc.rs, sc.c
			resp, body := rs.stale(t, h, c, sc.old, tc.method, tc.path)
			if resp.StatusCode != http.StatusOK || body != "" {
				t.Errorf("the stale request got %d %q, want 200 and nothing of the session", resp.StatusCode, body)
			}
			if v := resp.Header.Values("Set-Cookie"); len(v) != 0 {
				t.Errorf("the stale request set %q; it must leave the cookie alone", v)
			}
			rs.loggedIn(t, h, c, sc.login)
			if _, poll := rs.call(t, c, "GET", "/get?key=poll", nil); poll != "" {
				t.Errorf("the stale request's write reached the logged-in session: %q", poll)
			}
			wantDropped := uint64(0)
			if tc.method == "POST" {
				wantDropped = 1
			}
			if n := h.mgr.Counters().Dropped; n != wantDropped {
				t.Errorf("Counters().Dropped = %d, want %d", n, wantDropped)
			}
		})
	}
}

// TestLoginWithRenewedCookieLogsIn: a login sent with a cookie that another
// login renewed (a double-submitted form, or a retry after the first
// login's response was lost) is a new authentication: it gets a fresh
// session and its cookie, with nothing of the other login's session.
func TestLoginWithRenewedCookieLogsIn(t *testing.T) {
	sc := newLoginScene(t)
	h, rs, c, old, first := sc.h, sc.rs, sc.c, sc.old, sc.login
	resp, _ := rs.stale(t, h, c, old, "POST", "/login?user=alice")
	ck := sessionCookie(resp, h.mgr.CookieName())
	if ck == nil || ck.MaxAge < 0 || ck.Value == old || ck.Value == first {
		t.Fatalf("the second login set %v, want a new session's cookie", ck)
	}
	if _, user := rs.call(t, c, "GET", "/whoami", nil); user != "alice" {
		t.Fatalf("after the second login the user is %q, want alice", user)
	}
	// A fresh session: the renewed cookie led to nothing of the first one.
	if _, cart := rs.call(t, c, "GET", "/get?key=cart", nil); cart != "" {
		t.Errorf("the second login's session holds the first one's cart %q", cart)
	}
	if _, user := rs.call(t, h.plain(), "GET", "/whoami", h.withCookie(first)); user != "alice" {
		t.Errorf("the first login's session ended: user %q", user)
	}
}

// TestOldCookieNeverSeesTheLoggedInSession: after a login, the pre-login
// cookie reaches neither the logged-in session's data, user or id, nor can
// it write to it (session fixation stays impossible).
func TestOldCookieNeverSeesTheLoggedInSession(t *testing.T) {
	sc := newLoginScene(t)
	h, rs, c, old, oldID, newID := sc.h, sc.rs, sc.c, sc.old, sc.oldID, sc.newID
	rs.call(t, c, "POST", "/set?key=secret&val=s3", nil)

	for _, key := range []string{"cart", "secret"} {
		if _, v := rs.call(t, h.plain(), "GET", "/get?key="+key, h.withCookie(old)); v != "" {
			t.Errorf("the old cookie reads %s = %q", key, v)
		}
	}
	if _, user := rs.call(t, h.plain(), "GET", "/whoami", h.withCookie(old)); user != "" {
		t.Errorf("the old cookie is user %q", user)
	}
	if _, id := rs.call(t, h.plain(), "GET", "/id", h.withCookie(old)); id == newID || id == oldID {
		t.Errorf("the old cookie's session has id %s (pre-login %s, logged in %s)", id, oldID, newID)
	}
	rs.call(t, h.plain(), "POST", "/set?key=secret&val=planted", h.withCookie(old))
	if _, v := rs.call(t, c, "GET", "/get?key=secret", nil); v != "s3" {
		t.Errorf("a write with the old cookie reached the logged-in session: secret = %q", v)
	}
}

// TestVanishedSessionLeavesTheCookie: a read whose cookie names a session
// that ended elsewhere (logout in another tab, admin expiry) sets no cookie:
// only the request that ends a session clears it.
func TestVanishedSessionLeavesTheCookie(t *testing.T) {
	h := newHarness(t, nil)
	c := h.client()
	h.do(c, "POST", "/login?user=alice", nil)
	old := h.cookie(c)
	h.do(c, "POST", "/logout", nil)
	resp, body := h.do(h.plain(), "GET", "/get?key=a", h.withCookie(old))
	if v := resp.Header.Values("Set-Cookie"); len(v) != 0 || body != "" {
		t.Errorf("a read with an ended session's cookie: Set-Cookie %q, body %q; want neither", v, body)
	}
}
