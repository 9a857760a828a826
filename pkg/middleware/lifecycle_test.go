package middleware_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// TestRememberMeCookie: a login with Remember(true) sets a cookie with
// Expires and Max-Age at the session's end under the persistent timeouts,
// refreshes it with the touch, and a later login without it turns the
// cookie back into a browser-session cookie; other sessions never get one.
func TestRememberMeCookie(t *testing.T) {
	h := newHarness(t, nil) // idle 30m, lifetime 2h; persistent: 30 days, 90 days
	c := h.client()
	resp, _ := h.do(c, "POST", "/login?user=alice&remember=1", nil)
	ck := sessionCookie(resp, "__Host-session")
	if ck == nil {
		t.Fatal("login set no cookie")
	}
	wantExpiry := h.clock.Now().Add(session.DefaultPersistentIdleTimeout)
	if ck.MaxAge != int(session.DefaultPersistentIdleTimeout.Seconds()) || !ck.Expires.Equal(wantExpiry) {
		t.Errorf("remembered cookie Max-Age %d, Expires %v; want %d, %v", ck.MaxAge, ck.Expires,
			int(session.DefaultPersistentIdleTimeout.Seconds()), wantExpiry)
	}
	raw := rawSetCookie(resp, "__Host-session")
	for _, attr := range []string{"HttpOnly", "Secure", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(raw, attr) {
			t.Errorf("remembered cookie %q lacks %s", raw, attr)
		}
	}
	id := h.loggedInID(c)
	rec, err := h.mem.Load(t.Context(), id, h.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !rec.Persistent || !rec.IdleExpires.Equal(wantExpiry) ||
		!rec.Deadline.Equal(h.clock.Now().Add(session.DefaultPersistentLifetime)) {
		t.Errorf("stored record persistent %v, idle expires %v, deadline %v", rec.Persistent, rec.IdleExpires, rec.Deadline)
	}

	// Past the ordinary idle timeout it lives on; the touch moves the
	// cookie's expiry along with the session's.
	h.clock.Advance(2 * time.Hour)
	resp, body := h.do(c, "GET", "/id", nil)
	if body != id.String() {
		t.Fatalf("remembered session gone after 2h idle: %q", body)
	}
	ck = sessionCookie(resp, "__Host-session")
	if ck == nil || !ck.Expires.Equal(h.clock.Now().Add(session.DefaultPersistentIdleTimeout)) {
		t.Fatalf("touch of a remembered session: cookie %v; want Expires moved to %v", ck, h.clock.Now().Add(session.DefaultPersistentIdleTimeout))
	}
	// Within the touch interval nothing is written and no cookie is set.
	if resp, _ := h.do(c, "GET", "/id", nil); sessionCookie(resp, "__Host-session") != nil {
		t.Error("read within the touch interval set the cookie")
	}

	// Logging in again without remember-me: a browser-session cookie.
	resp, _ = h.do(c, "POST", "/login?user=alice", nil)
	raw = rawSetCookie(resp, "__Host-session")
	if raw == "" || strings.Contains(raw, "Max-Age") || strings.Contains(raw, "Expires") {
		t.Errorf("login without remember-me: Set-Cookie %q; want one without Expires and Max-Age", raw)
	}
	if rec, err := h.mem.Load(t.Context(), h.loggedInID(c), h.clock.Now()); err != nil || rec.Persistent {
		t.Errorf("record after a login without remember-me: %+v, %v", rec, err)
	}

	// An anonymous session's cookie never persists.
	resp, _ = h.do(h.client(), "POST", "/set?key=a&val=1", nil)
	if raw := rawSetCookie(resp, "__Host-session"); strings.Contains(raw, "Max-Age") || strings.Contains(raw, "Expires") {
		t.Errorf("anonymous session cookie %q persists", raw)
	}

	// Logout clears the remembered cookie.
	h.do(c, "POST", "/login?user=alice&remember=1", nil)
	resp, _ = h.do(c, "POST", "/logout", nil)
	if ck := sessionCookie(resp, "__Host-session"); ck == nil || ck.MaxAge >= 0 {
		t.Errorf("logout of a remembered session: cookie %v; want it cleared", ck)
	}
}

// loggedInID returns the id of c's current session.
func (h *harness) loggedInID(c *http.Client) session.ID {
	h.t.Helper()
	_, body := h.do(c, "GET", "/id", nil)
	id, err := session.ParseID(body)
	if err != nil {
		h.t.Fatalf("GET /id: %q: %v", body, err)
	}
	return id
}

// TestLastClientRefreshedWithTouch: the last client is written with the
// throttled touch only, never by a write of its own, and the first client
// is kept.
func TestLastClientRefreshedWithTouch(t *testing.T) {
	h := newHarness(t, nil) // touch interval 3m
	c := h.client()
	first := http.Header{"User-Agent": {"laptop/1"}}
	h.do(c, "POST", "/login?user=alice", first)
	id := h.loggedInID(c)
	base := h.store.applies.Load()

	phone := http.Header{"User-Agent": {"phone/2"}}
	h.clock.Advance(time.Minute)
	h.do(c, "GET", "/get?key=a", phone)
	if n := h.store.applies.Load() - base; n != 0 {
		t.Fatalf("a new User-Agent within the touch interval wrote %d times, want 0", n)
	}
	h.clock.Advance(3 * time.Minute)
	h.do(c, "GET", "/get?key=a", phone)
	if n := h.store.applies.Load() - base; n != 1 {
		t.Fatalf("%d writes after the touch interval, want 1", n)
	}
	rec, err := h.mem.Load(t.Context(), id, h.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if rec.Client.UserAgent != "laptop/1" || rec.LastClient.UserAgent != "phone/2" || rec.LastClient.IP == "" {
		t.Errorf("client %+v, last client %+v; want laptop/1 kept and phone/2 as the last", rec.Client, rec.LastClient)
	}
}

// TestMaxUserSessions: logins beyond Config.MaxUserSessions end the user's
// least recently seen sessions; an ended browser gets a fresh session and
// cannot write the old one back.
func TestMaxUserSessions(t *testing.T) {
	h := newHarness(t, func(c *session.Config) { c.MaxUserSessions = 2 })
	browsers := []*http.Client{h.client(), h.client(), h.client()}
	for _, b := range browsers {
		h.do(b, "POST", "/set?key=k&val=mine", nil)
		h.clock.Advance(time.Minute)
		h.do(b, "POST", "/login?user=alice", nil)
	}
	recs, err := h.mgr.UserSessions(t.Context(), "alice")
	if err != nil || len(recs) != 2 {
		t.Fatalf("UserSessions = %d, %v; want 2", len(recs), err)
	}
	if _, body := h.do(browsers[0], "GET", "/get?key=k", nil); body != "" {
		t.Errorf("the least recently seen browser still reads its data: %q", body)
	}
	h.do(browsers[0], "POST", "/set?key=late&val=1", nil)
	if recs, _ := h.mgr.UserSessions(t.Context(), "alice"); len(recs) != 2 {
		t.Errorf("an ended browser's write changed alice's sessions: %d", len(recs))
	}
	for _, b := range browsers[1:] {
		if _, body := h.do(b, "GET", "/get?key=k", nil); body != "mine" {
			t.Errorf("a recent session lost its data: %q", body)
		}
	}
}

// TestDestroyOthers: Session.DestroyOthers ends every other session of the
// user and keeps the current one, also in the request that logs in.
func TestDestroyOthers(t *testing.T) {
	h := newHarness(t, nil)
	here, other, bob := h.client(), h.client(), h.client()
	h.do(here, "POST", "/login?user=alice", nil)
	h.do(other, "POST", "/login?user=alice", nil)
	h.do(bob, "POST", "/login?user=bob", nil)
	if _, body := h.do(here, "POST", "/logout-others", nil); body != "1" {
		t.Fatalf("POST /logout-others = %q, want 1", body)
	}
	recs, _ := h.mgr.UserSessions(t.Context(), "alice")
	if len(recs) != 1 || recs[0].ID != h.loggedInID(here) {
		t.Fatalf("alice's sessions after sign-out of the others: %v", recs)
	}
	if recs, _ := h.mgr.UserSessions(t.Context(), "bob"); len(recs) != 1 {
		t.Errorf("bob's sessions: %d, want 1", len(recs))
	}
	// Anonymous: nothing to do.
	if _, body := h.do(h.client(), "POST", "/logout-others", nil); body != "0" {
		t.Errorf("anonymous POST /logout-others = %q, want 0", body)
	}
}

// tokenHarness is a harness with the header transport on.
func tokenHarness(t *testing.T, header string) *harness {
	return newHarness(t, func(c *session.Config) { c.Token = session.TokenOptions{Enabled: true, Header: header} })
}

// TestTokenHeaderTransport: a client that sends the token header gets its
// token in the response header, never a cookie, and is recognised by it.
func TestTokenHeaderTransport(t *testing.T) {
	h := tokenHarness(t, "")
	c := h.plain()
	resp, _ := h.do(c, "POST", "/set?key=a&val=1", http.Header{"Authorization": {"Bearer"}})
	token := resp.Header.Get("Session-Token")
	if token == "" {
		t.Fatal("no Session-Token on the response that created the session")
	}
	if len(resp.Header.Values("Set-Cookie")) != 0 {
		t.Fatalf("header transport set a cookie: %q", resp.Header.Values("Set-Cookie"))
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	bearer := http.Header{"Authorization": {"Bearer " + token}}
	resp, body := h.do(c, "GET", "/get?key=a", bearer)
	if body != "1" {
		t.Fatalf("GET with the token = %q, want 1", body)
	}
	if resp.Header.Get("Session-Token") != "" || len(resp.Header.Values("Set-Cookie")) != 0 {
		t.Errorf("a read answered with a token or cookie: %v", resp.Header)
	}
	if vary := strings.Join(resp.Header.Values("Vary"), ","); !strings.Contains(vary, "Cookie") || !strings.Contains(vary, "Authorization") {
		t.Errorf("Vary %q, want Cookie and Authorization", vary)
	}
	// The scheme is case-insensitive.
	if _, body := h.do(c, "GET", "/get?key=a", http.Header{"Authorization": {"bearer " + token}}); body != "1" {
		t.Errorf("lower-case scheme: %q", body)
	}

	// A login renews: the new token comes back in the header; the old one
	// no longer works.
	resp, _ = h.do(c, "POST", "/login?user=alice&remember=1", bearer)
	renewed := resp.Header.Get("Session-Token")
	if renewed == "" || renewed == token || len(resp.Header.Values("Set-Cookie")) != 0 {
		t.Fatalf("login over the header: token %q (old %q), Set-Cookie %q", renewed, token, resp.Header.Values("Set-Cookie"))
	}
	if _, body := h.do(c, "GET", "/get?key=a", http.Header{"Authorization": {"Bearer " + renewed}}); body != "1" {
		t.Errorf("GET with the renewed token = %q, want 1", body)
	}
	if _, body := h.do(c, "GET", "/get?key=a", bearer); body != "" {
		t.Errorf("the token from before the login still reads the session: %q", body)
	}

	// Logout: no cookie to clear, the token stops working.
	resp, _ = h.do(c, "POST", "/logout", http.Header{"Authorization": {"Bearer " + renewed}})
	if len(resp.Header.Values("Set-Cookie")) != 0 || resp.Header.Get("Session-Token") != "" {
		t.Errorf("logout over the header answered %v", resp.Header)
	}
	if _, body := h.do(c, "GET", "/get?key=a", http.Header{"Authorization": {"Bearer " + renewed}}); body != "" {
		t.Errorf("token still works after logout: %q", body)
	}
}

// TestTokenHeaderNeverMixedWithCookie: with the header, a cookie on the
// same request is ignored and none is set; without it, cookies work as
// ever; another Authorization scheme is not the header transport.
func TestTokenHeaderNeverMixedWithCookie(t *testing.T) {
	h := tokenHarness(t, "")
	browser := h.client()
	h.do(browser, "POST", "/set?key=a&val=cookie", nil)
	cookie := h.cookie(browser)
	if cookie == "" {
		t.Fatal("no cookie for the browser")
	}
	api := h.plain()
	resp, _ := h.do(api, "POST", "/set?key=a&val=header", http.Header{"Authorization": {"Bearer"}})
	token := resp.Header.Get("Session-Token")

	both := h.withCookie(cookie)
	both.Set("Authorization", "Bearer "+token)
	resp, _ = h.do(api, "POST", "/set?key=b&val=2", both)
	if len(resp.Header.Values("Set-Cookie")) != 0 {
		t.Errorf("a request with both set a cookie: %q", resp.Header.Values("Set-Cookie"))
	}
	if _, body := h.do(api, "GET", "/get?key=a", both); body != "header" {
		t.Errorf("a request with both read the cookie's session: %q", body)
	}
	// The same token as a cookie value works: one signing for both.
	if _, body := h.do(api, "GET", "/get?key=a", h.withCookie(token)); body != "header" {
		t.Errorf("the header token as a cookie: %q", body)
	}
	// The browser's cookie, alone, is untouched.
	if _, body := h.do(browser, "GET", "/get?key=b", nil); body != "" {
		t.Errorf("the header request wrote into the cookie's session: %q", body)
	}
	// Authorization: Basic is not ours: cookies as usual, a new cookie set.
	resp, _ = h.do(h.client(), "POST", "/set?key=a&val=1", http.Header{"Authorization": {"Basic YWxpY2U6cHc="}})
	if sessionCookie(resp, "__Host-session") == nil || resp.Header.Get("Session-Token") != "" {
		t.Errorf("Authorization: Basic: Set-Cookie %q, Session-Token %q; want the cookie transport",
			resp.Header.Values("Set-Cookie"), resp.Header.Get("Session-Token"))
	}
	// A forged token gives a fresh session, without a store lookup.
	loads := h.store.loads.Load()
	if _, body := h.do(api, "GET", "/get?key=a", http.Header{"Authorization": {"Bearer " + tamper(t, token, 100)}}); body != "" {
		t.Errorf("a tampered token read the session: %q", body)
	}
	if h.store.loads.Load() != loads {
		t.Error("a tampered token reached the store")
	}
}

// TestTokenHeaderCustomName: a configured header carries the bare token;
// Authorization is then not looked at.
func TestTokenHeaderCustomName(t *testing.T) {
	h := tokenHarness(t, "x-session-token")
	c := h.plain()
	resp, _ := h.do(c, "POST", "/set?key=a&val=1", http.Header{"X-Session-Token": {""}})
	token := resp.Header.Get("Session-Token")
	if token == "" || len(resp.Header.Values("Set-Cookie")) != 0 {
		t.Fatalf("custom header: token %q, Set-Cookie %q", token, resp.Header.Values("Set-Cookie"))
	}
	if _, body := h.do(c, "GET", "/get?key=a", http.Header{"X-Session-Token": {token}}); body != "1" {
		t.Errorf("GET with the custom header = %q", body)
	}
	resp, body := h.do(c, "GET", "/get?key=a", http.Header{"Authorization": {"Bearer " + token}})
	if body != "" || resp.Header.Get("Session-Token") != "" {
		t.Errorf("Authorization used although the token header is X-Session-Token: %q", body)
	}
}

// TestTokenHeaderOff: without Config.Token the header means nothing.
func TestTokenHeaderOff(t *testing.T) {
	h := newHarness(t, nil)
	resp, _ := h.do(h.client(), "POST", "/set?key=a&val=1", http.Header{"Authorization": {"Bearer"}})
	if sessionCookie(resp, "__Host-session") == nil || resp.Header.Get("Session-Token") != "" {
		t.Errorf("header transport used although off: %v", resp.Header)
	}
}
