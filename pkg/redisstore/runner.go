package redisstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// runner runs programs with program.lua on a client: the write machinery
// Store and FlaskStore share.
type runner struct {
	client  redis.UniversalClient
	sharded bool // the client spreads keys over servers (Cluster, Ring)
	log     *slog.Logger

	readOnly bool        // the store's options' ReadOnly: writes fail (see writable)
	closed   atomic.Bool // set by the store's Close (see usable)

	// queues holds one token per stripe: changes of sessions of one stripe
	// in this process take turns instead of competing in Redis.
	queues [stripes]chan struct{}

	// onFailure is the store observer's Failed (see failed); nil for none.
	onFailure func(op string, err error)

	// beforeWrite, a hook for tests (export_test.go), runs between the read
	// and the write of each attempt.
	beforeWrite func()
}

// stripes is the number of queues of in-process changes.
const stripes = 256

// newRunner returns a runner on client, which spreads keys over servers
// unless it is a *redis.Client, for a store that is read-only if readOnly,
// reporting failures to onFailure (nil: to no one).
func newRunner(client redis.UniversalClient, log *slog.Logger, readOnly bool, onFailure func(op string, err error)) *runner {
	_, single := client.(*redis.Client)
	r := &runner{client: client, sharded: !single, log: log, readOnly: readOnly, onFailure: onFailure}
	for i := range r.queues {
		r.queues[i] = make(chan struct{}, 1)
	}
	return r
}

// usable returns session.ErrClosed after Close, else ctx.Err().
func (s *runner) usable(ctx context.Context) error {
	if s.closed.Load() {
		return session.ErrClosed
	}
	return ctx.Err()
}

// writable is usable for methods that write: ErrReadOnly for a read-only
// store.
func (s *runner) writable(ctx context.Context) error {
	if s.readOnly {
		return ErrReadOnly
	}
	return s.usable(ctx)
}

// applicable checks, before Apply touches Redis, that c is a valid change
// (not nil, see session.Change.Validate) and that the store is writable.
func (s *runner) applicable(ctx context.Context, c *session.Change) error {
	if c == nil {
		return errors.New("redisstore: Apply of a nil change")
	}
	if err := c.Validate(); err != nil {
		return fmt.Errorf("redisstore: %w", err)
	}
	return s.writable(ctx)
}

// redisErr wraps a failure of a Redis call in ErrRedis, and in ctx's error
// when the context ended (go-redis reports a passed deadline as an I/O
// timeout).
func (s *runner) redisErr(ctx context.Context, what string, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w: %s: %w (%w)", ErrRedis, what, err, cerr)
	}
	return fmt.Errorf("%w: %s: %w", ErrRedis, what, err)
}

// failed reports err to onFailure under op, if err is a system error: one
// wrapping ErrRedis, not caused by the caller's context ending. Data
// outcomes, ErrConflict, a closed or read-only store are not failures of
// Redis.
func (s *runner) failed(op string, err error) {
	f := s.onFailure
	if f == nil || err == nil || !errors.Is(err, ErrRedis) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return
	}
	f(strings.ReplaceAll(op, " ", "_"), err)
}

// hook runs the test hook between an attempt's read and its write.
func (s *runner) hook() {
	if s.beforeWrite != nil {
		s.beforeWrite()
	}
}

// enqueue waits for id's turn among this process's changes (or for ctx);
// dequeue ends it.
func (s *runner) enqueue(ctx context.Context, id session.ID) error {
	select {
	case s.queues[stripe(id)] <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *runner) dequeue(id session.ID) { <-s.queues[stripe(id)] }

// retry makes attempts at a change of id, in id's turn among this
// process's changes, until one is not a conflict (guardConflict,
// guardStale) or maxAttempts were made, backing off between them, except
// after guardStale. An attempt that finds the new id of a renew taken
// (guardExists) fails with session.ErrExists; running out of attempts
// fails with ErrConflict.
func (s *runner) retry(ctx context.Context, id session.ID, maxAttempts int, attempt func() (*session.Record, guardKind, error)) (*session.Record, error) {
	if err := s.enqueue(ctx, id); err != nil {
		return nil, err
	}
	defer s.dequeue(id)
	for n := 1; ; n++ {
		r, kind, err := attempt()
		switch {
		case err != nil:
			return nil, err
		case kind == guardOK:
			return r, nil
		case kind == guardExists:
			return nil, fmt.Errorf("redisstore: renew: the new id is taken: %w", session.ErrExists)
		case n >= maxAttempts:
			return nil, fmt.Errorf("%w: the session changed during each of %d attempts", ErrConflict, n)
		case kind == guardStale:
			continue
		}
		if err := s.backoff(ctx, n); err != nil {
			return nil, err
		}
	}
}

// stripe returns the queue of id.
func stripe(id session.ID) int { return int(id[0] ^ id[15]) }

// backoff waits a random time that grows with attempt (up to 64 ms), so
// that competing writers spread out, or until ctx ends.
func (s *runner) backoff(ctx context.Context, attempt int) error {
	d := time.Duration(rand.Int64N(int64(time.Millisecond) << min(attempt, 6)))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// scan returns every key matching pattern, from every master of a sharded
// client. Its errors start with what (the caller's name for the work).
func (s *runner) scan(ctx context.Context, what, pattern string) ([]string, error) {
	var mu sync.Mutex
	var keys []string
	one := func(ctx context.Context, c *redis.Client) error {
		it := c.Scan(ctx, 0, pattern, 1000).Iterator()
		var mine []string
		for it.Next(ctx) {
			mine = append(mine, it.Val())
		}
		if err := it.Err(); err != nil {
			return err
		}
		mu.Lock()
		keys = append(keys, mine...)
		mu.Unlock()
		return nil
	}
	var err error
	switch c := s.client.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, one)
	case *redis.Ring:
		err = c.ForEachShard(ctx, one)
	case *redis.Client:
		err = one(ctx, c)
	default:
		return nil, fmt.Errorf("redisstore: %s: cannot scan the keys of a %T", what, s.client)
	}
	if err != nil {
		return nil, s.redisErr(ctx, what+": scanning keys", err)
	}
	return keys, nil
}
