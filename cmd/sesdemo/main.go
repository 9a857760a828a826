// Command sesdemo is a small web app that shows what sesbolt does: log in,
// keep data in a server-side session, see and revoke your sessions on other
// devices, restart the server and stay logged in.
//
//	go run ./cmd/sesdemo            # http://127.0.0.1:8080
//
// Sessions live in ./sesdemo.db; the keys that sign cookies and seal records
// live in ./sesdemo.keys, created on first run with mode 0600 (one base64 key
// per line, newest first). While it runs it serves the admin API on the
// socket ./sesdemo.db.sock (mode 0600, admin.ServeSocket), so that sesctl
// --db sesdemo.db works on its live sessions. Since the demo serves plain
// HTTP on localhost, it turns the cookie's Secure flag off and says so; use
// -secure behind TLS.
//
// With -redis URL the sessions live in Redis instead (pkg/redisstore; the
// URL syntax of redisstore.NewClient), so that several sesdemo processes
// sharing one Redis and one key file act as one application. It then serves
// an admin socket only when -admin-socket names one: sesctl --redis URL
// talks to Redis itself.
//
// Routes: the page at GET /, its forms (POST /login, /logout, ...), a
// JSON API under /api/, and GET /metrics in the Prometheus text format
// (pkg/metrics). docs/demo.md has the table of every route, with its body
// and answers; the page and sesdemo -h list them too. The table is
// demoRoutes in routes.go. Every session that ends is logged with its
// reason, by a hook on the store (session.StoreObserver.Ended; with -redis,
// sessions Redis deletes by their TTL are not reported).
//
// The listener is bound before any file is created, so a taken port costs
// nothing: sesdemo exits without a new key file or database.
//
// Exit status: 0 after a clean shutdown on SIGINT or SIGTERM, 1 when startup
// or shutdown fails (one line on stderr), 2 for bad flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/sesbolt/sesbolt/pkg/admin"
	"github.com/sesbolt/sesbolt/pkg/boltstore"
	"github.com/sesbolt/sesbolt/pkg/flasksession"
	"github.com/sesbolt/sesbolt/pkg/metrics"
	"github.com/sesbolt/sesbolt/pkg/redisstore"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// shutdownTimeout bounds how long in-flight requests may take to finish
// after SIGINT or SIGTERM.
const shutdownTimeout = 10 * time.Second

func main() {
	// What logs through the default logger (session.LoadOrCreateKeyFile's
	// warning about a shared key file) looks like the demo's own log.
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, nil)))
	os.Exit(mainCode(os.Args[1:], os.Stderr))
}

// mainCode runs the demo until SIGINT or SIGTERM and returns the exit code.
func mainCode(args []string, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, stop, args, stderr)
	var ue usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		return 2 // the flag package, or parseFlags, printed the problem
	default:
		fmt.Fprintf(stderr, "sesdemo: %s\n", strings.ReplaceAll(err.Error(), "\n", "; "))
		return 1
	}
}

// options are the command-line flags.
type options struct {
	addr        string
	db          string
	redis       string // the Redis URL; "" for the file db
	adminSocket string // "" for the default: <db>.sock with a file, none with Redis
	keys        string
	idle        time.Duration
	lifetime    time.Duration
	maxSessions int
	secure      bool
	debug       bool

	// Sharing the sessions of a Flask app in -redis (flask.go).
	flaskSecret  string // the Flask secret file; "": sesbolt's own sessions
	flaskUserKey string
}

// usageError marks a bad command line (exit status 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// parseFlags parses args. On a bad command line it prints the problem and
// the usage to stderr and returns a usageError; for -h it returns
// flag.ErrHelp.
func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("sesdemo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen `address` (port 0 picks a free port; the log says which)")
	fs.StringVar(&o.db, "db", "./sesdemo.db", "session database `file` (bbolt), created if missing")
	fs.StringVar(&o.redis, "redis", "", "keep the sessions in the Redis at `URL` instead of -db (with -flask-secret-file: the Flask app's): redis://host:port/db, rediss://…, unix:///path/redis.sock, or a Cluster's nodes redis://h1:p1,h2:p2")
	fs.StringVar(&o.adminSocket, "admin-socket", "", "serve the admin API (sesctl --socket) on the Unix socket `path` (default: <db>.sock beside -db; none with -redis)")
	fs.StringVar(&o.keys, "keys", "./sesdemo.keys", "key `file`: one base64 key per line, newest first; created with mode 0600 if missing")
	fs.DurationVar(&o.idle, "idle", session.DefaultIdleTimeout, "idle timeout: a session ends after this long without a request")
	fs.DurationVar(&o.lifetime, "lifetime", session.DefaultLifetime, "absolute lifetime: a session ends this long after login, however active")
	fs.IntVar(&o.maxSessions, "max-sessions", 0, "at most `N` live sessions per user: a login beyond it ends the user's least recently seen ones (0: no limit)")
	fs.BoolVar(&o.secure, "secure", false, "keep the cookie's Secure flag and __Host- name (serve behind TLS)")
	fs.BoolVar(&o.debug, "debug", false, "log at debug level too: every admin API request (sesctl's reads), rejected cookies, reaper passes")
	fs.StringVar(&o.flaskSecret, "flask-secret-file", "", "share the sessions of a Flask app that follows the recipe (docs/flask.md): its cookie \"session\" signed with the secrets in `file` (one per line, oldest first), its layout in the Redis at -redis; -idle is then the app's permanent_session_lifetime")
	fs.StringVar(&o.flaskUserKey, "flask-user-key", "user_id", "with -flask-secret-file: the `key` of the Flask session dict that holds the user id")
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintf(out, "Usage: sesdemo [flags]\n\nA web app that shows what sesbolt does, with sessions in one bbolt file (or in Redis).\n\nFlags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(out, "\nRoutes (docs/demo.md has the table with each one's body and answers; the page at / shows it too):\n")
		printRoutes(out, demoRoutes())
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, usageError{err}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	bad := func(format string, a ...any) (options, error) {
		err := fmt.Errorf(format, a...)
		fmt.Fprintf(stderr, "%v\n", err)
		fs.Usage()
		return o, usageError{err}
	}
	switch {
	case fs.NArg() > 0:
		return bad("unexpected argument %q", fs.Arg(0))
	case o.idle <= 0:
		return bad("-idle must be positive")
	case o.lifetime < o.idle && o.flaskSecret == "": // the Flask mode has no -lifetime
		return bad("-lifetime (%s) must not be shorter than -idle (%s)", o.lifetime, o.idle)
	case o.maxSessions < 0:
		return bad("-max-sessions must not be negative")
	case o.db == "" || o.keys == "":
		return bad("-db and -keys must not be empty")
	case set["redis"] && strings.TrimSpace(o.redis) == "":
		return bad("-redis must not be empty")
	case set["redis"] && set["db"]:
		return bad("-db and -redis exclude each other: the sessions are in a file or in Redis")
	}
	if o.redis != "" {
		// Parsed, not dialled: the client connects on first use.
		c, err := redisstore.NewClient(o.redis)
		if err != nil {
			return bad("-redis: %s", strings.TrimPrefix(err.Error(), redisstore.ErrConfig.Error()+": "))
		}
		c.Close()
	}
	return checkFlaskFlags(o, set, bad)
}

// run serves the demo until ctx is done, then shuts down gracefully: it stops
// accepting connections, lets in-flight requests finish (up to
// shutdownTimeout) and closes the store. stopSignals is called once shutdown
// starts, so a second Ctrl-C kills the process at once.
func run(ctx context.Context, stopSignals func(), args []string, stderr io.Writer) (err error) {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	level := slog.LevelInfo
	if o.debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	// Bind first: a taken port must fail before the key file and the
	// database are created.
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listening: %w%s", err, listenHint(err))
	}
	defer ln.Close() // srv.Serve closes it too; a second Close does nothing

	// The store reports to the metrics collector (GET /metrics) and to a
	// hook that logs every session's end with its reason.
	col := metrics.New(nil)
	observer := session.JoinStoreObservers(col.StoreObserver(), session.StoreObserver{
		Ended: func(ctx context.Context, e session.Ended) {
			log.InfoContext(ctx, "session ended", "reason", string(e.Reason), "session", sessionTag(e.ID))
		},
	})

	// The sessions: sesbolt's own, signed and sealed with the key file's
	// keys; or a Flask app's, whose secret signs the cookies.
	var keys *session.Keyring
	var created bool
	var be *backend
	var flask *flaskMode
	if o.flaskSecret != "" {
		be, flask, err = openFlask(o, log, observer)
	} else {
		keys, created, err = session.LoadOrCreateKeyFile(o.keys)
		if err != nil {
			return fmt.Errorf("key file: %w", err) // the error names the file
		}
		be, err = openBackend(o, keys, log, observer)
	}
	if err != nil {
		return err
	}
	defer func() {
		if cerr := be.close(); cerr != nil && err == nil {
			err = cerr
		}
		if err == nil {
			log.Info("stopped; database closed")
		}
	}()
	store := be.store
	// bbolt locks the file while the demo runs, so the demo serves the
	// admin API on a socket beside it (<db>.sock, mode 0600), where
	// sesctl --db finds it; on Redis only where -admin-socket says.
	// Closed before the store (defers run last first).
	var adm *admin.SocketServer
	if o.redis == "" || o.adminSocket != "" {
		adm, err = admin.ServeSocket(store, o.adminSocket, &admin.SocketOptions{Logger: log})
		if errors.Is(err, admin.ErrSocketUnsupported) {
			log.Warn("no admin socket on this system: stop the demo to use sesctl on the database", "error", err.Error())
		} else if err != nil {
			return fmt.Errorf("admin socket: %w", err) // the error names the socket
		}
	}
	defer func() {
		if adm == nil {
			return
		}
		if cerr := adm.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing the admin socket: %w", cerr)
		}
	}()

	if sr, ok := store.(session.StatsReporter); ok {
		col.SetStats(sr) // sesbolt_sessions_live and the other gauges, read at each scrape
	}
	handler, err := newServer(config{
		Store:       store,
		Keys:        keys,
		Flask:       flask,
		Idle:        o.idle,
		Lifetime:    max(o.lifetime, o.idle), // the Flask mode has no -lifetime
		MaxSessions: o.maxSessions,
		Secure:      o.secure,
		Logger:      log,
		Metrics:     col,
	})
	if err != nil {
		return err
	}

	if created {
		log.Info("created key file", "path", o.keys, "mode", "0600")
	}
	switch {
	case o.secure:
	case flask != nil:
		log.Warn("cookie Secure flag is off for plain HTTP; use -secure behind TLS (and SESSION_COOKIE_SECURE=True in the Flask app)", "cookie", flasksession.CookieName)
	default:
		log.Warn("cookie Secure flag and __Host- prefix are off for plain HTTP; use -secure behind TLS", "cookie", session.DefaultInsecureCookieName)
	}
	addr := ln.Addr().String()
	attrs := append([]any{"addr", addr, "url", "http://" + addr + "/"}, be.attrs...)
	if flask == nil {
		attrs = append(attrs, "keys", o.keys)
	}
	if adm != nil {
		attrs = append(attrs, "admin_socket", adm.Addr().String())
	}
	if flask != nil { // no absolute lifetime, no per-user limit
		attrs = append(attrs, "idle", o.idle)
	} else {
		attrs = append(attrs, "idle", o.idle, "lifetime", o.lifetime, "max_sessions", o.maxSessions)
	}
	log.Info("listening", attrs...)

	return serve(ctx, stopSignals, ln, handler, log)
}

// serve serves handler on ln until ctx is done, then shuts down
// gracefully (see run).
func serve(ctx context.Context, stopSignals func(), ln net.Listener, handler http.Handler, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	stopSignals()
	log.Info("shutting down: finishing in-flight requests", "timeout", shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		return fmt.Errorf("shutting down: %w", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving: %w", err)
	}
	return nil
}

// backend is where the demo keeps its sessions: a bbolt file or Redis.
type backend struct {
	store session.Store
	close func() error // closes the store (and its Redis client)
	attrs []any        // names it in the "listening" log line
}

// openBackend opens the store the flags name: the -redis URL, or the -db
// file; the store reports to observer.
func openBackend(o options, keys *session.Keyring, log *slog.Logger, observer session.StoreObserver) (*backend, error) {
	if o.redis != "" {
		return openRedis(o.redis, keys, log, observer)
	}
	store, err := boltstore.Open(o.db, &boltstore.Options{Keys: keys, Logger: log, Observer: observer})
	if err != nil {
		return nil, fmt.Errorf("database: %w%s", err, openHint(err, o.db)) // the error names the file
	}
	return &backend{
		store: store,
		close: func() error {
			if err := store.Close(); err != nil {
				return fmt.Errorf("closing database %s: %w", o.db, err)
			}
			return nil
		},
		attrs: []any{"db", o.db},
	}, nil
}

// openRedis opens the sessions in the Redis at url, on a client of their
// own that close closes after the store. It fails within
// redisstore.DefaultInitTimeout when Redis does not answer, in one error;
// once the store is open, go-redis's own log lines go to log. The store
// reports to observer.
func openRedis(url string, keys *session.Keyring, log *slog.Logger, observer session.StoreObserver) (*backend, error) {
	name := redisstore.RedactURL(url)
	client, err := redisstore.NewClient(url)
	if err != nil {
		return nil, fmt.Errorf("-redis: %w", err) // names the URL without its password
	}
	redisstore.SetClientLogger(nil) // New's error says it all
	store, err := redisstore.New(client, &redisstore.Options{Keys: keys, Logger: log, Observer: observer})
	if err != nil {
		client.Close()
		hint := ""
		if errors.Is(err, redisstore.ErrRedis) {
			hint = " (is Redis running there, and is -redis right?)"
		}
		return nil, fmt.Errorf("sessions in Redis at %s: %w%s", name, err, hint)
	}
	redisstore.SetClientLogger(log)
	return &backend{
		store: store,
		close: func() error {
			if err := errors.Join(store.Close(), client.Close()); err != nil {
				return fmt.Errorf("closing the Redis client of %s: %w", name, err)
			}
			return nil
		},
		attrs: []any{"redis", name},
	}, nil
}

// listenHint suggests what to do about an address that cannot be bound.
func listenHint(err error) string {
	if errors.Is(err, syscall.EADDRINUSE) {
		return " (another program, maybe another sesdemo, uses it; choose another with -addr, or -addr 127.0.0.1:0 for any free port)"
	}
	return ""
}

// openHint suggests what to do about the database at path that does not
// open.
func openHint(err error, path string) string {
	switch {
	case errors.Is(err, boltstore.ErrLocked):
		return fmt.Sprintf(" (another sesdemo? administer it with sesctl --db %s, through its admin socket %s)", path, path+admin.SocketSuffix)
	case errors.Is(err, boltstore.ErrCorrupt) || errors.Is(err, boltstore.ErrNotBolt) || errors.Is(err, boltstore.ErrSchema):
		return " (move the file aside, or pass another -db, to start with an empty database)"
	}
	return ""
}
