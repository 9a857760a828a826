package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/internal/demoproc"
)

// The end-to-end tests build the real binary and drive it over HTTP, with
// sessions in a real bbolt file.

// demoBins is the binary the end-to-end tests share, built once.
var demoBins = &demoproc.Binaries{Pkgs: []string{"github.com/sesbolt/sesbolt/cmd/sesdemo"}}

func TestMain(m *testing.M) {
	code := m.Run()
	demoBins.Remove()
	os.Exit(code)
}

// buildDemo builds sesdemo (once per test run) and returns its path. With
// -short it skips the test.
func buildDemo(t *testing.T) string {
	t.Helper()
	return demoBins.Path(t, "sesdemo")
}

func TestEndToEnd(t *testing.T) {
	t.Parallel()
	bin := buildDemo(t)
	dir := t.TempDir()
	db, keys := filepath.Join(dir, "demo.db"), filepath.Join(dir, "demo.keys")
	args := []string{"-db", db, "-keys", keys}

	p := demoproc.Start(t, bin, args...)
	keyFile := wantKeyFile(t, keys)
	if !strings.Contains(p.Log.String(), `msg="created key file"`) {
		t.Errorf("first run did not say it created the key file:\n%s", p.Log)
	}
	if !strings.Contains(p.Log.String(), "cookie Secure flag and __Host- prefix are off") {
		t.Errorf("no log line about the insecure cookie:\n%s", p.Log)
	}

	firefox := "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
	alice := newBrowser(t, p.Base, firefox)
	wantStatus(t, alice.do("GET", "/", nil), http.StatusOK)
	alice.login("alice")
	wantStatus(t, alice.put("/api/session/color", `"blue"`), http.StatusNoContent)
	s := alice.session()
	if s.User != "alice" || string(s.Data["color"]) != `"blue"` {
		t.Fatalf("after login and PUT: %+v", s)
	}

	// 50 concurrent PUTs of distinct keys with one cookie all persist.
	const n = 50
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r, err := alice.send("PUT", fmt.Sprintf("/api/session/k%02d", i), strings.NewReader(fmt.Sprint(i)))
			if err == nil && r.StatusCode != http.StatusNoContent {
				err = fmt.Errorf("PUT k%02d: status %d: %s", i, r.StatusCode, r.body)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	s = alice.session()
	if len(s.Data) != n+1 {
		t.Errorf("after %d concurrent PUTs the session has %d keys, want %d", n, len(s.Data), n+1)
	}
	for i := range n {
		if got, want := string(s.Data[fmt.Sprintf("k%02d", i)]), fmt.Sprint(i); got != want {
			t.Errorf("k%02d = %q, want %q", i, got, want)
		}
	}

	// Restart: the session survives, under the same id; the key file is
	// reused, not rewritten.
	p.Stop()
	p = demoproc.Start(t, bin, args...)
	if again := wantKeyFile(t, keys); again != keyFile {
		t.Error("the second run rewrote the key file")
	}
	if strings.Contains(p.Log.String(), "created key file") {
		t.Error("the second run created a key file")
	}
	alice.Base = p.Base // a new port; cookies do not depend on it
	after := alice.session()
	if after.ID != s.ID || after.User != "alice" || len(after.Data) != n+1 || !after.Created.Equal(s.Created) {
		t.Fatalf("after restart: id %s user %q %d keys, want id %s user alice %d keys", after.ID, after.User, len(after.Data), s.ID, n+1)
	}

	// A second device of Alice's, and Bob.
	phone := newBrowser(t, p.Base, "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1")
	phone.login("alice")
	bob := newBrowser(t, p.Base, "curl/8.5.0")
	bob.login("bob")
	list := alice.sessions()
	if len(list) != 2 {
		t.Fatalf("alice has %d sessions, want 2: %+v", len(list), list)
	}
	phoneID := phone.session().ID
	devices := map[string]string{}
	for _, it := range list {
		devices[it.ID] = it.Device
		if it.Current != (it.ID == s.ID) {
			t.Errorf("session %s: current = %v", it.ID, it.Current)
		}
	}
	if devices[s.ID] != "Linux computer" || devices[phoneID] != "iPhone" {
		t.Errorf("devices %v", devices)
	}

	// Error cases.
	wantJSONError(t, bob.do("DELETE", "/api/sessions/"+phoneID, nil), http.StatusNotFound)
	wantJSONError(t, bob.do("DELETE", "/api/sessions/xyz", nil), http.StatusBadRequest)
	wantJSONError(t, newBrowser(t, p.Base, "").do("GET", "/api/sessions", nil), http.StatusUnauthorized)
	wantJSONError(t, alice.put("/api/session/bad", `{"unterminated": `), http.StatusBadRequest)
	wantJSONError(t, alice.put("/api/session/big", `"`+strings.Repeat("x", 70<<10)+`"`), http.StatusRequestEntityTooLarge)
	wantStatus(t, alice.post("/logout-everywhere", nil, "Sec-Fetch-Site", "cross-site"), http.StatusForbidden)
	wantStatus(t, alice.post("/logout", nil, "Origin", "https://evil.example"), http.StatusForbidden)
	if phone.session().User != "alice" || alice.session().User != "alice" {
		t.Fatal("a refused request ended a session")
	}

	// Log out everywhere ends Alice's sessions, not Bob's.
	bobSession := bob.session()
	r := alice.post("/logout-everywhere", nil)
	wantStatus(t, r, http.StatusSeeOther)
	if s := phone.session(); s.User != "" || s.ID == phoneID {
		t.Errorf("alice's phone still has %+v", s)
	}
	if s := alice.session(); s.User != "" || len(s.Data) != 0 {
		t.Errorf("alice's laptop still has user %q and %d keys", s.User, len(s.Data))
	}
	if s := bob.session(); s.ID != bobSession.ID || s.User != "bob" {
		t.Errorf("bob's session changed: %+v", s)
	}

	// Logout: the old cookie now gives a fresh session.
	old := bob.Cookie("session")
	wantStatus(t, bob.post("/logout", nil), http.StatusSeeOther)
	replay := newBrowser(t, p.Base, "")
	r = replay.do("GET", "/api/session", nil, "Cookie", "session="+old.Value)
	var fresh sessionJSON
	if err := json.Unmarshal(r.body, &fresh); err != nil || fresh.User != "" || fresh.ID == bobSession.ID {
		t.Errorf("old cookie after logout gives %s (%v)", r.body, err)
	}

	p.Stop()
	logs := p.Log.String()
	if !strings.Contains(logs, "msg=request method=POST route=/logout status=303") {
		t.Errorf("no request log line for the logout:\n%s", logs)
	}
	if strings.Contains(logs, old.Value) {
		t.Error("the log holds a cookie value")
	}
}

// wantKeyFile checks the key file's mode (0600) and returns its content.
func wantKeyFile(t *testing.T, path string) string {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("key file: %v", err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("key file mode %o, want 600", mode)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestStartupErrors(t *testing.T) {
	t.Parallel()
	bin := buildDemo(t)
	dir := t.TempDir()
	keys := filepath.Join(dir, "demo.keys")
	held := filepath.Join(dir, "held.db")
	p := demoproc.Start(t, bin, "-db", held, "-keys", keys)
	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, bytes.Repeat([]byte("not a database "), 2000), 0o600); err != nil {
		t.Fatal(err)
	}
	notDir := filepath.Join(dir, "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"database held by another process", []string{"-db", held, "-keys", keys}, 1, "in use by another process"},
		{"not a database", []string{"-db", garbage, "-keys", keys}, 1, "not a bbolt database"},
		{"key file cannot be created", []string{"-db", filepath.Join(dir, "a.db"), "-keys", filepath.Join(notDir, "keys")}, 1, "key file"},
		{"bad flag", []string{"-port", "80"}, 2, "flag provided but not defined: -port"},
		{"no Redis there", []string{"-redis", "unix://" + filepath.Join(dir, "none.sock"), "-keys", keys}, 1,
			"sessions in Redis at unix://" + filepath.Join(dir, "none.sock")},
		{"lifetime shorter than idle", []string{"-idle", "1h", "-lifetime", "30m"}, 2, "must not be shorter"},
		{"no Flask secret file", []string{"-redis", "unix://" + filepath.Join(dir, "none.sock"), "-flask-secret-file", filepath.Join(dir, "none")}, 1, "flask secret"},
		{"empty Flask secret file", []string{"-redis", "unix://" + filepath.Join(dir, "none.sock"), "-flask-secret-file", notDir}, 1, "no secret"},
		{"no Redis there for the Flask app", []string{"-redis", "unix://" + filepath.Join(dir, "none.sock"), "-flask-secret-file", keys}, 1,
			"sessions in Redis at unix://" + filepath.Join(dir, "none.sock")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var stderr bytes.Buffer
			cmd := exec.CommandContext(ctx, bin, append([]string{"-addr", "127.0.0.1:0"}, tc.args...)...)
			cmd.Stderr = &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != tc.code {
				t.Fatalf("exit: %v, want status %d; stderr:\n%s", err, tc.code, &stderr)
			}
			out := stderr.String()
			if !strings.Contains(out, tc.want) {
				t.Errorf("stderr lacks %q:\n%s", tc.want, out)
			}
			if strings.Contains(out, "panic") || strings.Contains(out, "goroutine ") {
				t.Errorf("stderr shows a panic:\n%s", out)
			}
			if tc.code == 1 {
				lines := strings.Split(strings.TrimSpace(out), "\n")
				if len(lines) != 1 || !strings.HasPrefix(lines[0], "sesdemo: ") {
					t.Errorf("want one line starting with \"sesdemo: \", got:\n%s", out)
				}
			}
		})
	}
	p.Stop() // the held database was never disturbed
}

// TestPortTakenCreatesNothing: sesdemo binds its address before it creates
// any file, so when the port is taken it exits with status 1 and one clear
// line, and leaves no key file, database or socket behind.
func TestPortTakenCreatesNothing(t *testing.T) {
	t.Parallel()
	bin := buildDemo(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	dir := t.TempDir()
	p, started := demoproc.Launch(t, bin, "-addr", taken.Addr().String(),
		"-db", filepath.Join(dir, "demo.db"), "-keys", filepath.Join(dir, "demo.keys"))
	if started {
		t.Fatalf("sesdemo listens on a taken port:\n%s", p.Log)
	}
	if code := p.Cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	out := strings.TrimSpace(p.Log.String())
	if strings.Contains(out, "\n") || !strings.HasPrefix(out, "sesdemo: listening: ") ||
		!strings.Contains(out, taken.Addr().String()) || !strings.Contains(out, "address already in use") || !strings.Contains(out, "-addr") {
		t.Errorf("want one line naming the address, the problem and -addr; got:\n%s", out)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("sesdemo left %s behind", e.Name())
	}
}

func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	bin := buildDemo(t)
	dir := t.TempDir()
	args := []string{"-db", filepath.Join(dir, "demo.db"), "-keys", filepath.Join(dir, "demo.keys")}
	p := demoproc.Start(t, bin, args...)
	b := newBrowser(t, p.Base, "")
	b.login("alice")

	// A PUT whose body is still arriving when SIGTERM comes.
	body, feed := io.Pipe()
	result := make(chan error, 1)
	go func() {
		r, err := b.send("PUT", "/api/session/slow", body)
		if err == nil && r.StatusCode != http.StatusNoContent {
			err = fmt.Errorf("status %d: %s", r.StatusCode, r.body)
		}
		result <- err
	}()
	if _, err := feed.Write([]byte(`"in`)); err != nil { // returns once the request is on its way
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // let the server start reading the body
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(p.Log.String(), "shutting down"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no shutdown log line after SIGTERM")
		}
	}
	feed.Write([]byte(`flight"`))
	feed.Close()
	if err := <-result; err != nil {
		t.Fatalf("in-flight PUT during shutdown: %v", err)
	}
	select {
	case <-p.Done:
	case <-time.After(20 * time.Second):
		t.Fatal("sesdemo did not exit after SIGTERM")
	}
	if code := p.Cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0", code)
	}

	p = demoproc.Start(t, bin, args...)
	b.Base = p.Base
	if got := string(b.session().Data["slow"]); got != `"inflight"` {
		t.Errorf("the in-flight PUT stored %s, want \"inflight\"", got)
	}
	p.Stop()
}

// TestEndToEndLifecycle drives the built demo with -max-sessions: a
// remembered login that survives a restart with its persistent cookie, an
// API client on the token header, the session limit, and signing out the
// other devices.
func TestEndToEndLifecycle(t *testing.T) {
	t.Parallel()
	bin := buildDemo(t)
	dir := t.TempDir()
	args := []string{"-db", filepath.Join(dir, "demo.db"), "-keys", filepath.Join(dir, "demo.keys"), "-max-sessions", "2"}
	p := demoproc.Start(t, bin, args...)
	if !strings.Contains(p.Log.String(), "max_sessions=2") {
		t.Errorf("the startup log does not tell the session limit:\n%s", p.Log)
	}

	laptop := newBrowser(t, p.Base, "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
	r := laptop.post("/login", url.Values{"user": {"alice"}, "remember": {"1"}})
	wantStatus(t, r, http.StatusSeeOther)
	if ck := laptop.Cookie("session"); ck == nil {
		t.Fatal("no cookie after a remembered login")
	}
	var persistent bool
	for _, c := range r.Cookies() {
		persistent = persistent || c.Name == "session" && c.MaxAge > 0
	}
	if !persistent {
		t.Errorf("remembered login: Set-Cookie %q has no Max-Age", r.Header.Values("Set-Cookie"))
	}
	remembered := laptop.session()

	// A restart keeps the remembered session and its flag.
	p.Stop()
	p = demoproc.Start(t, bin, args...)
	laptop.Base = p.Base
	if s := laptop.session(); s.ID != remembered.ID || !s.Persistent || s.User != "alice" {
		t.Fatalf("after restart: %+v, want the remembered session %s", s, remembered.ID)
	}

	// An API client on the token header: no cookie, the token in a header.
	app := newBrowser(t, p.Base, "sesdemo-mobile/2.0")
	r = app.do("POST", "/login", strings.NewReader(`{"user":"alice"}`), "Content-Type", "application/json", "Authorization", "Bearer")
	wantStatus(t, r, http.StatusOK)
	token := r.Header.Get("Session-Token")
	if token == "" || app.Cookie("session") != nil {
		t.Fatalf("token login: Session-Token %q, cookie %v", token, app.Cookie("session"))
	}
	r = app.do("GET", "/api/session", nil, "Authorization", "Bearer "+token)
	if wantStatus(t, r, http.StatusOK); !strings.Contains(string(r.body), `"user":"alice"`) {
		t.Errorf("GET /api/session with the token: %s", r.body)
	}

	// A third login of alice ends the least recently seen session: the
	// laptop was seen before the app logged in.
	phone := newBrowser(t, p.Base, "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1")
	phone.login("alice")
	if s := laptop.session(); s.User != "" {
		t.Errorf("the session limit left the least recently seen session: %+v", s)
	}
	list := phone.sessions()
	if len(list) != 2 {
		t.Fatalf("alice has %d sessions, want 2 (the limit)", len(list))
	}
	for _, it := range list {
		if it.LastIP != "127.0.0.1" || it.Device == "" || it.Browser == "" {
			t.Errorf("session item %+v lacks the last client", it)
		}
	}

	// Signing out the other devices ends the app's session, keeps the phone's.
	r = phone.post("/logout-others", nil, "Accept", "application/json")
	if wantStatus(t, r, http.StatusOK); strings.TrimSpace(string(r.body)) != `{"ended":1}` {
		t.Errorf("POST /logout-others: %s", r.body)
	}
	r = app.do("GET", "/api/session", nil, "Authorization", "Bearer "+token)
	if strings.Contains(string(r.body), `"user":"alice"`) {
		t.Errorf("the app's session survived the sign-out of the other devices: %s", r.body)
	}
	if s := phone.session(); s.User != "alice" {
		t.Errorf("the phone's own session ended: %+v", s)
	}
	p.Stop()
	if logs := p.Log.String(); strings.Contains(logs, token) {
		t.Error("the log holds a token")
	}
}
