package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/internal/demoproc"
	"github.com/sesbolt/sesbolt/internal/testclient"
	"github.com/sesbolt/sesbolt/pkg/boltstore"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// Faults the demo meets at startup and while serving: damaged, held or
// blocked files, and a clock that jumps. (A full disk: diskfull_linux_test.go.)

// startupFailure runs sesdemo with args, which must make it fail: exit
// status 1 within limit, one line on stderr starting "sesdemo: " and
// containing every string of want, no panic. It returns that line.
func startupFailure(t *testing.T, bin string, limit time.Duration, args []string, want ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit+10*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v, want status 1; stderr:\n%s", err, &stderr)
	}
	if elapsed > limit {
		t.Errorf("failed after %v, want within %v", elapsed, limit)
	}
	out := stderr.String()
	if strings.Contains(out, "panic") || strings.Contains(out, "goroutine ") {
		t.Fatalf("stderr shows a panic:\n%s", out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "sesdemo: ") {
		t.Fatalf("want one line starting with \"sesdemo: \", got:\n%s", out)
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("stderr lacks %q:\n%s", w, out)
		}
	}
	return lines[0]
}

// demoFile runs sesdemo once to make a database with a few sessions, and
// returns its path, the key file and the browsers holding those sessions.
func demoFile(t *testing.T, bin string) (db, keys string, users []*browser) {
	t.Helper()
	dir := t.TempDir()
	db, keys = filepath.Join(dir, "demo.db"), filepath.Join(dir, "demo.keys")
	p := demoproc.Start(t, bin, "-db", db, "-keys", keys)
	for _, name := range []string{"alice", "bob", "carol"} {
		b := newBrowser(t, p.Base, "")
		b.login(name)
		wantStatus(t, b.put("/api/session/note", `"`+strings.Repeat(name, 200)+`"`), http.StatusNoContent)
		users = append(users, b)
	}
	p.Stop()
	return db, keys, users
}

// damaged writes a copy of db beside it, changed by edit, and returns its
// path.
func damaged(t *testing.T, db, name string, edit func([]byte) []byte) string {
	t.Helper()
	b, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(filepath.Dir(db), name)
	if err := os.WriteFile(path, edit(bytes.Clone(b)), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCorruptDatabase: a damaged database file stops the demo at startup
// with one clear line that names the file and says what to do, never a
// panic; damage that only a deeper read can see (a data page) does not
// crash the running server either.
func TestCorruptDatabase(t *testing.T) {
	t.Parallel()
	bin := buildDemo(t)
	db, keys, users := demoFile(t, bin)
	const page = 4096 // bbolt's page size here (the OS page size)
	hint := "move the file aside, or pass another -db"

	for _, tc := range []struct {
		name string
		edit func([]byte) []byte
		want string
	}{
		{"truncated", func(b []byte) []byte { return b[:2*page+page/2] }, "truncated?"},
		{"meta pages zeroed", func(b []byte) []byte { clear(b[:2*page]); return b }, "not a bbolt database"},
		{"empty", func([]byte) []byte { return nil }, ""},
		{"meta pages garbled", func(b []byte) []byte {
			rng := rand.New(rand.NewPCG(1, 2))
			for i := 16; i < 2*page; i += 7 {
				b[i] ^= byte(rng.Uint32())
			}
			return b
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := damaged(t, db, strings.ReplaceAll(tc.name, " ", "-")+".db", tc.edit)
			before, _ := os.ReadFile(path)
			if tc.name == "empty" {
				// An empty file is a new database, not damage: bbolt
				// initialises it. That is fine; the demo must start.
				p := demoproc.Start(t, bin, "-db", path, "-keys", keys)
				p.Stop()
				return
			}
			line := startupFailure(t, bin, 10*time.Second, []string{"-db", path, "-keys", keys}, "database", path, hint, tc.want)
			t.Log(line)
			if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
				t.Error("a failed startup changed the damaged file")
			}
		})
	}

	// A damaged data page: the page holding alice's record gets a garbled
	// header. Open checks the meta and freelist pages only, so the demo
	// starts; every request must still be answered, and the server must
	// stay up.
	t.Run("data page garbled", func(t *testing.T) {
		path := damaged(t, db, "data-page.db", func(b []byte) []byte {
			// Every copy: older versions linger in free pages.
			note := []byte(strings.Repeat("alice", 200))
			rng := rand.New(rand.NewPCG(3, 4))
			n := 0
			for off := 0; ; n++ {
				i := bytes.Index(b[off:], note)
				if i < 0 {
					break
				}
				start := (off + i) / page * page
				for j := start; j < start+16; j++ {
					b[j] = byte(rng.Uint32())
				}
				off += i + 1
			}
			if n == 0 {
				t.Fatal("alice's record not found in the file")
			}
			return b
		})
		// It may refuse to start (clearly), or start and fail calls.
		p, started := demoproc.Launch(t, bin, "-db", path, "-keys", keys)
		if !started {
			out := p.Log.String()
			if !strings.HasPrefix(out, "sesdemo: database:") || strings.Contains(out, "panic") {
				t.Fatalf("refused to start, unclearly:\n%s", out)
			}
			t.Logf("refused to start: %s", out)
			return
		}
		var statuses []string
		for _, u := range users {
			u.Base = p.Base
			for _, path := range []string{"/api/session", "/api/sessions", "/"} {
				r, err := u.send("GET", path, nil)
				if err != nil {
					t.Fatalf("GET %s on a damaged file: %v (the handler crashed?)", path, err)
				}
				statuses = append(statuses, fmt.Sprintf("GET %s %d", path, r.StatusCode))
				if r.StatusCode != http.StatusOK && r.StatusCode != http.StatusUnauthorized && r.StatusCode != http.StatusInternalServerError {
					t.Errorf("GET %s on a damaged file: status %d", path, r.StatusCode)
				}
			}
			if r, err := u.send("PUT", "/api/session/more", strings.NewReader(`1`)); err != nil {
				t.Fatalf("PUT on a damaged file: %v", err)
			} else if statuses = append(statuses, fmt.Sprintf("PUT %d", r.StatusCode)); r.StatusCode != http.StatusNoContent && r.StatusCode != http.StatusInternalServerError {
				t.Errorf("PUT on a damaged file: status %d", r.StatusCode)
			}
		}
		t.Logf("served a damaged file: %s", strings.Join(statuses, ", "))
		select {
		case <-p.Done:
			t.Fatalf("the server died on a damaged file:\n%s", p.Log)
		default:
		}
		p.Stop()
	})
}

// TestDatabaseHeld: a database another process holds (here, another
// sesdemo) fails the second one within the lock timeout (1 s), with a
// message that says so and points at the admin socket; the first one is
// not disturbed.
func TestDatabaseHeld(t *testing.T) {
	t.Parallel()
	bin := buildDemo(t)
	dir := t.TempDir()
	db, keys := filepath.Join(dir, "held.db"), filepath.Join(dir, "demo.keys")
	p := demoproc.Start(t, bin, "-db", db, "-keys", keys)
	b := newBrowser(t, p.Base, "")
	b.login("alice")
	// 1 s of lock timeout, plus the process's start and exit.
	startupFailure(t, bin, 5*time.Second, []string{"-db", db, "-keys", keys},
		"in use by another process", db, db+".sock")
	if s := b.session(); s.User != "alice" {
		t.Errorf("the first server lost its session: %+v", s)
	}
	p.Stop()
}

// TestAdminSocketPathTaken: a regular file where the admin socket goes
// (<db>.sock) stops the demo with a clear message; the file is left alone
// and the database is released (it opens at once without the obstacle).
func TestAdminSocketPathTaken(t *testing.T) {
	t.Parallel()
	bin := buildDemo(t)
	dir := demoproc.ShortTempDir(t)
	db, keys := filepath.Join(dir, "demo.db"), filepath.Join(dir, "demo.keys")
	if err := os.WriteFile(db+".sock", []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	line := startupFailure(t, bin, 10*time.Second, []string{"-db", db, "-keys", keys}, "not a socket", db+".sock")
	t.Log(line)
	if b, _ := os.ReadFile(db + ".sock"); string(b) != "precious" {
		t.Error("the file at the socket path was changed")
	}
	if err := os.Remove(db + ".sock"); err != nil {
		t.Fatal(err)
	}
	p := demoproc.Start(t, bin, "-db", db, "-keys", keys)
	if fi, err := os.Lstat(db + ".sock"); err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("admin socket after the obstacle is gone: %v, %v; want a socket with mode 0600", fi, err)
	}
	p.Stop()
}

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// Advance moves the clock d forward.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// TestClockJumps runs the demo on a bbolt store with one fake clock for
// the session manager and the store's reaper. A jump forward past the
// lifetime (a suspended VM, an NTP step) ends every session at once: the
// next request gets a fresh session and the reaper removes the records; a
// jump back does not make a session outlive its deadline; a jump of a
// century crashes nothing.
func TestClockJumps(t *testing.T) {
	start := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	clock := &fakeClock{now: start}
	kr, err := session.NewKeyring(session.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	log := &testclient.SyncBuffer{}
	logger := slog.New(slog.NewTextHandler(log, nil))
	store, err := boltstore.Open(filepath.Join(t.TempDir(), "clock.db"), &boltstore.Options{
		Keys: kr, Now: clock.Now, ReapInterval: 10 * time.Millisecond, Logger: logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	const idle, lifetime = 10 * time.Minute, time.Hour
	h, err := newServer(config{Store: store, Keys: kr, Idle: idle, Lifetime: lifetime, Now: clock.Now, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	ctx := context.Background()
	sessions := func() int64 {
		st, err := store.Stats(ctx, clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		return st.Sessions
	}

	alice, bob := newBrowser(t, srv.URL, ""), newBrowser(t, srv.URL, "")
	alice.login("alice")
	bob.login("bob")
	wantStatus(t, bob.put("/api/session/k", `1`), http.StatusNoContent)
	deadline := start.Add(lifetime)

	// Back by a day: sessions go on; their deadline does not move.
	clock.Set(start.Add(-24 * time.Hour))
	if s := alice.session(); s.User != "alice" || s.Expires.After(deadline) {
		t.Fatalf("after the clock went back: %+v; want alice, expiring by %v", s, deadline)
	}
	wantStatus(t, alice.put("/api/session/k", `2`), http.StatusNoContent)
	if s := alice.session(); s.Expires.After(deadline) {
		t.Fatalf("a write with the clock back extended the session to %v, past its deadline %v", s.Expires, deadline)
	}

	// Forward past the lifetime: both sessions end, on the next request
	// and in the store.
	clock.Set(deadline.Add(time.Second))
	// (The expired session's cookie stays in the jar, leading nowhere: only
	// a logout clears a cookie, see docs/SECURITY.md.)
	if s := alice.session(); s.User != "" || len(s.Data) != 0 {
		t.Fatalf("after the clock passed the lifetime: %+v", s)
	}
	for end := time.Now().Add(5 * time.Second); sessions() != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("the reaper left %d expired sessions after the clock jumped", sessions())
		}
	}
	if s := bob.session(); s.User != "" {
		t.Fatalf("bob's session outlived the jump: %+v", s)
	}

	// A new session after the jump works, as does a century later.
	alice.login("alice")
	wantStatus(t, alice.put("/api/session/k", `3`), http.StatusNoContent)
	clock.Set(deadline.AddDate(100, 0, 0))
	if s := alice.session(); s.User != "" {
		t.Fatalf("a session survived a century: %+v", s)
	}
	alice.login("alice")
	wantStatus(t, alice.post("/set", url.Values{"key": {"k"}, "value": {"v"}}), http.StatusSeeOther)
	wantStatus(t, alice.do("GET", "/", nil), http.StatusOK)
	if s := alice.session(); s.User != "alice" || !s.Created.Equal(clock.Now()) {
		t.Fatalf("a session a century later: %+v", s)
	}
	if strings.Contains(log.String(), "level=ERROR") {
		t.Errorf("errors logged:\n%s", log)
	}
}
