package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/internal/demoproc"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// Security requirements that docs/SECURITY.md maps to tests and that no
// other test covered, on the real binary with a real database file.

// keyLines returns the keys of a key file (base64 lines).
func keyLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			keys = append(keys, l)
		}
	}
	if len(keys) == 0 {
		t.Fatal("no key in the key file")
	}
	return keys
}

// adminRoutes are the routes of the admin API (docs/admin-api.md) as its
// request log names them.
var adminRoutes = []string{
	"GET /v1/sessions", "GET /v1/sessions/{id}", "DELETE /v1/sessions/{id}",
	"POST /v1/expire", "POST /v1/purge", "GET /v1/stats", "GET /v1/check",
	"GET /v1/backup", "POST /v1/import", "GET /v1/info",
}

// TestSecretsStayOutOfLogsAndURLs drives every route of the demo and of
// the admin API it serves on its socket, error paths included, with real
// sessions and the log at debug level, and checks what leaves the server:
// no log line holds a cookie value, a session id, key material, a data key
// name, session data or a user name (sessions are logged as a hash,
// requests by route pattern; ASVS 4.0.3 7.1.1, 5.0 16.2.5); no redirect
// Location, page or API body holds a cookie value (ASVS 4.0.3 3.1.1);
// every response that sets the cookie says Cache-Control: no-store.
func TestSecretsStayOutOfLogsAndURLs(t *testing.T) {
	t.Parallel()
	bin := buildDemo(t)
	dir := demoproc.ShortTempDir(t)
	db, keys := filepath.Join(dir, "demo.db"), filepath.Join(dir, "demo.keys")
	p := demoproc.Start(t, bin, "-db", db, "-keys", keys, "-debug")
	if p.Socket == "" {
		t.Fatalf("sesdemo serves no admin socket:\n%s", p.Log)
	}

	// Distinctive values, so that finding one in the log means it leaked.
	const (
		secret    = "correct-horse-battery-staple" // a data value
		apiKey    = "wallet-pin-7c1e"              // data key names
		formKey   = "locker-code-51d0"
		importKey = "imported-note-93ab"
		user      = "alice-4e6f" // user names
		otherUser = "bob-d2a8"
	)
	var cookies []string
	ids := map[string]bool{}
	var responses []response
	record := func(r response) response {
		t.Helper()
		responses = append(responses, r)
		for _, c := range r.Cookies() {
			if c.Value != "" {
				cookies = append(cookies, c.Value)
			}
		}
		return r
	}
	// current records and returns the browser's session id.
	current := func(b *browser) string {
		t.Helper()
		r := record(b.do("GET", "/api/session", nil))
		wantStatus(t, r, http.StatusOK)
		var s sessionJSON
		if err := json.Unmarshal(r.body, &s); err != nil {
			t.Fatal(err)
		}
		ids[s.ID] = true
		return s.ID
	}
	alice := newBrowser(t, p.Base, "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
	phone := newBrowser(t, p.Base, "curl/8.5.0")
	bob := newBrowser(t, p.Base, "")

	// The demo's routes, each with a stored session; the anonymous one
	// alice has before login is stored by its first PUT.
	wantStatus(t, record(alice.put("/api/session/"+apiKey, `"`+secret+`"`)), http.StatusNoContent)
	current(alice)
	wantStatus(t, record(alice.post("/login", url.Values{"user": {user}})), http.StatusSeeOther)
	wantStatus(t, record(phone.do("POST", "/login", strings.NewReader(`{"user":"`+user+`"}`), "Content-Type", "application/json")), http.StatusOK)
	wantStatus(t, record(bob.post("/login", url.Values{"user": {otherUser}}, "Accept", "application/json")), http.StatusOK)
	aliceID, phoneID, bobID := current(alice), current(phone), current(bob)
	wantStatus(t, record(alice.do("GET", "/", nil)), http.StatusOK)
	wantStatus(t, record(alice.do("GET", "/api/sessions", nil)), http.StatusOK)
	wantStatus(t, record(alice.post("/set", url.Values{"key": {formKey}, "value": {secret}})), http.StatusSeeOther)
	wantStatus(t, record(alice.post("/delete", url.Values{"key": {formKey}})), http.StatusSeeOther)
	wantStatus(t, record(alice.put("/api/session/"+formKey, `{"oops":`)), http.StatusBadRequest)
	wantStatus(t, record(alice.put("/api/session/"+formKey, `"`+strings.Repeat("x", 70<<10)+`"`)), http.StatusRequestEntityTooLarge)
	wantStatus(t, record(alice.do("DELETE", "/api/session/"+apiKey, nil)), http.StatusNoContent)
	wantStatus(t, record(alice.do("GET", "/api/sessions/"+phoneID, nil)), http.StatusMethodNotAllowed)
	wantStatus(t, record(alice.do("GET", "/api/session/"+apiKey+"/"+secret, nil)), http.StatusNotFound)
	wantStatus(t, record(alice.do("GET", "/api/session", nil, "Cookie", "session="+strings.Repeat("A", 43))), http.StatusOK)
	wantStatus(t, record(alice.post("/revoke", url.Values{"id": {phoneID}})), http.StatusSeeOther)
	wantStatus(t, record(phone.do("POST", "/login", strings.NewReader(`{"user":"`+user+`"}`), "Content-Type", "application/json")), http.StatusOK)
	phoneID = current(phone)
	wantStatus(t, record(alice.do("DELETE", "/api/sessions/"+phoneID, nil)), http.StatusNoContent)
	wantStatus(t, record(alice.post("/logout-everywhere", nil, "Sec-Fetch-Site", "cross-site")), http.StatusForbidden)
	wantStatus(t, record(alice.put("/api/session/"+apiKey, `"`+secret+`"`)), http.StatusNoContent)

	// The admin API, on the socket the demo serves, about those sessions.
	adminClient := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", p.Socket)
		},
	}}
	defer adminClient.CloseIdleConnections()
	adminDo := func(method, path, ctype, body string, want int) []byte {
		t.Helper()
		req, err := http.NewRequest(method, "http://sesdemo"+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := adminClient.Do(req)
		if err != nil {
			t.Fatalf("admin %s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("admin %s %s: %v", method, path, err)
		}
		if resp.StatusCode != want {
			t.Fatalf("admin %s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, b)
		}
		return b
	}
	const jsonCT, linesCT = "application/json", "application/x-ndjson"
	var list struct{ Sessions []session.Record }
	if err := json.Unmarshal(adminDo("GET", "/v1/sessions?filter=all&user="+url.QueryEscape(user), "", "", http.StatusOK), &list); err != nil {
		t.Fatal(err)
	}
	for _, rec := range list.Sessions {
		ids[rec.ID.String()] = true
	}
	if !ids[aliceID] || len(list.Sessions) == 0 {
		t.Fatalf("the admin API does not list alice's session %s: %+v", aliceID, list)
	}
	adminDo("GET", "/v1/sessions?limit=1&after="+aliceID, "", "", http.StatusOK)
	var rec session.Record
	if err := json.Unmarshal(adminDo("GET", "/v1/sessions/"+aliceID, "", "", http.StatusOK), &rec); err != nil {
		t.Fatal(err)
	}
	adminDo("GET", "/v1/sessions/"+phoneID, "", "", http.StatusNotFound) // revoked
	adminDo("GET", "/v1/sessions/"+aliceID+"/"+apiKey, "", "", http.StatusNotFound)
	adminDo("POST", "/v1/sessions/"+aliceID, jsonCT, `{}`, http.StatusMethodNotAllowed)
	adminDo("GET", "/v1/stats", "", "", http.StatusOK)
	adminDo("GET", "/v1/check", "", "", http.StatusOK)
	adminDo("GET", "/v1/info", "", "", http.StatusOK)
	if b := adminDo("GET", "/v1/backup", "", "", http.StatusOK); !bytes.Contains(b, []byte(apiKey)) {
		t.Error("the backup lacks alice's data: is it a backup of the demo's database?")
	}
	imported := session.NewID().String()
	ids[imported] = true
	rec.ID, _ = session.ParseID(imported)
	rec.Data = map[string]json.RawMessage{importKey: json.RawMessage(`"` + secret + `"`)}
	line, err := json.Marshal(&rec)
	if err != nil {
		t.Fatal(err)
	}
	adminDo("POST", "/v1/import", linesCT, string(line)+"\n", http.StatusOK)
	adminDo("POST", "/v1/import", linesCT, string(line)+"\n"+string(line)+"\n", http.StatusBadRequest) // the id twice
	adminDo("POST", "/v1/purge", jsonCT, `{"dry_run": true}`, http.StatusOK)
	adminDo("POST", "/v1/purge", jsonCT, ``, http.StatusOK)
	adminDo("POST", "/v1/expire", jsonCT, `{"ids": ["`+imported+`"]}`, http.StatusOK)
	adminDo("POST", "/v1/expire", jsonCT, `{"user": "`+otherUser+`"}`, http.StatusOK)
	adminDo("POST", "/v1/expire", jsonCT, `{"ids": ["`+apiKey+`"]}`, http.StatusBadRequest)
	adminDo("DELETE", "/v1/sessions/"+bobID, "", "", http.StatusOK)
	adminClient.CloseIdleConnections()

	// The metrics, after all that: their labels carry reasons and
	// operation names, never a user, an id or a data key.
	metrics := record(alice.do("GET", "/metrics", nil))
	wantStatus(t, metrics, http.StatusOK)
	for _, leak := range append([]string{user, otherUser, apiKey, formKey, importKey, secret}, slices.Collect(maps.Keys(ids))...) {
		if bytes.Contains(metrics.body, []byte(leak)) {
			t.Errorf("GET /metrics holds %q", leak)
		}
	}

	// The logouts, last: they end alice's sessions.
	wantStatus(t, record(alice.post("/logout-others", nil, "Accept", "application/json")), http.StatusOK)
	adminDo("POST", "/v1/expire", jsonCT, `{"user": "`+user+`", "except": "`+current(alice)+`"}`, http.StatusOK)
	wantStatus(t, record(alice.post("/logout-everywhere", nil, "Accept", "application/json")), http.StatusOK)
	wantStatus(t, record(alice.post("/login", url.Values{"user": {user}})), http.StatusSeeOther)
	current(alice)
	wantStatus(t, record(alice.post("/logout", nil)), http.StatusSeeOther)
	p.Stop()

	logs := p.Log.String()
	for _, rt := range demoRoutes() {
		if !strings.Contains(logs, "msg=request method="+rt.Method+" route="+rt.Path+" ") {
			t.Errorf("the test did not drive the demo's %s %s (or the log does not name it)", rt.Method, rt.Path)
		}
	}
	for _, rt := range adminRoutes {
		method, path, _ := strings.Cut(rt, " ")
		if !strings.Contains(logs, `msg="admin request" method=`+method+" route="+path+" ") {
			t.Errorf("the test did not drive the admin API's %s (or the log does not name it)", rt)
		}
	}
	if !strings.Contains(logs, "session=") {
		t.Error("the log names no session at all (it should, as a hash)")
	}
	if len(cookies) < 4 { // the logins
		t.Fatalf("only %d cookies seen", len(cookies))
	}
	secrets := map[string][]string{
		"cookie value":  cookies,
		"session id":    slices.Collect(maps.Keys(ids)),
		"key":           keyMaterial(t, keys),
		"data key name": {apiKey, formKey, importKey},
		"session data":  {secret},
		"user name":     {user, otherUser},
	}
	for _, line := range strings.Split(logs, "\n") {
		for what, vals := range secrets {
			for _, v := range vals {
				if strings.Contains(line, v) {
					t.Errorf("a log line holds a %s (%.12s...): %.200s", what, v, line)
				}
			}
		}
	}
	for _, r := range responses {
		where := r.Request.Method + " " + r.Request.URL.Path
		for _, c := range cookies {
			if loc := r.Header.Get("Location"); strings.Contains(loc, c) {
				t.Errorf("%s: Location %q carries a cookie value", where, loc)
			}
			if bytes.Contains(r.body, []byte(c)) {
				t.Errorf("%s: the body carries a cookie value", where)
			}
		}
		if loc := r.Header.Get("Location"); loc != "" {
			u, err := url.Parse(loc)
			if err != nil {
				t.Fatal(err)
			}
			for k := range u.Query() {
				if k != "m" && k != "e" && k != "n" {
					t.Errorf("%s: redirect to %q carries a parameter %q", where, loc, k)
				}
			}
		}
		if len(r.Header.Values("Set-Cookie")) > 0 && r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: sets a cookie with Cache-Control %q", where, r.Header.Get("Cache-Control"))
		}
	}
}

// keyMaterial returns the keys of a key file in the forms a log could
// show them: base64 as in the file, base64url, and hex.
func keyMaterial(t *testing.T, path string) []string {
	t.Helper()
	var out []string
	for _, k := range keyLines(t, path) {
		raw, err := base64.StdEncoding.DecodeString(k)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, k, base64.RawURLEncoding.EncodeToString(raw), hex.EncodeToString(raw))
	}
	return out
}

// TestStolenDatabaseCannotRideASession: a copy of the database file (a
// stolen backup) holds the session ids and data but no key: no cookie
// value, no key from the key file, so no cookie for a stored id can be
// made from it. Cookies made for a stored id without the keys (no tag, a
// tag under another key) get a fresh, empty session.
func TestStolenDatabaseCannotRideASession(t *testing.T) {
	t.Parallel()
	bin := buildDemo(t)
	dir := t.TempDir()
	db, keys := filepath.Join(dir, "demo.db"), filepath.Join(dir, "demo.keys")
	p := demoproc.Start(t, bin, "-db", db, "-keys", keys)
	victim := newBrowser(t, p.Base, "")
	victim.login("victim")
	wantStatus(t, victim.put("/api/session/role", `"admin"`), http.StatusNoContent)
	cookie := victim.Cookie("session").Value
	s := victim.session()
	p.Stop()

	stolen, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(stolen, []byte(s.ID)) {
		t.Fatal("the session id is not in the file: is this the right file?")
	}
	for _, k := range keyLines(t, keys) {
		raw, err := base64.StdEncoding.DecodeString(k)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(stolen, []byte(k)) || bytes.Contains(stolen, raw) {
			t.Error("the database holds a key")
		}
	}
	if bytes.Contains(stolen, []byte(cookie)) {
		t.Error("the database holds a cookie value")
	}

	p = demoproc.Start(t, bin, "-db", db, "-keys", keys)
	id, err := session.ParseID(s.ID)
	if err != nil {
		t.Fatal(err)
	}
	otherKey, err := session.NewKeyring(session.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	for name, forged := range map[string]string{
		"id and a zero tag":      base64.RawURLEncoding.EncodeToString(append(id[:], make([]byte, 16)...)),
		"id signed with a guess": otherKey.SignCookie("session", id),
		"bare id":                s.ID,
	} {
		r := newBrowser(t, p.Base, "").do("GET", "/api/session", nil, "Cookie", "session="+forged)
		wantStatus(t, r, http.StatusOK)
		if strings.Contains(string(r.body), s.ID) || strings.Contains(string(r.body), "admin") {
			t.Errorf("%s: rode the session: %s", name, r.body)
		}
	}
	victim.Base = p.Base
	if got := victim.session(); got.ID != s.ID || got.User != "victim" {
		t.Errorf("the real cookie no longer works: %+v", got)
	}
	p.Stop()
}

// TestLocalFilesArePrivate: against other users of the host, everything
// the demo creates is for its own uid only: the key file, the database
// (0600) and the admin socket (0600; the store also checks the peer's uid,
// pkg/admin TestSocketRefusesOtherUID). A key file others can read is
// used but warned about at startup.
func TestLocalFilesArePrivate(t *testing.T) {
	t.Parallel()
	bin := buildDemo(t)
	dir := demoproc.ShortTempDir(t)
	db, keys := filepath.Join(dir, "demo.db"), filepath.Join(dir, "demo.keys")
	p := demoproc.Start(t, bin, "-db", db, "-keys", keys)
	for path, want := range map[string]os.FileMode{keys: 0o600, db: 0o600, db + ".sock": os.ModeSocket | 0o600} {
		fi, err := os.Lstat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode() & (os.ModeType | os.ModePerm); got != want {
			t.Errorf("%s: mode %v, want %v", filepath.Base(path), got, want)
		}
	}
	if strings.Contains(p.Log.String(), "readable by other users") {
		t.Error("a private key file was warned about")
	}
	p.Stop()

	if err := os.Chmod(keys, 0o644); err != nil {
		t.Fatal(err)
	}
	p = demoproc.Start(t, bin, "-db", db, "-keys", keys)
	p.Stop()
	if !strings.Contains(p.Log.String(), "key file is readable by other users; chmod 600 it") {
		t.Errorf("no warning about a world-readable key file:\n%s", p.Log)
	}
}
