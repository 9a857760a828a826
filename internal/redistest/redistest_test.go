package redistest

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// ping fails the test unless c answers PING within StartTimeout.
func ping(t *testing.T, c redis.UniversalClient) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING: %v", err)
	}
}

// TestStartStop: a started server answers; Stop ends the process, removes
// its directory and may be called again.
func TestStartStop(t *testing.T) {
	s := Start(t)
	ping(t, s.Client(t))
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("Stop returned before the process exited")
	}
	if _, err := os.Stat(s.dir); !os.IsNotExist(err) {
		t.Errorf("the server's directory %s is still there: %v", s.dir, err)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

// TestStartFailureSaysWhy: a server that refuses its configuration fails
// the start with what redis-server said, which it writes to its standard
// error before it opens its log file.
func TestStartFailureSaysWhy(t *testing.T) {
	Require(t)
	s, err := startUnix("--no-such-directive", "yes")
	if err == nil {
		s.Stop()
		t.Fatal("redis-server started with an unknown directive")
	}
	if !strings.Contains(err.Error(), "no-such-directive") {
		t.Errorf("the error does not quote redis-server's complaint:\n%v", err)
	}
}
