//go:build linux

package admin_test

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/internal/testclient"
	"github.com/sesbolt/sesbolt/pkg/admin"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// serveSocket serves the handler on store at a new socket in dir and
// returns the server, the socket path and the server's log. The server is
// closed at cleanup.
func serveSocket(t *testing.T, dir string, store session.Store) (*admin.SocketServer, string, *testclient.SyncBuffer) {
	t.Helper()
	path := filepath.Join(dir, "a.sock")
	l, err := admin.ListenSocket(path)
	if err != nil {
		t.Fatal(err)
	}
	logger, logs := newLogger()
	srv := admin.Serve(l, admin.NewHandler(admin.NewLocal(store, fixedClock), &admin.HandlerOptions{Logger: logger}), logger)
	t.Cleanup(func() { _ = srv.Close() })
	return srv, path, logs
}

// statsOK asserts that a client of path gets the test store's stats.
func statsOK(t *testing.T, path string) {
	t.Helper()
	c := admin.DialSocket(path)
	defer c.Close()
	st, err := c.Stats(ctx)
	if err != nil || st.Sessions != 5 {
		t.Fatalf("Stats through %s = %+v, %v", path, st, err)
	}
}

func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		t.Fatalf("%s is a %v, not a socket", path, fi.Mode())
	}
	return fi.Mode().Perm()
}

// TestSocketRoundTrip runs every operation through a real admin socket.
func TestSocketRoundTrip(t *testing.T) {
	store := newFullStore(t)
	_, path, _ := serveSocket(t, shortTempDir(t), store)
	c := admin.DialSocket(path)
	defer c.Close()
	if page, err := c.List(ctx, admin.ListQuery{Filter: session.All}); err != nil || len(page.Records) != 5 {
		t.Fatalf("List = %d records, %v", len(page.Records), err)
	}
	if _, err := c.Get(ctx, idAbsent); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Get(absent): %v", err)
	}
	var buf bytes.Buffer
	if n, err := c.Backup(ctx, &buf); err != nil || !bytes.Equal(buf.Bytes(), store.backup) {
		t.Fatalf("Backup = %d, %v", n, err)
	}
	if n, err := c.ExpireUser(ctx, "alice"); n != 3 || err != nil {
		t.Fatalf("ExpireUser = %d, %v", n, err)
	}
	// alice's two live sessions come back; the others exist or expired.
	if n, err := c.Import(ctx, seed()); n != 2 || err != nil {
		t.Fatalf("Import = %d, %v", n, err)
	}
	if rep, err := c.Check(ctx); err != nil || !rep.OK() {
		t.Fatalf("Check = %+v, %v", rep, err)
	}
}

// TestServeSocket: the one line an application adds serves the store
// beside its file (FILE.sock), mode 0600, and Close removes it.
func TestServeSocket(t *testing.T) {
	dir := shortTempDir(t)
	store := newFileStore(t, filepath.Join(dir, "app.db"))
	logger, _ := newLogger()
	srv, err := admin.ServeSocket(store, "", &admin.SocketOptions{Logger: logger, Now: fixedClock})
	if err != nil {
		t.Fatal(err)
	}
	path := store.path + admin.SocketSuffix
	if srv.Addr().String() != path {
		t.Errorf("Addr = %s, want %s", srv.Addr(), path)
	}
	if m := mode(t, path); m != 0o600 {
		t.Errorf("mode %03o, want 600", m)
	}
	statsOK(t, path)
	c := admin.DialSocket(path)
	defer c.Close()
	if info, err := c.Info(ctx); err != nil || info.Path != store.path || info.File == nil {
		t.Errorf("Info through the socket = %+v, %v; want %s with its identity", info, err, store.path)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Close left %s: %v", path, err)
	}
}

// TestServeSocketPaths: a store without a file needs a path; socket
// problems fail ServeSocket with the same errors as ListenSocket and leave
// what is in the way alone; a nil store is an error, not a panic.
func TestServeSocketPaths(t *testing.T) {
	dir := shortTempDir(t)
	mem := newMemstore(t)
	if _, err := admin.ServeSocket(mem, "", nil); !errors.Is(err, admin.ErrSocketPath) {
		t.Errorf("ServeSocket(memstore, \"\"): %v, want ErrSocketPath", err)
	}
	path := filepath.Join(dir, "mem.sock")
	srv, err := admin.ServeSocket(mem, path, &admin.SocketOptions{Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.ServeSocket(mem, path, nil); !errors.Is(err, admin.ErrSocketInUse) {
		t.Errorf("a second ServeSocket on %s: %v, want ErrSocketInUse", path, err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}

	store := newFileStore(t, filepath.Join(dir, "app.db"))
	if err := os.WriteFile(store.path+admin.SocketSuffix, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.ServeSocket(store, "", nil); !errors.Is(err, admin.ErrNotSocket) {
		t.Errorf("ServeSocket with a file in the way: %v, want ErrNotSocket", err)
	}
	if b, _ := os.ReadFile(store.path + admin.SocketSuffix); string(b) != "precious" {
		t.Error("the file in the way was changed")
	}
	if _, err := admin.ServeSocket(nil, path, nil); err == nil {
		t.Error("ServeSocket(nil) succeeded")
	}
	var none *admin.SocketServer
	if err := none.Close(); err != nil {
		t.Errorf("Close of a nil *SocketServer: %v", err)
	}
}

// TestListenSocketMode checks the socket is 0600 whatever the umask.
func TestListenSocketMode(t *testing.T) {
	dir := shortTempDir(t)
	for _, umask := range []int{0, 0o022, 0o277} {
		old := syscall.Umask(umask)
		path := filepath.Join(dir, "m.sock")
		l, err := admin.ListenSocket(path)
		syscall.Umask(old)
		if err != nil {
			t.Fatalf("umask %03o: %v", umask, err)
		}
		if m := mode(t, path); m != 0o600 {
			t.Errorf("umask %03o: mode %03o, want 600", umask, m)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("closing the listener left %s: %v", path, err)
		}
	}
}

func TestListenSocketStale(t *testing.T) {
	dir := shortTempDir(t)
	path := filepath.Join(dir, "a.sock")
	// A crashed process leaves its socket file behind.
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	_ = l.Close()
	if err := os.Chmod(path, 0o777); err != nil {
		t.Fatal(err)
	}
	serveSocket(t, dir, newFullStore(t))
	if m := mode(t, path); m != 0o600 {
		t.Errorf("replaced socket has mode %03o", m)
	}
	statsOK(t, path)
}

func TestListenSocketInUse(t *testing.T) {
	dir := shortTempDir(t)
	_, path, _ := serveSocket(t, dir, newFullStore(t))
	l, err := admin.ListenSocket(path)
	if !errors.Is(err, admin.ErrSocketInUse) {
		if l != nil {
			_ = l.Close()
		}
		t.Fatalf("second ListenSocket: %v, want ErrSocketInUse", err)
	}
	statsOK(t, path) // the first server is unharmed
}

func TestListenSocketNotSocket(t *testing.T) {
	dir := shortTempDir(t)
	live := filepath.Join(dir, "live.sock")
	_, livePath, _ := serveSocket(t, dir, newFullStore(t))
	if err := os.Rename(livePath, live); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		create func(path string) error
	}{
		{"regular file", func(p string) error { return os.WriteFile(p, []byte("precious"), 0o644) }},
		{"directory", func(p string) error { return os.Mkdir(p, 0o755) }},
		{"symlink to a socket", func(p string) error { return os.Symlink(live, p) }},
		{"dangling symlink", func(p string) error { return os.Symlink(filepath.Join(dir, "nowhere"), p) }},
		{"named pipe", func(p string) error { return syscall.Mkfifo(p, 0o600) }},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, string(rune('a'+i))+".x")
			if err := tt.create(path); err != nil {
				t.Fatal(err)
			}
			before, _ := os.Lstat(path)
			l, err := admin.ListenSocket(path)
			if !errors.Is(err, admin.ErrNotSocket) {
				if l != nil {
					_ = l.Close()
				}
				t.Fatalf("ListenSocket: %v, want ErrNotSocket", err)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the path", err)
			}
			after, err := os.Lstat(path)
			if err != nil || !os.SameFile(before, after) || before.Mode() != after.Mode() {
				t.Fatalf("%s was changed: %v", path, err)
			}
			if before.Mode().IsRegular() {
				if b, _ := os.ReadFile(path); string(b) != "precious" {
					t.Errorf("content changed: %q", b)
				}
			}
		})
	}
}

func TestListenSocketPath(t *testing.T) {
	dir := shortTempDir(t)
	fit := filepath.Join(dir, strings.Repeat("s", 107-len(dir)-1))
	if len(fit) != 107 {
		t.Fatalf("test path is %d bytes", len(fit))
	}
	l, err := admin.ListenSocket(fit)
	if err != nil {
		t.Fatalf("a 107-byte path: %v", err)
	}
	_ = l.Close()

	tests := []struct {
		name, path, want string
	}{
		{"108 bytes", fit + "s", "107 bytes"},
		{"very long", filepath.Join(dir, strings.Repeat("x", 300)), "107 bytes"},
		{"empty", "", "empty"},
		{"abstract", "@sesbolt", "abstract"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := admin.ListenSocket(tt.path)
			if !errors.Is(err, admin.ErrSocketPath) || !strings.Contains(err.Error(), tt.want) {
				if l != nil {
					_ = l.Close()
				}
				t.Fatalf("ListenSocket: %v, want ErrSocketPath mentioning %q", err, tt.want)
			}
		})
	}

	t.Run("no directory", func(t *testing.T) {
		_, err := admin.ListenSocket(filepath.Join(dir, "missing", "a.sock"))
		if err == nil || !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("ListenSocket: %v, want a not-exist error", err)
		}
	})
}

func TestSocketServerClose(t *testing.T) {
	dir := shortTempDir(t)
	srv, path, _ := serveSocket(t, dir, newFullStore(t))
	statsOK(t, path)
	if srv.Addr().String() != path {
		t.Errorf("Addr = %s", srv.Addr())
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Close left %s: %v", path, err)
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, err := admin.DialSocket(path).Stats(ctx)
	if !errors.Is(err, admin.ErrUnavailable) {
		t.Fatalf("Stats after Close: %v, want ErrUnavailable", err)
	}
}

// TestSocketServerCloseKeepsReplacement checks that a server does not
// remove a socket another process put at its path.
func TestSocketServerCloseKeepsReplacement(t *testing.T) {
	dir := shortTempDir(t)
	srv, path, _ := serveSocket(t, dir, newFullStore(t))
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	other, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("Close removed the replacement: %v", err)
	}
}

// TestSocketServerCloseWaits checks that Close lets a request in flight
// finish, and cuts one that outlasts ShutdownTimeout so that the client
// notices.
func TestSocketServerCloseWaits(t *testing.T) {
	dir := shortTempDir(t)
	store := newFullStore(t)
	store.hold = make(chan struct{})
	srv, path, _ := serveSocket(t, dir, store)
	c := admin.DialSocket(path)
	defer c.Close()

	var wg sync.WaitGroup
	var backupErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, backupErr = c.Backup(ctx, io.Discard)
	}()
	<-store.hold // the backup has started and will not end by itself

	start := time.Now()
	if err := srv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if d := time.Since(start); d < admin.ShutdownTimeout || d > 3*admin.ShutdownTimeout {
		t.Errorf("Close took %v", d)
	}
	wg.Wait()
	if !errors.Is(backupErr, admin.ErrTruncated) {
		t.Fatalf("Backup cut by Close: %v, want ErrTruncated", backupErr)
	}
}

// TestServeRefusesTCP checks that a peer whose credentials cannot be read
// is refused.
func TestServeRefusesTCP(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logger, logs := newLogger()
	srv := admin.Serve(l, admin.NewHandler(admin.NewLocal(newMemstore(t), fixedClock), nil), logger)
	defer srv.Close()
	_, err = admin.NewClient("http://"+l.Addr().String(), nil).Stats(ctx)
	var apiErr *admin.Error
	if !errors.Is(err, admin.ErrForbidden) || !errors.As(err, &apiErr) || apiErr.Status != http.StatusForbidden {
		t.Fatalf("Stats over TCP: %v, want ErrForbidden", err)
	}
	if !strings.Contains(logs.String(), "refused peer") {
		t.Errorf("refusal not logged: %s", logs)
	}
	// The refusal is an answer of the API like any other (docs/admin-api.md).
	resp, err := http.Get("http://" + l.Addr().String() + "/v1/stats")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	for k, want := range map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("403 answer: %s %q, want %q", k, got, want)
		}
	}
	if !resp.Close {
		t.Error("the refused peer's connection was left open")
	}
}

// TestSocketRefusesOtherUID runs a client as user nobody against a socket
// served by root: the socket's mode keeps it out, and with the mode opened
// up the peer-credential check still does.
func TestSocketRefusesOtherUID(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a client as another user")
	}
	const nobody = 65534
	dir := shortTempDir(t)
	if err := os.Chmod(dir, 0o755); err != nil { // traversable by nobody
		t.Fatal(err)
	}
	_, path, logs := serveSocket(t, dir, newFullStore(t))

	// A copy of the test binary nobody can execute.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "admin.test")
	if err := copyFile(self, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	runAsNobody := func() string {
		t.Helper()
		cmd := exec.Command(bin)
		cmd.Env = []string{dialEnv + "=" + path, "PATH=/usr/bin:/bin", "GORACE=atexit_sleep_ms=0"}
		cmd.Dir = dir
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("client as nobody: %v: %s", err, out)
		}
		return strings.TrimSpace(string(out))
	}

	// Mode 0600: nobody may not even connect.
	if out := runAsNobody(); !strings.HasPrefix(out, "forbidden:") || !strings.Contains(out, "permission denied") {
		t.Fatalf("client as nobody, socket 0600: %q, want forbidden by the file mode", out)
	}

	// Mode 0666: nobody connects, and the uid check refuses it.
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	out := runAsNobody()
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "forbidden:") || !strings.Contains(out, "uid 65534") {
		t.Fatalf("client as nobody, socket 0666: %q, want forbidden by the uid check", out)
	}
	log := logs.String()
	if !strings.Contains(log, "refused peer") || !strings.Contains(log, "uid=65534") || !strings.Contains(log, "pid=") {
		t.Errorf("refusal not logged with uid and pid:\n%s", log)
	}
	if strings.Contains(log, "route=/v1/stats") {
		t.Errorf("the handler ran for a refused peer:\n%s", log)
	}

	statsOK(t, path) // root is still served
}

func copyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
