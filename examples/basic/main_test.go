package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/internal/demoproc"
	"github.com/sesbolt/sesbolt/internal/testclient"
	"github.com/sesbolt/sesbolt/pkg/admin"
)

// stopTimeout bounds the program's exit after SIGTERM; generous, for
// small shared machines.
const stopTimeout = demoproc.StopTimeout

// appHost is the host name the tests browse to: not localhost, so a
// cookie jar treats it as a browser treats any real site over plain HTTP.
const appHost = "myapp.test"

var bins = &demoproc.Binaries{Pkgs: []string{"github.com/sesbolt/sesbolt/examples/basic"}}

func TestMain(m *testing.M) {
	code := m.Run()
	bins.Remove()
	os.Exit(code)
}

// app is the example program running as a process in a directory of its
// own, where it keeps app.keys, sessions.db and sessions.db.sock.
type app struct {
	t    *testing.T
	proc *demoproc.Process
	dir  string
	addr string // the address it listens on, 127.0.0.1:PORT
}

var listeningLine = regexp.MustCompile(`INFO listening url=http://(\S+)`)

// startApp runs the program in dir with -addr 127.0.0.1:0 and args
// (demoproc.LaunchWith), and waits for its "listening" line. At cleanup a
// process still running is stopped, and its stderr is logged if the test
// failed.
func startApp(t *testing.T, dir string, args ...string) *app {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("stops the program with SIGTERM, which Windows does not deliver")
	}
	p, started := demoproc.LaunchWith(t, demoproc.Options{Dir: dir, Listening: listeningLine}, bins.Path(t, "basic"), args...)
	if !started {
		t.Fatalf("exited before listening (%v):\n%s", p.Cmd.ProcessState, p.Log)
	}
	return &app{t: t, proc: p, dir: dir, addr: strings.TrimPrefix(p.Base, "http://")}
}

// stop sends SIGTERM and requires a clean exit: status 0 within
// stopTimeout, nothing logged at error level, the admin socket removed.
func (a *app) stop() {
	a.t.Helper()
	if err := a.proc.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		a.t.Fatal(err)
	}
	select {
	case <-a.proc.Done:
	case <-time.After(stopTimeout):
		a.t.Fatalf("still running %v after SIGTERM", stopTimeout)
	}
	if code := a.proc.Cmd.ProcessState.ExitCode(); code != 0 {
		a.t.Fatalf("exit status %d after SIGTERM, want 0", code)
	}
	if strings.Contains(a.proc.Log.String(), "ERROR") {
		a.t.Errorf("logged an error:\n%s", a.proc.Log)
	}
	if _, err := os.Lstat(filepath.Join(a.dir, "sessions.db.sock")); !errors.Is(err, os.ErrNotExist) {
		a.t.Errorf("sessions.db.sock after SIGTERM: %v, want it removed", err)
	}
}

// wantSessions requires user to have n sessions, asked through the admin
// socket as sesctl would. Only on Linux and macOS, where the socket checks
// its peers' credentials (elsewhere it refuses them all).
func (a *app) wantSessions(user string, n int) {
	a.t.Helper()
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" {
		return
	}
	c := admin.DialSocket(filepath.Join(a.dir, "sessions.db.sock"))
	defer c.Close()
	page, err := c.List(a.t.Context(), admin.ListQuery{User: user})
	if err != nil || len(page.Records) != n {
		a.t.Fatalf("%s's sessions through the admin socket: %d, %v; want %d", user, len(page.Records), err, n)
	}
}

// browser returns a browser of the app (see point).
func (a *app) browser() *testclient.Browser {
	b := testclient.NewBrowser(a.t, "", "")
	a.point(b)
	return b
}

// point makes b a browser of http://myapp.test:PORT/ whose connections all
// go to the app: the Host header and the cookie jar see myapp.test, as they
// would for a site on the network reached over plain HTTP. The jar's
// cookies do not depend on the port, so b stays logged in across restarts.
func (a *app) point(b *testclient.Browser) {
	_, port, err := net.SplitHostPort(a.addr)
	if err != nil {
		a.t.Fatal(err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, a.addr)
	}
	a.t.Cleanup(tr.CloseIdleConnections)
	b.Base = "http://" + appHost + ":" + port
	b.Client.Transport = tr
}

// send sends a request through b, a form body when form is not empty, and
// requires a response with status want.
func send(t *testing.T, b *testclient.Browser, want int, method, path, form string, hdr ...string) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != "" {
		body = strings.NewReader(form)
		hdr = append(hdr, "Content-Type", "application/x-www-form-urlencoded")
	}
	resp, data, err := b.Send(method, path, body, hdr...)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d; body %q", method, path, resp.StatusCode, want, data)
	}
	return resp, string(data)
}

// TestPlainHTTPDevelopment runs the README's program as documented for
// development (-insecure) and uses it as a browser would over plain HTTP
// at a host that is not localhost: the login sticks, survives a restart,
// is visible through the admin socket while the app runs, cross-site form
// posts are refused, and SIGTERM stops it cleanly.
func TestPlainHTTPDevelopment(t *testing.T) {
	dir := demoproc.ShortTempDir(t)
	a := startApp(t, dir, "-insecure")
	b := a.browser()

	resp, _ := send(t, b, http.StatusSeeOther, "POST", "/login", "user=alice")
	if loc := resp.Header.Get("Location"); loc != "/" {
		t.Fatalf("login redirects to %q, want /", loc)
	}
	if c := b.Cookie("session"); c == nil {
		t.Fatalf("the jar kept no cookie named session for http://%s; Set-Cookie %q", appHost, resp.Header.Values("Set-Cookie"))
	}
	if _, body := send(t, b, http.StatusOK, "GET", "/", ""); body != "hello alice\nwelcome back\n" {
		t.Fatalf("GET / after login: %q, want hello alice and the flash", body)
	}
	if _, body := send(t, b, http.StatusOK, "GET", "/", ""); body != "hello alice\n" {
		t.Fatalf("GET / again: %q, want hello alice without the flash (popped)", body)
	}

	a.wantSessions("alice", 1)

	// A cross-site form post (a browser says so in Sec-Fetch-Site) is
	// refused before it reaches the session.
	other := a.browser()
	if _, body := send(t, other, http.StatusForbidden, "POST", "/login", "user=mallory", "Sec-Fetch-Site", "cross-site"); strings.Contains(body, "mallory") {
		t.Fatalf("refused cross-site post echoes its form: %q", body)
	}
	if c := other.Cookie("session"); c != nil {
		t.Fatalf("a refused cross-site post set a session cookie")
	}
	a.stop()
	if fi, err := os.Stat(filepath.Join(dir, "app.keys")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("app.keys: %v, %v; want mode 0600", fi, err)
	}

	// The same keys and file after a restart: still logged in.
	a = startApp(t, dir, "-insecure")
	a.point(b)
	if _, body := send(t, b, http.StatusOK, "GET", "/", ""); body != "hello alice\n" {
		t.Fatalf("GET / after a restart: %q, want hello alice", body)
	}
	a.stop()
}

// TestSecureByDefault: without -insecure the cookie is Secure and named
// __Host-session, so over plain HTTP at a host other than localhost the
// jar, like a browser, drops it: the login does not stick, and leaves an
// unused session in the store. This is what -insecure, and the README's
// words about it, are for.
func TestSecureByDefault(t *testing.T) {
	a := startApp(t, demoproc.ShortTempDir(t))
	b := a.browser()
	resp, _ := send(t, b, http.StatusSeeOther, "POST", "/login", "user=alice")
	var set *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "__Host-session" {
			set = c
		}
	}
	if set == nil || !set.Secure || !set.HttpOnly {
		t.Fatalf("login's Set-Cookie %q, want a Secure, HttpOnly __Host-session", resp.Header.Values("Set-Cookie"))
	}
	if _, body := send(t, b, http.StatusOK, "GET", "/", ""); body != "not logged in\n" {
		t.Fatalf("GET / after a login over plain HTTP without -insecure: %q, want not logged in", body)
	}
	if u, _ := url.Parse(b.Base); len(b.Client.Jar.Cookies(u)) != 0 {
		t.Fatalf("the jar would send %v over plain HTTP", b.Client.Jar.Cookies(u))
	}
	a.wantSessions("alice", 1) // stored, but no browser will ever send its cookie
	a.stop()
}
