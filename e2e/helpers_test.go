//go:build linux

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/internal/demoproc"
	"github.com/sesbolt/sesbolt/internal/testclient"
)

// ctlTimeout bounds one sesctl run (then SIGTERM and, after
// demoproc.KillDelay, SIGKILL). It is generous: the tests run with -race on
// small shared machines.
const ctlTimeout = 30 * time.Second

// bins are the binaries under test (with -race when the tests run with
// it), built once per test binary; TestMain removes them.
var bins = &demoproc.Binaries{
	Pkgs: []string{"github.com/sesbolt/sesbolt/cmd/sesdemo", "github.com/sesbolt/sesbolt/cmd/sesctl"},
	Race: raceEnabled,
}

func TestMain(m *testing.M) {
	code := m.Run()
	bins.Remove()
	os.Exit(code)
}

// build builds sesdemo and sesctl once; with -short it skips the test.
func build(t *testing.T) {
	t.Helper()
	bins.Build(t)
}

// ---- sesdemo ----

// demo is a running sesdemo with its database (demo.db) and key file
// (demo.keys) in dir.
type demo struct {
	*demoproc.Process
	t     *testing.T
	dir   string
	extra []string // flags besides -addr, -db and -keys
	db    string
	keys  string
}

// startDemo starts sesdemo on a free port with its files in dir and waits
// until it listens; extra are more flags. See demoproc.Launch for what
// happens at cleanup.
func startDemo(t *testing.T, dir string, extra ...string) *demo {
	t.Helper()
	d := &demo{t: t, dir: dir, extra: extra, db: filepath.Join(dir, "demo.db"), keys: filepath.Join(dir, "demo.keys")}
	d.Process = demoproc.Start(t, bins.Path(t, "sesdemo"), append([]string{"-db", d.db, "-keys", d.keys}, extra...)...)
	return d
}

// restart stops d cleanly and starts sesdemo again on the same files.
func (d *demo) restart() *demo {
	d.t.Helper()
	d.Stop()
	return startDemo(d.t, d.dir, d.extra...)
}

// ---- HTTP clients ----

// browser is one client of the demo (testclient.Browser) with the demo's
// requests as methods that fail the test. Base may be changed (after a
// restart on another port): the jar's cookies do not depend on the port.
type browser struct {
	*testclient.Browser
	t *testing.T
}

// newBrowser returns a browser of d that opens a new connection for each
// request, so a restarted demo never meets a connection of the old one.
func newBrowser(t *testing.T, d *demo, userAgent string) *browser {
	t.Helper()
	b := &browser{Browser: testclient.NewBrowser(t, d.Base, userAgent), t: t}
	b.Client.Transport = &http.Transport{DisableKeepAlives: true}
	return b
}

// send sends a request and returns the status and body. hdr holds header
// name/value pairs. It may be called from any goroutine.
func (b *browser) send(method, path string, body io.Reader, hdr ...string) (int, []byte, error) {
	resp, data, err := b.Send(method, path, body, hdr...)
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, data, nil
}

// do is send for the test's goroutine: an error fails the test.
func (b *browser) do(method, path string, body io.Reader, hdr ...string) (int, []byte) {
	b.t.Helper()
	code, data, err := b.send(method, path, body, hdr...)
	if err != nil {
		b.t.Fatal(err)
	}
	return code, data
}

// want sends a request and requires status code.
func (b *browser) want(code int, method, path string, body io.Reader, hdr ...string) []byte {
	b.t.Helper()
	got, data := b.do(method, path, body, hdr...)
	if got != code {
		b.t.Fatalf("%s %s: status %d, want %d; body %q", method, path, got, code, data)
	}
	return data
}

// login posts the login form.
func (b *browser) login(user string) {
	b.t.Helper()
	form := url.Values{"user": {user}}.Encode()
	b.want(http.StatusSeeOther, "POST", "/login", strings.NewReader(form), "Content-Type", "application/x-www-form-urlencoded")
}

// put sets key to the JSON value body.
func (b *browser) put(key, body string) {
	b.t.Helper()
	b.want(http.StatusNoContent, "PUT", "/api/session/"+key, strings.NewReader(body), "Content-Type", "application/json")
}

// apiSession is the body of GET /api/session.
type apiSession struct {
	ID       string                     `json:"id"`
	User     string                     `json:"user"`
	Data     map[string]json.RawMessage `json:"data"`
	Created  time.Time                  `json:"created"`
	LastSeen time.Time                  `json:"last_seen"`
	Expires  time.Time                  `json:"expires"`
}

// session returns GET /api/session: the session the app sees for this
// browser's cookie.
func (b *browser) session() apiSession {
	b.t.Helper()
	var s apiSession
	if err := json.Unmarshal(b.want(http.StatusOK, "GET", "/api/session", nil), &s); err != nil {
		b.t.Fatalf("GET /api/session: %v", err)
	}
	return s
}

// ---- sesctl ----

// ctlRun is one finished sesctl run.
type ctlRun struct {
	args           []string
	code           int
	stdout, stderr string
	took           time.Duration
}

func (r ctlRun) String() string {
	return fmt.Sprintf("sesctl %s: exit %d after %v\nstdout:\n%s\nstderr:\n%s",
		strings.Join(r.args, " "), r.code, r.took.Round(time.Millisecond), r.stdout, r.stderr)
}

// sesctl runs sesctl with args (stdin empty, not a terminal; $SESCTL_DB
// and $SESCTL_KEYS unset) and returns what it did. A run that takes longer
// than ctlTimeout gets SIGTERM, then SIGKILL, and fails the test: sesctl
// must never hang.
func sesctl(t *testing.T, args ...string) ctlRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ctlTimeout)
	defer cancel()
	cmd := ctlCommand(ctx, t, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := ctlRun{args: args, stdout: stdout.String(), stderr: stderr.String(), took: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("sesctl did not finish within %v:\n%s", ctlTimeout, r)
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running sesctl %s: %v", strings.Join(args, " "), err)
	}
	if strings.Contains(r.stderr, "WARNING: DATA RACE") {
		t.Errorf("sesctl reported a data race:\n%s", r)
	}
	return r
}

// ctlCommand returns the sesctl command with args, ended by SIGTERM (then
// SIGKILL) when ctx is done and by SIGKILL when the test binary dies.
func ctlCommand(ctx context.Context, t *testing.T, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bins.Path(t, "sesctl"), args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = demoproc.KillDelay
	cmd.Env = demoproc.Env()
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// ctlOK runs sesctl, requires exit 0 with nothing on stderr, and returns
// its stdout.
func ctlOK(t *testing.T, args ...string) string {
	t.Helper()
	r := sesctl(t, args...)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("want exit 0 and an empty stderr:\n%s", r)
	}
	return r.stdout
}

// ctlFail runs sesctl and requires exit code (1 or 2), nothing on stdout,
// and an error on stderr starting with "sesctl: " that contains want.
func ctlFail(t *testing.T, code int, want string, args ...string) ctlRun {
	t.Helper()
	r := sesctl(t, args...)
	if r.code != code || r.stdout != "" || !strings.HasPrefix(r.stderr, "sesctl: ") || !strings.Contains(r.stderr, want) {
		t.Fatalf("want exit %d, no stdout, and an error containing %q on stderr:\n%s", code, want, r)
	}
	return r
}

// listed is one session as sesctl prints it in JSON (list, and show with
// data).
type listed struct {
	ID          string                     `json:"id"`
	User        string                     `json:"user"`
	Created     time.Time                  `json:"created"`
	LastSeen    time.Time                  `json:"last_seen"`
	Expires     time.Time                  `json:"expires"`
	IdleExpires time.Time                  `json:"idle_expires"`
	Deadline    time.Time                  `json:"deadline"`
	Expired     bool                       `json:"expired"`
	Persistent  bool                       `json:"persistent"`
	IP          string                     `json:"ip"`
	UserAgent   string                     `json:"user_agent"`
	LastIP      string                     `json:"last_ip"`
	LastUA      string                     `json:"last_user_agent"`
	Size        int                        `json:"size"`
	Version     uint64                     `json:"version"`
	Data        map[string]json.RawMessage `json:"data"`
}

// stats is sesctl's JSON stats.
type stats struct {
	Sessions     int64 `json:"sessions"`
	Live         int64 `json:"live"`
	Expired      int64 `json:"expired"`
	Users        int64 `json:"users"`
	SizeBytes    int64 `json:"size_bytes"`
	SealFailures int64 `json:"seal_failures"`
}

// check is sesctl's JSON check report.
type check struct {
	OK            bool     `json:"ok"`
	Records       int      `json:"records"`
	SealsVerified bool     `json:"seals_verified"`
	Problems      []string `json:"problems"`
}

// listJSON runs `sesctl -o json list` with args (global flags and list
// flags) and returns the sessions by id.
func listJSON(t *testing.T, args ...string) map[string]listed {
	t.Helper()
	out := ctlOK(t, append([]string{"-o", "json", "list"}, args...)...)
	m := map[string]listed{}
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		var s listed
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			t.Fatalf("list: line %q: %v", line, err)
		}
		if _, dup := m[s.ID]; dup {
			t.Fatalf("list printed %s twice:\n%s", s.ID, out)
		}
		m[s.ID] = s
	}
	return m
}

// ctlJSON runs sesctl with args (which include -o json), requires success
// and decodes its one JSON object into a T.
func ctlJSON[T any](t *testing.T, args ...string) T {
	t.Helper()
	out := ctlOK(t, args...)
	var v T
	dec := json.NewDecoder(strings.NewReader(out))
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("sesctl %s: %v in %q", strings.Join(args, " "), err, out)
	}
	if dec.More() {
		t.Fatalf("sesctl %s printed more than one JSON value: %q", strings.Join(args, " "), out)
	}
	return v
}

// wantIDs requires that got holds exactly the sessions ids with the users
// of users (same length as ids).
func wantIDs(t *testing.T, what string, got map[string]listed, ids []string, users []string) {
	t.Helper()
	want := map[string]string{}
	for i, id := range ids {
		want[id] = users[i]
	}
	gotUsers := map[string]string{}
	for id, s := range got {
		gotUsers[id] = s.User
	}
	if !maps.Equal(gotUsers, want) {
		t.Errorf("%s: sessions (id: user) %v, want %v", what, gotUsers, want)
	}
}

// compact returns the JSON value raw without insignificant spaces (show
// indents the values of its data).
func compact(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}
