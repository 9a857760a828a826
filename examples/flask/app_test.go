// Tests of the Flask app in this directory against a real redis-server and
// Debian's Flask: it keeps the recipe's layout (the session dict as JSON
// under the bare id, with a TTL), without the recipe's defects, and its
// cookies are the ones pkg/flasksession reads and writes.
package flask_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/internal/flasktest"
	"github.com/sesbolt/sesbolt/internal/testclient"
	"github.com/sesbolt/sesbolt/pkg/flasksession"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// lifetime is the app's permanent_session_lifetime in these tests.
const lifetime = 10 * time.Minute

// shortTTL is set on a key before a request, to see whether the request
// refreshed the TTL: anything above it was set again.
const shortTTL = 100

// sessionView is the app's GET /api/session.
type sessionView struct {
	ID   *string                    `json:"id"`
	User *string                    `json:"user"`
	Data map[string]json.RawMessage `json:"data"`
}

// harness is the Flask app on a private Redis, a client with a cookie jar,
// and the codec for the app's secret.
type harness struct {
	t       *testing.T
	redis   *flasktest.Redis
	app     *flasktest.App
	browser *testclient.Browser
	codec   *flasksession.Codec
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	redis := flasktest.StartRedis(t)
	secretFile := filepath.Join(t.TempDir(), "flask-secret")
	// The recipe's secret, rotated: the newest (last) signs.
	secrets := "an older secret\nA0Zr98j/3yX R~XHH!jmN]LWX/,?RT\n"
	if err := os.WriteFile(secretFile, []byte(secrets), 0o600); err != nil {
		t.Fatal(err)
	}
	app := flasktest.StartApp(t, flasktest.AppOptions{RedisURL: redis.URL, SecretFile: secretFile, Lifetime: lifetime})
	parsed, err := flasksession.LoadSecretFile(secretFile)
	if err != nil {
		t.Fatal(err)
	}
	codec, err := flasksession.NewCodec(parsed, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, redis: redis, app: app, browser: testclient.NewBrowser(t, app.URL, ""), codec: codec}
}

// do sends a request and returns the status and body.
func (h *harness) do(method, path, contentType, body string) (int, string) {
	h.t.Helper()
	var hdr []string
	if contentType != "" {
		hdr = []string{"Content-Type", contentType}
	}
	resp, data, err := h.browser.Send(method, path, strings.NewReader(body), hdr...)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp.StatusCode, string(data)
}

// view returns GET /api/session.
func (h *harness) view() sessionView {
	h.t.Helper()
	code, body := h.do("GET", "/api/session", "", "")
	if code != http.StatusOK {
		h.t.Fatalf("GET /api/session: %d %s", code, body)
	}
	var v sessionView
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		h.t.Fatalf("GET /api/session: %v: %s", err, body)
	}
	return v
}

// cookie returns the jar's session cookie ("" when none).
func (h *harness) cookie() string {
	if c := h.browser.Cookie(flasksession.CookieName); c != nil {
		return c.Value
	}
	return ""
}

// setCookie puts value in the jar as the session cookie.
func (h *harness) setCookie(value string) {
	if err := h.browser.SetCookie(flasksession.CookieName, value); err != nil {
		h.t.Fatal(err)
	}
}

// stored returns the JSON dict stored under id, and its TTL in seconds.
func (h *harness) stored(id session.ID) (map[string]any, int) {
	h.t.Helper()
	raw := h.redis.Do(h.t, "GET", id.String())
	var data map[string]any
	if err := json.Unmarshal([]byte(raw), &data); err != nil {
		h.t.Fatalf("the value under %s is not a JSON dict: %v: %q", id, err, raw)
	}
	ttl, err := strconv.Atoi(h.redis.Do(h.t, "TTL", id.String()))
	if err != nil {
		h.t.Fatal(err)
	}
	return data, ttl
}

// exists reports whether Redis holds the key id.
func (h *harness) exists(id session.ID) bool {
	h.t.Helper()
	return h.redis.Do(h.t, "EXISTS", id.String()) == "1"
}

// loggedIn decodes the jar's cookie with the Go codec and checks that it
// names the session the app reports.
func (h *harness) loggedIn() session.ID {
	h.t.Helper()
	id, keyIndex, ok := h.codec.Decode(h.cookie())
	if !ok || keyIndex != 0 {
		h.t.Fatalf("the app's cookie %q does not decode with flasksession.Codec (index %d)", h.cookie(), keyIndex)
	}
	if v := h.view(); v.ID == nil || *v.ID != id.String() {
		h.t.Fatalf("cookie names %s, the app reports %v", id, v.ID)
	}
	return id
}

// TestAppKeepsTheRecipesLayout: logging in through Flask gives a cookie
// that flasksession.Codec decodes, and Redis holds the session dict as JSON
// under the bare id with the app's lifetime as TTL; every write and every
// request of a stored session refreshes it.
func TestAppKeepsTheRecipesLayout(t *testing.T) {
	h := newHarness(t)
	if code, body := h.do("POST", "/login", "application/x-www-form-urlencoded", "user=alice"); code != http.StatusOK {
		t.Fatalf("login: %d %s", code, body)
	}
	id := h.loggedIn()
	data, ttl := h.stored(id)
	if len(data) != 1 || data["user_id"] != "alice" {
		t.Errorf("stored %v, want {user_id: alice}", data)
	}
	if ttl <= shortTTL || ttl > int(lifetime.Seconds()) {
		t.Errorf("TTL %d s, want the lifetime (%s)", ttl, lifetime)
	}

	// A write stores the whole dict again and refreshes the TTL.
	h.redis.Do(t, "EXPIRE", id.String(), strconv.Itoa(shortTTL))
	if code, body := h.do("PUT", "/api/session/color", "application/json", `{"rgb":[1,2,3],"name":"blue ✓"}`); code != http.StatusNoContent {
		t.Fatalf("PUT: %d %s", code, body)
	}
	data, ttl = h.stored(id)
	if color, _ := json.Marshal(data["color"]); string(color) != `{"name":"blue ✓","rgb":[1,2,3]}` || data["user_id"] != "alice" {
		t.Errorf("stored %v after the write", data)
	}
	if ttl <= shortTTL {
		t.Errorf("TTL %d s after a write: not refreshed", ttl)
	}

	// A read refreshes the TTL too (with EXPIRE: the value is not rewritten).
	h.redis.Do(t, "EXPIRE", id.String(), strconv.Itoa(shortTTL))
	if code, body := h.do("GET", "/api/session/color", "", ""); code != http.StatusOK || !strings.Contains(body, "blue") {
		t.Fatalf("GET value: %d %s", code, body)
	}
	if _, ttl = h.stored(id); ttl <= shortTTL {
		t.Errorf("TTL %d s after a read: not refreshed", ttl)
	}

	// A value set in Redis by another writer (the Go side, later) is read.
	h.redis.Do(t, "SET", id.String(), `{"user_id": "alice", "color": "red", "n": 7}`, "EX", "600")
	if v := h.view(); string(v.Data["color"]) != `"red"` || string(v.Data["n"]) != "7" || *v.User != "alice" {
		t.Errorf("app reads %+v after another writer's change", v)
	}

	// Logout deletes the key and the cookie.
	if code, body := h.do("POST", "/logout", "", ""); code != http.StatusNoContent {
		t.Fatalf("logout: %d %s", code, body)
	}
	if h.exists(id) {
		t.Error("the session's key survived logout")
	}
	if c := h.cookie(); c != "" {
		t.Errorf("cookie %q survived logout", c)
	}
	if v := h.view(); v.ID != nil || v.User != nil {
		t.Errorf("after logout the app reports %+v", v)
	}
}

// TestAppFixesTheRecipesDefects: login renews the id (the old key is
// deleted), another user's login drops the previous user's data, ids that
// are not stored are never adopted, and a visitor who stores nothing
// leaves no key and gets no cookie.
func TestAppFixesTheRecipesDefects(t *testing.T) {
	h := newHarness(t)
	h.view()
	if c := h.cookie(); c != "" || h.redis.Do(t, "DBSIZE") != "0" {
		t.Errorf("a visitor who stored nothing got cookie %q and %s keys", c, h.redis.Do(t, "DBSIZE"))
	}

	h.do("PUT", "/api/session/cart", "application/json", `["book"]`)
	anon := h.loggedIn()
	h.do("POST", "/login", "application/json", `{"user": "alice"}`)
	alice := h.loggedIn()
	if alice == anon || h.exists(anon) {
		t.Errorf("login kept the id (%s → %s) or its key", anon, alice)
	}
	if data, _ := h.stored(alice); data["cart"] == nil {
		t.Errorf("login dropped the visitor's data: %v", data)
	}
	h.do("POST", "/login", "application/json", `{"user": "bob"}`)
	bob := h.loggedIn()
	if data, _ := h.stored(bob); len(data) != 1 || data["user_id"] != "bob" {
		t.Errorf("bob's session holds %v, want only his user_id", data)
	}

	// A correctly signed cookie of an id Redis does not hold (logged out,
	// expired) is not adopted: the next write gets a new id.
	h.do("POST", "/logout", "", "")
	h.setCookie(h.codec.Encode(bob))
	h.do("PUT", "/api/session/k", "application/json", `1`)
	if again := h.loggedIn(); again == bob {
		t.Error("the app adopted an id that was not stored")
	}
}

// TestAppAcceptsGoCookies: a cookie made by flasksession.Codec for a
// session in Redis is the app's session; one signed with another secret,
// or an edited one, is not. Cookies of the older secret still work.
func TestAppAcceptsGoCookies(t *testing.T) {
	h := newHarness(t)
	id := session.NewID()
	h.redis.Do(t, "SET", id.String(), `{"user_id": "carol", "lang": "fr"}`, "EX", "600")

	h.setCookie(h.codec.Encode(id))
	if v := h.view(); v.ID == nil || *v.ID != id.String() || *v.User != "carol" || string(v.Data["lang"]) != `"fr"` {
		t.Fatalf("the app does not read the Go cookie's session: %+v", v)
	}

	older, err := flasksession.NewCodec([][]byte{[]byte("an older secret")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.setCookie(older.Encode(id))
	if v := h.view(); v.User == nil || *v.User != "carol" {
		t.Errorf("the older secret's cookie is refused: %+v", v)
	}

	stranger, err := flasksession.NewCodec([][]byte{[]byte("someone else's secret")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	good := h.codec.Encode(id)
	other := session.NewID()
	for name, value := range map[string]string{
		"another secret": stranger.Encode(id),
		"edited id":      other.String() + good[36:],
	} {
		h.setCookie(value)
		if v := h.view(); v.User != nil || v.ID != nil {
			t.Errorf("%s: the app accepted the cookie: %+v", name, v)
		}
	}
}

// TestAppReadsSecretsLikeGo: the app's read_secrets and
// flasksession.ParseSecrets read the same secrets from the same file.
func TestAppReadsSecretsLikeGo(t *testing.T) {
	flasktest.RequirePython(t, "flask", "redis", "itsdangerous")
	file := "old\r\n\n  # spaced, not a comment \n\xff\xfe bytes\nnewest"
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), "read.py")
	err := os.WriteFile(script, []byte(`import base64, sys
sys.path.insert(0, sys.argv[1])
from app import read_secrets
for s in read_secrets(sys.argv[2]):
    print(base64.b64encode(s).decode())
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	out := flasktest.RunPython(t, nil, script, ".", path)
	goSecrets, err := flasksession.LoadSecretFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, s := range goSecrets {
		want = append(want, base64.StdEncoding.EncodeToString(s))
	}
	if got := strings.Fields(string(out)); strings.Join(got, " ") != strings.Join(want, " ") || len(got) != 4 {
		t.Errorf("Python read %q, Go %q (base64)", got, want)
	}
}
