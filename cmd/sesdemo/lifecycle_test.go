package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// TestRememberMe: remember=1 in the form, or "remember": true in JSON,
// makes a persistent session with a cookie that outlives the browser;
// without it the cookie ends with the browser.
func TestRememberMe(t *testing.T) {
	ts := newTestServer(t, nil)
	for _, tc := range []struct {
		name     string
		login    func(b *browser) response
		remember bool
	}{
		{"form", func(b *browser) response { return b.post("/login", url.Values{"user": {"alice"}, "remember": {"1"}}) }, true},
		{"checkbox", func(b *browser) response { return b.post("/login", url.Values{"user": {"alice"}, "remember": {"on"}}) }, true},
		{"form without", func(b *browser) response { return b.post("/login", url.Values{"user": {"alice"}}) }, false},
		{"json", func(b *browser) response {
			return b.do("POST", "/login", strings.NewReader(`{"user":"alice","remember":true}`), "Content-Type", "application/json")
		}, true},
		{"json without", func(b *browser) response {
			return b.do("POST", "/login", strings.NewReader(`{"user":"alice","remember":false}`), "Content-Type", "application/json")
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBrowser(t, ts.URL, "")
			r := tc.login(b)
			if r.StatusCode != http.StatusSeeOther && r.StatusCode != http.StatusOK {
				t.Fatalf("login: %d %s", r.StatusCode, r.body)
			}
			var ck *http.Cookie
			for _, c := range r.Cookies() {
				if c.Name == "session" {
					ck = c
				}
			}
			if ck == nil {
				t.Fatal("login set no cookie")
			}
			if persistent := ck.MaxAge > 0 && !ck.Expires.IsZero(); persistent != tc.remember {
				t.Errorf("cookie Max-Age %d, Expires %v; want persistent %v", ck.MaxAge, ck.Expires, tc.remember)
			}
			if tc.remember && ck.MaxAge != int(session.DefaultPersistentIdleTimeout.Seconds()) {
				t.Errorf("cookie Max-Age %d, want 30 days", ck.MaxAge)
			}
			s := b.session()
			if s.Persistent != tc.remember || s.User != "alice" {
				t.Errorf("GET /api/session = %+v; want alice, persistent %v", s, tc.remember)
			}
			page := string(b.do("GET", "/", nil).body)
			if strings.Contains(page, "remembered: after") != tc.remember {
				t.Errorf("page says remembered %v, want %v", !tc.remember, tc.remember)
			}
		})
	}
	b := newBrowser(t, ts.URL, "")
	r := b.post("/login", url.Values{"user": {"alice"}, "remember": {"yes please"}})
	if wantStatus(t, r, http.StatusSeeOther); r.Header.Get("Location") != "/?e=remember" {
		t.Errorf("bad remember: Location %q", r.Header.Get("Location"))
	}
	wantJSONError(t, b.do("POST", "/login", strings.NewReader(`{"user":"alice","remember":"yes"}`), "Content-Type", "application/json"),
		http.StatusBadRequest)
	if b.session().User != "" {
		t.Error("a refused login logged in")
	}
}

// TestLogoutOthers: POST /logout-others ends every other session of the
// user and keeps this one, for forms and API clients.
func TestLogoutOthers(t *testing.T) {
	ts := newTestServer(t, nil)
	here, other, another, bob := newBrowser(t, ts.URL, ""), newBrowser(t, ts.URL, ""), newBrowser(t, ts.URL, ""), newBrowser(t, ts.URL, "")
	here.login("alice")
	other.login("alice")
	another.login("alice")
	bob.login("bob")
	id := here.session().ID

	r := here.post("/logout-others", nil)
	wantStatus(t, r, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); loc != "/?m=others&n=2" {
		t.Errorf("Location %q, want /?m=others&n=2", loc)
	}
	if s := here.session(); s.ID != id || s.User != "alice" {
		t.Errorf("this session changed: %+v", s)
	}
	for _, b := range []*browser{other, another} {
		if s := b.session(); s.User != "" {
			t.Errorf("another session of alice survived: %+v", s)
		}
	}
	if len(here.sessions()) != 1 || bob.session().User != "bob" {
		t.Error("wrong sessions left")
	}
	page := string(here.do("GET", "/?m=others&n=2", nil).body)
	if !strings.Contains(page, "Signed out of your other devices") || !strings.Contains(page, "(2 ended)") {
		t.Error("page does not report the sign-out")
	}

	other.login("alice")
	r = here.post("/logout-others", nil, "Accept", "application/json")
	wantStatus(t, r, http.StatusOK)
	if strings.TrimSpace(string(r.body)) != `{"ended":1}` {
		t.Errorf("API answer %s", r.body)
	}
	anon := newBrowser(t, ts.URL, "")
	wantJSONError(t, anon.post("/logout-others", nil, "Accept", "application/json"), http.StatusUnauthorized)
	if loc := anon.post("/logout-others", nil).Header.Get("Location"); loc != "/?e=anonymous" {
		t.Errorf("anonymous form: Location %q", loc)
	}
}

// TestMaxSessions: with a per-user limit, a login on one more device ends
// the one used least recently.
func TestMaxSessions(t *testing.T) {
	clock := &fakeClock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	ts := newTestServer(t, func(c *config) { c.MaxSessions = 2; c.Now = clock.Now })
	first, second, third := newBrowser(t, ts.URL, ""), newBrowser(t, ts.URL, ""), newBrowser(t, ts.URL, "")
	first.login("alice")
	clock.Advance(time.Minute)
	second.login("alice")
	clock.Advance(10 * time.Minute) // past the touch interval: first is seen again, second is not
	first.session()
	clock.Advance(time.Minute)
	third.login("alice")
	if s := second.session(); s.User != "" {
		t.Errorf("the least recently seen session survived the limit: %+v", s)
	}
	for _, b := range []*browser{first, third} {
		if s := b.session(); s.User != "alice" {
			t.Errorf("a recent session ended: %+v", s)
		}
	}
	if n := len(first.sessions()); n != 2 {
		t.Errorf("alice has %d sessions, want 2", n)
	}
	if page := string(first.do("GET", "/", nil).body); !strings.Contains(page, "2 sessions at most") {
		t.Error("the page does not tell the limit")
	}
}

// TestTokenHeaderClient: an API client that sends the token header logs
// in, reads GET /api/session and lists its sessions without any cookie.
func TestTokenHeaderClient(t *testing.T) {
	ts := newTestServer(t, nil)
	app := newBrowser(t, ts.URL, "sesdemo-mobile/2.0")
	r := app.do("POST", "/login", strings.NewReader(`{"user":"alice","remember":true}`),
		"Content-Type", "application/json", "Authorization", "Bearer")
	wantStatus(t, r, http.StatusOK)
	token := r.Header.Get("Session-Token")
	if token == "" || len(r.Header.Values("Set-Cookie")) != 0 {
		t.Fatalf("login over the header: Session-Token %q, Set-Cookie %q", token, r.Header.Values("Set-Cookie"))
	}
	r = app.do("GET", "/api/session", nil, "Authorization", "Bearer "+token)
	wantStatus(t, r, http.StatusOK)
	if !strings.Contains(string(r.body), `"user":"alice"`) || !strings.Contains(string(r.body), `"persistent":true`) {
		t.Errorf("GET /api/session with the token: %s", r.body)
	}
	if len(r.Header.Values("Set-Cookie")) != 0 || app.Cookie("session") != nil {
		t.Error("the header client got a cookie")
	}
	r = app.do("PUT", "/api/session/theme", strings.NewReader(`"dark"`), "Content-Type", "application/json", "Authorization", "Bearer "+token)
	wantStatus(t, r, http.StatusNoContent)
	r = app.do("GET", "/api/sessions", nil, "Authorization", "Bearer "+token)
	wantStatus(t, r, http.StatusOK)
	if !strings.Contains(string(r.body), `"browser":"sesdemo-mobile 2"`) {
		t.Errorf("GET /api/sessions with the token: %s", r.body)
	}
	// A browser with the same user sees the app among its devices.
	b := newBrowser(t, ts.URL, "")
	b.login("alice")
	if n := len(b.sessions()); n != 2 {
		t.Errorf("alice has %d sessions, want the browser's and the app's", n)
	}
	wantJSONError(t, app.do("GET", "/api/sessions", nil, "Authorization", "Bearer not-a-token"), http.StatusUnauthorized)
}

// TestLastClientShown: the sessions list shows the first and the last
// client: the last is refreshed with the throttled touch.
func TestLastClientShown(t *testing.T) {
	clock := &fakeClock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	ts := newTestServer(t, func(c *config) { c.Now = clock.Now })
	laptop := newBrowser(t, ts.URL, "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
	laptop.login("alice")
	id := laptop.session().ID
	iphone := "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
	clock.Advance(10 * time.Minute) // past the touch interval (3 minutes)
	laptop.do("GET", "/api/session", nil, "User-Agent", iphone)
	list := laptop.sessions()
	if len(list) != 1 || list[0].ID != id {
		t.Fatalf("sessions %+v", list)
	}
	s := list[0]
	if s.Device != "iPhone" || s.Browser != "Safari 17" || s.LastUserAgent != iphone || !strings.Contains(s.UserAgent, "Firefox") ||
		s.IP != "127.0.0.1" || s.LastIP != "127.0.0.1" || !s.Current {
		t.Errorf("session %+v: want the iPhone as the last client, Firefox as the first", s)
	}
	page := string(laptop.do("GET", "/", nil).body)
	for _, want := range []string{"<th>First IP</th>", "<th>Last IP</th>", "iPhone", "Safari 17", "this browser"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}
