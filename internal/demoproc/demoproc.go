// Package demoproc runs the sesdemo binary as a child process for tests:
// on a free port of 127.0.0.1, with its output collected, and ended at the
// test's cleanup. The tests of cmd/sesdemo, e2e/ and examples/basic share
// it, and so does internal/flasktest for the Flask app of examples/flask
// (both through LaunchWith, for their own listening lines).
package demoproc

import (
	"bytes"
	"cmp"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Bounds on the process. They are generous: the tests run with -race on
// small shared machines.
const (
	StartTimeout = 20 * time.Second // until the "listening" line, or exit
	StopTimeout  = 20 * time.Second // after SIGTERM
	KillDelay    = 5 * time.Second  // from SIGTERM to SIGKILL at cleanup
)

// Process is a running (or exited) sesdemo.
type Process struct {
	Cmd    *exec.Cmd
	Base   string        // http://127.0.0.1:PORT, once it listens
	Socket string        // the admin socket its "listening" line names; "" when none
	Log    *Log          // its stdout and stderr
	Done   chan struct{} // closed when the process has exited

	t testing.TB
}

// Env is the environment of processes under test: the test's, without
// $SESCTL_DB and $SESCTL_KEYS (every sesctl run says what it uses), and
// with the race detector's one-second sleep at exit turned off (binaries
// built with -race sleep so by default).
func Env() []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "SESCTL_") })
	if gorace := os.Getenv("GORACE"); !strings.Contains(gorace, "atexit_sleep_ms") {
		env = append(env, "GORACE="+strings.TrimSpace(gorace+" atexit_sleep_ms=0"))
	}
	return env
}

// Launch starts bin with "-addr 127.0.0.1:0" and args, and waits until it
// either listens (started is true) or exits first (false; its log says
// why). The test fails when bin cannot be started or does neither within
// StartTimeout. At cleanup a process still running gets SIGTERM and, after
// KillDelay, SIGKILL; its log is shown if the test failed, and a data
// race it reported fails the test.
func Launch(t testing.TB, bin string, args ...string) (p *Process, started bool) {
	t.Helper()
	return LaunchWith(t, Options{}, bin, args...)
}

// Options adapt LaunchWith to a program other than sesdemo. The zero value
// is sesdemo's.
type Options struct {
	// Dir is the process's working directory; "" is the test's.
	Dir string
	// Listening matches the line the program writes (to stdout or stderr)
	// once it listens: its first group is the bound host:port, an optional
	// second group the admin socket. nil is sesdemo's
	// "msg=listening addr=..." line.
	Listening *regexp.Regexp
	// Env holds more KEY=value pairs for the process's environment, after
	// those of Env.
	Env []string
	// NoAddrFlag leaves out the "-addr 127.0.0.1:0" otherwise put before
	// args, for a program told where to listen another way (in Env).
	NoAddrFlag bool
	// StartTimeout replaces StartTimeout when not zero.
	StartTimeout time.Duration
}

// LaunchWith is Launch with the options o.
func LaunchWith(t testing.TB, o Options, bin string, args ...string) (p *Process, started bool) {
	t.Helper()
	pattern := o.Listening
	if pattern == nil {
		pattern = listeningLine
	}
	if !o.NoAddrFlag {
		args = append([]string{"-addr", "127.0.0.1:0"}, args...)
	}
	startTimeout := cmp.Or(o.StartTimeout, StartTimeout)
	p = &Process{
		Cmd:  exec.Command(bin, args...),
		Log:  &Log{pattern: pattern, listening: make(chan []string, 1)},
		Done: make(chan struct{}),
		t:    t,
	}
	p.Cmd.Dir = o.Dir
	p.Cmd.Env = append(Env(), o.Env...)
	p.Cmd.Stdout = p.Log // the same writer: one pipe, the lines in order
	p.Cmd.Stderr = p.Log
	setDeathSignal(p.Cmd)
	if err := p.Cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	go func() {
		p.Cmd.Wait()
		close(p.Done)
	}()
	t.Cleanup(func() {
		p.Terminate(KillDelay)
		logs := p.Log.String()
		if t.Failed() {
			t.Logf("%s (pid %d, %v) output:\n%s", filepath.Base(bin), p.Cmd.Process.Pid, p.Cmd.ProcessState, logs)
		}
		if strings.Contains(logs, "WARNING: DATA RACE") {
			t.Errorf("%s reported a data race:\n%s", filepath.Base(bin), logs)
		}
	})
	select {
	case m := <-p.Log.listening:
		p.Base = "http://" + m[1]
		if len(m) > 2 {
			p.Socket = m[2]
		}
		return p, true
	case <-p.Done:
		return p, false
	case <-time.After(startTimeout):
		t.Fatalf("%s neither listened nor exited within %v:\n%s", filepath.Base(bin), startTimeout, p.Log)
		return p, false
	}
}

// Start is Launch for a process that must start: the test fails if it
// exits first.
func Start(t testing.TB, bin string, args ...string) *Process {
	t.Helper()
	p, started := Launch(t, bin, args...)
	if !started {
		t.Fatalf("sesdemo exited before listening (%v):\n%s", p.Cmd.ProcessState, p.Log)
	}
	return p
}

// maxSocketPath is the longest Unix socket path Linux accepts: sun_path is
// 108 bytes with the terminating NUL.
const maxSocketPath = 107

// ShortTempDir returns a new temporary directory, removed at the test's
// cleanup, whose path leaves room for the admin socket of a database in it
// (a Unix socket path holds at most 107 bytes, less than some t.TempDir
// paths leave). It skips the test when even $TMPDIR is too deep.
func ShortTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sesdemo")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if sock := filepath.Join(dir, "demo.db.sock"); len(sock) > maxSocketPath {
		t.Skipf("temporary directory too deep for a unix socket path (%d bytes): set TMPDIR", len(sock))
	}
	return dir
}

// Running reports whether the process has not exited.
func (p *Process) Running() bool {
	select {
	case <-p.Done:
		return false
	default:
		return true
	}
}

// Terminate ends the process if it still runs: SIGTERM, then SIGKILL after
// timeout. It returns when the process has exited.
func (p *Process) Terminate(timeout time.Duration) {
	if !p.Running() {
		return
	}
	p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.Done:
	case <-time.After(timeout):
		p.Cmd.Process.Kill()
		<-p.Done
	}
}

// Kill ends the process with SIGKILL, as a crash would: the store is not
// closed and the admin socket file stays behind.
func (p *Process) Kill() {
	p.t.Helper()
	if err := p.Cmd.Process.Kill(); err != nil {
		p.t.Fatalf("SIGKILL: %v", err)
	}
	<-p.Done
}

// Stop sends SIGTERM and requires a clean stop within StopTimeout: exit
// status 0, the log line that says the database was closed, and the admin
// socket (if any) removed.
func (p *Process) Stop() {
	p.t.Helper()
	p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.Done:
	case <-time.After(StopTimeout):
		p.Terminate(KillDelay)
		p.t.Fatalf("sesdemo did not stop within %v of SIGTERM", StopTimeout)
	}
	if code := p.Cmd.ProcessState.ExitCode(); code != 0 {
		p.t.Fatalf("sesdemo exited with status %d after SIGTERM, want 0:\n%s", code, p.Log)
	}
	if !strings.Contains(p.Log.String(), "stopped; database closed") {
		p.t.Errorf("no clean-stop log line:\n%s", p.Log)
	}
	if p.Socket != "" {
		if _, err := os.Lstat(p.Socket); !errors.Is(err, os.ErrNotExist) {
			p.t.Errorf("admin socket %s after a clean stop: %v, want it removed", p.Socket, err)
		}
	}
}

// listeningLine matches sesdemo's startup log line: the bound address and,
// when it serves one, the admin socket.
var listeningLine = regexp.MustCompile(`msg=listening addr=(\S+)(?: .*\badmin_socket=(\S+))?`)

// Log collects a process's output and reports its "listening" line once.
type Log struct {
	pattern   *regexp.Regexp // the listening line; nil never matches
	mu        sync.Mutex
	buf       bytes.Buffer
	scanned   int
	found     bool
	listening chan []string // [line, addr] or [line, addr, socket]
}

// Write appends p to the log (io.Writer) and, until it is found, looks
// for the listening line in what has arrived; it never fails.
func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	for !l.found && l.pattern != nil {
		rest := l.buf.Bytes()[l.scanned:]
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break
		}
		if m := l.pattern.FindStringSubmatch(string(rest[:i])); m != nil {
			l.found = true
			l.listening <- m
		}
		l.scanned += i + 1
	}
	return len(p), nil
}

// String returns everything written so far.
func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
