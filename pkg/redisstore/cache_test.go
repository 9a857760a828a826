package redisstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/sesbolt/sesbolt/internal/redistest"
	"github.com/sesbolt/sesbolt/pkg/redisstore"
	"github.com/sesbolt/sesbolt/pkg/session"
	"github.com/sesbolt/sesbolt/pkg/session/sessiontest"
)

// commandLog is a go-redis hook that records the name of every command a
// client sends ("pipeline" for each pipeline).
type commandLog struct {
	mu    sync.Mutex
	names []string
}

func (l *commandLog) DialHook(next redis.DialHook) redis.DialHook { return next }

func (l *commandLog) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		l.mu.Lock()
		l.names = append(l.names, cmd.Name())
		l.mu.Unlock()
		return next(ctx, cmd)
	}
}

func (l *commandLog) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		l.mu.Lock()
		l.names = append(l.names, "pipeline")
		l.mu.Unlock()
		return next(ctx, cmds)
	}
}

// take returns the commands sent since the last take.
func (l *commandLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	names := l.names
	l.names = nil
	return names
}

// coldLoad loads id through a new store on client with opts: one that
// has never read or written anything, so it decodes what Redis holds.
func coldLoad(t *testing.T, client redis.UniversalClient, opts *redisstore.Options, id session.ID) (*session.Record, error) {
	t.Helper()
	o := *opts
	return newStore(t, client, &o).Load(context.Background(), id, sessiontest.Base())
}

func set(id session.ID, key string) *session.Change {
	return &session.Change{ID: id, Now: sessiontest.Base(), Set: map[string]json.RawMessage{key: json.RawMessage(`1`)}}
}

// TestCachedReadsMatchDecoding holds the store's reads, which reuse what it
// decoded before when the stored bytes are unchanged, to plain decoding by
// a store that has seen nothing, across writes by the store itself and by
// another one, a tampered value and a deletion.
func TestCachedReadsMatchDecoding(t *testing.T) {
	rc := redistest.Shared(t).Client(t)
	opts := testOptions(t)
	s, other := twoStores(t, rc, opts)
	k := keyNames{opts.Prefix}
	ctx := context.Background()
	now := sessiontest.Base()
	id := sessiontest.Insert(t, s, sessiontest.NewRecord(session.NewID(), "alice", now))[0].ID

	same := func(step string) {
		t.Helper()
		want, wantErr := coldLoad(t, rc, opts, id)
		for i := range 2 { // the second read comes from the cache
			got, err := s.Load(ctx, id, now)
			shared, sharedErr := s.LoadShared(ctx, id, now)
			if !errors.Is(err, wantErr) || !errors.Is(sharedErr, wantErr) || !got.Equal(want) || !shared.Equal(want) {
				t.Fatalf("%s, read %d: Load = %+v, %v; LoadShared = %+v, %v; a cold store reads %+v, %v",
					step, i+1, got, err, shared, sharedErr, want, wantErr)
			}
		}
	}
	same("after insert")
	if _, err := other.Apply(ctx, set(id, "other")); err != nil {
		t.Fatal(err)
	}
	same("after another store's update")
	if _, err := s.Apply(ctx, set(id, "mine")); err != nil {
		t.Fatal(err)
	}
	same("after its own update")

	// Load hands out the caller's own record.
	mine, err := s.Load(ctx, id, now)
	if err != nil {
		t.Fatal(err)
	}
	mine.Data["mine"] = json.RawMessage(`"scribbled"`)
	mine.UserID = "mallory"
	same("after the caller changed a loaded record")

	// A value edited in Redis fails its seal, however recently the same id
	// was read.
	edited := strings.Replace(rc.Get(ctx, k.record(id)).Val(), `"user":"alice"`, `"user":"admin"`, 1)
	if err := rc.Set(ctx, k.record(id), edited, redis.KeepTTL).Err(); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Load(ctx, id, now); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Load of a tampered record after reading it = %+v, %v; want ErrNotFound", r, err)
	}
	if _, err := s.Apply(ctx, set(id, "x")); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Apply to a tampered record after reading it: %v; want ErrNotFound", err)
	}
	if _, err := other.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	same("after deletion")
}

// TestUpdateStartsFromLoad holds the update path that starts from the
// value a Load just read (one round trip) to the plain one (read, apply,
// write): the same result, the same record stored, and a stale start
// caught by the compare-and-set.
func TestUpdateStartsFromLoad(t *testing.T) {
	onEachKind(t, func(t *testing.T, rc redis.UniversalClient) {
		log := &commandLog{}
		rc.AddHook(log)
		opts := testOptions(t)
		s, other := twoStores(t, rc, opts)
		ctx := context.Background()
		now := sessiontest.Base()
		id := sessiontest.Insert(t, other, sessiontest.NewRecord(session.NewID(), "alice", now))[0].ID
		_, single := rc.(*redis.Client)

		// check applies c through s and compares the result, and what
		// Redis then holds, with c applied to what Redis held before.
		check := func(step string, c *session.Change, wantCommands []string) {
			t.Helper()
			before, err := coldLoad(t, rc, opts, id)
			if err != nil {
				t.Fatal(err)
			}
			want := c.ApplyTo(before)
			log.take()
			got, err := s.Apply(ctx, c)
			commands := log.take()
			if err != nil {
				t.Fatalf("%s: Apply: %v", step, err)
			}
			stored, err := coldLoad(t, rc, opts, id)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(want) || !stored.Equal(want) {
				t.Fatalf("%s: Apply returned %+v and stored %+v; the plain path gives %+v", step, got, stored, want)
			}
			if single && !slices.Equal(commands, wantCommands) {
				t.Errorf("%s: Apply sent %q; want %q", step, commands, wantCommands)
			}
		}

		if _, err := s.Load(ctx, id, now); err != nil {
			t.Fatal(err)
		}
		check("update after a load", set(id, "a"), []string{"evalsha"})
		check("second update", set(id, "b"), []string{"evalsha"})
		if _, err := other.Apply(ctx, set(id, "theirs")); err != nil {
			t.Fatal(err)
		}
		// The store remembers a value another store has replaced: the first
		// attempt fails its guard, the second reads.
		check("update after another store's", set(id, "c"), []string{"evalsha", "mget", "evalsha"})
		got, err := s.Load(ctx, id, now)
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{"seed", "a", "b", "theirs", "c"} {
			if _, ok := got.Data[key]; !ok {
				t.Errorf("after the updates the session lacks %q: %v (lost update)", key, got.Data)
			}
		}
		mustCheck(t, s)
	})
}
