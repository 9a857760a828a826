package flasktest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/internal/demoproc"
	"github.com/sesbolt/sesbolt/internal/testclient"
)

// Redis is a private redis-server for one test, on a Unix socket.
//
// It is the minimum the Flask interop tests need until they move to
// internal/redistest (the Redis store's test servers), which should then
// replace it.
type Redis struct {
	// Socket is the server's Unix socket.
	Socket string
	// URL is the socket as a redis-py and go-redis URL (unix://...).
	URL string
}

// StartRedis starts redis-server with persistence off in a temporary
// directory and waits until it answers PING. It is stopped when the test
// ends. Without redis-server and redis-cli the test fails in CI and is
// skipped elsewhere (Debian: apt-get install redis-server).
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	for _, p := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(p); err != nil {
			msg := p + " not found: install Debian's package with: apt-get install redis-server"
			if os.Getenv("CI") == "true" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
	dir := demoproc.ShortTempDir(t)
	r := &Redis{Socket: filepath.Join(dir, "redis.sock")}
	r.URL = "unix://" + r.Socket
	cmd := exec.Command("redis-server", "--port", "0", "--unixsocket", r.Socket, "--unixsocketperm", "700",
		"--save", "", "--appendonly", "no", "--dir", dir)
	setDeathSignal(cmd)
	log := &testclient.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting redis-server: %v", err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() { terminate(cmd, done) })
	deadline := time.Now().Add(StartTimeout)
	for {
		out, err := exec.Command("redis-cli", "-s", r.Socket, "PING").Output()
		if err == nil && strings.TrimSpace(string(out)) == "PONG" {
			return r
		}
		select {
		case <-done:
			t.Fatalf("redis-server exited:\n%s", log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server did not answer PING within %s:\n%s", StartTimeout, log.String())
		}
		time.Sleep(20 * time.Millisecond) // poll interval, not a wait for an event
	}
}

// Do runs one command with redis-cli and returns its reply without the
// final newline (nil replies are empty). It fails the test on an error.
func (r *Redis) Do(t testing.TB, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "redis-cli", append([]string{"-s", r.Socket}, args...)...).CombinedOutput()
	if err != nil || strings.HasPrefix(string(out), "ERR") {
		t.Fatalf("redis-cli %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSuffix(string(out), "\n")
}
