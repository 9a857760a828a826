// Package flasktest runs Debian's Python 3 for tests that check sesbolt
// against the real itsdangerous and Flask: the interpreter with a module
// check, and the Flask app of examples/flask as a child process.
//
// Debian's python3-flask, python3-itsdangerous and python3-redis install
// for /usr/bin/python3 only; a python3 earlier on $PATH may be another
// interpreter that cannot import them, so Python is always that path.
// Without the packages a test is skipped with a message naming them,
// except in CI (the environment variable CI is "true"), where it fails:
// CI must run these tests, never skip them. scripts/test.sh installs them.
package flasktest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/internal/testclient"
)

// Python is the interpreter that sees Debian's python3-* packages.
const Python = "/usr/bin/python3"

// Timeouts for child processes. They are generous: tests run with -race
// on small shared machines.
const (
	// StartTimeout bounds how long the Flask app takes to listen.
	StartTimeout = 60 * time.Second
	// StopTimeout bounds how long it takes to exit after SIGTERM before it
	// gets SIGKILL.
	StopTimeout = 10 * time.Second
)

// debianPackage names the Debian package of each Python module tests use.
var debianPackage = map[string]string{
	"itsdangerous": "python3-itsdangerous",
	"flask":        "python3-flask",
	"redis":        "python3-redis",
}

// RequirePython returns Python after checking that it imports every module
// (e.g. "itsdangerous", "flask"). When it cannot, the test fails in CI and
// is skipped elsewhere, with the apt-get command that installs what is
// missing.
func RequirePython(t testing.TB, modules ...string) string {
	t.Helper()
	var missing, pkgs []string
	for _, m := range modules {
		if err := exec.Command(Python, "-c", "import "+m).Run(); err != nil {
			pkg := debianPackage[m]
			if pkg == "" {
				pkg = "python3-" + m
			}
			missing, pkgs = append(missing, m), append(pkgs, pkg)
		}
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("%s cannot import %s: install Debian's packages with: apt-get install %s",
			Python, strings.Join(missing, ", "), strings.Join(pkgs, " "))
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return Python
}

// RunPython runs Python with args (a script and its arguments) and input
// on its stdin, and returns its stdout. It writes no bytecode next to the
// sources. It fails the test when Python fails, showing its stderr.
func RunPython(t testing.TB, input []byte, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, Python, args...)
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	cmd.Stdin = bytes.NewReader(input)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", Python, strings.Join(args, " "), err, stderr.Bytes())
	}
	return out
}

// ModuleRoot returns the module's root directory, found from this
// package's own source file (internal/flasktest is two levels below it).
func ModuleRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("flasktest: cannot locate the module's sources")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// AppOptions configure StartApp.
type AppOptions struct {
	// RedisURL is the app's REDIS_URL (redis://... or unix:///path).
	// Required.
	RedisURL string
	// SecretFile is the app's FLASK_SECRET_FILE. Required.
	SecretFile string
	// Lifetime is permanent_session_lifetime, whole seconds. Default 30
	// minutes.
	Lifetime time.Duration
}

// App is a running examples/flask app.
type App struct {
	// URL is where it listens, e.g. "http://127.0.0.1:38411".
	URL string

	cmd    *exec.Cmd
	stderr *testclient.SyncBuffer
	done   chan struct{}
}

// StartApp starts examples/flask/app.py with Python (after RequirePython
// for flask, redis and itsdangerous) on a free port and waits until it
// listens. The app is stopped when the test ends; if the test failed, its
// log is shown.
func StartApp(t testing.TB, o AppOptions) *App {
	t.Helper()
	RequirePython(t, "flask", "redis", "itsdangerous")
	if o.RedisURL == "" || o.SecretFile == "" {
		t.Fatal("flasktest: AppOptions.RedisURL and SecretFile are required")
	}
	if o.Lifetime == 0 {
		o.Lifetime = 30 * time.Minute
	}
	script := filepath.Join(ModuleRoot(t), "examples", "flask", "app.py")
	cmd := exec.Command(Python, script)
	cmd.Env = append(os.Environ(),
		"FLASK_SECRET_FILE="+o.SecretFile,
		"REDIS_URL="+o.RedisURL,
		fmt.Sprintf("SESSION_LIFETIME=%d", int(o.Lifetime.Seconds())),
		"HOST=127.0.0.1", "PORT=0",
		"PYTHONDONTWRITEBYTECODE=1", // leave no __pycache__ in the source tree
	)
	setDeathSignal(cmd)
	a := &App{cmd: cmd, stderr: &testclient.SyncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = a.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the Flask app: %v", err)
	}
	go func() {
		cmd.Wait()
		close(a.done)
	}()
	t.Cleanup(func() {
		a.stop()
		if t.Failed() {
			t.Logf("Flask app log:\n%s", a.stderr.String())
		}
	})

	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if url, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				listening <- url
				break
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case a.URL = <-listening:
		return a
	case <-a.done:
		t.Fatalf("the Flask app exited before listening:\n%s", a.stderr.String())
	case <-time.After(StartTimeout):
		t.Fatalf("the Flask app did not listen within %s:\n%s", StartTimeout, a.stderr.String())
	}
	return nil
}

// Log returns what the app wrote to stderr so far (werkzeug's request log
// and any traceback).
func (a *App) Log() string { return a.stderr.String() }

// stop ends the app (see terminate).
func (a *App) stop() { terminate(a.cmd, a.done) }

// terminate ends a child process whose Wait closes done: SIGTERM, then
// SIGKILL after StopTimeout. It returns when the process has exited.
func terminate(cmd *exec.Cmd, done <-chan struct{}) {
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(StopTimeout):
		cmd.Process.Kill()
		<-done
	}
}
