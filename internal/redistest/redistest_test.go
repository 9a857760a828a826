package redistest

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

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

// TestPauseResume: a paused server answers nothing; resumed, it answers
// again; paused, it still stops at SIGTERM (Stop sends SIGCONT first) and
// does not wait StopTimeout for SIGKILL.
func TestPauseResume(t *testing.T) {
	s := Start(t)
	c := s.Client(t)
	ping(t, c)
	if err := s.Pause(); err != nil {
		t.Fatal(err)
	}
	// The paused server cannot answer, however long the wait; a short one
	// keeps the test short.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	err := c.Ping(ctx).Err()
	cancel()
	if err == nil {
		t.Fatal("a paused server answered PING")
	}
	if err := s.Resume(); err != nil {
		t.Fatal(err)
	}
	ping(t, c)
	if err := s.Pause(); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("stopping a paused server: %v", err)
	}
}

// fakeTB records how Require ended a test.
type fakeTB struct {
	testing.TB
	skipped, failed string
}

// Skipf and Fatalf end the goroutine, as testing's do; run calls fn in one
// of its own.
func (f *fakeTB) Helper() {}
func (f *fakeTB) Skipf(format string, a ...any) {
	f.skipped = fmt.Sprintf(format, a...)
	runtime.Goexit()
}
func (f *fakeTB) Fatalf(format string, a ...any) {
	f.failed = fmt.Sprintf(format, a...)
	runtime.Goexit()
}
func (f *fakeTB) run(fn func(testing.TB)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
}

// TestRequire: without redis-server a test is skipped, except in CI
// (CI=true), where it fails: CI must run the Redis tests.
func TestRequire(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // no redis-server there
	for _, tc := range []struct {
		ci         string
		skip, fail bool
	}{
		{ci: "", skip: true},
		{ci: "false", skip: true},
		{ci: "true", fail: true},
	} {
		t.Setenv("CI", tc.ci)
		f := &fakeTB{TB: t}
		f.run(Require)
		if (f.skipped != "") != tc.skip || (f.failed != "") != tc.fail {
			t.Errorf("CI=%q: skipped %q, failed %q; want skip %v, fail %v", tc.ci, f.skipped, f.failed, tc.skip, tc.fail)
		}
		if msg := f.skipped + f.failed; !strings.Contains(msg, Install) {
			t.Errorf("CI=%q: %q does not say how to install redis-server", tc.ci, msg)
		}
	}
}

// TestSnapshot: a snapshot covers every key under the prefix (type, value,
// expiry) and nothing else, also when the prefix holds glob characters or
// a backslash.
func TestSnapshot(t *testing.T) {
	s := Start(t)
	c := s.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	for _, prefix := range []string{Prefix(), `t:*?[a]\b:`} {
		t.Run(prefix, func(t *testing.T) {
			if err := c.Set(ctx, prefix+"k", "v", 0).Err(); err != nil {
				t.Fatal(err)
			}
			// Keys a glob of the prefix with an unescaped character would
			// match, or miss.
			for _, k := range []string{"t:xx", "t:*?a:k", "t:*?[a]b:k", "other"} {
				if err := c.Set(ctx, k, "decoy", 0).Err(); err != nil {
					t.Fatal(err)
				}
			}
			before := Snapshot(t, c, prefix)
			if !strings.HasPrefix(before, prefix+"k string ") || strings.Count(before, "\n") != 0 {
				t.Fatalf("snapshot of %s* is %q, want the one key %sk", prefix, before, prefix)
			}
			if err := c.Set(ctx, "t:xx", "changed", 0).Err(); err != nil {
				t.Fatal(err)
			}
			if got := Snapshot(t, c, prefix); got != before {
				t.Errorf("a change outside the prefix changed the snapshot:\n%s\n%s", before, got)
			}
			for name, change := range map[string]func() error{
				"value":   func() error { return c.Set(ctx, prefix+"k", "w", 0).Err() },
				"expiry":  func() error { return c.Expire(ctx, prefix+"k", time.Hour).Err() },
				"new key": func() error { return c.Set(ctx, prefix+"k2", "v", 0).Err() },
			} {
				if err := change(); err != nil {
					t.Fatal(err)
				}
				after := Snapshot(t, c, prefix)
				if after == before {
					t.Errorf("a new %s left the snapshot unchanged: %s", name, after)
				}
				before = after
			}
		})
	}
}

// TestStartWithTCP: one server on both transports.
func TestStartWithTCP(t *testing.T) {
	s := StartWithTCP(t)
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	if err := s.Client(t).Set(ctx, "k", "over the socket", 0).Err(); err != nil {
		t.Fatal(err)
	}
	tcp := redis.NewClient(s.TCPOptions())
	defer tcp.Close()
	if got, err := tcp.Get(ctx, "k").Result(); err != nil || got != "over the socket" {
		t.Fatalf("over TCP: %q, %v", got, err)
	}
	if (&Server{}).TCPOptions() != nil {
		t.Error("TCPOptions of a server without a TCP port is not nil")
	}
}

// TestCluster: three masters that serve every slot; a snapshot reads all
// of them; Stop ends every node.
func TestCluster(t *testing.T) {
	c := StartCluster(t)
	cc := c.Client(t)
	ping(t, cc)
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	prefix := Prefix()
	masters := map[string]bool{}
	for i := range 30 {
		k := fmt.Sprintf("%sk%d", prefix, i)
		if err := cc.Set(ctx, k, i, 0).Err(); err != nil {
			t.Fatal(err)
		}
		slot, err := cc.ClusterKeySlot(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		masters[fmt.Sprint(slot*3/16384)] = true
	}
	if len(masters) < 2 {
		t.Fatalf("30 keys fell in the slots of %d third(s) of the ring; the test needs keys on several masters", len(masters))
	}
	if got := strings.Count(Snapshot(t, cc, prefix), "\n") + 1; got != 30 {
		t.Errorf("the snapshot holds %d keys, want 30", got)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, n := range c.Nodes {
		select {
		case <-n.Done():
		default:
			t.Errorf("node %s still runs after Stop", n.Addr)
		}
	}
}
