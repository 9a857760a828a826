package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/internal/redistest"
	"github.com/sesbolt/sesbolt/internal/testclient"
	"github.com/sesbolt/sesbolt/pkg/flasksession"
	"github.com/sesbolt/sesbolt/pkg/redisstore"
)

// newFlaskServer starts the demo in the Flask mode on a private
// redis-server, behind TLS (Secure cookies, as in production), and returns
// a browser of it, its Flask mode and its store.
func newFlaskServer(t *testing.T) (*browser, *flaskMode, *redisstore.FlaskStore) {
	t.Helper()
	rc := redistest.Start(t).Client(t)
	store, err := redisstore.NewFlask(rc, &redisstore.FlaskOptions{UserKey: "uid", Lifetime: time.Hour, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	codec, err := flasksession.NewCodec([][]byte{[]byte("the Flask app's secret key, 32 b")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	mode := &flaskMode{Codec: codec, UserKey: "uid"}
	h, err := newServer(config{Store: store, Flask: mode, Idle: time.Hour, Secure: true,
		Logger: slog.New(slog.NewTextHandler(&testclient.SyncBuffer{}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	b := newBrowser(t, srv.URL, "flask-mode-test/1")
	b.Client.Transport = srv.Client().Transport
	return b, mode, store
}

// TestFlaskMode: with a FlaskStore and the Flask codec, the demo sets the
// recipe's cookie (name "session", Secure behind TLS, no __Host- prefix),
// keeps the user under the user key, says on its page what the layout
// lacks, answers 501 where a per-user index is needed, and refuses the
// user key as data.
func TestFlaskMode(t *testing.T) {
	b, mode, store := newFlaskServer(t)
	r := b.do("POST", "/login", strings.NewReader(`{"user": "alice"}`), "Content-Type", "application/json")
	wantStatus(t, r, http.StatusOK)
	var cookie *http.Cookie
	for _, c := range r.Cookies() {
		cookie = c
	}
	if cookie == nil || cookie.Name != "session" || !cookie.Secure || !cookie.HttpOnly || cookie.Path != "/" || cookie.SameSite != http.SameSiteLaxMode {
		t.Fatalf("login cookie %+v, want the recipe's session cookie, Secure", cookie)
	}
	id, _, ok := mode.Codec.Decode(cookie.Value)
	if !ok {
		t.Fatalf("the cookie %q is not the Flask codec's", cookie.Value)
	}
	rec, err := store.Load(context.Background(), id, time.Now())
	if err != nil || rec.UserID != "alice" {
		t.Fatalf("stored %+v, %v", rec, err)
	}

	page := string(b.do("GET", "/", nil).body)
	for _, want := range []string{"Shared with a Flask app", "<code>uid</code>", "Created</th><td>unknown", "layout has no absolute lifetime", "Not available while the sessions are shared"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(page, `action="/logout-everywhere"`) {
		t.Error("the page offers to log out everywhere")
	}

	api := []string{"Accept", "application/json"}
	wantJSONError(t, b.do("GET", "/api/sessions", nil), http.StatusNotImplemented)
	wantJSONError(t, b.do("POST", "/logout-everywhere", nil, api...), http.StatusNotImplemented)
	wantJSONError(t, b.do("POST", "/logout-others", nil, api...), http.StatusNotImplemented)
	wantJSONError(t, b.put("/api/session/uid", `"mallory"`), http.StatusBadRequest)
	r = b.post("/set", url.Values{"key": {"uid"}, "value": {"mallory"}})
	if loc := r.Header.Get("Location"); r.StatusCode != http.StatusSeeOther || loc != "/?e=userkey" {
		t.Errorf("form set of the user key: %d to %q", r.StatusCode, loc)
	}
	wantStatus(t, b.put("/api/session/theme", `{"dark": true}`), http.StatusNoContent)
	s := b.session()
	if s.User != "alice" || string(s.Data["theme"]) != `{"dark":true}` || len(s.Data) != 1 {
		t.Errorf("after the refused changes: %+v", s)
	}
	if v, err := store.Load(context.Background(), id, time.Now()); err != nil || v.UserID != "alice" || len(v.Data) != 1 {
		t.Errorf("stored %+v, %v", v, err)
	}
}
