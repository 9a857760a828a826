package middleware_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/sesbolt/sesbolt/pkg/session"
	"github.com/sesbolt/sesbolt/pkg/session/sessiontest"
)

// TestObserverThroughMiddleware: each request reports what happened to
// its session once: a login creates and logs in, a cookie that leads
// nowhere is rejected with its reason, a valid cookie reports nothing.
func TestObserverThroughMiddleware(t *testing.T) {
	rec := &sessiontest.Recorder{}
	h := newHarness(t, func(c *session.Config) { c.Observer = rec.Observer() })
	browser := h.client()

	// The pre-login cookie, then the login.
	h.do(browser, "POST", "/set?key=cart&val=apple", nil)
	anon := h.cookie(browser)
	h.do(browser, "POST", "/login?user=alice", nil)
	loggedIn := h.cookie(browser)
	if got, want := rec.Order(), []string{"created", "logged_in"}; !slices.Equal(got, want) {
		t.Fatalf("anonymous store then login: events %v, want %v", got, want)
	}

	other, err := session.NewKeyring(key2)
	if err != nil {
		t.Fatal(err)
	}
	forged := other.SignCookie(h.mgr.CookieName(), session.NewID())
	unknown := h.keys.SignCookie(h.mgr.CookieName(), session.NewID())
	for _, c := range []struct {
		name, cookie string
		want         []session.CookieReason
	}{
		{"valid", loggedIn, nil},
		{"forged", forged, []session.CookieReason{session.CookieBadSignature}},
		{"malformed", "0123456789", []session.CookieReason{session.CookieMalformed}},
		{"oversized", strings.Repeat("x", session.MaxCookieSize+1), []session.CookieReason{session.CookieOversized}},
		{"unknown", unknown, []session.CookieReason{session.CookieUnknownID}},
		{"renewed", anon, []session.CookieReason{session.CookieRenewed}},
	} {
		rec.Reset()
		resp, _ := h.do(h.plain(), "GET", "/get?key=cart", h.withCookie(c.cookie))
		if resp.StatusCode != 200 {
			t.Errorf("%s cookie: status %d", c.name, resp.StatusCode)
		}
		if got := rec.Rejected(); !slices.Equal(got, c.want) || len(rec.Order()) != len(c.want) {
			t.Errorf("%s cookie: events %v (rejected %v), want rejected %v", c.name, rec.Order(), got, c.want)
		}
	}
}
