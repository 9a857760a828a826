//go:build linux

package e2e

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/internal/demoproc"
	"github.com/sesbolt/sesbolt/internal/flasktest"
	"github.com/sesbolt/sesbolt/internal/testclient"
	"github.com/sesbolt/sesbolt/pkg/flasksession"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// flaskLifetime is the Flask app's permanent_session_lifetime in these
// tests, and sesdemo's -idle.
const flaskLifetime = 10 * time.Minute

// shortTTL is put on a session key before a write, to see the write set
// the lifetime again.
const shortTTL = 100

// flaskPair is the Flask app of examples/flask and sesdemo in Flask mode,
// both on one private redis-server, and one browser (one cookie jar) that
// talks to either: the jar's cookies do not depend on the port.
type flaskPair struct {
	t      *testing.T
	redis  *flasktest.Redis
	flask  string // the Flask app's URL
	goURL  string // sesdemo's URL
	b      *testclient.Browser
	codec  *flasksession.Codec // the shared secret's
	secret string              // the secret file
	admin  string              // sesdemo's admin socket
	dir    string
}

func startFlaskPair(t *testing.T) *flaskPair {
	t.Helper()
	build(t)
	p := &flaskPair{t: t, dir: demoproc.ShortTempDir(t)}
	p.redis = flasktest.StartRedis(t)
	raw := make([]byte, 32)
	rand.Read(raw)
	p.secret = filepath.Join(p.dir, "flask-secret")
	if err := os.WriteFile(p.secret, []byte(base64.StdEncoding.EncodeToString(raw)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	secrets, err := flasksession.LoadSecretFile(p.secret)
	if err != nil {
		t.Fatal(err)
	}
	if p.codec, err = flasksession.NewCodec(secrets, nil); err != nil {
		t.Fatal(err)
	}
	p.flask = flasktest.StartApp(t, flasktest.AppOptions{RedisURL: p.redis.URL, SecretFile: p.secret, Lifetime: flaskLifetime}).URL
	p.admin = filepath.Join(p.dir, "admin.sock")
	demo := demoproc.Start(t, bins.Path(t, "sesdemo"), "-redis", p.redis.URL,
		"-flask-secret-file", p.secret, "-idle", flaskLifetime.String(), "-admin-socket", p.admin)
	p.goURL = demo.Base
	p.b = testclient.NewBrowser(t, p.flask, "e2e-flask/1")
	return p
}

// on sends a request to the app at base with the shared jar and requires
// status want; JSON bodies are sent as application/json.
func (p *flaskPair) on(base string, want int, method, path, body string) (*http.Response, []byte) {
	p.t.Helper()
	p.b.Base = base
	var hdr []string
	if body != "" {
		hdr = []string{"Content-Type", "application/json", "Accept", "application/json"}
	}
	resp, data, err := p.b.Send(method, path, strings.NewReader(body), hdr...)
	if err != nil {
		p.t.Fatal(err)
	}
	if resp.StatusCode != want {
		p.t.Fatalf("%s %s%s: status %d, want %d: %s", method, base, path, resp.StatusCode, want, data)
	}
	return resp, data
}

// flaskView is GET /api/session of either app: Flask's has id, user and
// data; sesdemo's has more, which these tests do not need.
type flaskView struct {
	ID   *string                    `json:"id"`
	User *string                    `json:"user"`
	Data map[string]json.RawMessage `json:"data"`
}

// view returns GET /api/session of the app at base.
func (p *flaskPair) view(base string) flaskView {
	p.t.Helper()
	_, data := p.on(base, http.StatusOK, "GET", "/api/session", "")
	var v flaskView
	if err := json.Unmarshal(data, &v); err != nil {
		p.t.Fatalf("GET %s/api/session: %v: %s", base, err, data)
	}
	return v
}

// user returns the user the app at base sees ("" for none).
func (p *flaskPair) user(base string) string {
	p.t.Helper()
	if u := p.view(base).User; u != nil {
		return *u
	}
	return ""
}

// cookie returns the jar's session cookie value ("" for none).
func (p *flaskPair) cookie() string {
	if c := p.b.Cookie(flasksession.CookieName); c != nil {
		return c.Value
	}
	return ""
}

// setCookie puts value in the jar as the session cookie of both apps (the
// jar's cookies do not depend on the port).
func (p *flaskPair) setCookie(value string) {
	if err := p.b.SetCookie(flasksession.CookieName, value); err != nil {
		p.t.Fatal(err)
	}
}

// id returns the session id the jar's cookie names.
func (p *flaskPair) id() string {
	p.t.Helper()
	id, _, ok := p.codec.Decode(p.cookie())
	if !ok {
		p.t.Fatalf("the jar's cookie %q is not the shared secret's", p.cookie())
	}
	return id.String()
}

// ttl returns the TTL of key in seconds.
func (p *flaskPair) ttl(key string) int {
	p.t.Helper()
	n, err := strconv.Atoi(p.redis.Do(p.t, "TTL", key))
	if err != nil {
		p.t.Fatal(err)
	}
	return n
}

// wantRefreshed shortens the TTL of the session key, runs write, and
// requires the TTL back at the lifetime.
func (p *flaskPair) wantRefreshed(side string, write func()) {
	p.t.Helper()
	id := p.id()
	p.redis.Do(p.t, "EXPIRE", id, strconv.Itoa(shortTTL))
	write()
	if got := p.ttl(p.id()); got <= shortTTL || got > int(flaskLifetime.Seconds()) {
		p.t.Errorf("a write on %s left the TTL at %d s, want the lifetime (%s)", side, got, flaskLifetime)
	}
}

// sessionCookie returns the session cookie a response sets.
func sessionCookie(t *testing.T, resp *http.Response) *http.Cookie {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == flasksession.CookieName {
			return c
		}
	}
	t.Fatalf("no %s cookie in %q", flasksession.CookieName, resp.Header.Values("Set-Cookie"))
	return nil
}

// TestFlaskInterop: the Flask app and sesdemo -redis URL
// -flask-secret-file FILE share sessions through one Redis and one cookie
// jar: a login on Flask is seen by Go with its data, a value set in Go is
// read by Flask, a logout in Go ends the session for Flask, a login in Go
// is seen by Flask, both set the same cookie attributes, both refuse a
// cookie signed with another secret, writes on either side set the TTL to
// the lifetime again, and a logout on Flask ends the session for Go. At
// the end sesctl import copies the sessions into sesbolt's format with
// their ids, users and data.
func TestFlaskInterop(t *testing.T) {
	t.Parallel()
	p := startFlaskPair(t)
	flask, goSide := p.flask, p.goURL

	// Log in on Flask, store a value there; Go sees user and data.
	resp, _ := p.on(flask, http.StatusOK, "POST", "/login", `{"user": "alice"}`)
	flaskCookie := sessionCookie(t, resp)
	p.on(flask, http.StatusNoContent, "PUT", "/api/session/cart", `["book", {"qty": 2}]`)
	id := p.id()
	v := p.view(goSide)
	if v.ID == nil || *v.ID != id || v.User == nil || *v.User != "alice" {
		t.Fatalf("sesdemo sees %+v, want the Flask login's session %s of alice", v, id)
	}
	if got := string(v.Data["cart"]); got != `["book",{"qty":2}]` {
		t.Errorf("sesdemo sees cart %s", got)
	}
	if _, ok := v.Data["user_id"]; ok {
		t.Error("sesdemo shows the user key as data")
	}

	// Set a key in Go; Flask reads it, and the user is still alice.
	p.wantRefreshed("Go", func() {
		p.on(goSide, http.StatusNoContent, "PUT", "/api/session/color", `"blue ✓"`)
	})
	if _, data := p.on(flask, http.StatusOK, "GET", "/api/session/color", ""); strings.TrimSpace(string(data)) != `"blue \u2713"` && strings.TrimSpace(string(data)) != `"blue ✓"` {
		t.Errorf("Flask reads color %s", data)
	}
	if fv := p.view(flask); *fv.User != "alice" || string(fv.Data["cart"]) == "" {
		t.Errorf("Flask sees %+v after the Go write", fv)
	}
	if p.id() != id {
		t.Error("a Go write changed the session id")
	}
	// A write on Flask sets the TTL too, and Go reads it.
	p.wantRefreshed("Flask", func() {
		p.on(flask, http.StatusNoContent, "DELETE", "/api/session/cart", "")
	})
	if _, ok := p.view(goSide).Data["cart"]; ok {
		t.Error("sesdemo still sees the value Flask deleted")
	}

	// Log out in Go: the key and the cookie are gone; Flask sees no
	// session, also for a browser that kept the old cookie.
	old := p.cookie()
	p.on(goSide, http.StatusNoContent, "POST", "/logout", "{}")
	if c := p.cookie(); c != "" {
		t.Errorf("the cookie survived the Go logout: %q", c)
	}
	if p.redis.Do(t, "EXISTS", id) != "0" {
		t.Error("the session key survived the Go logout")
	}
	if u := p.user(flask); u != "" {
		t.Errorf("after the Go logout Flask sees user %q", u)
	}
	p.setCookie(old)
	if u := p.user(flask); u != "" {
		t.Errorf("after the Go logout Flask still takes the old cookie: user %q", u)
	}
	if u := p.user(goSide); u != "" {
		t.Errorf("after the Go logout sesdemo still takes the old cookie: user %q", u)
	}

	// Log in on Go: a new id, seen by Flask; the cookies have the same
	// attributes on both sides.
	resp, _ = p.on(goSide, http.StatusOK, "POST", "/login", `{"user": "bob"}`)
	goCookie := sessionCookie(t, resp)
	if p.id() == id {
		t.Error("the Go login kept the id")
	}
	if u := p.user(flask); u != "bob" {
		t.Errorf("after the Go login Flask sees user %q", u)
	}
	type attrs struct {
		Name, Path, Domain string
		HttpOnly, Secure   bool
		SameSite           http.SameSite
	}
	fa := attrs{flaskCookie.Name, flaskCookie.Path, flaskCookie.Domain, flaskCookie.HttpOnly, flaskCookie.Secure, flaskCookie.SameSite}
	ga := attrs{goCookie.Name, goCookie.Path, goCookie.Domain, goCookie.HttpOnly, goCookie.Secure, goCookie.SameSite}
	if want := (attrs{"session", "/", "", true, false, http.SameSiteLaxMode}); fa != want || ga != want {
		t.Errorf("cookie attributes: Flask %+v, Go %+v, want both %+v", fa, ga, want)
	}

	// A cookie signed with another secret, for a stored session, is
	// refused by both.
	stranger, err := flasksession.NewCodec([][]byte{[]byte("not the shared secret, 32 bytes.")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	bobID := p.id()
	forged, err := session.ParseID(bobID)
	if err != nil {
		t.Fatal(err)
	}
	p.setCookie(stranger.Encode(forged))
	if u := p.user(flask); u != "" {
		t.Errorf("Flask took another secret's cookie: user %q", u)
	}
	if v := p.view(goSide); v.User != nil && *v.User != "" || v.ID != nil && *v.ID == bobID {
		t.Errorf("sesdemo took another secret's cookie: %+v", v)
	}
	if p.redis.Do(t, "EXISTS", bobID) != "1" {
		t.Error("a refused cookie's session was touched")
	}

	// sesctl on sesdemo's admin socket shows the session as the layout
	// keeps it: user and data, expiry from the TTL, no creation time.
	shown := ctlJSON[listed](t, "--socket", p.admin, "-o", "json", "show", bobID)
	if shown.User != "bob" || !shown.Created.IsZero() || !shown.Deadline.Equal(shown.IdleExpires) || shown.Version != 0 ||
		time.Until(shown.Expires) <= 0 || time.Until(shown.Expires) > flaskLifetime {
		t.Errorf("sesctl show on the Flask layout: %+v", shown)
	}
	if r := sesctl(t, "--socket", p.admin, "list"); r.code != 1 || !strings.Contains(r.stderr, "not supported") {
		t.Errorf("sesctl list on the Flask layout:\n%s", r)
	}

	// Moving to sesbolt's own format: sesctl import copies the sessions,
	// with their ids, users and data, into a sesbolt database.
	p.setCookie(p.codec.Encode(forged))
	p.on(flask, http.StatusNoContent, "PUT", "/api/session/lang", `"fr"`)
	keys := filepath.Join(p.dir, "app.keys")
	if err := os.WriteFile(keys, []byte(ctlOK(t, "keygen")), 0o600); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(p.dir, "app.db")
	r := sesctl(t, "--db", db, "--keys", keys, "import", "--from", "flask-redis", "--user-key", "user_id", p.redis.URL)
	if r.code != 0 || r.stdout != "imported 1 session of 1\n" {
		t.Fatalf("import from the Flask layout:\n%s", r)
	}
	moved := ctlJSON[listed](t, "--db", db, "--keys", keys, "-o", "json", "show", bobID)
	if moved.User != "bob" || string(moved.Data["lang"]) != `"fr"` || len(moved.Data) != 1 {
		t.Errorf("imported session %s: user %q data %v", bobID, moved.User, moved.Data)
	}

	// Log out on Flask: sesdemo sees no session.
	p.on(flask, http.StatusNoContent, "POST", "/logout", "")
	p.setCookie(p.codec.Encode(forged))
	if v := p.view(goSide); v.User != nil && *v.User != "" {
		t.Errorf("after the Flask logout sesdemo sees user %q", *v.User)
	}
}
