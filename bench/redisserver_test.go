package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// The Redis contenders share one redis-server per test process, started on
// first use and stopped by TestMain. It listens on a Unix socket in a
// temporary directory and on a free TCP port of 127.0.0.1, so both
// transports are measured against the same server in the same run. It runs
// with persistence off (no RDB, no AOF): what is measured is the session
// libraries and the round trips, the same for every contender, not Redis's
// disk. (The main module has the same starter, internal/redistest, which
// this module cannot import.)

// Bounds on the server process; generous, for a small shared machine.
const (
	redisStartTimeout = 30 * time.Second
	redisStopTimeout  = 10 * time.Second
)

// redisInstall is the hint given when redis-server is missing.
const redisInstall = "apt-get install redis-server"

// redisAddr is one way to reach the server.
type redisAddr struct {
	name    string // "unix" or "tcp", in benchmark names
	network string // for net.Dial: "unix" or "tcp"
	addr    string // socket path or 127.0.0.1:port
}

// redisServer is a running redis-server.
type redisServer struct {
	unix, tcp redisAddr
	dir       string
	cmd       *exec.Cmd
	done      chan struct{} // closed when the process has exited
	stopOnce  sync.Once
	admin     *redis.Client // for flushing and INFO, over the Unix socket
}

// addrs returns the transports in benchmark order.
func (s *redisServer) addrs() []redisAddr { return []redisAddr{s.unix, s.tcp} }

// sharedRedis is the process's server; see requireRedis.
var sharedRedis struct {
	mu  sync.Mutex
	srv *redisServer
	err error
}

// requireRedis returns the process's server, starting it on first use. It
// skips tb when redis-server is not installed, except in CI (CI=true),
// where the Redis benchmarks must run and tb fails instead; it fails tb
// when the server does not start.
func requireRedis(tb testing.TB) *redisServer {
	tb.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("redis-server is required in CI (CI=true): %s", redisInstall)
		}
		tb.Skipf("redis-server not found; install it to measure the Redis stores: %s", redisInstall)
	}
	sharedRedis.mu.Lock()
	defer sharedRedis.mu.Unlock()
	if sharedRedis.srv == nil && sharedRedis.err == nil {
		sharedRedis.srv, sharedRedis.err = startRedis()
	}
	if sharedRedis.err != nil {
		tb.Fatal(sharedRedis.err)
	}
	return sharedRedis.srv
}

// stopSharedRedis stops the process's server if it was started (TestMain).
func stopSharedRedis() error {
	sharedRedis.mu.Lock()
	defer sharedRedis.mu.Unlock()
	if sharedRedis.srv == nil {
		return nil
	}
	return sharedRedis.srv.stop()
}

// startRedis starts a server on a Unix socket and a free TCP port and waits
// until it answers on both. Another process may take the port between the
// probe and the start; the server then exits and another port is tried.
func startRedis() (*redisServer, error) {
	var errs []error
	for range 5 {
		s, err := launchRedis()
		if err == nil {
			return s, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

func launchRedis() (*redisServer, error) {
	// A short directory: a Unix socket path has at most 107 bytes.
	dir, err := os.MkdirTemp("", "sbr")
	if err != nil {
		return nil, fmt.Errorf("bench: redis-server directory: %w", err)
	}
	port, err := freeTCPPort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	sock := filepath.Join(dir, "redis.sock")
	cmd := exec.Command("redis-server",
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--unixsocket", sock,
		"--unixsocketperm", "700",
		"--dir", dir,
		"--logfile", filepath.Join(dir, "redis.log"),
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
	)
	cmd.Dir = dir
	setDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("bench: starting redis-server: %w", err)
	}
	s := &redisServer{
		unix: redisAddr{"unix", "unix", sock},
		tcp:  redisAddr{"tcp", "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))},
		dir:  dir,
		cmd:  cmd,
		done: make(chan struct{}),
	}
	go func() {
		cmd.Wait()
		close(s.done)
	}()
	if err := s.waitReady(); err != nil {
		log := s.logTail()
		s.stop()
		return nil, fmt.Errorf("%w\nredis-server log:\n%s", err, log)
	}
	s.admin = redis.NewClient(s.options(s.unix))
	return s, nil
}

// freeTCPPort returns a port of 127.0.0.1 that was free a moment ago.
func freeTCPPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("bench: finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// options returns go-redis options for a, as redisstore requires them
// (context deadlines honoured), otherwise go-redis's defaults.
func (s *redisServer) options(a redisAddr) *redis.Options {
	return &redis.Options{Network: a.network, Addr: a.addr, ContextTimeoutEnabled: true}
}

// waitReady polls both transports with PING until they answer, the server
// exits, or redisStartTimeout passes.
func (s *redisServer) waitReady() error {
	deadline := time.Now().Add(redisStartTimeout)
	for _, a := range s.addrs() {
		c := redis.NewClient(s.options(a))
		for {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			err := c.Ping(ctx).Err()
			cancel()
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				c.Close()
				return fmt.Errorf("bench: redis-server not answering on %s %s after %v: %w", a.network, a.addr, redisStartTimeout, err)
			}
			t := time.NewTimer(20 * time.Millisecond)
			select {
			case <-s.done:
				t.Stop()
				c.Close()
				return fmt.Errorf("bench: redis-server exited before it was ready: %v", s.cmd.ProcessState)
			case <-t.C:
			}
		}
		c.Close()
	}
	return nil
}

// stop ends the server (SIGTERM, then SIGKILL after redisStopTimeout),
// waits for it and removes its directory. It is idempotent.
func (s *redisServer) stop() error {
	var err error
	s.stopOnce.Do(func() {
		if s.admin != nil {
			s.admin.Close()
		}
		terminate(s.cmd.Process)
		t := time.NewTimer(redisStopTimeout)
		defer t.Stop()
		select {
		case <-s.done:
		case <-t.C:
			s.cmd.Process.Kill()
			<-s.done
			err = fmt.Errorf("bench: redis-server ignored SIGTERM for %v; killed\nredis-server log:\n%s", redisStopTimeout, s.logTail())
		}
		os.RemoveAll(s.dir)
	})
	return err
}

// logTail returns the end of the server's log, for failure messages.
func (s *redisServer) logTail() string {
	b, err := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(b)
}

// flush empties the server, so that each contender starts from the same
// state and the keys of earlier benchmarks do not pile up.
func (s *redisServer) flush(tb testing.TB) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), redisStartTimeout)
	defer cancel()
	if err := s.admin.FlushAll(ctx).Err(); err != nil {
		tb.Fatalf("bench: FLUSHALL: %v", err)
	}
}

// redisCounts are the server's cumulative counters that tell what a
// request cost it.
type redisCounts struct {
	commands int64         // commands run, scripts' included, other than INFO and connection setup
	reads    int64         // read events: one per round trip of a client
	cpu      time.Duration // CPU time the server used, user and system
}

// counts reads the server's counters (INFO stats, cpu and commandstats).
// The INFO call itself is one read and one command, not counted.
func (s *redisServer) counts(tb testing.TB) redisCounts {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), redisStartTimeout)
	defer cancel()
	info, err := s.admin.Info(ctx, "stats", "cpu", "commandstats").Result()
	if err != nil {
		tb.Fatalf("bench: INFO: %v", err)
	}
	var c redisCounts
	for line := range strings.Lines(info) {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "total_reads_processed:"); ok {
			c.reads, _ = strconv.ParseInt(v, 10, 64)
			continue
		}
		if v, ok := strings.CutPrefix(line, "used_cpu_sys:"); ok {
			c.cpu += seconds(v)
			continue
		}
		if v, ok := strings.CutPrefix(line, "used_cpu_user:"); ok {
			c.cpu += seconds(v)
			continue
		}
		// cmdstat_get:calls=12,usec=...
		name, rest, ok := strings.Cut(line, ":calls=")
		if !ok {
			continue
		}
		name = strings.TrimPrefix(name, "cmdstat_")
		if name == "info" || name == "hello" || name == "ping" || strings.HasPrefix(name, "client|") {
			continue
		}
		calls, _, _ := strings.Cut(rest, ",")
		n, _ := strconv.ParseInt(calls, 10, 64)
		c.commands += n
	}
	return c
}

// seconds parses INFO's seconds with a fraction ("1.234567").
func seconds(v string) time.Duration {
	f, _ := strconv.ParseFloat(v, 64)
	return time.Duration(f * float64(time.Second))
}
