package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/internal/testclient"
	"github.com/sesbolt/sesbolt/pkg/memstore"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// testServer runs newServer on a memstore behind an httptest server.
type testServer struct {
	*httptest.Server
	log *testclient.SyncBuffer
}

// newTestServer starts a demo server; edit may change its config.
func newTestServer(t *testing.T, edit func(*config)) *testServer {
	t.Helper()
	store := memstore.New(&memstore.Options{CleanupInterval: -1})
	t.Cleanup(func() { store.Close() })
	keys, err := session.NewKeyring(session.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	buf := &testclient.SyncBuffer{}
	cfg := config{
		Store:  store,
		Keys:   keys,
		Logger: slog.New(slog.NewTextHandler(buf, nil)),
	}
	if edit != nil {
		edit(&cfg)
	}
	h, err := newServer(cfg)
	if err != nil {
		t.Fatalf("newServer: %v", err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &testServer{Server: srv, log: buf}
}

// waitLog waits until the server's log matches every one of res, for up to
// 5 s, and returns the log and the res it does not match. A request's line
// is logged when its handler returns, which may be after the client has
// read the answer.
func (ts *testServer) waitLog(res []*regexp.Regexp) (logs string, missing []*regexp.Regexp) {
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		logs = ts.log.String()
		missing = slices.DeleteFunc(slices.Clone(res), func(re *regexp.Regexp) bool { return re.MatchString(logs) })
		if len(missing) == 0 || time.Now().After(deadline) {
			return logs, missing
		}
	}
}

// browser is one client of the demo (testclient.Browser) with the demo's
// requests as methods that fail the test.
type browser struct {
	*testclient.Browser
	t *testing.T
}

func newBrowser(t *testing.T, base, userAgent string) *browser {
	t.Helper()
	return &browser{Browser: testclient.NewBrowser(t, base, userAgent), t: t}
}

// response is a finished response with its body read.
type response struct {
	*http.Response
	body []byte
}

// send sends a request; hdr holds header name/value pairs. It is safe to
// call from any goroutine.
func (b *browser) send(method, path string, body io.Reader, hdr ...string) (response, error) {
	resp, data, err := b.Send(method, path, body, hdr...)
	return response{resp, data}, err
}

// do is send for the test goroutine: it fails the test on a transport error.
func (b *browser) do(method, path string, body io.Reader, hdr ...string) response {
	b.t.Helper()
	r, err := b.send(method, path, body, hdr...)
	if err != nil {
		b.t.Fatal(err)
	}
	return r
}

func (b *browser) post(path string, form url.Values, hdr ...string) response {
	b.t.Helper()
	return b.do("POST", path, strings.NewReader(form.Encode()),
		append([]string{"Content-Type", "application/x-www-form-urlencoded"}, hdr...)...)
}

func (b *browser) put(path, body string) response {
	b.t.Helper()
	return b.do("PUT", path, strings.NewReader(body), "Content-Type", "application/json")
}

func (b *browser) login(user string) {
	b.t.Helper()
	r := b.post("/login", url.Values{"user": {user}})
	wantStatus(b.t, r, http.StatusSeeOther)
}

// session returns GET /api/session.
func (b *browser) session() sessionJSON {
	b.t.Helper()
	r := b.do("GET", "/api/session", nil)
	wantStatus(b.t, r, http.StatusOK)
	var s sessionJSON
	if err := json.Unmarshal(r.body, &s); err != nil {
		b.t.Fatalf("GET /api/session: %v in %s", err, r.body)
	}
	return s
}

// sessions returns GET /api/sessions.
func (b *browser) sessions() []sessionInfo {
	b.t.Helper()
	r := b.do("GET", "/api/sessions", nil)
	wantStatus(b.t, r, http.StatusOK)
	var list []sessionInfo
	if err := json.Unmarshal(r.body, &list); err != nil {
		b.t.Fatalf("GET /api/sessions: %v in %s", err, r.body)
	}
	return list
}

func wantStatus(t *testing.T, r response, want int) {
	t.Helper()
	if r.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d; body %q", r.Request.Method, r.Request.URL.Path, r.StatusCode, want, r.body)
	}
}

// wantJSONError checks an API error: status, JSON content type and a body
// that is exactly {"error": "..."} with a non-empty message.
func wantJSONError(t *testing.T, r response, want int) {
	t.Helper()
	wantStatus(t, r, want)
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q, want application/json", r.Request.Method, r.Request.URL.Path, ct)
	}
	var body map[string]any
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatalf("error body %q: %v", r.body, err)
	}
	if msg, ok := body["error"].(string); !ok || msg == "" || len(body) != 1 {
		t.Errorf("error body %s, want exactly {\"error\": \"...\"}", r.body)
	}
}

// wantFields checks that the JSON object obj has exactly the given keys.
func wantFields(t *testing.T, what string, obj map[string]json.RawMessage, keys ...string) {
	t.Helper()
	got := slices.Sorted(maps.Keys(obj))
	slices.Sort(keys)
	if !slices.Equal(got, keys) {
		t.Errorf("%s fields %v, want %v", what, got, keys)
	}
}

var rfc3339UTC = regexp.MustCompile(`^"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"$`)

func TestAPISessionShape(t *testing.T) {
	ts := newTestServer(t, nil)
	b := newBrowser(t, ts.URL, "curl/8.5.0")
	wantStatus(t, b.put("/api/session/color", `"blue"`), http.StatusNoContent)
	wantStatus(t, b.put("/api/session/prefs", `{ "theme" : "dark", "size": [1, 2] }`), http.StatusNoContent)
	b.login("alice")

	r := b.do("GET", "/api/session", nil)
	wantStatus(t, r, http.StatusOK)
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &obj); err != nil {
		t.Fatal(err)
	}
	wantFields(t, "/api/session", obj, "id", "user", "data", "created", "last_seen", "expires", "persistent")
	for _, f := range []string{"created", "last_seen", "expires"} {
		if !rfc3339UTC.Match(obj[f]) {
			t.Errorf("%s = %s, want an RFC 3339 UTC time", f, obj[f])
		}
	}
	if string(obj["user"]) != `"alice"` {
		t.Errorf("user = %s", obj["user"])
	}
	var id string
	json.Unmarshal(obj["id"], &id)
	if parsed, err := session.ParseID(id); err != nil || parsed.String() != id {
		t.Errorf("id %q is not a canonical session id: %v", id, err)
	}
	wantData := `{"color":"blue","prefs":{"theme":"dark","size":[1,2]}}`
	if got := string(obj["data"]); got != wantData {
		t.Errorf("data = %s, want %s", got, wantData)
	}

	s := b.session()
	if !s.Expires.After(s.LastSeen) || s.Created.After(s.LastSeen) {
		t.Errorf("times out of order: created %v last_seen %v expires %v", s.Created, s.LastSeen, s.Expires)
	}
}

func TestAPISessionAnonymous(t *testing.T) {
	ts := newTestServer(t, nil)
	b := newBrowser(t, ts.URL, "")
	r := b.do("GET", "/api/session", nil)
	wantStatus(t, r, http.StatusOK)
	if got := r.Header.Values("Set-Cookie"); len(got) != 0 {
		t.Errorf("reading a new session set a cookie: %q (nothing should be stored)", got)
	}
	var obj map[string]json.RawMessage
	json.Unmarshal(r.body, &obj)
	if string(obj["user"]) != `""` || string(obj["data"]) != `{}` {
		t.Errorf("anonymous session: user %s data %s, want \"\" and {}", obj["user"], obj["data"])
	}
}

func TestAPIPutAndDelete(t *testing.T) {
	ts := newTestServer(t, nil)
	b := newBrowser(t, ts.URL, "")
	for _, body := range []string{`1`, `"x"`, `null`, `true`, `[1,"a"]`, `{"a":{"b":1}}`, ` 3.5 `} {
		wantStatus(t, b.put("/api/session/k", body), http.StatusNoContent)
		want := strings.TrimSpace(body)
		if got := string(b.session().Data["k"]); got != want {
			t.Errorf("PUT %s: stored %s, want %s", body, got, want)
		}
	}
	wantStatus(t, b.do("DELETE", "/api/session/k", nil), http.StatusNoContent)
	if _, ok := b.session().Data["k"]; ok {
		t.Error("DELETE left the key")
	}
	wantStatus(t, b.do("DELETE", "/api/session/missing", nil), http.StatusNoContent)

	// Keys are path segments, unescaped.
	wantStatus(t, b.put("/api/session/a%20b", `1`), http.StatusNoContent)
	if _, ok := b.session().Data["a b"]; !ok {
		t.Error(`PUT /api/session/a%20b did not set "a b"`)
	}
}

func TestAPIPutErrors(t *testing.T) {
	ts := newTestServer(t, nil)
	b := newBrowser(t, ts.URL, "")
	wantStatus(t, b.put("/api/session/keep", `"me"`), http.StatusNoContent)

	for _, tc := range []struct {
		name, path, body string
		want             int
	}{
		{"invalid JSON", "/api/session/k", `{"a":`, http.StatusBadRequest},
		{"not JSON", "/api/session/k", `hello`, http.StatusBadRequest},
		{"empty body", "/api/session/k", ``, http.StatusBadRequest},
		{"two values", "/api/session/k", `1 2`, http.StatusBadRequest},
		{"body over 64 KiB", "/api/session/k", `"` + strings.Repeat("x", maxBody) + `"`, http.StatusRequestEntityTooLarge},
		{"key too long", "/api/session/" + strings.Repeat("k", maxKeyLen+1), `1`, http.StatusBadRequest},
		{"control character in key", "/api/session/a%00b", `1`, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantJSONError(t, b.put(tc.path, tc.body), tc.want)
		})
	}
	t.Run("record over the store limit", func(t *testing.T) {
		big := `"` + strings.Repeat("y", 40<<10) + `"`
		wantStatus(t, b.put("/api/session/big1", big), http.StatusNoContent)
		// The body fits, but the record would not: the store refuses it.
		r := b.put("/api/session/big2", big)
		wantJSONError(t, r, http.StatusRequestEntityTooLarge)
		if got := r.Header.Values("Set-Cookie"); len(got) != 0 {
			t.Errorf("refused change set a cookie: %q", got)
		}
	})
	// Nothing refused was stored, and the session is intact.
	d := b.session().Data
	if _, ok := d["k"]; ok {
		t.Error("a refused PUT stored its key")
	}
	if string(d["keep"]) != `"me"` || len(d) != 2 {
		t.Errorf("data after refused PUTs: %v", slices.Sorted(maps.Keys(d)))
	}
}

func TestAPISessions(t *testing.T) {
	ts := newTestServer(t, nil)
	firefox := "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
	laptop := newBrowser(t, ts.URL, firefox)
	phone := newBrowser(t, ts.URL, "curl/8.5.0")
	bob := newBrowser(t, ts.URL, "")
	anon := newBrowser(t, ts.URL, "")

	wantJSONError(t, anon.do("GET", "/api/sessions", nil), http.StatusUnauthorized)
	laptop.login("alice")
	phone.login("alice")
	bob.login("bob")

	r := laptop.do("GET", "/api/sessions", nil)
	wantStatus(t, r, http.StatusOK)
	var raw []map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &raw); err != nil {
		t.Fatalf("%v in %s", err, r.body)
	}
	if len(raw) != 2 {
		t.Fatalf("alice has %d sessions, want 2: %s", len(raw), r.body)
	}
	for _, item := range raw {
		wantFields(t, "/api/sessions item", item, "id", "user", "created", "last_seen", "expires", "persistent",
			"ip", "user_agent", "last_ip", "last_user_agent", "device", "browser", "current")
	}

	list := laptop.sessions()
	mine := laptop.session().ID
	other := phone.session().ID
	byID := map[string]sessionInfo{}
	for _, s := range list {
		byID[s.ID] = s
		if s.User != "alice" || s.IP != "127.0.0.1" {
			t.Errorf("session %+v: want user alice, ip 127.0.0.1", s)
		}
	}
	if s := byID[mine]; !s.Current || s.Device != "Linux computer" || s.Browser != "Firefox 128" || s.UserAgent != firefox ||
		s.LastUserAgent != firefox || s.LastIP != "127.0.0.1" {
		t.Errorf("laptop session %+v: want current, a Linux computer, Firefox 128", s)
	}
	if s := byID[other]; s.Current || s.Device != unknownDevice || s.Browser != "curl 8" {
		t.Errorf("phone session %+v: want not current, curl 8", s)
	}

	// Bob cannot see or end Alice's sessions, whether or not the id exists.
	for _, s := range bob.sessions() {
		if s.User != "bob" {
			t.Errorf("bob sees %+v", s)
		}
	}
	wantJSONError(t, bob.do("DELETE", "/api/sessions/"+other, nil), http.StatusNotFound)
	wantJSONError(t, bob.do("DELETE", "/api/sessions/"+session.NewID().String(), nil), http.StatusNotFound)
	wantJSONError(t, bob.do("DELETE", "/api/sessions/not-an-id", nil), http.StatusBadRequest)
	wantJSONError(t, anon.do("DELETE", "/api/sessions/"+other, nil), http.StatusUnauthorized)
	if phone.session().User != "alice" {
		t.Fatal("a refused revoke ended the session")
	}

	// Alice revokes her phone: it falls back to a fresh anonymous session.
	wantStatus(t, laptop.do("DELETE", "/api/sessions/"+other, nil), http.StatusNoContent)
	wantJSONError(t, laptop.do("DELETE", "/api/sessions/"+other, nil), http.StatusNotFound)
	if s := phone.session(); s.User != "" || s.ID == other {
		t.Errorf("revoked phone still has %+v", s)
	}
	if got := len(laptop.sessions()); got != 1 {
		t.Errorf("alice has %d sessions after revoking one, want 1", got)
	}

	// Revoking the current session ends it and clears the cookie.
	r = laptop.do("DELETE", "/api/sessions/"+mine, nil)
	wantStatus(t, r, http.StatusNoContent)
	if laptop.Cookie("session") != nil {
		t.Error("revoking the current session kept its cookie")
	}
	wantJSONError(t, laptop.do("GET", "/api/sessions", nil), http.StatusUnauthorized)
}

func TestLoginForm(t *testing.T) {
	ts := newTestServer(t, nil)
	b := newBrowser(t, ts.URL, "")
	wantStatus(t, b.put("/api/session/cart", `["apple"]`), http.StatusNoContent)
	before := b.session()

	r := b.post("/login", url.Values{"user": {"alice"}})
	wantStatus(t, r, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); loc != "/?m=login" {
		t.Errorf("Location %q", loc)
	}
	cookies := r.Cookies()
	if len(cookies) != 1 {
		t.Fatalf("login set %d cookies, want 1", len(cookies))
	}
	c := cookies[0]
	if c.Name != "session" || !c.HttpOnly || c.Secure || c.SameSite != http.SameSiteLaxMode || c.Path != "/" {
		t.Errorf("cookie %s: want session, HttpOnly, not Secure, SameSite=Lax, Path=/", c)
	}

	after := b.session()
	if after.ID == before.ID {
		t.Error("login kept the session id (session fixation)")
	}
	if after.User != "alice" || string(after.Data["cart"]) != `["apple"]` {
		t.Errorf("after login: %+v, want user alice and the cart kept", after)
	}

	// Logging in again as alice keeps the data; switching to bob drops it.
	b.login("alice")
	if d := b.session().Data; len(d) != 1 {
		t.Errorf("re-login as the same user dropped data: %v", d)
	}
	b.login("bob")
	if s := b.session(); s.User != "bob" || len(s.Data) != 0 {
		t.Errorf("bob inherited alice's session data: %+v", s)
	}
	b.login("alice")

	for _, bad := range []string{"", "   ", strings.Repeat("a", maxUserLen+1), "a\x00b", "\xff"} {
		r := b.post("/login", url.Values{"user": {bad}})
		wantStatus(t, r, http.StatusSeeOther)
		if loc := r.Header.Get("Location"); loc != "/?e=user" {
			t.Errorf("login %q: Location %q, want /?e=user", bad, loc)
		}
	}
	if b.session().User != "alice" {
		t.Error("a refused login changed the user")
	}

	// A multipart form (<form enctype="multipart/form-data">) works too.
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("user", "carol")
	mw.Close()
	r = b.do("POST", "/login", &body, "Content-Type", mw.FormDataContentType())
	if loc := r.Header.Get("Location"); r.StatusCode != http.StatusSeeOther || loc != "/?m=login" || b.session().User != "carol" {
		t.Errorf("multipart login: %d %q, user %q", r.StatusCode, loc, b.session().User)
	}
	// Browsers (Accept: text/html, */*) get no JSON.
	r = b.do("POST", "/login", strings.NewReader("user=dave"), "Content-Type", "application/x-www-form-urlencoded",
		"Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	wantStatus(t, r, http.StatusSeeOther)
	r = b.do("POST", "/login", strings.NewReader("user=erin"), "Content-Type", "application/x-www-form-urlencoded",
		"Accept", "application/json;q=0")
	wantStatus(t, r, http.StatusSeeOther)
}

// TestLoginAPI: API clients (a JSON body, or Accept: application/json) get
// JSON answers from POST /login and never a redirect.
func TestLoginAPI(t *testing.T) {
	ts := newTestServer(t, nil)
	const jsonCT, acceptJSON = "application/json", "application/json"

	t.Run("JSON body", func(t *testing.T) {
		b := newBrowser(t, ts.URL, "curl/8.5.0")
		wantStatus(t, b.put("/api/session/cart", `["apple"]`), http.StatusNoContent)
		before := b.session()
		r := b.do("POST", "/login", strings.NewReader(`{"user": " alice "}`), "Content-Type", jsonCT)
		wantStatus(t, r, http.StatusOK)
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		if r.Header.Get("Location") != "" {
			t.Errorf("an API login redirects to %q", r.Header.Get("Location"))
		}
		if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q, want no-store", cc)
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(r.body, &obj); err != nil {
			t.Fatalf("%v in %s", err, r.body)
		}
		wantFields(t, "login answer", obj, "id", "user", "data", "created", "last_seen", "expires", "persistent")
		var got sessionJSON
		json.Unmarshal(r.body, &got)
		after := b.session()
		if got.ID != after.ID || got.ID == before.ID || got.User != "alice" || string(got.Data["cart"]) != `["apple"]` {
			t.Errorf("login answered %+v; want the new id %s (not %s), user alice, the cart kept", got, after.ID, before.ID)
		}
		if after.User != "alice" {
			t.Errorf("after an API login the session is %+v", after)
		}
	})

	t.Run("form accepting JSON", func(t *testing.T) {
		b := newBrowser(t, ts.URL, "")
		r := b.post("/login", url.Values{"user": {"bob"}}, "Accept", "text/html;q=0.5, application/json")
		wantStatus(t, r, http.StatusOK)
		var got sessionJSON
		if err := json.Unmarshal(r.body, &got); err != nil || got.User != "bob" || got.ID != b.session().ID {
			t.Errorf("login answered %s (%v); want bob's session", r.body, err)
		}
	})

	t.Run("refused", func(t *testing.T) {
		b := newBrowser(t, ts.URL, "")
		b.login("carol")
		id := b.session().ID
		for _, tc := range []struct {
			name, ctype, body string
			hdr               []string
			want              int
		}{
			{"no user", jsonCT, `{}`, nil, http.StatusBadRequest},
			{"empty user", jsonCT, `{"user": "  "}`, nil, http.StatusBadRequest},
			{"user too long", jsonCT, `{"user": "` + strings.Repeat("u", maxUserLen+1) + `"}`, nil, http.StatusBadRequest},
			{"control character", jsonCT, `{"user": "a\u0000b"}`, nil, http.StatusBadRequest},
			{"user not a string", jsonCT, `{"user": 7}`, nil, http.StatusBadRequest},
			{"malformed JSON", jsonCT, `{"user": "dave"`, nil, http.StatusBadRequest},
			{"not an object", jsonCT, `["dave"]`, nil, http.StatusBadRequest},
			{"null", jsonCT, `null`, nil, http.StatusBadRequest},
			{"empty body", jsonCT, ``, nil, http.StatusBadRequest},
			{"unknown field", jsonCT, `{"user": "dave", "admin": true}`, nil, http.StatusBadRequest},
			{"two objects", jsonCT, `{"user": "dave"} {"user": "eve"}`, nil, http.StatusBadRequest},
			{"body over 64 KiB", jsonCT, `{"user": "dave", "pad": "` + strings.Repeat("x", maxBody) + `"}`, nil, http.StatusRequestEntityTooLarge},
			{"form without a user", "application/x-www-form-urlencoded", `other=1`, []string{"Accept", acceptJSON}, http.StatusBadRequest},
			{"form over 64 KiB", "application/x-www-form-urlencoded", `user=dave&pad=` + strings.Repeat("x", maxBody), []string{"Accept", acceptJSON}, http.StatusRequestEntityTooLarge},
			{"other content type", "text/plain", `user=dave`, []string{"Accept", acceptJSON}, http.StatusUnsupportedMediaType},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := b.do("POST", "/login", strings.NewReader(tc.body), append([]string{"Content-Type", tc.ctype}, tc.hdr...)...)
				wantJSONError(t, r, tc.want)
				if r.Header.Get("Location") != "" || len(r.Cookies()) != 0 {
					t.Errorf("refused login redirects to %q or sets cookies %v", r.Header.Get("Location"), r.Cookies())
				}
			})
		}
		if s := b.session(); s.ID != id || s.User != "carol" {
			t.Errorf("refused logins changed the session: %+v", s)
		}
	})

	t.Run("cross-site", func(t *testing.T) {
		b := newBrowser(t, ts.URL, "")
		r := b.do("POST", "/login", strings.NewReader(`{"user": "mallory"}`), "Content-Type", jsonCT, "Sec-Fetch-Site", "cross-site")
		wantJSONError(t, r, http.StatusForbidden)
		if len(r.Cookies()) != 0 || b.session().User != "" {
			t.Error("a cross-site JSON login logged in")
		}
	})
}

// TestLogoutAPI: the logout routes answer API clients in JSON (or 204),
// never with a redirect.
func TestLogoutAPI(t *testing.T) {
	ts := newTestServer(t, nil)
	a1, a2, bob := newBrowser(t, ts.URL, ""), newBrowser(t, ts.URL, ""), newBrowser(t, ts.URL, "")
	a1.login("alice")
	a2.login("alice")
	bob.login("bob")

	r := bob.do("POST", "/logout", nil, "Accept", "application/json")
	wantStatus(t, r, http.StatusNoContent)
	if c := r.Cookies(); len(c) != 1 || c[0].MaxAge >= 0 || r.Header.Get("Location") != "" {
		t.Errorf("API logout: cookies %v, Location %q; want the cookie deleted and no redirect", c, r.Header.Get("Location"))
	}
	if bob.session().User != "" {
		t.Error("API logout left bob logged in")
	}

	r = a1.do("POST", "/logout-everywhere", strings.NewReader(`{}`), "Content-Type", "application/json")
	wantStatus(t, r, http.StatusOK)
	if ct := r.Header.Get("Content-Type"); ct != "application/json" || strings.TrimSpace(string(r.body)) != `{"ended":2}` {
		t.Errorf("API log out everywhere: %s %s, want application/json {\"ended\":2}", ct, r.body)
	}
	if a1.Cookie("session") != nil || a2.session().User != "" {
		t.Error("API log out everywhere left a session")
	}
	r = a1.do("POST", "/logout-everywhere", nil, "Accept", "application/json")
	wantStatus(t, r, http.StatusOK)
	if strings.TrimSpace(string(r.body)) != `{"ended":0}` {
		t.Errorf("anonymous log out everywhere: %s, want {\"ended\":0}", r.body)
	}
	wantJSONError(t, a1.do("POST", "/logout", nil, "Accept", "application/json", "Origin", "http://evil.example"), http.StatusForbidden)
}

func TestSetAndDeleteForms(t *testing.T) {
	ts := newTestServer(t, nil)
	b := newBrowser(t, ts.URL, "")
	r := b.post("/set", url.Values{"key": {"greeting"}, "value": {"hello <b>world</b>"}})
	wantStatus(t, r, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); loc != "/?m=set" {
		t.Errorf("Location %q", loc)
	}
	if got := string(b.session().Data["greeting"]); got != `"hello \u003cb\u003eworld\u003c/b\u003e"` && got != `"hello <b>world</b>"` {
		t.Errorf("form value stored as %s, want the JSON string", got)
	}
	page := b.do("GET", "/", nil)
	if strings.Contains(string(page.body), "<b>world</b>") {
		t.Error("page does not escape session data")
	}

	r = b.post("/set", url.Values{"key": {""}, "value": {"x"}})
	if loc := r.Header.Get("Location"); r.StatusCode != http.StatusSeeOther || loc != "/?e=key" {
		t.Errorf("empty key: %d %q", r.StatusCode, loc)
	}
	wantStatus(t, b.post("/set", url.Values{"key": {"k"}, "value": {strings.Repeat("v", maxBody)}}), http.StatusRequestEntityTooLarge)

	wantStatus(t, b.post("/delete", url.Values{"key": {"greeting"}}), http.StatusSeeOther)
	if d := b.session().Data; len(d) != 0 {
		t.Errorf("data after delete: %v", d)
	}
}

func TestLogoutForm(t *testing.T) {
	ts := newTestServer(t, nil)
	b := newBrowser(t, ts.URL, "")
	b.login("alice")
	old := b.Cookie("session")
	oldID := b.session().ID

	r := b.post("/logout", nil)
	wantStatus(t, r, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); loc != "/?m=logout" {
		t.Errorf("Location %q", loc)
	}
	if c := r.Cookies(); len(c) != 1 || c[0].MaxAge >= 0 {
		t.Errorf("logout cookies %v, want one that deletes the cookie", c)
	}
	if b.Cookie("session") != nil {
		t.Error("the jar still has the cookie")
	}

	// The old cookie now yields a fresh anonymous session. Its cookie is
	// left alone: only the request that ends a session clears it (the
	// browser may hold a newer one by then).
	replay := newBrowser(t, ts.URL, "")
	r = replay.do("GET", "/api/session", nil, "Cookie", "session="+old.Value)
	wantStatus(t, r, http.StatusOK)
	var s sessionJSON
	json.Unmarshal(r.body, &s)
	if s.User != "" || s.ID == oldID {
		t.Errorf("old cookie after logout gives %+v", s)
	}
	if c := r.Cookies(); len(c) != 0 {
		t.Errorf("a read with a stale cookie set cookies %v, want none", c)
	}
}

func TestLogoutEverywhereForm(t *testing.T) {
	ts := newTestServer(t, nil)
	a1 := newBrowser(t, ts.URL, "")
	a2 := newBrowser(t, ts.URL, "")
	bob := newBrowser(t, ts.URL, "")
	a1.login("alice")
	a2.login("alice")
	bob.login("bob")
	bobID := bob.session().ID

	r := a1.post("/logout-everywhere", nil)
	wantStatus(t, r, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); loc != "/?m=everywhere&n=2" {
		t.Errorf("Location %q, want /?m=everywhere&n=2", loc)
	}
	if a1.Cookie("session") != nil {
		t.Error("current cookie kept")
	}
	if s := a2.session(); s.User != "" {
		t.Errorf("alice's other session survived: %+v", s)
	}
	if s := bob.session(); s.User != "bob" || s.ID != bobID {
		t.Errorf("bob's session changed: %+v", s)
	}
	page := a1.do("GET", "/?m=everywhere&n=2", nil)
	if !strings.Contains(string(page.body), "Logged out everywhere") || !strings.Contains(string(page.body), "(2 ended)") {
		t.Error("page does not report the logout")
	}
}

func TestRevokeForm(t *testing.T) {
	ts := newTestServer(t, nil)
	a1 := newBrowser(t, ts.URL, "")
	a2 := newBrowser(t, ts.URL, "")
	bob := newBrowser(t, ts.URL, "")
	anon := newBrowser(t, ts.URL, "")
	a1.login("alice")
	a2.login("alice")
	bob.login("bob")
	other := a2.session().ID

	for _, tc := range []struct {
		b        *browser
		id, want string
	}{
		{anon, other, "/?e=anonymous"},
		{bob, other, "/?e=notfound"},
		{bob, "nope", "/?e=id"},
		{a1, other, "/?m=revoked"},
		{a1, other, "/?e=notfound"},
	} {
		r := tc.b.post("/revoke", url.Values{"id": {tc.id}})
		if loc := r.Header.Get("Location"); r.StatusCode != http.StatusSeeOther || loc != tc.want {
			t.Errorf("revoke %s: %d %q, want 303 %q", tc.id, r.StatusCode, loc, tc.want)
		}
	}
	if a2.session().User != "" {
		t.Error("revoked session survived")
	}
}

func TestIndexPage(t *testing.T) {
	ts := newTestServer(t, nil)
	firefox := "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
	b := newBrowser(t, ts.URL, firefox)
	phone := newBrowser(t, ts.URL, "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1")

	r := b.do("GET", "/", nil)
	wantStatus(t, r, http.StatusOK)
	if ct := r.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	if len(r.Cookies()) != 0 {
		t.Error("an anonymous page view stored a session")
	}
	for _, want := range []string{"Anonymous visitor", `action="/login"`, `action="/set"`, "not stored yet", "Secure flag off"} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("anonymous page lacks %q", want)
		}
	}

	b.login("alice")
	phone.login("alice")
	wantStatus(t, b.put("/api/session/note", `"<script>alert(1)</script>"`), http.StatusNoContent)
	r = b.do("GET", "/?m=login", nil)
	wantStatus(t, r, http.StatusOK)
	page := string(r.body)
	for _, want := range []string{
		"Logged in as <strong>alice</strong>", "Logged in.", b.session().ID,
		"Linux computer", "Firefox 128", "iPhone", "Safari 17", "this browser", `action="/logout-others"`,
		`action="/revoke"`, `value="` + phone.session().ID + `"`,
		`action="/logout"`, `action="/logout-everywhere"`, "<code>note</code>",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "<script>") {
		t.Error("page does not escape session data")
	}

	for _, rt := range demoRoutes() {
		if want := "<tr><td><code>" + rt.Method + "</code></td><td><code>" + rt.Path + "</code></td>"; !strings.Contains(page, want) {
			t.Errorf("page does not list %s %s", rt.Method, rt.Path)
		}
	}
	if want := "<code>/?m=everywhere&amp;n=N</code>"; !strings.Contains(page, want) {
		t.Errorf("page lacks %q: code in the route table is not marked or escaped", want)
	}

	// Unknown notice codes show nothing.
	r = b.do("GET", "/?m=%3Cscript%3E&e=bogus", nil)
	if strings.Contains(string(r.body), `class="notice"`) || strings.Contains(string(r.body), `class="problem"`) {
		t.Error("unknown notice codes are shown")
	}
}

func TestRoutingErrors(t *testing.T) {
	ts := newTestServer(t, nil)
	b := newBrowser(t, ts.URL, "")
	wantStatus(t, b.do("GET", "/nope", nil), http.StatusNotFound)
	wantStatus(t, b.do("GET", "/login", nil), http.StatusMethodNotAllowed)
	wantStatus(t, b.do("POST", "/api/session", nil), http.StatusMethodNotAllowed)
	wantStatus(t, b.do("GET", "/api/session/x", nil), http.StatusMethodNotAllowed)
}

func TestCrossOriginRefused(t *testing.T) {
	ts := newTestServer(t, nil)
	b := newBrowser(t, ts.URL, "")
	b.login("alice")
	id := b.session().ID

	for _, tc := range []struct {
		name string
		hdr  []string
	}{
		{"Sec-Fetch-Site cross-site", []string{"Sec-Fetch-Site", "cross-site"}},
		{"Sec-Fetch-Site same-site", []string{"Sec-Fetch-Site", "same-site"}},
		{"foreign Origin", []string{"Origin", "http://evil.example"}},
		{"null Origin", []string{"Origin", "null"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/logout", "/logout-everywhere", "/set", "/login"} {
				r := b.post(path, url.Values{"user": {"mallory"}, "key": {"k"}, "value": {"v"}}, tc.hdr...)
				wantStatus(t, r, http.StatusForbidden)
				if len(r.Cookies()) != 0 {
					t.Errorf("POST %s refused but set a cookie", path)
				}
			}
			r := b.do("PUT", "/api/session/k", strings.NewReader(`1`), tc.hdr...)
			wantJSONError(t, r, http.StatusForbidden)
			wantJSONError(t, b.do("DELETE", "/api/sessions/"+id, nil, tc.hdr...), http.StatusForbidden)
		})
	}
	if s := b.session(); s.ID != id || s.User != "alice" || len(s.Data) != 0 {
		t.Fatalf("refused requests changed the session: %+v", s)
	}

	// Same-origin browser posts and safe cross-site requests work.
	wantStatus(t, b.do("GET", "/", nil, "Sec-Fetch-Site", "cross-site"), http.StatusOK)
	wantStatus(t, b.post("/set", url.Values{"key": {"k"}, "value": {"v"}}, "Sec-Fetch-Site", "same-origin"), http.StatusSeeOther)
	wantStatus(t, b.post("/set", url.Values{"key": {"k"}, "value": {"v"}}, "Origin", ts.URL), http.StatusSeeOther)
}

func TestSecureCookie(t *testing.T) {
	ts := newTestServer(t, func(c *config) { c.Secure = true })
	b := newBrowser(t, ts.URL, "")
	r := b.post("/login", url.Values{"user": {"alice"}})
	wantStatus(t, r, http.StatusSeeOther)
	c := r.Cookies()
	if len(c) != 1 || c[0].Name != "__Host-session" || !c[0].Secure {
		t.Errorf("cookies %v, want a Secure __Host-session cookie", c)
	}
}

func TestExpiry(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	ts := newTestServer(t, func(c *config) {
		c.Idle, c.Lifetime, c.Now = time.Minute, 3*time.Minute, clock
	})
	b := newBrowser(t, ts.URL, "")
	b.login("alice")
	s := b.session()
	if want := now.Add(time.Minute); !s.Expires.Equal(want) || !s.Created.Equal(now) {
		t.Errorf("session %+v: want created %v, expires %v", s, now, want)
	}
	for range 3 { // active: idle expiry slides, until the lifetime ends
		advance(50 * time.Second)
		if b.session().User != "alice" {
			t.Fatal("active session ended before its lifetime")
		}
	}
	advance(50 * time.Second) // 200 s since login > 3 min lifetime
	if b.session().User != "" {
		t.Error("session outlived its lifetime")
	}

	b.login("alice")
	advance(time.Minute)
	if b.session().User != "" {
		t.Error("session outlived its idle timeout")
	}
}

func TestNewServerConfigErrors(t *testing.T) {
	keys, _ := session.NewKeyring(session.GenerateKey())
	store := memstore.New(nil)
	defer store.Close()
	for name, cfg := range map[string]config{
		"no store":           {Keys: keys},
		"no keys":            {Store: store},
		"lifetime too short": {Store: store, Keys: keys, Idle: time.Hour, Lifetime: time.Minute},
	} {
		if _, err := newServer(cfg); err == nil {
			t.Errorf("%s: newServer succeeded", name)
		}
	}
}

// TestRequestLog: one line per request naming the route by its pattern,
// never by its path: the path of DELETE /api/sessions/{id} holds a session
// id, that of PUT /api/session/{key} a data key name.
func TestRequestLog(t *testing.T) {
	ts := newTestServer(t, nil)
	b := newBrowser(t, ts.URL, "")
	b.do("GET", "/", nil)
	b.login("alice")
	s := b.session()
	cookie := b.Cookie("session").Value
	other := newBrowser(t, ts.URL, "")
	other.login("alice")
	otherID := other.session().ID
	const key = "favourite-colour"
	wantStatus(t, b.put("/api/session/"+key, `"teal"`), http.StatusNoContent)
	wantStatus(t, b.do("DELETE", "/api/sessions/"+otherID, nil), http.StatusNoContent)
	wantStatus(t, b.do("GET", "/api/sessions/"+otherID, nil), http.StatusMethodNotAllowed)
	wantStatus(t, b.do("GET", "/api/session/"+key+"/x", nil), http.StatusNotFound)

	id, _ := session.ParseID(s.ID)
	tag := sessionTag(id)
	if !regexp.MustCompile(`^[0-9a-f]{8}$`).MatchString(tag) {
		t.Errorf("session tag %q, want 8 hex digits", tag)
	}
	lines := []*regexp.Regexp{
		// The anonymous page view stored nothing, so it names no session.
		regexp.MustCompile(`(?m)msg=request method=GET route=/ status=200 duration=\S+$`),
		regexp.MustCompile(`(?m)msg=request method=POST route=/login status=303 duration=\S+ session=[0-9a-f]{8}$`),
		regexp.MustCompile(`(?m)msg=request method=GET route=/api/session status=200 duration=\S+ session=` + tag + `$`),
		regexp.MustCompile(`(?m)msg=request method=PUT route=/api/session/\{key\} status=204 duration=\S+ session=` + tag + `$`),
		regexp.MustCompile(`(?m)msg=request method=DELETE route=/api/sessions/\{id\} status=204 duration=\S+ session=` + tag + `$`),
		regexp.MustCompile(`(?m)msg=request method=GET route=\(unknown\) status=405 duration=\S+ session=` + tag + `$`),
		regexp.MustCompile(`(?m)msg=request method=GET route=\(unknown\) status=404 duration=\S+ session=` + tag + `$`),
	}
	logs, missing := ts.waitLog(lines)
	for _, re := range missing {
		t.Errorf("log lacks a line matching %s:\n%s", re, logs)
	}
	for what, secret := range map[string]string{"cookie": cookie, "session id": s.ID, "revoked session id": otherID, "data key": key} {
		if strings.Contains(logs, secret) {
			t.Errorf("log holds a %s:\n%s", what, logs)
		}
	}
}
