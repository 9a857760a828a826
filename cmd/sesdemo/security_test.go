package main

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

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

// TestSecretsStayOutOfLogsAndURLs drives every route of the demo, the
// error paths included, and checks what leaves the server: no log line
// holds a cookie value, a raw session id, a key or session data (sessions
// are logged as a hash, ASVS 4.0.3 7.1.1, 5.0 16.2.5); no redirect
// Location, page or API body holds a cookie value (ASVS 4.0.3 3.1.1); every
// response that sets the cookie says Cache-Control: no-store.
func TestSecretsStayOutOfLogsAndURLs(t *testing.T) {
	t.Parallel()
	bin := buildDemo(t)
	dir := t.TempDir()
	db, keys := filepath.Join(dir, "demo.db"), filepath.Join(dir, "demo.keys")
	p := demoproc.Start(t, bin, "-db", db, "-keys", keys)

	const secret = "correct-horse-battery-staple"
	var cookies, ids []string
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
	alice := newBrowser(t, p.Base, "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
	phone := newBrowser(t, p.Base, "curl/8.5.0")
	record(alice.do("GET", "/", nil))
	record(alice.post("/login", url.Values{"user": {"alice"}}))
	record(phone.post("/login", url.Values{"user": {"alice"}}))
	record(alice.put("/api/session/token", `"`+secret+`"`))
	record(alice.post("/set", url.Values{"key": {"pin"}, "value": {secret}}))
	ids = append(ids, alice.session().ID, phone.session().ID)
	record(alice.do("GET", "/", nil))
	record(alice.do("GET", "/api/session", nil))
	record(alice.do("GET", "/api/sessions", nil))
	record(alice.put("/api/session/bad", `{"oops":`))
	record(alice.put("/api/session/big", `"`+strings.Repeat("x", 70<<10)+`"`))
	record(alice.do("GET", "/api/session", nil, "Cookie", "session="+strings.Repeat("A", 43)))
	record(alice.post("/revoke", url.Values{"id": {ids[1]}}))
	record(alice.post("/delete", url.Values{"key": {"pin"}}))
	record(alice.post("/logout-everywhere", nil, "Sec-Fetch-Site", "cross-site"))
	record(alice.post("/logout", nil))
	p.Stop()

	secrets := map[string][]string{"cookie value": cookies, "session id": ids, "key": keyLines(t, keys), "session data": {secret}}
	if len(cookies) < 2 { // the two logins
		t.Fatalf("only %d cookies seen", len(cookies))
	}
	logs := p.Log.String()
	for what, vals := range secrets {
		for _, v := range vals {
			if strings.Contains(logs, v) {
				t.Errorf("the log holds a %s (%.12s...)", what, v)
			}
		}
	}
	if !strings.Contains(logs, "session=") {
		t.Error("the log names no session at all (it should, as a hash)")
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
	cookie := victim.cookie("session").Value
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
	victim.base = p.Base
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
