package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/pkg/admin"
	"github.com/sesbolt/sesbolt/pkg/boltstore"
	"github.com/sesbolt/sesbolt/pkg/redisstore"
	"github.com/sesbolt/sesbolt/pkg/session"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// testNow is the fixed clock of every test.
var testNow = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)

// testKey is the fixed key of the test key file.
var testKey = bytes.Repeat([]byte{0x5e}, 32)

// harness is one database file and one sesctl environment.
type harness struct {
	t       testing.TB
	dir     string
	db      string
	keyFile string
	keys    *session.Keyring
	now     time.Time
	stdin   string
	env     map[string]string
	// openFile, when set, replaces boltstore (see env.openFile).
	openFile func(a *app, path string, write bool, keys *session.Keyring) (admin.Service, func() error, error)
	dial     func(string) admin.Service
	terminal func(any) bool
	// snapshot, for a harness whose sessions are in Redis (see
	// redisHarness), returns everything stored under its prefix; unchanged
	// compares it instead of the file.
	snapshot func(testing.TB) string
	// redisStore is the application's store on that prefix: it seeded
	// the sessions, and sees what sesctl did.
	redisStore *redisstore.Store
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	dir := t.TempDir()
	h := &harness{t: t, dir: dir, db: filepath.Join(dir, "sessions.db"), keyFile: filepath.Join(dir, "app.keys"), now: testNow}
	if err := os.WriteFile(h.keyFile, []byte("# test key\n"+session.EncodeKey(testKey)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var err error
	if h.keys, err = session.NewKeyring(testKey); err != nil {
		t.Fatal(err)
	}
	h.env = map[string]string{envDB: h.db}
	return h
}

// openStore opens the harness's file for writing, without a reaper.
func (h *harness) openStore() *boltstore.Store {
	h.t.Helper()
	return h.openStoreWith(&boltstore.Options{})
}

// openStoreWith opens the harness's file for writing with o, filling in
// the harness's keys, clock and a quiet logger, without a reaper.
func (h *harness) openStoreWith(o *boltstore.Options) *boltstore.Store {
	h.t.Helper()
	o.Keys, o.ReapInterval, o.Logger = h.keys, -1, slog.New(slog.DiscardHandler)
	o.Now = func() time.Time { return h.now }
	st, err := boltstore.Open(h.db, o)
	if err != nil {
		h.t.Fatal(err)
	}
	return st
}

// seed stores recs in the file (creating it).
func (h *harness) seed(recs ...*session.Record) {
	h.t.Helper()
	st := h.openStore()
	defer st.Close()
	for _, r := range recs {
		if _, err := st.Apply(context.Background(), &session.Change{ID: r.ID, Now: r.Created, Create: r}); err != nil {
			h.t.Fatalf("seeding %s: %v", r.ID, err)
		}
	}
}

// result is what one run of sesctl did.
type result struct {
	stdout, stderr string
	code           int
}

// run runs sesctl with args and the harness's environment.
func (h *harness) run(args ...string) result {
	h.t.Helper()
	var stdout, stderr bytes.Buffer
	terminal := h.terminal
	if terminal == nil {
		terminal = func(any) bool { return false }
	}
	dial := h.dial
	if dial == nil {
		dial = dialSocket
	}
	e := env{
		now:      func() time.Time { return h.now },
		stdin:    strings.NewReader(h.stdin),
		stdout:   &stdout,
		stderr:   &stderr,
		getenv:   func(k string) string { return h.env[k] },
		terminal: terminal,
		dial:     dial,
		openFile: h.openFile,
	}
	code := run(context.Background(), args, e)
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

// ok runs sesctl and fails the test unless it succeeds; it returns stdout.
func (h *harness) ok(args ...string) string {
	h.t.Helper()
	r := h.run(args...)
	if r.code != exitOK {
		h.t.Fatalf("sesctl %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// fails runs sesctl and fails the test unless it exits with code and
// stderr contains every string in want.
func (h *harness) fails(code int, want []string, args ...string) result {
	h.t.Helper()
	r := h.run(args...)
	if r.code != code {
		h.t.Fatalf("sesctl %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, code, r.stdout, r.stderr)
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			h.t.Errorf("sesctl %s: stderr does not contain %q:\n%s", strings.Join(args, " "), w, r.stderr)
		}
	}
	if code != exitOK && !strings.Contains(r.stderr, "sesctl: ") {
		h.t.Errorf("sesctl %s: stderr has no \"sesctl: \" error line:\n%s", strings.Join(args, " "), r.stderr)
	}
	if strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "panic") {
		h.t.Errorf("sesctl %s: a stack trace on stderr:\n%s", strings.Join(args, " "), r.stderr)
	}
	return r
}

// hash returns the SHA-256 of path's content.
func hashFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// unchanged fails the test if fn changes the database file (or, on
// Redis, anything under the harness's prefix).
func (h *harness) unchanged(fn func()) {
	h.t.Helper()
	if h.snapshot != nil {
		before := h.snapshot(h.t)
		fn()
		if h.snapshot(h.t) != before {
			h.t.Errorf("the sessions in Redis changed")
		}
		return
	}
	before := hashFile(h.t, h.db)
	fn()
	if after := hashFile(h.t, h.db); after != before {
		h.t.Errorf("the database file changed")
	}
}

// golden compares got with testdata/name, or rewrites it with -update.
// The harness's directory is replaced by $DIR first.
func (h *harness) golden(name, got string) {
	h.t.Helper()
	got = strings.ReplaceAll(got, h.dir, "$DIR")
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			h.t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		h.t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		h.t.Errorf("output differs from %s (run go test -update to accept it)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// mustID parses a canonical id.
func mustID(s string) session.ID {
	id, err := session.ParseID(s)
	if err != nil {
		panic(err)
	}
	return id
}

// Fixture ids. The two 7a1b2c3d ids share a prefix of 16 hex digits.
var (
	idAlice1  = mustID("0f8e4d2c-5b1a-4c3e-9d7f-2a6b8c0e1f34")
	idAlice2  = mustID("3c2d1e0f-aaaa-4bbb-8ccc-dddddddddddd")
	idBob     = mustID("7a1b2c3d-0000-4000-8000-000000000001")
	idAnon    = mustID("7a1b2c3d-0000-4000-9000-000000000002")
	idCarol   = mustID("b0b0b0b0-1111-4222-8333-444444444444")
	idOldAnon = mustID("e1e2e3e4-5555-4666-8777-888888888888")
)

// fixture returns the standard sessions, relative to testNow: four live
// (alice twice, bob, one anonymous) and two expired (carol idle, an
// anonymous one past its deadline).
func fixture() []*session.Record {
	at := func(d time.Duration) time.Time { return testNow.Add(d) }
	data := func(kv ...string) map[string]json.RawMessage {
		m := map[string]json.RawMessage{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = json.RawMessage(kv[i+1])
		}
		return m
	}
	const (
		firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
		chrome  = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
		iphone  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
	)
	return []*session.Record{
		{
			// Remembered at login, last seen from another network.
			ID: idAlice1, UserID: "alice", Created: at(-3 * time.Hour), LastSeen: at(-2 * time.Minute),
			IdleExpires: at(30*24*time.Hour - 2*time.Minute), Deadline: at(90*24*time.Hour - 3*time.Hour), Persistent: true,
			Client:     session.ClientInfo{IP: "203.0.113.7", UserAgent: firefox},
			LastClient: session.ClientInfo{IP: "198.51.100.4", UserAgent: firefox},
			Data:       data("cart", `[1,2,3]`, "theme", `"dark"`, "note", `"<b>&</b>"`),
		},
		{
			ID: idAlice2, UserID: "alice", Created: at(-26 * time.Hour), LastSeen: at(-20 * time.Minute),
			IdleExpires: at(10 * time.Minute), Deadline: at(2 * time.Hour),
			Client: session.ClientInfo{IP: "2001:db8::1", UserAgent: iphone},
			Data:   data("theme", `"light"`),
		},
		{
			ID: idBob, UserID: "bob", Created: at(-45 * time.Minute), LastSeen: at(-45 * time.Second),
			IdleExpires: at(29 * time.Minute), Deadline: at(11 * time.Hour),
			Client: session.ClientInfo{IP: "198.51.100.23", UserAgent: chrome},
			Data:   data("flash", `"welcome back"`),
		},
		{
			ID: idAnon, Created: at(-5 * time.Minute), LastSeen: at(-5 * time.Minute),
			IdleExpires: at(25 * time.Minute), Deadline: at(12*time.Hour - 5*time.Minute),
			Client: session.ClientInfo{IP: "192.0.2.55", UserAgent: "curl/8.5.0"},
			Data:   data(),
		},
		{
			ID: idCarol, UserID: "carol", Created: at(-2 * time.Hour), LastSeen: at(-35 * time.Minute),
			IdleExpires: at(-5 * time.Minute), Deadline: at(10 * time.Hour),
			Client: session.ClientInfo{IP: "203.0.113.99", UserAgent: firefox},
			Data:   data("lang", `"fr"`),
		},
		{
			ID: idOldAnon, Created: at(-14 * time.Hour), LastSeen: at(-2*time.Hour - 10*time.Minute),
			IdleExpires: at(-100 * time.Minute), Deadline: at(-2 * time.Hour),
			Data: data("visits", `17`),
		},
	}
}

// seeded returns a harness whose file holds the fixture.
func seeded(t testing.TB) *harness {
	h := newHarness(t)
	h.seed(fixture()...)
	return h
}

// fakeService is an admin.Service with canned answers for what the test
// sets; the other methods panic (through the nil embedded Service).
type fakeService struct {
	admin.Service
	stats  session.Stats
	report session.CheckReport
	err    error
}

func (f *fakeService) Stats(context.Context) (session.Stats, error) { return f.stats, f.err }
func (f *fakeService) Check(context.Context) (session.CheckReport, error) {
	return f.report, f.err
}

// useService makes the harness's file open as svc (the file must exist).
func (h *harness) useService(svc admin.Service) {
	h.openFile = func(*app, string, bool, *session.Keyring) (admin.Service, func() error, error) {
		return svc, func() error { return nil }, nil
	}
}

// transcript runs sesctl once per argument list and returns what a
// terminal would show: each command line, its stdout, its stderr (each
// line marked "stderr: ") and a non-zero exit code, for golden files of
// messages.
func (h *harness) transcript(runs ...[]string) string {
	h.t.Helper()
	var b strings.Builder
	for _, args := range runs {
		r := h.run(args...)
		b.WriteString("$ sesctl " + strings.Join(args, " ") + "\n")
		b.WriteString(r.stdout)
		for _, line := range strings.SplitAfter(r.stderr, "\n") {
			if line != "" {
				b.WriteString("stderr: " + line)
			}
		}
		if r.code != exitOK {
			b.WriteString("exit " + strconv.Itoa(r.code) + "\n")
		}
	}
	return b.String()
}
