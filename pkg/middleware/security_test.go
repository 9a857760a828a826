package middleware_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// Security requirements that docs/SECURITY.md maps to tests and that no
// other test covered.

// TestEveryCookieResponseIsNoStore: every response that sets or clears the
// session cookie (a new session, login, renew, logout, a cookie re-issued
// under a newer key) says Cache-Control: no-store, so no
// cache hands one visitor's cookie to another (ASVS 4.0.3 8.2.1, 5.0
// 14.3.2). A handler's own cache policy is kept (TestHandlerCachePolicyKept).
func TestEveryCookieResponseIsNoStore(t *testing.T) {
	h := newHarness(t, nil)
	c := h.client()
	check := func(what string, resp *http.Response, clears bool) {
		t.Helper()
		ck := sessionCookie(resp, "__Host-session")
		if ck == nil {
			t.Fatalf("%s: no Set-Cookie", what)
		}
		if clears != (ck.MaxAge < 0) {
			t.Errorf("%s: cookie %v, want cleared=%v", what, ck, clears)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("%s: Cache-Control %q on a response that sets the cookie, want no-store", what, cc)
		}
	}
	resp, _ := h.do(c, "POST", "/set?key=a&val=1", nil)
	check("new session", resp, false)
	resp, _ = h.do(c, "POST", "/login?user=alice", nil)
	check("login", resp, false)
	resp, _ = h.do(c, "POST", "/renew", nil)
	check("renew", resp, false)
	// Rotation: the cookie signed by the old key is re-issued.
	h.rotate(key2, key1)
	resp, _ = h.do(c, "GET", "/get?key=a", nil)
	check("re-issued under the new key", resp, false)

	resp, _ = h.do(c, "POST", "/logout", nil)
	check("logout", resp, true)
}

// TestStaleCookieNeverRevivesItsID: a cookie whose session ended (logout,
// expiry) is a valid signature over an id the server no longer has. Using
// it, even to store something, starts a session under a new server-made
// id; the old id is never stored again (no permissive session adoption:
// an id planted in a victim's browser stays worthless, OWASP Session
// Management Cheat Sheet, "Session ID Generation and Verification:
// Permissive and Strict Session Management").
func TestStaleCookieNeverRevivesItsID(t *testing.T) {
	h := newHarness(t, nil)
	for _, end := range []string{"logout", "expiry"} {
		t.Run(end, func(t *testing.T) {
			c := h.client()
			h.do(c, "POST", "/login?user=victim", nil)
			stale := h.cookie(c)
			_, oldText := h.do(c, "GET", "/id", nil)
			old, err := session.ParseID(oldText)
			if err != nil {
				t.Fatal(err)
			}
			switch end {
			case "logout":
				h.do(c, "POST", "/logout", nil)
			case "expiry":
				h.clock.Advance(31 * time.Minute)
			}
			resp, _ := h.do(h.plain(), "POST", "/set?key=planted&val=1", h.withCookie(stale))
			ck := sessionCookie(resp, "__Host-session")
			if ck == nil || ck.MaxAge < 0 || ck.Value == stale {
				t.Fatalf("a write with a stale cookie set %v, want a new session's cookie", ck)
			}
			id, _, ok := h.keys.VerifyCookie("__Host-session", ck.Value)
			if !ok || id == old {
				t.Fatalf("the new session has id %s (ok %v), the stale one was %s", id, ok, old)
			}
			if _, err := h.mem.Load(context.Background(), old, h.clock.Now()); err == nil {
				t.Errorf("the ended session %s is stored again", old)
			}
			if _, body := h.do(h.plain(), "GET", "/get?key=planted", h.withCookie(stale)); body != "" {
				t.Errorf("the stale cookie reads %q", body)
			}
		})
	}
}

// TestCookieIsTheOnlyCarrier: the session travels in the cookie only.
// Responses never put the cookie value or the id in a header other than
// Set-Cookie (a Location, say), and a token offered any other way (query,
// form, Authorization header, another cookie name) is ignored (ASVS 4.0.3
// 3.1.1, 5.0 3.3.4).
func TestCookieIsTheOnlyCarrier(t *testing.T) {
	h := newHarness(t, nil)
	c := h.client()
	resp, _ := h.do(c, "POST", "/set?key=a&val=secret", nil)
	value := h.cookie(c)
	_, id := h.do(c, "GET", "/id", nil)
	for k, vs := range resp.Header {
		if k == "Set-Cookie" {
			continue
		}
		for _, v := range vs {
			if strings.Contains(v, value) || strings.Contains(v, id) {
				t.Errorf("header %s carries the session: %q", k, v)
			}
		}
	}
	for name, hdr := range map[string]http.Header{
		"bearer":       {"Authorization": {"Bearer " + value}},
		"other cookie": {"Cookie": {"session=" + value}},
		"custom":       {"X-Session": {value}},
	} {
		if _, body := h.do(h.plain(), "GET", "/get?key=a", hdr); body != "" {
			t.Errorf("%s: the token was accepted: %q", name, body)
		}
	}
	// A write with the token in its form body (and no cookie) starts a new
	// session; the one the token names is untouched.
	req, _ := http.NewRequest("POST", h.srv.URL+"/set?key=b&val=forged", strings.NewReader("__Host-session="+value+"&session="+value))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := h.plain().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if ck := sessionCookie(resp, "__Host-session"); ck == nil || ck.Value == value {
		t.Errorf("a token in the form body was adopted: Set-Cookie %v", ck)
	}
	if _, body := h.do(c, "GET", "/get?key=b", nil); body != "" {
		t.Errorf("a write with the token in its form body reached the session: %q", body)
	}
}
