package flasktest

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/sesbolt/sesbolt/internal/redistest"
)

// Redis is a private redis-server for one test, on a Unix socket: an
// internal/redistest server, with what the Flask tests use of it.
type Redis struct {
	// Socket is the server's Unix socket.
	Socket string
	// URL is the socket as a redis-py and go-redis URL (unix://...).
	URL string
}

// StartRedis starts a private redis-server (redistest.Start: persistence
// off, a temporary directory, stopped when the test ends). Without
// redis-server and redis-cli the test fails in CI and is skipped elsewhere.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	s := redistest.Start(t)
	return &Redis{Socket: s.Addr, URL: "unix://" + s.Addr}
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
