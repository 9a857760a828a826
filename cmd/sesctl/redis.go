package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/sesbolt/sesbolt/pkg/admin"
	"github.com/sesbolt/sesbolt/pkg/redisstore"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// redisTimeout bounds what opening the store asks of Redis (reading its
// format, loading its scripts): a Redis that is down or unreachable fails
// the command within it, never hangs it. A variable for tests.
var redisTimeout = 5 * time.Second

func init() {
	// go-redis logs some failures to stderr by itself; sesctl says what
	// went wrong in its own words (see noRedis), once.
	redisstore.SetClientLogger(nil)
}

// redisService opens the store under --redis-prefix in the Redis --redis
// names, as a local Service on a client of its own that release closes:
//
//   - read-only for readAccess (without keys it verifies no seals);
//     otherwise it needs keys, as a file does;
//   - the store must exist (an application opened it), except for
//     createAccess, which starts one and says so on stderr, so that a
//     mistyped URL or prefix shows, rather than an empty store;
//   - it never trims or purges by itself, and logs nothing: what the store
//     would warn about reaches the user as sesctl's own words
//     (sealReport).
//
// A malformed URL is a usage error; a Redis that does not answer fails
// within redisTimeout.
func (a *app) redisService(acc access, keys *session.Keyring) (admin.Service, func() error, error) {
	if err := a.canWrite(acc, keys); err != nil {
		return nil, nil, err
	}
	client, err := redisstore.NewClient(a.redis)
	if err != nil {
		return nil, nil, usageErrorf("--redis: %s", strings.TrimPrefix(err.Error(), redisstore.ErrConfig.Error()+": "))
	}
	opts := &redisstore.Options{
		Keys:         keys,
		ReadOnly:     acc == readAccess,
		MustExist:    true,
		Prefix:       a.prefix,
		TrimInterval: -1,
		InitTimeout:  redisTimeout,
		Logger:       slog.New(slog.DiscardHandler),
	}
	st, err := redisstore.New(client, opts)
	created := false
	if errors.Is(err, redisstore.ErrNoStore) && acc == createAccess {
		opts.MustExist = false
		st, err = redisstore.New(client, opts)
		created = err == nil
	}
	if err != nil {
		client.Close()
		return nil, nil, a.redisOpenError(err)
	}
	if created {
		fmt.Fprintf(a.stderr, "sesctl: no store under prefix %q in %s: started a new one\n", a.prefix, a.redisName())
	}
	release := func() error {
		sealErr := a.sealReport(st, keys)
		return joinErr(joinErr(st.Close(), client.Close()), sealErr)
	}
	return admin.NewLocal(st, a.now), release, nil
}

// redisName names the Redis of --redis for messages, without its password.
func (a *app) redisName() string { return redisstore.RedactURL(a.redis) }

// redisOpenError says why the store in Redis did not open.
func (a *app) redisOpenError(err error) error {
	switch {
	case errors.Is(err, redisstore.ErrNoStore):
		return fmt.Errorf("%s: %w (check --redis and --redis-prefix; only import starts a new store)", a.redisName(), err)
	case errors.Is(err, redisstore.ErrRedis):
		// A refused or timed-out connection: the network error says it
		// all.
		var op *net.OpError
		if errors.As(err, &op) {
			return fmt.Errorf("no Redis answers at %s (%v): is it running, and is --redis right?", a.redisName(), op)
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("no Redis answered at %s within %v: is it running, and is --redis right?", a.redisName(), redisTimeout)
		}
	}
	return fmt.Errorf("%s: %w", a.redisName(), err)
}

// redisRefusal is the error of the commands that work on a database file
// only (backup, compact), given --redis: what to do on Redis instead.
func redisRefusal(command string) error {
	switch command {
	case "backup":
		return errors.New("backup copies a database file; back up a Redis with its own means: " +
			"BGSAVE writes a snapshot (dump.rdb) into its directory, or keep a replica " +
			"(sesctl export writes the sessions themselves as JSON lines)")
	default:
		return errors.New("compact rewrites a database file; Redis frees the memory of ended sessions itself, " +
			"and BGREWRITEAOF compacts its append-only file")
	}
}
