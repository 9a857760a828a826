package redisstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sesbolt/sesbolt/internal/redistest"
	"github.com/sesbolt/sesbolt/pkg/redisstore"
	"github.com/sesbolt/sesbolt/pkg/session"
	"github.com/sesbolt/sesbolt/pkg/session/sessiontest"
)

// keyNames are the key names docs/redis.md and the package documentation
// promise, computed here independently of the package.
type keyNames struct{ prefix string }

func (k keyNames) record(id session.ID) string {
	return k.prefix + "{" + id.String()[:2] + "}:session:" + id.String()
}
func (k keyNames) renewed(id session.ID) string {
	return k.prefix + "{" + id.String()[:2] + "}:renewed:" + id.String()
}
func (k keyNames) ids(id session.ID) string    { return k.prefix + "{" + id.String()[:2] + "}:ids" }
func (k keyNames) expiry(id session.ID) string { return k.prefix + "{" + id.String()[:2] + "}:expiry" }

func (k keyNames) userTag(user string) string {
	sum := sha256Hex(user)
	return "{u:" + sum[:2] + "}"
}
func (k keyNames) user(user string) string { return k.prefix + k.userTag(user) + ":user:" + user }
func (k keyNames) versions(user string) string {
	return k.prefix + k.userTag(user) + ":versions:" + user
}
func (k keyNames) users(user string) string { return k.prefix + k.userTag(user) + ":users" }
func (k keyNames) meta() string             { return k.prefix + "meta" }

func TestKeyLayout(t *testing.T) {
	srv := redistest.Shared(t)
	rc := srv.Client(t)
	opts := testOptions(t)
	s := newStore(t, rc, opts)
	k := keyNames{opts.Prefix}
	ctx := context.Background()
	now := time.Now().UTC()
	r := sessiontest.Insert(t, s, sessiontest.NewRecord(session.NewID(), "alice@example.com", now))[0]

	types := map[string]string{
		k.meta():                        "hash",
		k.record(r.ID):                  "string",
		k.ids(r.ID):                     "zset",
		k.expiry(r.ID):                  "zset",
		k.user("alice@example.com"):     "zset",
		k.versions("alice@example.com"): "hash",
		k.users("alice@example.com"):    "zset",
	}
	for key, want := range types {
		if got := rc.Type(ctx, key).Val(); got != want {
			t.Errorf("TYPE %s = %q, want %q", key, got, want)
		}
	}
	keys := rc.Keys(ctx, globEscapeForTest(opts.Prefix)+"*").Val()
	if len(keys) != len(types) {
		t.Errorf("keys under the prefix: %q, want exactly %d", keys, len(types))
	}

	// The record expires at its expiry (rounded up to the millisecond) plus
	// the retention, in Redis too.
	retain := (r.Expires().Add(redisstore.DefaultExpiredRetention).UnixNano() + 999_999) / 1_000_000
	if got := rc.PExpireTime(ctx, k.record(r.ID)).Val().Milliseconds(); got != retain {
		t.Errorf("PEXPIRETIME of the record = %d, want %d", got, retain)
	}
	if got := rc.ZScore(ctx, k.expiry(r.ID), r.ID.String()).Val(); int64(got) != retain {
		t.Errorf("expiry index score = %d, want %d", int64(got), retain)
	}
	if got := rc.ZScore(ctx, k.user("alice@example.com"), r.ID.String()).Val(); int64(got) != retain {
		t.Errorf("user index score = %d, want %d", int64(got), retain)
	}
	if got := rc.HGet(ctx, k.versions("alice@example.com"), r.ID.String()).Val(); got != "1" {
		t.Errorf("user index version = %q, want 1", got)
	}
	if got := rc.HGetAll(ctx, k.meta()).Val(); got["format"] != "sesbolt-redis" || got["schema"] != "1" {
		t.Errorf("meta = %v", got)
	}

	// The stored value is the JSON envelope around the record's JSON.
	var env struct {
		V      int             `json:"v"`
		Seal   []byte          `json:"seal"`
		Record session.Record  `json:"record"`
		Raw    json.RawMessage `json:"-"`
	}
	if err := json.Unmarshal([]byte(rc.Get(ctx, k.record(r.ID)).Val()), &env); err != nil {
		t.Fatalf("stored value is not the JSON envelope: %v", err)
	}
	if env.V != 1 || len(env.Seal) != session.SealSize || !env.Record.Equal(r) {
		t.Errorf("envelope = v %d, %d-byte seal, record %+v", env.V, len(env.Seal), env.Record)
	}

	// A renew leaves a tombstone under the old id: its value is when it
	// ends in unix nanoseconds (20 digits), and Redis deletes it then.
	renewed, err := s.Apply(ctx, &session.Change{ID: r.ID, Now: now, NewID: session.NewID()})
	if err != nil {
		t.Fatal(err)
	}
	end := now.Add(session.RenewGrace)
	if got, want := rc.Get(ctx, k.renewed(r.ID)).Val(), fmt.Sprintf("%020d", end.UnixNano()); got != want {
		t.Errorf("tombstone value = %q, want %q", got, want)
	}
	if got, want := rc.PExpireTime(ctx, k.renewed(r.ID)).Val().Milliseconds(), (end.UnixNano()+999_999)/1_000_000; got != want {
		t.Errorf("tombstone PEXPIRETIME = %d, want %d", got, want)
	}

	// Destroying the session leaves only the meta hash and the tombstone
	// behind (Redis drops empty sorted sets).
	if _, err := s.Apply(ctx, &session.Change{ID: renewed.ID, Now: now, Destroy: true}); err != nil {
		t.Fatal(err)
	}
	keys = rc.Keys(ctx, globEscapeForTest(opts.Prefix)+"*").Val()
	slices.Sort(keys)
	if want := []string{k.meta(), k.renewed(r.ID)}; !slices.Equal(keys, want) {
		t.Errorf("keys after destroy: %q, want %q", keys, want)
	}
}

func globEscapeForTest(s string) string {
	return strings.NewReplacer("*", `\*`, "?", `\?`, "[", `\[`, "]", `\]`).Replace(s)
}

func TestEditedRecordIsAbsentAndCounted(t *testing.T) {
	rc := redistest.Shared(t).Client(t)
	opts := testOptions(t)
	s := newStore(t, rc, opts)
	k := keyNames{opts.Prefix}
	ctx := context.Background()
	now := sessiontest.Base()
	victim := sessiontest.Insert(t, s, sessiontest.NewRecord(session.NewID(), "alice", now))[0]
	other := sessiontest.Insert(t, s, sessiontest.NewRecord(session.NewID(), "mallory", now))[0]

	// Promote the session to another user by editing its JSON in Redis,
	// keeping its expiry.
	edited := strings.Replace(rc.Get(ctx, k.record(victim.ID)).Val(), `"user":"alice"`, `"user":"admin"`, 1)
	if err := rc.Set(ctx, k.record(victim.ID), edited, redis.KeepTTL).Err(); err != nil {
		t.Fatal(err)
	}
	// Copy another session's value under the victim's id.
	copied := session.NewID()
	if err := rc.Set(ctx, k.record(copied), rc.Get(ctx, k.record(other.ID)).Val(), time.Hour).Err(); err != nil {
		t.Fatal(err)
	}

	for _, id := range []session.ID{victim.ID, copied} {
		if r, err := s.Load(ctx, id, now); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("Load of a tampered record %s = %+v, %v; want ErrNotFound", id, r, err)
		}
		if _, err := s.Apply(ctx, &session.Change{ID: id, Now: now, Set: map[string]json.RawMessage{"a": json.RawMessage(`1`)}}); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("Apply to a tampered record %s: %v; want ErrNotFound", id, err)
		}
	}
	if recs, err := s.UserSessions(ctx, "alice", now); err != nil || len(recs) != 0 {
		t.Errorf("UserSessions(alice) = %v, %v; want none", recs, err)
	}
	st, err := s.Stats(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if st.SealFailures != 2 {
		t.Errorf("Stats.SealFailures = %d, want 2 (each tampered id counted once)", st.SealFailures)
	}
	rep, err := s.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var seals int
	for _, p := range rep.Problems {
		if strings.Contains(p, "seal does not verify") {
			seals++
		}
		if strings.Contains(p, "admin") {
			t.Errorf("Check quotes stored data: %s", p)
		}
	}
	if seals != 2 || !rep.SealsVerified {
		t.Errorf("Check = %+v; want two seal problems", rep)
	}

	// Delete removes a tampered record all the same.
	if n, err := s.Delete(ctx, victim.ID, copied); err != nil || n != 2 {
		t.Errorf("Delete of tampered records = %d, %v; want 2", n, err)
	}
}

// conflicting returns a hook that changes the record of id through another
// store each time it runs, for the first times calls (all when times < 0),
// and counts its calls.
func conflicting(t *testing.T, other *redisstore.Store, id session.ID, times int) (hook func(), calls func() int) {
	var mu sync.Mutex
	n := 0
	return func() {
			mu.Lock()
			defer mu.Unlock()
			n++
			if times >= 0 && n > times {
				return
			}
			c := &session.Change{ID: id, Now: sessiontest.Base(), Set: map[string]json.RawMessage{fmt.Sprintf("other%d", n): json.RawMessage(`1`)}}
			if _, err := other.Apply(context.Background(), c); err != nil {
				t.Errorf("conflicting change: %v", err)
			}
		}, func() int {
			mu.Lock()
			defer mu.Unlock()
			return n
		}
}

func TestConflictRetriesThenFails(t *testing.T) {
	rc := redistest.Shared(t).Client(t)
	opts := testOptions(t)
	opts.MaxAttempts = 4
	s, other := twoStores(t, rc, opts)
	ctx := context.Background()
	now := sessiontest.Base()
	r := sessiontest.Insert(t, s, sessiontest.NewRecord(session.NewID(), "alice", now))[0]

	t.Run("RetriesMerge", func(t *testing.T) {
		hook, calls := conflicting(t, other, r.ID, 2)
		redisstore.SetBeforeWrite(s, hook)
		defer redisstore.SetBeforeWrite(s, nil)
		got, err := s.Apply(ctx, &session.Change{ID: r.ID, Now: now, Set: map[string]json.RawMessage{"mine": json.RawMessage(`1`)}})
		if err != nil {
			t.Fatalf("Apply after two conflicts: %v", err)
		}
		if calls() != 3 {
			t.Errorf("attempts = %d, want 3", calls())
		}
		for _, k := range []string{"mine", "other1", "other2"} {
			if _, ok := got.Data[k]; !ok {
				t.Errorf("result lacks %q: %v (lost update)", k, got.Data)
			}
		}
	})

	t.Run("Exhausted", func(t *testing.T) {
		hook, calls := conflicting(t, other, r.ID, -1)
		redisstore.SetBeforeWrite(s, hook)
		defer redisstore.SetBeforeWrite(s, nil)
		before := calls()
		_, err := s.Apply(ctx, &session.Change{ID: r.ID, Now: now, Set: map[string]json.RawMessage{"lost": json.RawMessage(`1`)}})
		if !errors.Is(err, redisstore.ErrConflict) {
			t.Fatalf("Apply under endless conflicts: %v; want ErrConflict", err)
		}
		if strings.Contains(err.Error(), r.ID.String()) {
			t.Errorf("the error names the session (it may reach request logs): %v", err)
		}
		if n := calls() - before; n != opts.MaxAttempts {
			t.Errorf("attempts = %d, want MaxAttempts = %d", n, opts.MaxAttempts)
		}
		if got, _ := s.Load(ctx, r.ID, now); got == nil || got.Data["lost"] != nil {
			t.Errorf("record after a failed change: %+v; want it without the change", got)
		}
		if _, err := s.Delete(ctx, r.ID); !errors.Is(err, redisstore.ErrConflict) {
			t.Errorf("Delete under endless conflicts: %v; want ErrConflict", err)
		}
	})
	mustCheck(t, s)
}

func TestConcurrentStoresMerge(t *testing.T) {
	// Several stores (as several processes would) change one session at
	// once: their compare-and-set attempts collide in Redis and retry.
	onEachKind(t, func(t *testing.T, rc redis.UniversalClient) {
		opts := testOptions(t)
		opts.MaxAttempts = 200
		stores := make([]*redisstore.Store, 4)
		for i := range stores {
			o := *opts
			stores[i] = newStore(t, rc, &o)
		}
		now := sessiontest.Base()
		r := sessiontest.Insert(t, stores[0], sessiontest.NewRecord(session.NewID(), "alice", now))[0]
		const perStore = 10
		var wg sync.WaitGroup
		for i, s := range stores {
			for j := range perStore {
				wg.Go(func() {
					c := &session.Change{ID: r.ID, Now: now, Set: map[string]json.RawMessage{fmt.Sprintf("k%d-%d", i, j): json.RawMessage(`1`)}}
					if _, err := s.Apply(context.Background(), c); err != nil {
						t.Errorf("Apply: %v", err)
					}
				})
			}
		}
		wg.Wait()
		got, err := stores[1].Load(context.Background(), r.ID, now)
		if err != nil {
			t.Fatal(err)
		}
		if want := 1 + len(stores)*perStore; len(got.Data) != want || got.Version != uint64(want) {
			t.Errorf("after concurrent changes: %d keys, version %d; want %d, %d", len(got.Data), got.Version, want, want)
		}
		mustCheck(t, stores[0])
	})
}

func TestDeadlineWithHungServer(t *testing.T) {
	srv := redistest.Start(t)
	o := srv.Options()
	o.ReadTimeout, o.WriteTimeout = time.Minute, time.Minute // only the context may end a call early
	o.MaxRetries = 0                                         // go-redis's default retries
	rc := redis.NewClient(o)
	t.Cleanup(func() { rc.Close() })
	s := newStore(t, rc, nil)
	now := sessiontest.Base()
	r := sessiontest.Insert(t, s, sessiontest.NewRecord(session.NewID(), "alice", now))[0]

	if err := srv.Pause(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Resume() })
	calls := map[string]func(ctx context.Context) error{
		"Load": func(ctx context.Context) error { _, err := s.Load(ctx, r.ID, now); return err },
		"Apply": func(ctx context.Context) error {
			_, err := s.Apply(ctx, &session.Change{ID: r.ID, Now: now, Set: map[string]json.RawMessage{"a": json.RawMessage(`1`)}})
			return err
		},
		"UserSessions": func(ctx context.Context) error { _, err := s.UserSessions(ctx, "alice", now); return err },
		"Stats":        func(ctx context.Context) error { _, err := s.Stats(ctx, now); return err },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			start := time.Now()
			err := call(ctx)
			took := time.Since(start)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s on a hung server: %v; want an error matching context.DeadlineExceeded", name, err)
			}
			// Far below the client's one-minute timeouts: the deadline ended it.
			if took > 20*time.Second {
				t.Errorf("%s on a hung server returned after %v", name, took)
			}
		})
	}

	// A server that is gone fails calls at once, with ErrRedis.
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(context.Background(), r.ID, now); !errors.Is(err, redisstore.ErrRedis) {
		t.Errorf("Load with the server gone: %v; want ErrRedis", err)
	}
}

func TestStaleUserIndexEntries(t *testing.T) {
	onEachKind(t, func(t *testing.T, rc redis.UniversalClient) {
		opts := testOptions(t)
		s := newStore(t, rc, opts)
		k := keyNames{opts.Prefix}
		ctx := context.Background()
		now := sessiontest.Base()
		bob := sessiontest.Insert(t, s, sessiontest.NewRecord(session.NewID(), "bob", now))[0]
		alice := sessiontest.Insert(t, s, sessiontest.NewRecord(session.NewID(), "alice", now))[0]

		// What a sharded client can leave behind when a step fails: alice's
		// index lists bob's session, and a session that is gone.
		score := rc.ZScore(ctx, k.user("alice"), alice.ID.String()).Val()
		gone := session.NewID()
		for _, id := range []session.ID{bob.ID, gone} {
			rc.ZAdd(ctx, k.user("alice"), redis.Z{Score: score, Member: id.String()})
			rc.HSet(ctx, k.versions("alice"), id.String(), 1)
		}

		recs, err := s.UserSessions(ctx, "alice", now)
		if err != nil || len(recs) != 1 || recs[0].ID != alice.ID {
			t.Errorf("UserSessions(alice) = %v, %v; want only alice's session", recs, err)
		}
		page, err := s.List(ctx, session.ListQuery{Now: now, Filter: session.All, User: "alice"})
		if err != nil || len(page.Records) != 1 || page.Records[0].ID != alice.ID {
			t.Errorf("List(user alice) = %v, %v; want only alice's session", page.Records, err)
		}
		if n, err := s.DeleteUser(ctx, "alice"); err != nil || n != 1 {
			t.Errorf("DeleteUser(alice) = %d, %v; want 1", n, err)
		}
		if got, err := s.Load(ctx, bob.ID, now); err != nil || !got.Equal(bob) {
			t.Errorf("bob's session after DeleteUser(alice): %+v, %v", got, err)
		}
		// DeleteUser dropped the stale entry of bob's session.
		if rc.ZScore(ctx, k.user("alice"), bob.ID.String()).Err() != redis.Nil {
			t.Errorf("alice's index still lists bob's session")
		}
	})
}

func TestTrimStopsOnClose(t *testing.T) {
	rc := redistest.Shared(t).Client(t)
	opts := testOptions(t)
	opts.TrimInterval = 10 * time.Millisecond
	opts.ExpiredRetention = -1
	s, err := redisstore.New(rc, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	k := keyNames{opts.Prefix}
	ctx := context.Background()

	// A session that Redis expires in half a second; its index entries
	// stay until the trim drops them.
	now := time.Now()
	rec := sessiontest.NewRecord(session.NewID(), "alice", now)
	rec.IdleExpires = now.Add(500 * time.Millisecond)
	sessiontest.Insert(t, s, rec)
	waitFor(t, "Redis to expire the record", func() bool { return rc.Exists(ctx, k.record(rec.ID)).Val() == 0 })
	waitFor(t, "the trim to drop the index entries", func() bool {
		return rc.Exists(ctx, k.expiry(rec.ID), k.ids(rec.ID), k.users("alice")).Val() == 0
	})
	waitFor(t, "two trim passes", func() bool { return redisstore.TrimPasses(s) >= 2 })

	done := redisstore.TrimDone(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	default:
		t.Fatal("the trim pass still runs after Close returned")
	}
	if _, err := s.Load(ctx, rec.ID, now); !errors.Is(err, session.ErrClosed) {
		t.Errorf("Load after Close: %v; want ErrClosed", err)
	}
}

// waitFor polls cond until it holds, failing the test after a generous
// deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestPrefixIsolation(t *testing.T) {
	rc := redistest.Shared(t).Client(t)
	a := newStore(t, rc, nil)
	b := newStore(t, rc, nil)
	ctx := context.Background()
	now := sessiontest.Base()
	rec := sessiontest.NewRecord(session.NewID(), "alice", now)
	rec.IdleExpires = now.Add(time.Minute)
	r := sessiontest.Insert(t, a, rec)[0]
	later := now.Add(2 * time.Minute) // r is expired then

	if _, err := b.Load(ctx, r.ID, time.Time{}); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("Load from the other prefix: %v", err)
	}
	if recs, _ := b.UserSessions(ctx, "alice", now); len(recs) != 0 {
		t.Errorf("UserSessions from the other prefix: %v", recs)
	}
	if p, _ := b.List(ctx, session.ListQuery{Now: now, Filter: session.All}); len(p.Records) != 0 {
		t.Errorf("List from the other prefix: %v", p.Records)
	}
	if st, _ := b.Stats(ctx, now); st.Sessions != 0 || st.Users != 0 {
		t.Errorf("Stats from the other prefix: %+v", st)
	}
	for name, n := range map[string]func() (int, error){
		"DeleteUser": func() (int, error) { return b.DeleteUser(ctx, "alice") },
		"Delete":     func() (int, error) { return b.Delete(ctx, r.ID) },
		"Purge":      func() (int, error) { return b.Purge(ctx, later) },
	} {
		if got, err := n(); err != nil || got != 0 {
			t.Errorf("%s on the other prefix = %d, %v; want 0", name, got, err)
		}
	}
	if got, err := a.Load(ctx, r.ID, now); err != nil || !got.Equal(r) {
		t.Errorf("record after the other store's calls: %+v, %v", got, err)
	}
	if rep := mustCheck(t, b); rep.Records != 0 {
		t.Errorf("Check of the other prefix examined %d records", rep.Records)
	}
}

func TestNewRefuses(t *testing.T) {
	srv := redistest.Shared(t)
	rc := srv.Client(t)
	ctx := context.Background()

	o := srv.Options()
	o.ContextTimeoutEnabled = false
	lax := redis.NewClient(o)
	defer lax.Close()
	if _, err := redisstore.New(lax, testOptions(t)); !errors.Is(err, redisstore.ErrConfig) {
		t.Errorf("New with a client ignoring deadlines: %v; want ErrConfig", err)
	}
	braces := testOptions(t)
	braces.Prefix = "app{1}:"
	if _, err := redisstore.New(rc, braces); !errors.Is(err, redisstore.ErrConfig) {
		t.Errorf("New with a prefix holding braces: %v; want ErrConfig", err)
	}
	noKeys := testOptions(t)
	noKeys.Keys = nil
	if _, err := redisstore.New(rc, noKeys); !errors.Is(err, session.ErrNoKeys) {
		t.Errorf("New without keys: %v; want ErrNoKeys", err)
	}

	// Another application's data, and a newer schema, under the prefix.
	for name, meta := range map[string][]any{
		"other format": {"format", "someapp"},
		"newer schema": {"format", "sesbolt-redis", "schema", "2"},
	} {
		opts := testOptions(t)
		rc.HSet(ctx, keyNames{opts.Prefix}.meta(), meta...)
		if _, err := redisstore.New(rc, opts); !errors.Is(err, redisstore.ErrSchema) {
			t.Errorf("New over %s: %v; want ErrSchema", name, err)
		}
	}
}

func TestReadOnly(t *testing.T) {
	rc := redistest.Shared(t).Client(t)
	opts := testOptions(t)
	w := newStore(t, rc, opts)
	now := sessiontest.Base()
	r := sessiontest.Insert(t, w, sessiontest.NewRecord(session.NewID(), "alice", now))[0]
	ctx := context.Background()

	ro := *opts
	ro.ReadOnly, ro.Keys = true, nil
	s := newStore(t, rc, &ro)
	if got, err := s.Load(ctx, r.ID, now); err != nil || !got.Equal(r) {
		t.Errorf("read-only Load = %+v, %v", got, err)
	}
	writes := map[string]func() error{
		"Apply": func() error {
			_, err := s.Apply(ctx, &session.Change{ID: r.ID, Now: now, Destroy: true})
			return err
		},
		"Delete":     func() error { _, err := s.Delete(ctx, r.ID); return err },
		"DeleteUser": func() error { _, err := s.DeleteUser(ctx, "alice"); return err },
		"Purge":      func() error { _, err := s.Purge(ctx, now); return err },
		"Import":     func() error { _, err := s.Import(ctx, nil, now); return err },
	}
	for name, write := range writes {
		if err := write(); !errors.Is(err, redisstore.ErrReadOnly) {
			t.Errorf("read-only %s: %v; want ErrReadOnly", name, err)
		}
	}
	if rep := mustCheck(t, s); rep.SealsVerified || rep.Records != 1 {
		t.Errorf("read-only Check without keys = %+v; want 1 record, seals not verified", rep)
	}
	// A read-only store on an unused prefix writes nothing there.
	fresh := testOptions(t)
	fresh.ReadOnly = true
	newStore(t, rc, fresh)
	if n := rc.Exists(ctx, keyNames{fresh.Prefix}.meta()).Val(); n != 0 {
		t.Error("a read-only store recorded the format")
	}
}

func TestStatsDurability(t *testing.T) {
	srv := redistest.Start(t)
	rc := srv.Client(t)
	s := newStore(t, rc, nil)
	ctx := context.Background()
	cases := []struct {
		config map[string]string
		want   string
	}{
		{map[string]string{"appendonly": "no", "save": ""}, `appendonly=no appendfsync=everysec save="": nothing is persisted`},
		{map[string]string{"appendonly": "no", "save": "3600 1"}, `save="3600 1": a crash loses the writes since the last snapshot`},
		{map[string]string{"appendonly": "yes", "appendfsync": "everysec"}, "appendonly=yes appendfsync=everysec"},
		{map[string]string{"appendonly": "yes", "appendfsync": "always"}, "every acknowledged write is on disk"},
		{map[string]string{"maxmemory-policy": "allkeys-lru"}, "maxmemory-policy=allkeys-lru: when memory runs out Redis may evict"},
	}
	t.Cleanup(func() {
		// Back to no persistence: the server writes nothing when it stops.
		rc.ConfigSet(ctx, "appendonly", "no")
		rc.ConfigSet(ctx, "save", "")
		rc.ConfigSet(ctx, "maxmemory-policy", "noeviction")
	})
	for _, c := range cases {
		for k, v := range c.config {
			if err := rc.ConfigSet(ctx, k, v).Err(); err != nil {
				t.Fatalf("CONFIG SET %s %s: %v", k, v, err)
			}
		}
		st, err := s.Stats(ctx, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(st.Durability, c.want) {
			t.Errorf("with %v: Durability = %q, want it to contain %q", c.config, st.Durability, c.want)
		}
	}
	cl := newStore(t, redistest.SharedCluster(t).Client(t), nil)
	st, err := cl.Stats(ctx, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(st.Durability, "3 masters: appendonly=no") || strings.Contains(st.Durability, "evict") {
		t.Errorf("Cluster Durability = %q", st.Durability)
	}
}

func TestExpiredRetention(t *testing.T) {
	rc := redistest.Shared(t).Client(t)
	opts := testOptions(t)
	opts.ExpiredRetention = time.Hour
	s := newStore(t, rc, opts)
	ctx := context.Background()
	// Real time: the record expired a minute ago; Redis keeps it an hour
	// past its expiry.
	now := time.Now().UTC()
	rec := sessiontest.NewRecord(session.NewID(), "alice", now.Add(-10*time.Minute))
	rec.IdleExpires = now.Add(-time.Minute)
	r := stored(rec)
	if _, err := s.Import(ctx, []*session.Record{rec}, now.Add(-2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, r.ID, now); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("Load of an expired record: %v", err)
	}
	if got, err := s.Load(ctx, r.ID, time.Time{}); err != nil || !got.Equal(r) {
		t.Errorf("Load at the zero time (admin lookup) = %+v, %v; want the kept record", got, err)
	}
	p, err := s.List(ctx, session.ListQuery{Now: now, Filter: session.Expired})
	if err != nil || len(p.Records) != 1 || p.Records[0].ID != r.ID {
		t.Errorf("List(expired) = %v, %v", p.Records, err)
	}
	if st, _ := s.Stats(ctx, now); st.Expired != 1 || st.Live != 0 || st.Users != 1 {
		t.Errorf("Stats = %+v; want 1 expired, 0 live, 1 user", st)
	}
	if n, err := s.Purge(ctx, now); err != nil || n != 1 {
		t.Errorf("Purge = %d, %v; want 1", n, err)
	}
	if st, _ := s.Stats(ctx, now); st.Sessions != 0 || st.Users != 0 {
		t.Errorf("Stats after Purge = %+v", st)
	}
	mustCheck(t, s)

	// Without retention, an expired record is not written at all.
	none := testOptions(t)
	none.ExpiredRetention = -1
	s2 := newStore(t, rc, none)
	if n, err := s2.Import(ctx, []*session.Record{rec}, now.Add(-2*time.Minute)); err != nil || n != 1 {
		t.Fatalf("Import = %d, %v", n, err)
	}
	if _, err := s2.Load(ctx, r.ID, time.Time{}); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("Load of a record past its retention: %v; want ErrNotFound", err)
	}
	mustCheck(t, s2)
}

// stored returns r as a store holds it after inserting it.
func stored(r *session.Record) *session.Record {
	c := r.Clone()
	c.Version = max(c.Version, 1)
	return c
}

func TestClusterRenewConflictLeavesNoCopy(t *testing.T) {
	rc := redistest.SharedCluster(t).Client(t)
	opts := testOptions(t)
	s := newStore(t, rc, opts)
	o := *opts
	other := newStore(t, rc, &o)
	ctx := context.Background()
	now := sessiontest.Base()
	r := sessiontest.Insert(t, s, sessiontest.NewRecord(session.NewID(), "", now))[0]

	// The first attempt's second step (removing the old id) meets a
	// concurrent change: the copy it wrote under the new id must go.
	hook, calls := conflicting(t, other, r.ID, 1)
	redisstore.SetBeforeWrite(s, hook)
	newID := session.NewID()
	got, err := s.Apply(ctx, &session.Change{ID: r.ID, Now: now, NewID: newID, User: ptr("alice")})
	if err != nil || got.ID != newID || got.Data["other1"] == nil {
		t.Fatalf("renew after a conflict = %+v, %v", got, err)
	}
	if calls() != 2 {
		t.Errorf("attempts = %d, want 2", calls())
	}
	p, err := s.List(ctx, session.ListQuery{Now: now, Filter: session.All})
	if err != nil || len(p.Records) != 1 || p.Records[0].ID != newID {
		t.Errorf("sessions after the renew: %v, %v; want only the renewed one", p.Records, err)
	}
	if recs, _ := s.UserSessions(ctx, "alice", now); len(recs) != 1 {
		t.Errorf("UserSessions(alice) = %v", recs)
	}
	if st, _ := s.Stats(ctx, now); st.Sessions != 1 || st.Users != 1 {
		t.Errorf("Stats = %+v", st)
	}
	mustCheck(t, s)
}

func ptr[T any](v T) *T { return &v }

func TestCheckFindsDamage(t *testing.T) {
	onEachKind(t, func(t *testing.T, rc redis.UniversalClient) {
		opts := testOptions(t)
		s := newStore(t, rc, opts)
		k := keyNames{opts.Prefix}
		ctx := context.Background()
		now := sessiontest.Base()
		recs := sessiontest.Insert(t, s,
			sessiontest.NewRecord(session.NewID(), "alice", now),
			sessiontest.NewRecord(session.NewID(), "bob", now),
			sessiontest.NewRecord(session.NewID(), "", now),
			sessiontest.NewRecord(session.NewID(), "", now))
		mustCheck(t, s)

		damage := []struct {
			do   func()
			want string
		}{
			{func() { rc.ZRem(ctx, k.user("alice"), recs[0].ID.String()) }, "missing from the user's index"},
			{func() { rc.ZRem(ctx, k.expiry(recs[1].ID), recs[1].ID.String()) }, "in only one of its bucket's indexes"},
			{func() { rc.Persist(ctx, k.record(recs[2].ID)) }, "no expiry time"},
			{func() { rc.Del(ctx, k.record(recs[3].ID)) }, "indexed but not stored"},
		}
		for _, d := range damage {
			d.do()
		}
		rep, err := s.Check(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range damage {
			if !slices.ContainsFunc(rep.Problems, func(p string) bool { return strings.Contains(p, d.want) }) {
				t.Errorf("Check did not report %q: %q", d.want, rep.Problems)
			}
		}
	})
}

func TestTooLarge(t *testing.T) {
	rc := redistest.Shared(t).Client(t)
	opts := testOptions(t)
	opts.MaxRecordSize = 1024
	s := newStore(t, rc, opts)
	ctx := context.Background()
	now := sessiontest.Base()
	r := sessiontest.Insert(t, s, sessiontest.NewRecord(session.NewID(), "alice", now))[0]
	big := json.RawMessage(`"` + strings.Repeat("x", 2000) + `"`)
	changes := map[string]*session.Change{
		"update": {ID: r.ID, Now: now, Set: map[string]json.RawMessage{"big": big}},
		"renew":  {ID: r.ID, Now: now, NewID: session.NewID(), Set: map[string]json.RawMessage{"big": big}},
		"login":  {ID: r.ID, Now: now, User: ptr(strings.Repeat("u", redisstore.MaxUserIDSize+1))},
	}
	for name, c := range changes {
		_, err := s.Apply(ctx, c)
		if !errors.Is(err, session.ErrTooLarge) {
			t.Errorf("%s too large: %v; want ErrTooLarge", name, err)
			continue
		}
		if strings.Contains(err.Error(), r.ID.String()) {
			t.Errorf("%s: the error names the session (it may reach request logs): %v", name, err)
		}
	}
	if got, err := s.Load(ctx, r.ID, now); err != nil || !got.Equal(r) {
		t.Errorf("record after too large changes: %+v, %v; want it unchanged", got, err)
	}
	mustCheck(t, s)
}

// TestDataStoredAsGiven: a data value with HTML characters reads back
// byte for byte, as the bbolt store keeps it (sesctl shows and exports
// the same bytes from both), and the stored value is that JSON.
func TestDataStoredAsGiven(t *testing.T) {
	rc := redistest.Shared(t).Client(t)
	opts := testOptions(t)
	s := newStore(t, rc, opts)
	now := time.Now().UTC()
	rec := sessiontest.NewRecord(session.NewID(), "", now)
	rec.Data = map[string]json.RawMessage{"note": json.RawMessage(`"<b>&</b>"`)}
	r := sessiontest.Insert(t, s, rec)[0]
	got, err := s.Load(context.Background(), r.ID, now)
	if err != nil || string(got.Data["note"]) != `"<b>&</b>"` {
		t.Errorf("Load: note = %s, %v; want \"<b>&</b>\"", got.Data["note"], err)
	}
	if v := rc.Get(context.Background(), keyNames{opts.Prefix}.record(r.ID)).Val(); !strings.Contains(v, `"note":"<b>&</b>"`) {
		t.Errorf("stored value %s", v)
	}
}

// TestScriptsAfterFlush: a server that lost its script cache (a restart,
// a failover) still runs every write: pipelined programs (a Delete of
// several sessions) and the trim pass load their script again.
func TestScriptsAfterFlush(t *testing.T) {
	rc := redistest.Shared(t).Client(t)
	opts := testOptions(t)
	opts.TrimInterval = 10 * time.Millisecond
	opts.ExpiredRetention = -1
	s := newStore(t, rc, opts)
	k := keyNames{opts.Prefix}
	ctx := context.Background()
	now := time.Now()
	a := sessiontest.NewRecord(session.NewID(), "alice", now)
	b := sessiontest.NewRecord(session.NewID(), "alice", now)
	short := sessiontest.NewRecord(session.NewID(), "bob", now)
	short.IdleExpires = now.Add(300 * time.Millisecond)
	sessiontest.Insert(t, s, a, b, short)

	if err := rc.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Delete(ctx, a.ID, b.ID); err != nil || n != 2 {
		t.Fatalf("Delete of two sessions after SCRIPT FLUSH = %d, %v; want 2, nil", n, err)
	}
	waitFor(t, "Redis to expire the short session", func() bool { return rc.Exists(ctx, k.record(short.ID)).Val() == 0 })
	waitFor(t, "the trim to drop its index entries after SCRIPT FLUSH", func() bool {
		return rc.ZScore(ctx, k.expiry(short.ID), short.ID.String()).Err() == redis.Nil &&
			rc.ZScore(ctx, k.ids(short.ID), short.ID.String()).Err() == redis.Nil
	})
}
