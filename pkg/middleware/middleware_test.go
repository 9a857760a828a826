package middleware_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/pkg/session"
)

func TestCookieAttributes(t *testing.T) {
	h := newHarness(t, nil)
	resp, _ := h.do(h.client(), "POST", "/set?key=a&val=1", nil)
	raw := rawSetCookie(resp, "__Host-session")
	if raw == "" {
		t.Fatalf("no __Host-session cookie; Set-Cookie = %q", resp.Header.Values("Set-Cookie"))
	}
	parts := strings.Split(raw, "; ")
	value := strings.TrimPrefix(parts[0], "__Host-session=")
	if len(value) != 43 {
		t.Errorf("cookie value length %d, want 43 (base64url of id and 128-bit tag)", len(value))
	}
	got := strings.Join(parts[1:], "; ")
	if want := "Path=/; HttpOnly; Secure; SameSite=Lax"; got != want {
		t.Errorf("cookie attributes %q, want %q", got, want)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
}

func TestPersistentCookieHasExpiry(t *testing.T) {
	h := newHarness(t, func(c *session.Config) { c.Cookie.Persist = true })
	resp, _ := h.do(h.client(), "POST", "/set?key=a&val=1", nil)
	c := sessionCookie(resp, "__Host-session")
	if c == nil {
		t.Fatal("no cookie")
	}
	if c.MaxAge != 30*60 {
		t.Errorf("Max-Age %d, want %d", c.MaxAge, 30*60)
	}
	if want := h.clock.Now().Add(30 * time.Minute); !c.Expires.Equal(want) {
		t.Errorf("Expires %v, want %v", c.Expires, want)
	}
}

func TestInsecureCookieName(t *testing.T) {
	h := newHarness(t, func(c *session.Config) { c.Cookie.Insecure = true })
	resp, _ := h.do(h.client(), "POST", "/set?key=a&val=1", nil)
	raw := rawSetCookie(resp, "session")
	if raw == "" || strings.Contains(raw, "Secure") {
		t.Fatalf("Set-Cookie %q, want a non-Secure cookie named session", raw)
	}
}

func TestRoundTripKeepsData(t *testing.T) {
	h := newHarness(t, nil)
	c := h.client()
	h.do(c, "POST", "/set?key=color&val=blue", nil)
	resp, body := h.do(c, "GET", "/get?key=color", nil)
	if body != "blue" {
		t.Fatalf("got %q, want blue", body)
	}
	if sessionCookie(resp, "__Host-session") != nil {
		t.Error("unchanged session re-sent its cookie")
	}
	if v := resp.Header.Get("Vary"); v != "Cookie" {
		t.Errorf("Vary %q, want Cookie", v)
	}
}

func TestUnchangedNewSessionIsNotStored(t *testing.T) {
	h := newHarness(t, nil)
	resp, _ := h.do(h.client(), "GET", "/get?key=x", nil)
	if len(resp.Header.Values("Set-Cookie")) != 0 {
		t.Errorf("Set-Cookie on a session nobody changed: %q", resp.Header.Values("Set-Cookie"))
	}
	if n := h.store.applies.Load(); n != 0 {
		t.Errorf("%d store writes, want 0", n)
	}
}

func TestStaticRequestHasNoVary(t *testing.T) {
	h := newHarness(t, nil)
	c := h.client()
	h.do(c, "POST", "/set?key=a&val=1", nil)
	resp, _ := h.do(c, "GET", "/static", nil)
	if v := resp.Header.Get("Vary"); v != "" {
		t.Errorf("Vary %q on a response that never read the session", v)
	}
}

func TestHandlerCachePolicyKept(t *testing.T) {
	h := newHarness(t, nil)
	resp, _ := h.do(h.client(), "POST", "/cached", nil)
	if sessionCookie(resp, "__Host-session") == nil {
		t.Fatal("no cookie")
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "private, max-age=60" {
		t.Errorf("Cache-Control %q, want the handler's own", cc)
	}
}

func TestSaveWhenHandlerWritesNothingOrFlushes(t *testing.T) {
	for path, want := range map[string]string{"/silent": "silent", "/flush": "flushed"} {
		t.Run(path, func(t *testing.T) {
			h := newHarness(t, nil)
			c := h.client()
			resp, _ := h.do(c, "POST", path, nil)
			if resp.StatusCode != 200 || sessionCookie(resp, "__Host-session") == nil {
				t.Fatalf("status %d, cookie %v", resp.StatusCode, sessionCookie(resp, "__Host-session"))
			}
			if _, body := h.do(c, "GET", "/get?key=k", nil); body != want {
				t.Errorf("value %q not saved", body)
			}
		})
	}
}

// tamper flips one bit of the cookie's decoded bytes at bit index i.
func tamper(t *testing.T, value string, bit int) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil {
		t.Fatal(err)
	}
	raw[bit/8] ^= 1 << (bit % 8)
	return base64.RawURLEncoding.EncodeToString(raw)
}

func TestTamperedCookieGivesFreshSession(t *testing.T) {
	h := newHarness(t, nil)
	c := h.client()
	h.do(c, "POST", "/set?key=secret&val=s3", nil)
	good := h.cookie(c)
	_, realID := h.do(c, "GET", "/id", nil)
	id, err := session.ParseID(realID)
	if err != nil {
		t.Fatal(err)
	}
	before, err := h.mem.Load(context.Background(), id, h.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	loads := h.store.loads.Load()
	for _, bit := range []int{0, 127, 128, 200, 255} { // id bits and tag bits
		bad := tamper(t, good, bit)
		resp, body := h.do(h.plain(), "GET", "/get?key=secret", h.withCookie(bad))
		if body != "" {
			t.Errorf("bit %d: tampered cookie read the session: %q", bit, body)
		}
		// Left alone: only a logout clears the cookie (the browser may
		// hold a newer one by the time this response arrives).
		if c := sessionCookie(resp, "__Host-session"); c != nil {
			t.Errorf("bit %d: a read with a forged cookie set a cookie: %v", bit, c)
		}
		h.do(h.plain(), "POST", "/set?key=secret&val=evil", h.withCookie(bad))
	}
	if n := h.store.loads.Load() - loads; n != 0 {
		t.Errorf("%d store lookups for forged cookies, want 0", n)
	}
	after, err := h.mem.Load(context.Background(), id, h.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !before.Equal(after) {
		t.Errorf("stored record changed by forged cookies:\n%+v\n%+v", before, after)
	}
}

func TestMalformedCookies(t *testing.T) {
	h := newHarness(t, nil)
	for name, v := range map[string]string{
		"empty":     "",
		"short":     "abc",
		"not b64":   strings.Repeat("!", 43),
		"oversized": strings.Repeat("A", session.MaxCookieSize+1),
		"uuid":      "0f8e4d2c-5b1a-4c3e-9d7f-2a6b8c0e1f34",
		"padding":   strings.Repeat("A", 42) + "=",
	} {
		t.Run(name, func(t *testing.T) {
			resp, body := h.do(h.plain(), "GET", "/id", h.withCookie(v))
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if _, err := session.ParseID(body); err != nil {
				t.Errorf("no fresh session id: %v", err)
			}
		})
	}
	if n := h.store.loads.Load(); n != 0 {
		t.Errorf("%d store lookups for malformed cookies, want 0", n)
	}
}

func TestSessionIDInURLOrFormIgnored(t *testing.T) {
	h := newHarness(t, nil)
	c := h.client()
	h.do(c, "POST", "/set?key=a&val=1", nil)
	value := h.cookie(c)
	_, body := h.do(h.plain(), "GET", "/get?key=a&__Host-session="+value+"&session="+value, nil)
	if body != "" {
		t.Errorf("session taken from the URL: %q", body)
	}
}

func TestKeyRotation(t *testing.T) {
	h := newHarness(t, nil)
	c := h.client()
	h.do(c, "POST", "/set?key=a&val=1", nil)
	oldCookie := h.cookie(c)

	// New key first, old key still verifying: accepted and re-issued.
	rotated := h.rotate(key2, key1)
	resp, body := h.do(c, "GET", "/get?key=a", nil)
	if body != "1" {
		t.Fatalf("old-key cookie rejected: %q", body)
	}
	reissued := sessionCookie(resp, "__Host-session")
	if reissued == nil || reissued.Value == oldCookie {
		t.Fatalf("old-key cookie not re-issued: %v", reissued)
	}
	if _, _, ok := rotated.VerifyCookie("__Host-session", reissued.Value); !ok {
		t.Fatal("re-issued cookie does not verify")
	}
	if _, idx, _ := rotated.VerifyCookie("__Host-session", reissued.Value); idx != 0 {
		t.Errorf("re-issued under key %d, want the newest (0)", idx)
	}

	// Old key removed: the old cookie no longer works.
	h.rotate(key2)
	if _, body := h.do(h.plain(), "GET", "/get?key=a", h.withCookie(oldCookie)); body != "" {
		t.Errorf("cookie of a removed key accepted: %q", body)
	}
	if _, body := h.do(c, "GET", "/get?key=a", nil); body != "1" {
		t.Errorf("re-issued cookie rejected after the old key went: %q", body)
	}
}

func TestIdleExpiry(t *testing.T) {
	h := newHarness(t, nil)
	c := h.client()
	h.do(c, "POST", "/set?key=a&val=1", nil)
	h.clock.Advance(29 * time.Minute)
	if _, body := h.do(c, "GET", "/get?key=a", nil); body != "1" {
		t.Fatalf("session gone before the idle timeout: %q", body)
	}
	// That read was past the touch interval (3 min), so it refreshed expiry.
	h.clock.Advance(29 * time.Minute)
	if _, body := h.do(c, "GET", "/get?key=a", nil); body != "1" {
		t.Fatalf("touch did not extend idle expiry: %q", body)
	}
	h.clock.Advance(30 * time.Minute)
	if _, body := h.do(c, "GET", "/get?key=a", nil); body != "" {
		t.Errorf("session alive after 30 idle minutes: %q", body)
	}
}

func TestAbsoluteExpiryRenewAndLogin(t *testing.T) {
	h := newHarness(t, nil) // lifetime 2h, idle 30m
	c := h.client()
	h.do(c, "POST", "/set?key=a&val=1", nil)
	keepAlive := func(d time.Duration) {
		for step := 20 * time.Minute; d > 0; d -= step {
			h.clock.Advance(min(step, d))
			h.do(c, "GET", "/get?key=a", nil)
		}
	}
	keepAlive(100 * time.Minute)
	h.do(c, "POST", "/renew", nil) // renew must not extend the deadline
	keepAlive(20 * time.Minute)
	if _, body := h.do(c, "GET", "/get?key=a", nil); body != "" {
		t.Fatalf("session outlived its absolute lifetime after renew: %q", body)
	}

	// Login restarts the lifetime.
	h.do(c, "POST", "/set?key=a&val=2", nil)
	keepAlive(100 * time.Minute)
	h.do(c, "POST", "/login?user=alice", nil)
	keepAlive(100 * time.Minute)
	if _, body := h.do(c, "GET", "/get?key=a", nil); body != "2" {
		t.Fatalf("login did not restart the lifetime: %q", body)
	}
	keepAlive(20 * time.Minute)
	if _, body := h.do(c, "GET", "/get?key=a", nil); body != "" {
		t.Errorf("session outlived the lifetime restarted at login: %q", body)
	}
}

func TestTouchThrottling(t *testing.T) {
	h := newHarness(t, nil) // idle 30m → touch interval 3m
	c := h.client()
	h.do(c, "POST", "/set?key=a&val=1", nil)
	base := h.store.applies.Load()
	for range 10 {
		h.clock.Advance(10 * time.Second)
		h.do(c, "GET", "/get?key=a", nil)
	}
	if n := h.store.applies.Load() - base; n != 0 {
		t.Fatalf("%d writes for reads within the touch interval, want 0", n)
	}
	h.clock.Advance(3 * time.Minute)
	h.do(c, "GET", "/get?key=a", nil)
	h.do(c, "GET", "/get?key=a", nil)
	if n := h.store.applies.Load() - base; n != 1 {
		t.Errorf("%d writes after the touch interval passed, want 1", n)
	}
}

// TestWritesTouchAtMostOncePerInterval: a write within the touch interval
// stores its data but leaves the session's expiry and last client alone
// (stores need not touch their expiry and user indexes); the first write
// after it refreshes them.
func TestWritesTouchAtMostOncePerInterval(t *testing.T) {
	h := newHarness(t, nil) // idle 30m → touch interval 3m
	c := h.client()
	h.do(c, "POST", "/set?key=a&val=1", nil)
	_, id := h.do(c, "GET", "/id", nil)
	sid, err := session.ParseID(id)
	if err != nil {
		t.Fatal(err)
	}
	load := func() *session.Record {
		t.Helper()
		r, err := h.mem.Load(context.Background(), sid, h.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	first := load()
	h.clock.Advance(time.Minute)
	h.do(c, "POST", "/set?key=b&val=2", nil)
	if r := load(); !r.LastSeen.Equal(first.LastSeen) || !r.IdleExpires.Equal(first.IdleExpires) || string(r.Data["b"]) != `"2"` {
		t.Errorf("a write within the touch interval: last seen %v → %v, idle expiry %v → %v, b = %s; want the times kept and b stored",
			first.LastSeen, r.LastSeen, first.IdleExpires, r.IdleExpires, r.Data["b"])
	}
	h.clock.Advance(3 * time.Minute)
	h.do(c, "POST", "/set?key=c&val=3", nil)
	if r := load(); !r.LastSeen.Equal(h.clock.Now()) || !r.IdleExpires.Equal(h.clock.Now().Add(30*time.Minute)) {
		t.Errorf("a write after the touch interval: last seen %v, idle expiry %v; want both refreshed at %v", r.LastSeen, r.IdleExpires, h.clock.Now())
	}
}

func TestRenewAndLoginChangeID(t *testing.T) {
	h := newHarness(t, nil)
	c := h.client()
	h.do(c, "POST", "/set?key=a&val=1", nil)
	old := h.cookie(c)
	_, oldID := h.do(c, "GET", "/id", nil)
	h.do(c, "POST", "/login?user=alice", nil)
	_, newID := h.do(c, "GET", "/id", nil)
	if newID == oldID {
		t.Fatal("login kept the session id (fixation)")
	}
	if _, body := h.do(c, "GET", "/get?key=a", nil); body != "1" {
		t.Errorf("login lost the data: %q", body)
	}
	if _, body := h.do(h.plain(), "GET", "/get?key=a", h.withCookie(old)); body != "" {
		t.Errorf("pre-login cookie still works: %q", body)
	}
	recs, err := h.mgr.UserSessions(context.Background(), "alice")
	if err != nil || len(recs) != 1 || recs[0].ID.String() != newID {
		t.Errorf("UserSessions = %v, %v; want the renewed id", recs, err)
	}
}

func TestLogout(t *testing.T) {
	h := newHarness(t, nil)
	c := h.client()
	h.do(c, "POST", "/login?user=bob", nil)
	h.do(c, "POST", "/set?key=a&val=1", nil)
	old := h.cookie(c)
	resp, _ := h.do(c, "POST", "/logout", nil)
	if ck := sessionCookie(resp, "__Host-session"); ck == nil || ck.MaxAge >= 0 {
		t.Fatalf("logout did not clear the cookie: %v", ck)
	}
	if _, body := h.do(h.plain(), "GET", "/get?key=a", h.withCookie(old)); body != "" {
		t.Errorf("logged-out cookie still works: %q", body)
	}
}

func TestConcurrentRequestsMergePerKey(t *testing.T) {
	h := newHarness(t, nil)
	c := h.client()
	h.do(c, "POST", "/set?key=init&val=1", nil)
	hdr := h.withCookie(h.cookie(c))
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			h.do(h.plain(), "POST", fmt.Sprintf("/set?key=k%d&val=%d", i, i), hdr)
		})
	}
	wg.Wait()
	for i := range 50 {
		if _, body := h.do(c, "GET", fmt.Sprintf("/get?key=k%d", i), nil); body != fmt.Sprint(i) {
			t.Errorf("key k%d = %q, lost update", i, body)
		}
	}
}

func TestNoResurrection(t *testing.T) {
	h := newHarness(t, nil)
	c := h.client()
	h.do(c, "POST", "/set?key=a&val=1", nil)
	_, idStr := h.do(c, "GET", "/id", nil)
	id, _ := session.ParseID(idStr)

	// A request loads the session, then it is deleted (admin expiry) before
	// the request saves.
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s, _ := session.FromContext(r.Context())
		if _, err := h.mem.Delete(r.Context(), id); err != nil {
			t.Error(err)
		}
		s.Set("b", "2")
	})
	srv := newServerFor(t, h, mux)
	req, _ := http.NewRequest("POST", srv.URL+"/", nil)
	req.Header = h.withCookie(h.cookie(c))
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("status %d, want 200", resp.StatusCode)
	}
	// The change is dropped and the cookie left alone: the browser may
	// hold a newer cookie by now (only a logout clears it).
	if v := resp.Header.Values("Set-Cookie"); len(v) != 0 {
		t.Errorf("Set-Cookie %q for a session that vanished", v)
	}
	if n := h.mgr.Counters().Dropped; n != 1 {
		t.Errorf("Counters().Dropped = %d, want 1", n)
	}
	if _, err := h.mem.Load(context.Background(), id, h.clock.Now()); err == nil {
		t.Error("deleted session was recreated")
	}
}

func TestSaveFailureGives500AndNoCookie(t *testing.T) {
	h := newHarness(t, nil)
	h.store.failApply.Store(true)
	resp, body := h.do(h.client(), "POST", "/set?key=a&val=1", nil)
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("status %d, want 500", resp.StatusCode)
	}
	if v := resp.Header.Values("Set-Cookie"); len(v) != 0 {
		t.Errorf("Set-Cookie %q for a session that was never saved", v)
	}
	if strings.Contains(body, "disk full") {
		t.Errorf("internal error leaked to the client: %q", body)
	}
	if !strings.Contains(h.logs.String(), "disk full") {
		t.Error("store failure not logged")
	}
}

func TestLogsNeverContainCookieValue(t *testing.T) {
	h := newHarness(t, nil)
	c := h.client()
	h.do(c, "POST", "/set?key=a&val=1", nil)
	value := h.cookie(c)
	h.do(h.plain(), "GET", "/get?key=a", h.withCookie(tamper(t, value, 200)))
	h.do(h.plain(), "GET", "/get?key=a", h.withCookie(value+"x"))
	h.store.failApply.Store(true)
	h.do(c, "POST", "/set?key=a&val=2", nil)
	logs := h.logs.String()
	if !strings.Contains(logs, "session cookie rejected") {
		t.Fatalf("expected debug logs, got %q", logs)
	}
	if strings.Contains(logs, value[:20]) || strings.Contains(logs, tamper(t, value, 200)[:20]) {
		t.Errorf("logs contain a cookie value:\n%s", logs)
	}
}

func TestTooLargeGives413(t *testing.T) {
	h := newHarness(t, nil)
	h.store.failWith = fmt.Errorf("store: %w", session.ErrTooLarge)
	h.store.failApply.Store(true)
	resp, _ := h.do(h.client(), "POST", "/set?key=a&val=1", nil)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("status %d, want 413", resp.StatusCode)
	}
	if v := resp.Header.Values("Set-Cookie"); len(v) != 0 {
		t.Errorf("Set-Cookie %q for a session that was never saved", v)
	}
}
