package bench

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	scsredis "github.com/alexedwards/scs/redisstore"
	scs "github.com/alexedwards/scs/v2"
	redigo "github.com/gomodule/redigo/redis"
	"github.com/redis/go-redis/v9"

	"github.com/sesbolt/sesbolt/pkg/redisstore"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// A redisContender is a session library with its Redis store, opened on
// one transport of a server.
type redisContender struct {
	name string
	// open empties the server and makes a fresh instance on a, with n
	// existing sessions holding the typical data.
	open func(tb testing.TB, srv *redisServer, a redisAddr, n int) *instance
}

var redisContenders = []redisContender{
	{"sesbolt-redis", openSesboltRedis},
	{"scs-redis", func(tb testing.TB, srv *redisServer, a redisAddr, n int) *instance {
		return openSCSRedis(tb, srv, a, n, scs.New()) // defaults: 24 h lifetime, no idle timeout
	}},
	{"scs-redis-idle", func(tb testing.TB, srv *redisServer, a redisAddr, n int) *instance {
		// sesbolt's expiry: a 30-minute idle timeout within a 12-hour
		// lifetime. With an idle timeout scs rewrites the session on every
		// request, reads included, to move its expiry.
		sm := scs.New()
		sm.IdleTimeout, sm.Lifetime = session.DefaultIdleTimeout, session.DefaultLifetime
		in := openSCSRedis(tb, srv, a, n, sm)
		in.writesOnRead = true
		return in
	}},
}

// redisPoolSize is the number of connections each contender may hold:
// go-redis's default (10 per CPU), given to redigo's pool as well, so
// neither has more connections to the server than the other.
func redisPoolSize() int { return 10 * runtime.GOMAXPROCS(0) }

// ---- sesbolt ----

// sesboltRedis returns a sesbolt store and manager on a, as an application
// makes them (redisstore's defaults; go-redis's, but for the pool size
// named explicitly and ContextTimeoutEnabled, which redisstore requires).
// close closes the store and its client.
func sesboltRedis(tb testing.TB, a redisAddr, cfg session.Config) (store *redisstore.Store, mgr *session.Manager, close func()) {
	tb.Helper()
	opt := *a.opts
	opt.MaxRetries = 0 // go-redis's default (redistest's clients do not retry)
	opt.PoolSize = redisPoolSize()
	client := redis.NewClient(&opt)
	keys := benchKeys(tb)
	store, err := redisstore.New(client, &redisstore.Options{Keys: keys})
	if err != nil {
		client.Close()
		tb.Fatal(err)
	}
	cfg.Store, cfg.Keys = store, keys
	mgr, err = session.New(cfg)
	if err != nil {
		store.Close()
		client.Close()
		tb.Fatal(err)
	}
	return store, mgr, func() { store.Close(); client.Close() }
}

func openSesboltRedis(tb testing.TB, srv *redisServer, a redisAddr, n int) *instance {
	srv.flush(tb)
	store, mgr, close := sesboltRedis(tb, a, session.Config{})
	return &instance{
		handler: sesboltHandlers(mgr),
		cookies: seedSesbolt(tb, store, mgr, benchKeys(tb), n),
		close:   close,
	}
}

// ---- scs ----

// scsRedisPool returns a redigo pool of redisPoolSize connections to a.
// scs's README sets only MaxIdle (10) and no bound on active connections,
// which at 64 goroutines opens and closes connections all the time; a
// pool of the same size as go-redis's compares the libraries instead.
func scsRedisPool(a redisAddr) *redigo.Pool {
	return &redigo.Pool{
		MaxIdle:   redisPoolSize(),
		MaxActive: redisPoolSize(),
		Wait:      true,
		Dial:      func() (redigo.Conn, error) { return redigo.Dial(a.opts.Network, a.opts.Addr) },
	}
}

// scsRedisPrefix is the key prefix of scs's redisstore.New.
const scsRedisPrefix = "scs:session:"

// openSCSRedis empties the server and opens sm on a with n sessions.
func openSCSRedis(tb testing.TB, srv *redisServer, a redisAddr, n int, sm *scs.SessionManager) *instance {
	srv.flush(tb)
	pool := scsRedisPool(a)
	sm.Store = scsredis.New(pool)
	// The sessions are written as scs's Commit writes them (the value is
	// scs's codec encoding with the deadline, the key expires at the
	// deadline or the idle timeout, whichever comes first), pipelined.
	now := time.Now()
	deadline := now.Add(sm.Lifetime)
	expiry := deadline
	if idle := now.Add(sm.IdleTimeout); sm.IdleTimeout > 0 && idle.Before(deadline) {
		expiry = idle
	}
	tokens := make([]string, n)
	conn := pool.Get()
	for i := range tokens {
		tokens[i] = scsToken()
		conn.Send("SET", scsRedisPrefix+tokens[i], scsValue(tb, i, deadline)[8:])
		conn.Send("PEXPIREAT", scsRedisPrefix+tokens[i], expiry.UnixMilli())
	}
	err := conn.Flush()
	for range 2 * n {
		if err != nil {
			break
		}
		_, err = conn.Receive()
	}
	conn.Close()
	if err != nil {
		pool.Close()
		tb.Fatalf("seeding scs-redis: %v", err)
	}
	return &instance{
		handler: scsHandlers(sm),
		cookies: scsCookies(sm, tokens),
		close:   func() { pool.Close() },
	}
}

// TestRedisContenders checks each Redis contender on each transport as
// TestContenders checks the others.
func TestRedisContenders(t *testing.T) {
	srv := startRedis(t)
	for _, a := range srv.addrs() {
		for _, c := range redisContenders {
			t.Run(fmt.Sprintf("net=%s/store=%s", a.name, c.name), func(t *testing.T) {
				in := c.open(t, srv, a, 3)
				defer in.close()
				checkContender(t, in)
			})
		}
	}
}

// BenchmarkRedis runs the request cases through sesbolt with its Redis
// store and scs with its own, on one redis-server, over a Unix socket and
// over TCP loopback, at 1 and 64 goroutines. For one transport, case and
// number of goroutines the two contenders run one after the other, so that
// a change in the machine's load lands on both alike. Besides the time per
// request it reports what each request cost the server: cmds/op, the Redis
// commands it ran (a script's included), rtt/op, the server's read events
// (one per round trip), and the CPU time per request of the server
// (redis-cpu-µs/op) and of this process (app-cpu-µs/op; the benchmark
// harness and the HTTP handling included).
func BenchmarkRedis(b *testing.B) {
	srv := startRedis(b)
	for _, a := range srv.addrs() {
		for _, k := range []caseKind{caseRead, caseSet, caseNew} {
			for _, g := range []int{1, 64} {
				for _, c := range redisContenders {
					b.Run(fmt.Sprintf("net=%s/case=%s/store=%s/g=%d", a.name, k, c.name, g), func(b *testing.B) {
						in := c.open(b, srv, a, httpSessions)
						defer in.close()
						rq := newRequester("/", in.cookies)
						if k == caseNew {
							rq = newRequester("/", nil)
						}
						before, cpu := srv.counts(b), processCPU()
						runRequests(b, g, in.handler(k), rq, c.name == "sesbolt-redis")
						cpu = processCPU() - cpu
						after := srv.counts(b)
						perOp := func(v float64) float64 { return v / float64(b.N) }
						b.ReportMetric(perOp(float64(after.commands-before.commands)), "cmds/op")
						b.ReportMetric(perOp(float64(after.reads-before.reads-1)), "rtt/op")
						b.ReportMetric(perOp(float64(after.cpu-before.cpu)/1e3), "redis-cpu-µs/op")
						if cpu >= 0 {
							b.ReportMetric(perOp(float64(cpu)/1e3), "app-cpu-µs/op")
						}
					})
				}
			}
		}
	}
}
