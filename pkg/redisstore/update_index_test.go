package redisstore_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sesbolt/sesbolt/pkg/redisstore"
	"github.com/sesbolt/sesbolt/pkg/session"
	"github.com/sesbolt/sesbolt/pkg/session/sessiontest"
)

// TestUpdateKeepsIndexes holds the updates that keep the id and the user
// (which leave the id index and, unless the expiry moved, the user index
// alone) to the key layout's promises: after an update whose expiry moves
// later, stays or moves earlier, the record's TTL, its expiry index entry,
// its user index entry, the user index keys' expiry and the user registry
// all follow the new retain (on Cluster, where concurrent changes may write
// the user index out of order, the user index keeps the latest retain it
// saw); an index entry found missing is restored.
func TestUpdateKeepsIndexes(t *testing.T) {
	onEachKind(t, func(t *testing.T, rc redis.UniversalClient) {
		opts := testOptions(t)
		s := newStore(t, rc, opts)
		k := keyNames{opts.Prefix}
		ctx := context.Background()
		now := time.Now().UTC()
		const user = "carol@example.com"
		r := sessiontest.Insert(t, s, sessiontest.NewRecord(session.NewID(), user, now))[0]
		id := r.ID.String()
		_, exact := rc.(*redis.Client)
		// userWant reports whether a user index score or expiry fits retain.
		userWant := func(got, retain int64) bool { return got == retain || !exact && got > retain }

		retainOf := func(r *session.Record) int64 {
			return (r.Expires().Add(redisstore.DefaultExpiredRetention).UnixNano() + 999_999) / 1_000_000
		}
		expect := func(step string, r *session.Record) {
			t.Helper()
			retain := retainOf(r)
			if got := rc.PExpireTime(ctx, k.record(r.ID)).Val().Milliseconds(); got != retain {
				t.Errorf("%s: PEXPIRETIME of the record = %d, want %d", step, got, retain)
			}
			if got, err := rc.ZScore(ctx, k.expiry(r.ID), id).Result(); err != nil || int64(got) != retain {
				t.Errorf("%s: expiry index score = %d (%v), want %d", step, int64(got), err, retain)
			}
			if _, err := rc.ZScore(ctx, k.ids(r.ID), id).Result(); err != nil {
				t.Errorf("%s: id index entry: %v", step, err)
			}
			if got, err := rc.ZScore(ctx, k.user(user), id).Result(); err != nil || !userWant(int64(got), retain) {
				t.Errorf("%s: user index score = %d (%v), want %d", step, int64(got), err, retain)
			}
			for _, key := range []string{k.user(user), k.versions(user)} {
				if got := rc.PExpireTime(ctx, key).Val().Milliseconds(); !userWant(got, retain) {
					t.Errorf("%s: PEXPIRETIME of %s = %d, want %d", step, key, got, retain)
				}
			}
			if got, err := rc.ZScore(ctx, k.users(user), user).Result(); err != nil || !userWant(int64(got), retain) {
				t.Errorf("%s: user registry score = %d (%v), want %d", step, int64(got), err, retain)
			}
			mustCheck(t, s)
			loaded, err := s.Load(ctx, r.ID, now)
			if err != nil || !loaded.Equal(r) {
				t.Errorf("%s: Load = %+v, %v; Apply returned %+v", step, loaded, err, r)
			}
		}
		apply := func(c *session.Change) *session.Record {
			t.Helper()
			c.ID, c.Now = r.ID, now
			got, err := s.Apply(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			return got
		}

		r = apply(&session.Change{Set: map[string]json.RawMessage{"a": []byte(`1`)}, IdleExpires: r.IdleExpires.Add(time.Second)})
		expect("expiry moved later", r)
		r = apply(&session.Change{Set: map[string]json.RawMessage{"b": []byte(`2`)}})
		expect("expiry unchanged", r)
		r = apply(&session.Change{Delete: []string{"a"}, IdleExpires: r.IdleExpires.Add(-2 * time.Second)})
		expect("expiry moved earlier", r)

		// Entries lost (an operator's mistake) come back with the next
		// update that moves the expiry.
		rc.ZRem(ctx, k.user(user), id)
		rc.ZRem(ctx, k.expiry(r.ID), id)
		rc.ZRem(ctx, k.ids(r.ID), id)
		r = apply(&session.Change{Set: map[string]json.RawMessage{"c": []byte(`3`)}, IdleExpires: r.IdleExpires.Add(time.Second)})
		expect("entries restored", r)

		// The user index still ends every session of the user.
		if n, err := s.DeleteUser(ctx, user); err != nil || n != 1 {
			t.Errorf("DeleteUser = %d, %v; want 1", n, err)
		}
	})
}
