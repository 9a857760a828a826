package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/pkg/admin"
	"github.com/sesbolt/sesbolt/pkg/boltstore"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// TestUsageErrors: bad usage exits 2 with what the command needs, in
// words, and where to read its usage; the golden file holds every message.
func TestUsageErrors(t *testing.T) {
	h := seeded(t)
	runs := [][]string{
		{},
		{"lst"},
		{"--bogus", "list"},
		{"list", "-z"},
		{"-o", "xml", "stats"},
		{"list", "--limit", "many"},
		{"list", "--user"},
		{"list", "--sort"},
		{"list", "extra"},
		{"show"},
		{"show", "a", "b"},
		{"show", "xyz"},
		{"backup"},
		{"compact"},
		{"import", "a", "b"},
		{"import", "--batch", "lots"},
		{"import", "--dry-run=maybe"},
		{"expire"},
		{"keygen", "extra"},
		{"completion"},
		{"completion", "tcsh"},
	}
	var got string
	h.unchanged(func() { got = h.transcript(runs...) })
	h.golden("usage_errors.golden", got)
	for _, args := range runs {
		r := h.run(args...)
		if r.code != exitUsage || r.stdout != "" && len(args) > 0 {
			t.Errorf("sesctl %s: exit %d, stdout %q", strings.Join(args, " "), r.code, r.stdout)
		}
		if strings.Contains(r.stderr, "arg(s)") || strings.Contains(r.stderr, "strconv.") || strings.Contains(r.stderr, "flag needs an argument") {
			t.Errorf("sesctl %s: cobra's or pflag's wording:\n%s", strings.Join(args, " "), r.stderr)
		}
	}
	h.fails(exitUsage, []string{"Run 'sesctl show --help' for usage."}, "show")
	h.fails(exitUsage, []string{"Run 'sesctl COMMAND --help'"}, "lst")
}

func TestHelpAndCompletion(t *testing.T) {
	h := newHarness(t) // no database: none of these needs one
	if out := h.ok("--help"); !strings.Contains(out, "Available Commands:") || !strings.Contains(out, "compact") {
		t.Errorf("help:\n%s", out)
	}
	if out := h.ok("list", "--help"); !strings.Contains(out, "--sort") {
		t.Errorf("list help:\n%s", out)
	}
	for _, shell := range []string{"bash", "zsh", "fish"} {
		if out := h.ok("completion", shell); !strings.Contains(out, "sesctl") {
			t.Errorf("%s completion:\n%s", shell, out)
		}
	}
	if _, err := os.Stat(h.db); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a database was created: %v", err)
	}
}

func TestMissingDatabase(t *testing.T) {
	h := newHarness(t)
	h.env[envKeys] = h.keyFile
	for _, args := range [][]string{
		{"list"}, {"show", "0f8e4d2c"}, {"stats"}, {"check"}, {"purge"}, {"purge", "--dry-run"},
		{"expire", "--user", "alice"}, {"export"},
		{"backup", filepath.Join(h.dir, "b.db")}, {"compact", filepath.Join(h.dir, "c.db")},
	} {
		h.fails(exitFailure, []string{h.db + ": no such database file"}, args...)
		if _, err := os.Stat(h.db); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%v created the database", args)
		}
	}
	// A directory is no database either.
	h.fails(exitFailure, []string{"not a regular file"}, "--db", h.dir, "stats")
}

func TestDatabaseFlagAndEnv(t *testing.T) {
	h := seeded(t)
	other := newHarness(t)
	other.seed(fixture()[:1]...)
	if n := countLines(h.ok("-o", "json", "list")); n != 4 {
		t.Errorf("$SESCTL_DB: %d sessions", n)
	}
	if n := countLines(h.ok("--db", other.db, "-o", "json", "list")); n != 1 {
		t.Errorf("--db over $SESCTL_DB: %d sessions", n)
	}
	// Without either, ./sessions.db.
	delete(h.env, envDB)
	h.fails(exitFailure, []string{"sessions.db: no such database file"}, "stats")
}

func TestNotADatabase(t *testing.T) {
	h := newHarness(t)
	if err := os.WriteFile(h.db, []byte(strings.Repeat("hello\n", 2000)), 0o600); err != nil {
		t.Fatal(err)
	}
	h.unchanged(func() { h.fails(exitFailure, []string{"not a bbolt database"}, "stats") })
	h.fails(exitFailure, []string{"key file"}, "--keys", filepath.Join(h.dir, "nokeys"), "stats")
}

// TestHeldFile: the app holds the file (here: this process, through another
// file description) and serves no admin socket. sesctl fails at once,
// naming the holder, saying that the app serves no socket and, once, the
// line that makes it serve one.
func TestHeldFile(t *testing.T) {
	h := seeded(t)
	st := h.openStore()
	defer st.Close()
	h.env[envKeys] = h.keyFile
	holder := fmt.Sprintf("in use by process %d", os.Getpid())
	for _, args := range [][]string{{"list"}, {"stats"}, {"expire", "--user", "alice"}, {"show", "0f8e4d2c"}} {
		start := time.Now()
		r := h.fails(exitFailure, []string{holder, "no admin socket answers at " + h.db + ".sock", "the application serves none",
			`admin.ServeSocket(store, "", nil)`}, args...)
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%v took %v", args, d)
		}
		if n := strings.Count(r.stderr, "admin.ServeSocket"); n != 1 || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%v: the hint should be said once, on one line:\n%s", args, r.stderr)
		}
	}
	h.fails(exitFailure, []string{holder, "compact works only on a file no process holds", "sesctl backup"}, "compact", filepath.Join(h.dir, "c.db"))
}

// TestHeldReadOnly: another sesctl reads the file (a shared lock); a
// change waits about a second for it, then fails naming it.
func TestHeldReadOnly(t *testing.T) {
	h := seeded(t)
	ro, err := boltstore.Open(h.db, &boltstore.Options{ReadOnly: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	h.ok("stats") // readers share the file
	h.env[envKeys] = h.keyFile
	start := time.Now()
	h.fails(exitFailure, []string{fmt.Sprintf("in use by process %d", os.Getpid())}, "purge")
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v", d)
	}
}

// serveSocket holds the harness's file like the app does: it opens the
// store and serves its admin API on path ("" for FILE.sock). Both are
// closed at cleanup, the socket first; stop does the same earlier and
// returns their errors.
func serveSocket(t *testing.T, h *harness, path string) (st *boltstore.Store, stop func() error) {
	t.Helper()
	st = h.openStore()
	adm, err := admin.ServeSocket(st, path, &admin.SocketOptions{Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return h.now }})
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	stop = func() error { return errors.Join(adm.Close(), st.Close()) }
	t.Cleanup(func() { stop() })
	return st, stop
}

// TestSocketFallback: while the app holds the file and serves FILE.sock,
// every command goes through the socket, silently, and needs no keys.
func TestSocketFallback(t *testing.T) {
	h := seeded(t)
	direct := h.ok("list")
	directShow := h.ok("-o", "json", "show", "0f8e4d2c")
	st, _ := serveSocket(t, h, "")

	r := h.run("list")
	if r.code != exitOK || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if r.stdout != direct {
		t.Errorf("through the socket:\n%s\ndirectly:\n%s", r.stdout, direct)
	}
	if got := h.ok("-o", "json", "show", "0f8e4d2c"); got != directShow {
		t.Errorf("show through the socket:\n%s\nwant\n%s", got, directShow)
	}
	if got := h.ok("expire", "--user", "alice"); got != "expired 2 sessions\n" {
		t.Errorf("expire: %q", got)
	}
	// Expired through the socket means gone for the app at once.
	if _, err := st.Load(context.Background(), idAlice1, h.now); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("the app still loads a session expired through its socket: %v", err)
	}
	if got := h.ok("purge"); got != "purged 2 expired sessions\n" {
		t.Errorf("purge: %q", got)
	}
	dst := filepath.Join(h.dir, "hot.db")
	h.ok("backup", dst)
	if n := countLines(h.ok("--db", dst, "-o", "json", "list", "--all")); n != 2 {
		t.Errorf("the hot backup holds %d sessions, want 2", n)
	}
	h.fails(exitFailure, []string{"compact works only on a file no process holds"}, "compact", filepath.Join(h.dir, "c.db"))
}

// TestSocketFlag: --socket forces the socket, wherever the file is.
func TestSocketFlag(t *testing.T) {
	h := seeded(t)
	sock := filepath.Join(h.dir, "admin.sock")
	serveSocket(t, h, sock)
	h.env[envDB] = filepath.Join(h.dir, "elsewhere.db")
	if n := countLines(h.ok("--socket", sock, "-o", "json", "list")); n != 4 {
		t.Errorf("%d sessions through --socket", n)
	}
	r := h.fails(exitFailure, []string{"no admin server answers at " + filepath.Join(h.dir, "none.sock"), "is the app running"},
		"--socket", filepath.Join(h.dir, "none.sock"), "stats")
	if strings.Count(r.stderr, "running") != 1 || strings.Contains(r.stderr, "admin: ") {
		t.Errorf("the hint twice, or a package prefix:\n%s", r.stderr)
	}
}

func TestReport(t *testing.T) {
	var b strings.Builder
	if code := report(&b, nil, context.Canceled); code != exitFailure || b.String() != "sesctl: interrupted\n" {
		t.Errorf("canceled: %d %q", code, b.String())
	}
	b.Reset()
	if code := report(&b, nil, errors.New("two\nlines")); code != exitFailure || b.String() != "sesctl: two lines\n" {
		t.Errorf("multi-line: %d %q", code, b.String())
	}
}

// wrongKeyFile writes a valid key file of another key into h's directory.
func wrongKeyFile(t *testing.T, h *harness) string {
	t.Helper()
	path := filepath.Join(h.dir, "other.keys")
	if err := os.WriteFile(path, []byte(session.EncodeKey(bytes.Repeat([]byte{1}, 32))+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestWrongKeys: with another database's key file every record fails its
// seal. Each command that read records says so in one sesctl line (no
// library log line) and exits 1: its result left them out. purge, which
// removes them all the same, says so and succeeds; stats, which reads no
// record, succeeds; check reports the seals itself.
func TestWrongKeys(t *testing.T) {
	h := seeded(t)
	h.env[envKeys] = wrongKeyFile(t, h)
	got := h.transcript(
		[]string{"list", "--all"},
		[]string{"-o", "json", "list", "--user", "alice"},
		[]string{"show", "0f8e4d2c"},
		[]string{"export"},
		[]string{"stats"},
		[]string{"expire", "--all", "--yes"},
		[]string{"purge"},
	)
	h.golden("wrong_keys.golden", got)
	if strings.Contains(got, "level=") || strings.Contains(got, "boltstore") {
		t.Errorf("a library's log line reached stderr:\n%s", got)
	}
	r := h.fails(exitFailure, []string{"check found 4 problems"}, "check") // the 4 live records left
	if strings.Contains(r.stderr, "failed the seal check") {
		t.Errorf("check said it twice:\n%s", r.stderr)
	}
	// Only the expired ones were purged: with the right keys every live
	// session is there.
	h.env[envKeys] = h.keyFile
	if n := countLines(h.ok("-o", "json", "list", "--all")); n != 4 {
		t.Errorf("%d sessions after the wrong keys, want the 4 live ones", n)
	}
}

// TestKeysSameRuleBothModes: a --keys file that cannot be read fails the
// command (exit 1) whether sesctl opens the file or goes through the app's
// socket, where the keys are not needed.
func TestKeysSameRuleBothModes(t *testing.T) {
	h := seeded(t)
	h.env[envKeys] = filepath.Join(h.dir, "missing.keys")
	for _, args := range [][]string{{"stats"}, {"list"}, {"expire", "--user", "alice"}} {
		h.fails(exitFailure, []string{"missing.keys: no such file or directory"}, args...)
	}
	sock := h.db + ".sock"
	serveSocket(t, h, sock)
	for _, args := range [][]string{{"stats"}, {"--socket", sock, "stats"}, {"expire", "--user", "alice"}} {
		h.fails(exitFailure, []string{"missing.keys: no such file or directory"}, args...)
	}
	delete(h.env, envKeys)
	h.ok("--socket", sock, "stats")
}
