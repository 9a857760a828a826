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
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/internal/demoproc"
)

// Python is the interpreter that sees Debian's python3-* packages.
const Python = "/usr/bin/python3"

// StartTimeout bounds how long the Flask app takes to listen, and a
// Python or redis-cli run. It is generous: tests run with -race on small
// shared machines.
const StartTimeout = 60 * time.Second

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

	proc *demoproc.Process
}

// listeningLine is what the app prints once it accepts connections.
var listeningLine = regexp.MustCompile(`^listening on http://(\S+)$`)

// StartApp starts examples/flask/app.py with Python (after RequirePython
// for flask, redis and itsdangerous) on a free port and waits until it
// listens, as a demoproc process: it is stopped when the test ends, and
// if the test failed its log is shown.
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
	p, started := demoproc.LaunchWith(t, demoproc.Options{
		Listening: listeningLine,
		Env: []string{
			"FLASK_SECRET_FILE=" + o.SecretFile,
			"REDIS_URL=" + o.RedisURL,
			fmt.Sprintf("SESSION_LIFETIME=%d", int(o.Lifetime.Seconds())),
			"HOST=127.0.0.1", "PORT=0",
			"PYTHONDONTWRITEBYTECODE=1", // leave no __pycache__ in the source tree
		},
		NoAddrFlag:   true,
		StartTimeout: StartTimeout,
	}, Python, script)
	if !started {
		t.Fatalf("the Flask app exited before listening (%v):\n%s", p.Cmd.ProcessState, p.Log)
	}
	return &App{URL: p.Base, proc: p}
}

// Log returns what the app wrote so far (werkzeug's request log and any
// traceback).
func (a *App) Log() string { return a.proc.Log.String() }
