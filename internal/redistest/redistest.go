// Package redistest runs real redis-server processes for tests: one
// standalone server and one three-master Cluster shared by a test binary,
// and private servers for tests that stop or pause theirs.
//
// A test binary that uses the shared servers stops them from its TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }
//
// Tests need the redis-server and redis-cli programs (Debian: apt-get
// install redis-server redis-tools). Without them a test is skipped with a
// message saying so, except in CI (the environment variable CI is "true"),
// where it fails: CI must run these tests, never skip them.
//
// Every server runs with persistence off, in a temporary directory removed
// when it stops, and dies with the test binary (a parent-death signal on
// Linux), so no process outlives the tests. Readiness is polled with a
// generous deadline; nothing sleeps a fixed time.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Bounds on the processes. They are generous: tests run with -race on
// small shared machines.
const (
	// StartTimeout bounds how long a server (or the Cluster) takes to
	// answer PING (or report cluster_state:ok).
	StartTimeout = 30 * time.Second
	// StopTimeout bounds how long a server takes to exit after SIGTERM
	// before it gets SIGKILL.
	StopTimeout = 10 * time.Second
)

// Install is the hint given when redis-server is missing.
const Install = "apt-get install redis-server redis-tools"

// Available reports whether redis-server and redis-cli are on $PATH.
func Available() bool {
	for _, p := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(p); err != nil {
			return false
		}
	}
	return true
}

// Require skips the test when redis-server or redis-cli is missing, or
// fails it in CI (CI=true), where these tests must run.
func Require(t testing.TB) {
	t.Helper()
	if Available() {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("redis-server and redis-cli are required in CI (CI=true); install them: %s", Install)
	}
	t.Skipf("redis-server or redis-cli not found; install them to run the Redis tests: %s", Install)
}

// Server is one redis-server process.
type Server struct {
	// Network and Addr are where it listens: "unix" and a socket path, or
	// "tcp" and 127.0.0.1:port.
	Network, Addr string
	// TCPAddr is 127.0.0.1:port when a server on a Unix socket listens on
	// TCP as well (StartWithTCP); "" otherwise.
	TCPAddr string

	dir  string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	stop sync.Once
}

// Start starts a private standalone server on a Unix socket in a new
// temporary directory, waits until it answers, and stops it at the test's
// cleanup. Use it for tests that stop, pause or reconfigure their server;
// others share Shared.
func Start(t testing.TB) *Server {
	t.Helper()
	Require(t)
	s, err := startUnix()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// StartWithTCP is Start, with the server listening on a free TCP port of
// 127.0.0.1 (TCPAddr, TCPOptions) as well as on its Unix socket, for tests
// and benchmarks that compare the two transports on one server.
func StartWithTCP(t testing.TB) *Server {
	t.Helper()
	Require(t)
	var s *Server
	var err error
	// Another process may take the port between the probe and the start;
	// the server then fails to start and another port is tried.
	for range 10 {
		var port int
		if port, err = freePort(); err != nil {
			break
		}
		if s, err = startUnix("--port", strconv.Itoa(port)); err == nil {
			s.TCPAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
	})
	if err := s.waitReadyOn(s.TCPOptions()); err != nil {
		t.Fatal(err)
	}
	return s
}

// startUnix starts a standalone server on a Unix socket; args may give it
// a TCP port (by default it has none).
func startUnix(args ...string) (*Server, error) {
	// A short directory: a Unix socket path has at most 107 bytes, fewer
	// than some test temporary directories.
	dir, err := os.MkdirTemp("", "rds")
	if err != nil {
		return nil, fmt.Errorf("redistest: %w", err)
	}
	sock := filepath.Join(dir, "redis.sock")
	s, err := launch(dir, "unix", sock, append([]string{"--port", "0", "--unixsocket", sock, "--unixsocketperm", "700"}, args...)...)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// launch starts redis-server in dir with the common settings and args and
// waits until it answers PING.
func launch(dir, network, addr string, args ...string) (*Server, error) {
	all := append([]string{
		"--dir", dir,
		"--logfile", filepath.Join(dir, logName),
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--bind", "127.0.0.1",
	}, args...)
	// What redis-server writes before it opens its log file (a directive
	// it does not know, a directory it cannot use) goes to its standard
	// output and error, kept beside the log for failure messages.
	out, err := os.Create(filepath.Join(dir, outName))
	if err != nil {
		return nil, fmt.Errorf("redistest: %w", err)
	}
	cmd := exec.Command("redis-server", all...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	setDeathSignal(cmd)
	err = cmd.Start()
	out.Close() // the process has its own descriptor
	if err != nil {
		return nil, fmt.Errorf("redistest: starting redis-server: %w", err)
	}
	s := &Server{Network: network, Addr: addr, dir: dir, cmd: cmd, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(s.done)
	}()
	if err := s.waitReady(); err != nil {
		log := s.logTail()
		s.Stop()
		return nil, fmt.Errorf("%w\nredis-server log:\n%s", err, log)
	}
	return s, nil
}

// waitReady polls the server with PING until it answers, it exits, or
// StartTimeout passes.
func (s *Server) waitReady() error { return s.waitReadyOn(s.options()) }

// waitReadyOn is waitReady through a client with opts.
func (s *Server) waitReadyOn(opts *redis.Options) error {
	c := redis.NewClient(opts)
	defer c.Close()
	deadline := time.Now().Add(StartTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-s.done:
			return fmt.Errorf("redistest: redis-server exited before it was ready: %v", s.cmd.ProcessState)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redistest: redis-server at %s not ready after %v: %w", s.Addr, StartTimeout, err)
		}
		poll(s.done)
	}
}

// poll waits a short while between readiness probes, or until done closes.
func poll(done <-chan struct{}) {
	t := time.NewTimer(20 * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
	case <-done:
	}
}

// options returns client options for the server: context deadlines
// honoured, no retries (tests see each failure).
func (s *Server) options() *redis.Options {
	return &redis.Options{
		Network:               s.Network,
		Addr:                  s.Addr,
		ContextTimeoutEnabled: true,
		MaxRetries:            -1,
	}
}

// Client returns a new client of the server, closed at the test's cleanup.
// It has ContextTimeoutEnabled set, as redisstore requires.
func (s *Server) Client(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(s.options())
	t.Cleanup(func() { c.Close() })
	return c
}

// Options returns the client options Client uses, for tests that tune
// them (timeouts, pool size).
func (s *Server) Options() *redis.Options { return s.options() }

// URL returns the server's address as redisstore.NewClient (and sesctl
// --redis, sesdemo -redis) take it: unix:///path or redis://host:port.
func (s *Server) URL() string {
	if s.Network == "unix" {
		return "unix://" + s.Addr
	}
	return "redis://" + s.Addr
}

// TCPOptions returns Options for the server's TCP port (see StartWithTCP);
// nil when it has none.
func (s *Server) TCPOptions() *redis.Options {
	if s.TCPAddr == "" {
		return nil
	}
	o := s.options()
	o.Network, o.Addr = "tcp", s.TCPAddr
	return o
}

// Pause stops the server with SIGSTOP: it keeps its connections but
// answers nothing, like a server that hangs. Resume undoes it; a paused
// server is resumed before it is stopped. Both need Unix signals.
func (s *Server) Pause() error { return pause(s.cmd.Process) }

// Resume continues a server stopped by Pause.
func (s *Server) Resume() error { return resume(s.cmd.Process) }

// Stop ends the server (SIGTERM, then SIGKILL after StopTimeout), waits for
// it to exit and removes its directory. It is idempotent.
func (s *Server) Stop() error {
	var err error
	s.stop.Do(func() {
		terminate(s.cmd.Process)
		t := time.NewTimer(StopTimeout)
		defer t.Stop()
		select {
		case <-s.done:
		case <-t.C:
			s.cmd.Process.Kill()
			<-s.done
			err = fmt.Errorf("redistest: redis-server at %s ignored SIGTERM for %v; killed\nredis-server log:\n%s", s.Addr, StopTimeout, s.logTail())
		}
		os.RemoveAll(s.dir)
	})
	return err
}

// Done is closed when the server process has exited.
func (s *Server) Done() <-chan struct{} { return s.done }

// The files in a server's directory that failure messages quote.
const (
	logName = "redis.log" // the server's log file (--logfile)
	outName = "redis.out" // its standard output and error
)

// logTail returns the end of the server's log and whatever it wrote to its
// standard output and error, for failure messages.
func (s *Server) logTail() string {
	tail := func(name string) string {
		b, err := os.ReadFile(filepath.Join(s.dir, name))
		if err != nil {
			return "(" + err.Error() + ")"
		}
		if len(b) > 4096 {
			b = b[len(b)-4096:]
		}
		return string(b)
	}
	msg := tail(logName)
	if out := tail(outName); strings.TrimSpace(out) != "" {
		msg += "\nredis-server standard output and error:\n" + out
	}
	return msg
}

// Cluster is a Redis Cluster of three masters (no replicas) on 127.0.0.1.
type Cluster struct {
	// Nodes are the masters.
	Nodes []*Server
}

// Addrs returns the host:port of every node.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		addrs[i] = n.Addr
	}
	return addrs
}

// URL returns the Cluster's nodes as redisstore.NewClient takes them:
// redis://host1:port1,host2:port2,host3:port3.
func (c *Cluster) URL() string { return "redis://" + strings.Join(c.Addrs(), ",") }

// Client returns a new Cluster client, closed at the test's cleanup. It
// has ContextTimeoutEnabled set, as redisstore requires.
func (c *Cluster) Client(t testing.TB) *redis.ClusterClient {
	t.Helper()
	cc := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:                 c.Addrs(),
		ContextTimeoutEnabled: true,
	})
	t.Cleanup(func() { cc.Close() })
	return cc
}

// Stop stops every node.
func (c *Cluster) Stop() error {
	var errs []error
	for _, n := range c.Nodes {
		errs = append(errs, n.Stop())
	}
	return errors.Join(errs...)
}

// StartCluster starts a private three-master Cluster and stops it at the
// test's cleanup. Most tests share SharedCluster.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	Require(t)
	c, err := startCluster()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Error(err)
		}
	})
	return c
}

// startCluster starts three cluster-enabled servers on free ports, joins
// them with redis-cli --cluster create, and waits until every node reports
// cluster_state:ok.
func startCluster() (*Cluster, error) {
	c := &Cluster{}
	for range 3 {
		n, err := startClusterNode()
		if err != nil {
			c.Stop()
			return nil, err
		}
		c.Nodes = append(c.Nodes, n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput(); err != nil {
		c.Stop()
		return nil, fmt.Errorf("redistest: redis-cli --cluster create: %w\n%s", err, out)
	}
	if err := c.waitOK(); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// startClusterNode starts one cluster-enabled server on a free port whose
// cluster bus port (port+10000) is free too. Another process may take the
// port between the probe and the start; the server then fails to start and
// another port is tried.
func startClusterNode() (*Server, error) {
	var lastErr error
	for range 10 {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		dir, err := os.MkdirTemp("", "rdc")
		if err != nil {
			return nil, fmt.Errorf("redistest: %w", err)
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		s, err := launch(dir, "tcp", addr,
			"--port", strconv.Itoa(port),
			"--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(dir, "nodes.conf"),
			"--cluster-node-timeout", "5000",
		)
		if err == nil {
			return s, nil
		}
		os.RemoveAll(dir)
		lastErr = err
	}
	return nil, lastErr
}

// freePort returns a TCP port of 127.0.0.1 that is free, with its cluster
// bus port (port+10000) free too.
func freePort() (int, error) {
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("redistest: finding a free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if port+10000 > 65535 {
			continue
		}
		bus, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+10000)))
		if err != nil {
			continue
		}
		bus.Close()
		return port, nil
	}
	return 0, errors.New("redistest: no free port pair (port, port+10000) found")
}

// waitOK polls every node until it reports cluster_state:ok and knows all
// three masters, or StartTimeout passes.
func (c *Cluster) waitOK() error {
	deadline := time.Now().Add(StartTimeout)
	for _, n := range c.Nodes {
		cl := redis.NewClient(n.options())
		for {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			info, err := cl.ClusterInfo(ctx).Result()
			cancel()
			if err == nil && strings.Contains(info, "cluster_state:ok") && strings.Contains(info, "cluster_known_nodes:3") {
				break
			}
			if time.Now().After(deadline) {
				cl.Close()
				return fmt.Errorf("redistest: cluster node %s not ok after %v: %v\n%s", n.Addr, StartTimeout, err, info)
			}
			poll(n.done)
		}
		cl.Close()
	}
	return nil
}

// The servers shared by a test binary, started on first use and stopped by
// Main.
var shared struct {
	mu         sync.Mutex
	server     *Server
	serverErr  error
	cluster    *Cluster
	clusterErr error
}

// Shared returns the test binary's standalone server, starting it on first
// use. Main stops it. Tests sharing it keep apart by key prefix (Prefix).
func Shared(t testing.TB) *Server {
	t.Helper()
	Require(t)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.server == nil && shared.serverErr == nil {
		shared.server, shared.serverErr = startUnix()
	}
	if shared.serverErr != nil {
		t.Fatal(shared.serverErr)
	}
	return shared.server
}

// SharedCluster returns the test binary's Cluster, starting it on first
// use. Main stops it.
func SharedCluster(t testing.TB) *Cluster {
	t.Helper()
	Require(t)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.cluster == nil && shared.clusterErr == nil {
		shared.cluster, shared.clusterErr = startCluster()
	}
	if shared.clusterErr != nil {
		t.Fatal(shared.clusterErr)
	}
	return shared.cluster
}

// Main runs the tests and then stops the shared servers; a test binary's
// TestMain returns its result to os.Exit.
func Main(m *testing.M) int {
	code := m.Run()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	var errs []error
	if shared.server != nil {
		errs = append(errs, shared.server.Stop())
	}
	if shared.cluster != nil {
		errs = append(errs, shared.cluster.Stop())
	}
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintln(os.Stderr, err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// Prefix returns a key prefix no other test uses, so tests sharing a
// server keep apart: "t:" + 8 random bytes in hex + ":".
func Prefix() string {
	var b [8]byte
	rand.Read(b[:])
	return "t:" + hex.EncodeToString(b[:]) + ":"
}

// Snapshot returns every key under prefix with its type, its expiry time
// and its value as DUMP serializes it, one key per line in key order, from
// every master when c is a Cluster client: two snapshots are equal exactly
// when nothing under the prefix changed in between (tests of commands
// that must only read).
func Snapshot(t testing.TB, c redis.UniversalClient, prefix string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	// The prefix with every character SCAN's glob treats specially escaped.
	pattern := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`).Replace(prefix) + "*"
	var mu sync.Mutex
	var lines []string
	snap := func(ctx context.Context, n *redis.Client) error {
		iter := n.Scan(ctx, 0, pattern, 1000).Iterator()
		for iter.Next(ctx) {
			k := iter.Val()
			typ, err := n.Type(ctx, k).Result()
			if err != nil {
				return err
			}
			exp, err := n.PExpireTime(ctx, k).Result()
			if err != nil {
				return err
			}
			dump, err := n.Dump(ctx, k).Result()
			if err != nil && !errors.Is(err, redis.Nil) {
				return err
			}
			mu.Lock()
			lines = append(lines, fmt.Sprintf("%s %s %d %x", k, typ, exp.Milliseconds(), dump))
			mu.Unlock()
		}
		return iter.Err()
	}
	var err error
	switch cc := c.(type) {
	case *redis.ClusterClient:
		err = cc.ForEachMaster(ctx, snap)
	case *redis.Client:
		err = snap(ctx, cc)
	default:
		t.Fatalf("redistest: Snapshot of a %T", c)
	}
	if err != nil {
		t.Fatalf("redistest: snapshot of %s*: %v", prefix, err)
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}
