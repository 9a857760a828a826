package bench

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sesbolt/sesbolt/internal/redistest"
)

// The Redis contenders run against real redis-server processes started by
// the main module's internal/redistest (importable here: this module's
// path lies under the main module's): persistence off, in a temporary
// directory, gone when the benchmark or the process ends. Without
// redis-server and redis-cli the Redis cases skip, except in CI (CI=true),
// where they fail. What is measured is the session libraries and their
// round trips, the same for every contender, not Redis's disk.

// redisServer is a server with a client for the benchmarks' own calls
// (emptying it, INFO).
type redisServer struct {
	*redistest.Server
	admin *redis.Client
}

// redisAddr is one way to reach a server.
type redisAddr struct {
	name string         // "unix" or "tcp", in benchmark names
	opts *redis.Options // redistest's client options for it
}

// startRedis starts a server listening on a Unix socket and on a free TCP
// port of 127.0.0.1, stopped at tb's cleanup, so that both transports are
// measured against the same server.
func startRedis(tb testing.TB) *redisServer {
	tb.Helper()
	s := redistest.StartWithTCP(tb)
	return &redisServer{Server: s, admin: s.Client(tb)}
}

// sharedRedis returns the process's server on a Unix socket (stopped by
// TestMain).
func sharedRedis(tb testing.TB) *redisServer {
	tb.Helper()
	s := redistest.Shared(tb)
	return &redisServer{Server: s, admin: s.Client(tb)}
}

// unix returns the server's Unix socket.
func (s *redisServer) unix() redisAddr { return redisAddr{"unix", s.Options()} }

// addrs returns the server's transports in benchmark order.
func (s *redisServer) addrs() []redisAddr {
	return []redisAddr{s.unix(), {"tcp", s.TCPOptions()}}
}

// flush empties the server, so that each contender starts from the same
// state and the keys of earlier benchmarks do not pile up.
func (s *redisServer) flush(tb testing.TB) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), redistest.StartTimeout)
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
	ctx, cancel := context.WithTimeout(context.Background(), redistest.StartTimeout)
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
