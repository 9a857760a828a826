package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/sesbolt/sesbolt/pkg/admin"
	"github.com/sesbolt/sesbolt/pkg/boltstore"
	"github.com/sesbolt/sesbolt/pkg/redisstore"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// Exit codes.
const (
	exitOK      = 0 // success
	exitFailure = 1 // the command failed (or check found problems)
	exitUsage   = 2 // bad usage: unknown command or flag, missing or bad argument
)

// Defaults of the global flags.
const (
	defaultDB     = "sessions.db"
	envDB         = "SESCTL_DB"
	envKeys       = "SESCTL_KEYS"
	envRedis      = "SESCTL_REDIS"
	envPrefix     = "SESCTL_REDIS_PREFIX"
	lockTimeout   = time.Second
	socketTimeout = time.Second
)

// env is everything sesctl takes from the world outside its arguments, so
// tests can run the root command with a fixed clock, buffers for the
// standard streams and no terminal.
type env struct {
	now    func() time.Time
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	// terminal reports whether the stream (stdin, stdout or stderr as given
	// above) is an interactive terminal: progress bars and confirmations
	// appear only then.
	terminal func(stream any) bool
	// dial returns a Service speaking to the admin socket at path.
	dial func(path string) admin.Service
	// openFile opens the database file as a Service; nil means boltstore
	// (see openBoltFile). Tests replace it to exercise commands on stores
	// that lack an ability.
	openFile func(a *app, path string, write bool, keys *session.Keyring) (admin.Service, func() error, error)
}

// defaultEnv is the real world: the process's streams and clock.
func defaultEnv() env {
	return env{
		now:      time.Now,
		stdin:    os.Stdin,
		stdout:   os.Stdout,
		stderr:   os.Stderr,
		getenv:   os.Getenv,
		terminal: isTerminal,
		dial:     dialSocket,
	}
}

// globalOptions are the flags every command accepts.
type globalOptions struct {
	db     string // --db: the database file
	socket string // --socket: the admin socket, forced
	redis  string // --redis: the Redis URL; "" when the sessions are in a file
	prefix string // --redis-prefix: the store's key prefix in Redis
	output string // -o/--output: table or json
	keys   string // --keys: the key file that verifies (and makes) seals

	dbFromEnv bool // --db was not given, and $SESCTL_DB was
}

// AddFlags registers the global flags as persistent flags of the root.
func (o *globalOptions) AddFlags(fs *pflag.FlagSet, getenv func(string) string) {
	db := defaultDB
	if v := getenv(envDB); v != "" {
		db, o.dbFromEnv = v, true
	}
	prefix := redisstore.DefaultPrefix
	if v := getenv(envPrefix); v != "" {
		prefix = v
	}
	fs.StringVar(&o.db, "db", db, "session database `FILE` (or $"+envDB+")")
	fs.StringVar(&o.socket, "socket", "", "talk to the running app through its admin socket `PATH` instead of the file (default FILE.sock when the app holds FILE)")
	fs.StringVar(&o.redis, "redis", getenv(envRedis), "work on the sessions in the Redis at `URL` instead of a file: redis://host:port/db, rediss://…, unix:///path/redis.sock, or a Cluster's nodes redis://h1:p1,h2:p2 (or $"+envRedis+")")
	fs.StringVar(&o.prefix, "redis-prefix", prefix, "with --redis: the key `PREFIX` of the app's store (or $"+envPrefix+")")
	fs.StringVarP(&o.output, "output", "o", "table", "output `FORMAT`: table or json")
	fs.StringVar(&o.keys, "keys", getenv(envKeys), "key `FILE` that verifies record seals; needed to change sessions directly, in a file or in Redis (or $"+envKeys+")")
}

// validate checks the global flags that need no file or server, and
// settles where the sessions are: --db, --socket and --redis exclude each
// other; a flag given beats the other's environment variable.
func (o *globalOptions) validate(fs *pflag.FlagSet) error {
	switch o.output {
	case "table", "json":
	default:
		return usageErrorf("--output must be table or json, not %q", o.output)
	}
	var given []string
	for _, name := range []string{"db", "socket", "redis"} {
		if fs.Changed(name) {
			given = append(given, "--"+name)
		}
	}
	switch {
	case len(given) > 1:
		return usageErrorf("%s exclude each other: give one of --db FILE, --socket PATH, --redis URL", strings.Join(given, " and "))
	case fs.Changed("redis") && strings.TrimSpace(o.redis) == "":
		return usageErrorf("--redis is empty")
	case len(given) == 1 && given[0] != "--redis":
		o.redis = "" // beats $SESCTL_REDIS
	case len(given) == 0 && o.redis != "" && o.dbFromEnv:
		return usageErrorf("both $%s and $%s are set: choose with --db FILE or --redis URL", envDB, envRedis)
	}
	if fs.Changed("redis-prefix") && o.redis == "" {
		return usageErrorf("--redis-prefix applies to --redis only")
	}
	if o.socket != "" && o.db == "" {
		return usageErrorf("--db is empty")
	}
	return nil
}

// app is one run of sesctl: the global options and the environment, shared
// by every command.
type app struct {
	env
	globalOptions
}

// NewRootCommand returns the sesctl command tree on the real environment.
func NewRootCommand() *cobra.Command { return newRootCommand(defaultEnv()) }

// newRootCommand returns the sesctl command tree on e.
func newRootCommand(e env) *cobra.Command {
	a := &app{env: e}
	root := &cobra.Command{
		Use:   "sesctl",
		Short: "Administer sesbolt session databases",
		Long: `sesctl lists, shows, expires and purges the sessions of a sesbolt database,
and checks, backs up, compacts, exports and imports it.

It opens the database file directly when it is free. While the application
holds the file, it goes through the application's admin socket (FILE.sock by
default, or --socket PATH) instead, so every command but compact also works
on a running app. With --redis URL it works on the sessions the app keeps in
Redis, talking to Redis itself (every command but backup and compact).`,
		Example: `  sesctl list --user alice
  sesctl --db /var/lib/app/sessions.db stats
  sesctl show 0f8e4d2c
  sesctl expire --user alice
  sesctl -o json list --expired | jq .id
  sesctl --redis redis://10.0.0.5:6379/0 list`,
		SilenceErrors:              true,
		SilenceUsage:               true,
		SuggestionsMinimumDistance: 2,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				msg := fmt.Sprintf("unknown command %q", args[0])
				if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
					msg += fmt.Sprintf("; did you mean %q?", s[0])
				}
				return usageErrorf("%s", msg)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.SetOut(a.stderr)
			_ = cmd.Usage()
			return usageErrorf("no command given")
		},
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return a.validate(cmd.Flags())
		},
	}
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{flagError(err)} })
	a.AddFlags(root.PersistentFlags(), a.getenv)
	root.CompletionOptions.DisableNoDescFlag = true

	root.AddCommand(
		newListCommand(a),
		newShowCommand(a),
		newExpireCommand(a),
		newPurgeCommand(a),
		newStatsCommand(a),
		newCheckCommand(a),
		newBackupCommand(a),
		newCompactCommand(a),
		newExportCommand(a),
		newImportCommand(a),
		newKeygenCommand(a),
		newVersionCommand(a),
	)
	setupCompletion(a, root)
	return root
}

// run executes sesctl with args and returns the exit code. Errors are
// printed to stderr as one line.
func run(ctx context.Context, args []string, e env) int {
	root := newRootCommand(e)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	return report(e.stderr, cmd, err)
}

// report prints err (if any), the error of cmd, and maps it to an exit
// code. It is the one place errors are printed, in sesctl's words (see
// userText).
func report(stderr io.Writer, cmd *cobra.Command, err error) int {
	if err == nil {
		return exitOK
	}
	if errors.Is(err, errReported) {
		return exitFailure
	}
	var ue usageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		fmt.Fprintf(stderr, "sesctl: %s\n%s\n", userText(err.Error()), usageHint(cmd))
		return exitUsage
	}
	fmt.Fprintf(stderr, "sesctl: %s\n", userText(explain(err)))
	return exitFailure
}

// isCobraUsage recognises the usage errors cobra returns as plain errors
// rather than through the flag error function or an Args validator.
func isCobraUsage(err error) bool {
	return strings.HasPrefix(err.Error(), "unknown command ")
}

// explain turns the errors people meet most into advice.
func explain(err error) string {
	switch {
	case errors.Is(err, context.Canceled):
		return "interrupted"
	case errors.Is(err, session.ErrNotSupported):
		return err.Error() + " (the store or the app's admin API cannot do this)"
	case errors.Is(err, admin.ErrUnavailable):
		return unavailable(err)
	case errors.Is(err, admin.ErrForbidden):
		return err.Error() + " (run sesctl as the user the app runs as)"
	}
	return err.Error()
}

// oneLine keeps an error message on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// usageError marks bad usage: exit code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// access is what a command does to the database.
type access int

const (
	readAccess   access = iota // the file is opened read-only and left byte-identical
	writeAccess                // the file is opened for writing
	createAccess               // writeAccess, and a missing file is created (import)
)

// service is the one seam between the commands and the data: it returns
// the admin.Service the command works on and a function releasing it.
//
//   - A --keys file is read first, whatever the mode: one that cannot be
//     read is an error even where the keys are not needed.
//   - With --redis it opens the store in that Redis (see redisService).
//   - With --socket it speaks to that admin socket.
//   - Otherwise the database file must exist (sesctl creates one only for
//     createAccess, saying so on stderr). When another process holds the
//     file exclusively and FILE.sock accepts connections, it speaks to
//     that socket, silently.
//   - Otherwise it opens the file (read-only for readAccess) as a local
//     Service. A file held by another process fails within about a second
//     with an error naming the holder.
func (a *app) service(ctx context.Context, acc access) (admin.Service, func() error, error) {
	keys, err := a.loadKeys()
	if err != nil {
		return nil, nil, err
	}
	if a.redis != "" {
		return a.redisService(acc, keys)
	}
	if a.socket != "" {
		svc := a.dial(a.socket)
		return svc, func() error { return closeService(svc) }, nil
	}
	path := a.db
	create := acc == createAccess && missing(path)
	if !create {
		if err := requireFile(path); err != nil {
			return nil, nil, err
		}
	}
	sock := path + admin.SocketSuffix
	if held, _ := heldByOther(path); held {
		if socketListening(sock) {
			svc := a.dial(sock)
			return svc, func() error { return closeService(svc) }, nil
		}
		return nil, nil, lockedError(path, sock)
	}
	if err := a.canWrite(acc, keys); err != nil {
		return nil, nil, err
	}
	open := a.openFile
	if open == nil {
		open = openBoltFile
	}
	svc, release, err := open(a, path, acc != readAccess, keys)
	if errors.Is(err, boltstore.ErrLocked) {
		// The holder came between the probe and the open.
		if socketListening(sock) {
			svc := a.dial(sock)
			return svc, func() error { return closeService(svc) }, nil
		}
		return nil, nil, lockedError(path, sock)
	}
	if err != nil {
		return nil, nil, err
	}
	if create {
		fmt.Fprintf(a.stderr, "sesctl: %s did not exist: created a new database\n", path)
	}
	return svc, release, nil
}

// canWrite fails when acc changes the file or Redis directly but no keys
// were given to seal what it writes.
func (a *app) canWrite(acc access, keys *session.Keyring) error {
	if acc == readAccess || keys != nil {
		return nil
	}
	if a.redis != "" {
		return fmt.Errorf("changing the sessions in Redis needs the app's keys, which seal its records: pass --keys FILE (or set $%s)", envKeys)
	}
	return fmt.Errorf("changing %s directly needs the keys that seal its records: pass --keys FILE (or set $%s), "+
		"or run the command while the app serves its admin socket", a.db, envKeys)
}

// usesFile reports whether the command works on the --db file itself (or
// its socket), rather than on --socket alone or on Redis.
func (a *app) usesFile() bool { return a.socket == "" && a.redis == "" }

// openBoltFile opens path with boltstore: read-only unless write, without
// a reaper (sesctl changes only what it is asked to), with the app's clock
// and keys. The store logs nothing: what it would warn about reaches the
// user as sesctl's own words (see sealReport).
func openBoltFile(a *app, path string, write bool, keys *session.Keyring) (admin.Service, func() error, error) {
	st, err := boltstore.Open(path, &boltstore.Options{
		Keys:         keys,
		ReadOnly:     !write,
		LockTimeout:  lockTimeout,
		ReapInterval: -1,
		Now:          a.now,
		Logger:       slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return nil, nil, err
	}
	release := func() error {
		sealErr := a.sealReport(st, keys)
		return joinErr(st.Close(), sealErr)
	}
	return admin.NewLocal(st, a.now), release, nil
}

// sealReport says, in one line on stderr, how many records failed their
// seal check while the command ran, most likely because --keys is not this
// database's key file, and then returns errReported: reads left those
// records out, so the result is incomplete (purge, whose result is not,
// forgives it). Without keys nothing is verified and it says nothing.
func (a *app) sealReport(st session.StatsReporter, keys *session.Keyring) error {
	if keys == nil {
		return nil
	}
	stats, err := st.Stats(context.Background(), a.now())
	if err != nil || stats.SealFailures == 0 {
		return nil
	}
	fmt.Fprintf(a.stderr, "sesctl: %s failed the seal check: the key file %s is probably not this database's "+
		"(if it is, the records were damaged or altered; sesctl check lists them)\n",
		plural(int(stats.SealFailures), "record"), printable(a.keys))
	return errReported
}

// errReported is a failure sesctl has already described on stderr: exit
// 1, printing nothing more.
var errReported = errors.New("reported")

// forgiveSeals drops the failure of records failing their seal check
// (already said on stderr) for a command whose result they do not change.
func forgiveSeals(err error) error {
	if errors.Is(err, errReported) {
		return nil
	}
	return err
}

// loadKeys reads --keys; nil without it.
func (a *app) loadKeys() (*session.Keyring, error) {
	if a.keys == "" {
		return nil, nil
	}
	return session.LoadKeyFile(a.keys)
}

// missing reports whether nothing exists at path (a dangling symbolic link
// is something).
func missing(path string) bool {
	_, err := os.Lstat(path)
	return errors.Is(err, fs.ErrNotExist)
}

// requireFile fails unless path is an existing regular file: only import
// creates a database, so a mistyped --db never leaves an empty one behind.
func requireFile(path string) error {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: no such database file (check --db or $%s; only import creates one)", path, envDB)
	}
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	return nil
}

// socketListening reports whether something accepts connections on the
// unix socket at path.
func socketListening(path string) bool {
	fi, err := os.Stat(path)
	if err != nil || fi.Mode()&fs.ModeSocket == 0 {
		return false
	}
	c, err := net.DialTimeout("unix", path, socketTimeout)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// serveSocketLine is the line that makes an application serve its admin
// socket beside its database, where sesctl --db FILE looks.
const serveSocketLine = `admin.ServeSocket(store, "", nil)`

// lockedError says who holds path, that no admin socket answers for it,
// and the one line that makes the application serve one.
func lockedError(path, sock string) error {
	if runtime.GOOS == "windows" {
		return fmt.Errorf("%s is in use by %s; applications serve no admin socket on Windows, so stop the application to use sesctl on the file",
			path, holderName(path))
	}
	return fmt.Errorf("%s is in use by %s, and no admin socket answers at %s: the application serves none; "+
		"it serves one with the line %s (or pass --socket PATH if it serves one elsewhere)", path, holderName(path), sock, serveSocketLine)
}

// holderName names the processes holding a lock on path: "process 4242",
// or "another process" when they cannot be found out.
func holderName(path string) string {
	pids := lockHolders(path)
	if len(pids) == 0 {
		return "another process"
	}
	s := make([]string, len(pids))
	for i, n := range pids {
		s[i] = fmt.Sprint(n)
	}
	if len(s) == 1 {
		return "process " + s[0]
	}
	return "processes " + strings.Join(s, ", ")
}

// closeService releases what a Service of the admin socket holds, if it
// holds anything.
func closeService(svc admin.Service) error {
	if c, ok := svc.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
