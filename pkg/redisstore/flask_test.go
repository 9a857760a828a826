package redisstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sesbolt/sesbolt/internal/redistest"
	"github.com/sesbolt/sesbolt/internal/testclient"
	"github.com/sesbolt/sesbolt/pkg/redisstore"
	"github.com/sesbolt/sesbolt/pkg/session"
	"github.com/sesbolt/sesbolt/pkg/session/sessiontest"
)

// flaskLifetime is the lifetime of the stores in these tests.
const flaskLifetime = 10 * time.Minute

// flaskFixture is a Flask-layout store on the shared server, the raw
// client, and the clock the tests pass to the store (the real time, since
// Redis expires keys by its own clock).
type flaskFixture struct {
	t    *testing.T
	rc   redis.UniversalClient
	s    *redisstore.FlaskStore
	opts *redisstore.FlaskOptions
	log  *testclient.SyncBuffer
	now  time.Time
	ctx  context.Context
}

func newFlaskFixture(t *testing.T, rc redis.UniversalClient) *flaskFixture {
	f := &flaskFixture{t: t, rc: rc, log: &testclient.SyncBuffer{}, now: time.Now().UTC().Truncate(time.Millisecond), ctx: context.Background()}
	f.opts = flaskOptions()
	f.opts.Lifetime = flaskLifetime
	f.opts.Logger = slog.New(slog.NewTextHandler(f.log, nil))
	f.s = newFlaskStore(t, rc, f.opts)
	return f
}

// flaskWrites stores value under id as the Flask app does: SETEX with the
// lifetime.
func (f *flaskFixture) flaskWrites(id session.ID, value string) {
	f.t.Helper()
	if err := f.rc.Set(f.ctx, id.String(), value, flaskLifetime).Err(); err != nil {
		f.t.Fatal(err)
	}
}

// stored returns the raw value under id ("" when none) and its expiry in
// unix ms (PEXPIRETIME: -1 no TTL, -2 no key).
func (f *flaskFixture) stored(id session.ID) (string, int64) {
	f.t.Helper()
	v, err := f.rc.Get(f.ctx, id.String()).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		f.t.Fatal(err)
	}
	exp, err := f.rc.Do(f.ctx, "pexpiretime", id.String()).Int64()
	if err != nil {
		f.t.Fatal(err)
	}
	return v, exp
}

// dict decodes a stored value.
func (f *flaskFixture) dict(v string) map[string]any {
	f.t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(v), &m); err != nil {
		f.t.Fatalf("stored value %q is not a JSON object: %v", v, err)
	}
	return m
}

// apply applies c and fails the test on error.
func (f *flaskFixture) apply(c *session.Change) *session.Record {
	f.t.Helper()
	r, err := f.s.Apply(f.ctx, c)
	if err != nil {
		f.t.Fatalf("Apply: %v", err)
	}
	return r
}

// load loads id at f.now and fails the test on error.
func (f *flaskFixture) load(id session.ID) *session.Record {
	f.t.Helper()
	r, err := f.s.Load(f.ctx, id, f.now)
	if err != nil {
		f.t.Fatalf("Load: %v", err)
	}
	return r
}

// wantExpiry fails the test unless id's key expires Lifetime after at.
func (f *flaskFixture) wantExpiry(id session.ID, at time.Time) {
	f.t.Helper()
	if _, exp := f.stored(id); exp != at.Add(flaskLifetime).UnixMilli() {
		f.t.Errorf("PEXPIRETIME = %d, want %d (the lifetime after the write)", exp, at.Add(flaskLifetime).UnixMilli())
	}
}

func raw(s string) json.RawMessage { return json.RawMessage(s) }

// TestFlaskLayout: a session inserted through the store is the recipe's
// layout: the dict as JSON under the bare id, the user id as the user key,
// and the lifetime as TTL; it loads back with times derived from the TTL.
func TestFlaskLayout(t *testing.T) {
	onEachKind(t, func(t *testing.T, rc redis.UniversalClient) {
		f := newFlaskFixture(t, rc)
		id := session.NewID()
		rec := &session.Record{ID: id, UserID: "alice", Created: f.now, LastSeen: f.now,
			IdleExpires: f.now.Add(time.Minute), Deadline: f.now.Add(time.Hour),
			Data: map[string]json.RawMessage{"cart": raw(`[1, 2]`), "html": raw(`"<b>&"`)}}
		got := f.apply(&session.Change{ID: id, Now: f.now, Create: rec})

		v, _ := f.stored(id)
		if want := `{"cart":[1,2],"html":"<b>&","user_id":"alice"}`; v != want {
			t.Errorf("stored %s, want %s", v, want)
		}
		f.wantExpiry(id, f.now) // the lifetime, not the record's times
		exp := f.now.Add(flaskLifetime)
		want := &session.Record{ID: id, UserID: "alice", LastSeen: f.now, IdleExpires: exp, Deadline: exp,
			Data: map[string]json.RawMessage{"cart": raw(`[1,2]`), "html": raw(`"<b>&"`)}}
		if !got.Equal(want) {
			t.Errorf("Apply returned %+v\nwant %+v", got, want)
		}
		if l := f.load(id); !l.Equal(want) {
			t.Errorf("Load returned %+v\nwant %+v", l, want)
		}
		// Nothing but the session key was written.
		if n := rc.Exists(f.ctx, f.opts.TombstonePrefix+"{"+id.String()+"}").Val(); n != 0 {
			t.Error("an insert left a tombstone")
		}
	})
}

// TestFlaskReadsWhatFlaskWrites: dicts as Python's json.dumps writes them
// (spaces, \u escapes, values of every JSON type, a user id that is a
// number or null or missing) load with their user and data; a Go change
// keeps the other values and the user id's type, and sets the TTL.
func TestFlaskReadsWhatFlaskWrites(t *testing.T) {
	f := newFlaskFixture(t, redistest.Shared(t).Client(t))
	cases := []struct {
		name, value, user string
		data              map[string]string
		userAfter         any // the user key's value after a Go change
	}{
		{"string user", `{"user_id": "alice", "color": "blue \u2713", "n": 7, "f": 1.5e3, "ok": true, "none": null, "list": [1, "a", {"b": []}], "obj": {"k": {"deep": [null]}}}`,
			"alice", map[string]string{"color": `"blue \u2713"`, "n": `7`, "f": `1.5e3`, "ok": `true`, "none": `null`, "list": `[1, "a", {"b": []}]`, "obj": `{"k": {"deep": [null]}}`}, "alice"},
		{"number user", `{"user_id": 42, "a": 1}`, "42", map[string]string{"a": `1`}, float64(42)},
		{"null user", `{"user_id": null, "a": 1}`, "", map[string]string{"a": `1`}, nil},
		{"no user", `{"a": {}}`, "", map[string]string{"a": `{}`}, "absent"},
		{"empty dict", `{}`, "", map[string]string{}, "absent"},
		{"empty key", `{"": "x", "user_id": "bob"}`, "bob", map[string]string{"": `"x"`}, "bob"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f.t = t
			id := session.NewID()
			f.flaskWrites(id, c.value)
			r := f.load(id)
			if r.UserID != c.user || len(r.Data) != len(c.data) {
				t.Fatalf("loaded user %q data %v, want %q %v", r.UserID, r.Data, c.user, c.data)
			}
			for k, v := range c.data {
				if string(r.Data[k]) != v {
					t.Errorf("data %q = %s, want %s", k, r.Data[k], v)
				}
			}
			if !r.Created.IsZero() || r.Version != 0 || r.Client != (session.ClientInfo{}) {
				t.Errorf("metadata the layout does not keep: created %v version %d client %v", r.Created, r.Version, r.Client)
			}

			at := f.now.Add(time.Second)
			f.apply(&session.Change{ID: id, Now: at, Set: map[string]json.RawMessage{"go": raw(`"set in Go"`)}})
			v, _ := f.stored(id)
			m := f.dict(v)
			if m["go"] != "set in Go" || len(m) != len(c.data)+1+btoi(c.userAfter != "absent") {
				t.Errorf("after a Go change: %s", v)
			}
			if u, ok := m["user_id"]; c.userAfter == "absent" && ok || c.userAfter != "absent" && u != c.userAfter {
				t.Errorf("user key after a Go change: %v (present %v), want %v", u, ok, c.userAfter)
			}
			var before map[string]any
			json.Unmarshal([]byte(c.value), &before)
			for k, want := range before {
				if got, _ := json.Marshal(m[k]); string(got) != mustJSON(t, want) {
					t.Errorf("value %q changed from %s to %s", k, mustJSON(t, want), got)
				}
			}
			f.wantExpiry(id, at)
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestFlaskUnreadable: a value that is not a session dict loads as absent,
// is logged once per id without its content, cannot be updated (nothing is
// written), and is deleted by Destroy and Delete.
func TestFlaskUnreadable(t *testing.T) {
	f := newFlaskFixture(t, redistest.Shared(t).Client(t))
	const secret = "s3cr3t-value"
	for name, value := range map[string]string{
		"not json":    "not json " + secret,
		"python nan":  `{"x": NaN, "k": "` + secret + `"}`,
		"list":        `["` + secret + `"]`,
		"string":      `"` + secret + `"`,
		"null":        `null`,
		"empty":       ``,
		"truncated":   `{"k": "` + secret,
		"pickle-ish":  "\x80\x04\x95" + secret,
		"object then": `{"k": 1} {"` + secret + `": 2}`,
	} {
		t.Run(name, func(t *testing.T) {
			f.t = t
			id := session.NewID()
			f.flaskWrites(id, value)
			for range 2 {
				if r, err := f.s.Load(f.ctx, id, f.now); !errors.Is(err, session.ErrNotFound) {
					t.Fatalf("Load = %v, %v; want ErrNotFound", r, err)
				}
			}
			_, err := f.s.Apply(f.ctx, &session.Change{ID: id, Now: f.now, Set: map[string]json.RawMessage{"a": raw(`1`)}})
			if !errors.Is(err, session.ErrNotFound) {
				t.Errorf("update: %v, want ErrNotFound", err)
			}
			if v, _ := f.stored(id); v != value {
				t.Errorf("a failed update rewrote the value: %q", v)
			}
			log := f.log.String()
			if n := strings.Count(log, id.String()); n != 1 {
				t.Errorf("logged %d times with the id, want once:\n%s", n, log)
			}
			if strings.Contains(log, secret) {
				t.Errorf("the log quotes the stored value:\n%s", log)
			}
			if _, err := f.s.Apply(f.ctx, &session.Change{ID: id, Now: f.now, Destroy: true}); err != nil {
				t.Fatal(err)
			}
			if _, exp := f.stored(id); exp != -2 {
				t.Error("Destroy left the value")
			}
		})
	}
	id := session.NewID()
	f.flaskWrites(id, "junk")
	if n, err := f.s.Delete(f.ctx, id, id, session.NewID()); err != nil || n != 1 {
		t.Errorf("Delete = %d, %v; want 1", n, err)
	}
}

// TestFlaskNoTTL: a key without a TTL loads as live until FlaskNoExpiry,
// and the next write, even one that changes nothing but times, gives it
// the lifetime.
func TestFlaskNoTTL(t *testing.T) {
	f := newFlaskFixture(t, redistest.Shared(t).Client(t))
	id := session.NewID()
	if err := f.rc.Set(f.ctx, id.String(), `{"user_id": "alice"}`, 0).Err(); err != nil {
		t.Fatal(err)
	}
	r := f.load(id)
	if !r.IdleExpires.Equal(redisstore.FlaskNoExpiry) || !r.LastSeen.IsZero() || r.UserID != "alice" {
		t.Errorf("loaded %+v", r)
	}
	at := f.now.Add(time.Second)
	f.apply(&session.Change{ID: id, Now: at, LastSeen: at, IdleExpires: at.Add(time.Minute)})
	f.wantExpiry(id, at)
	if v, _ := f.stored(id); v != `{"user_id": "alice"}` {
		t.Errorf("a change of times only rewrote the dict: %s", v)
	}
}

// TestFlaskTouchKeepsTheDict: a change of times only refreshes the TTL
// (the Flask app's EXPIRE) and leaves the bytes the Flask app wrote; a
// change that sets a value the dict already holds does too.
func TestFlaskTouchKeepsTheDict(t *testing.T) {
	f := newFlaskFixture(t, redistest.Shared(t).Client(t))
	id := session.NewID()
	const flaskValue = `{"user_id": "alice", "color": "blue"}`
	f.flaskWrites(id, flaskValue)
	for i, c := range []*session.Change{
		{ID: id, LastSeen: f.now, IdleExpires: f.now.Add(time.Minute)},
		{ID: id, Set: map[string]json.RawMessage{"color": raw(`"blue"`)}, Delete: []string{"absent"}},
		{ID: id},
	} {
		c.Now = f.now.Add(time.Duration(i+1) * time.Second)
		f.apply(c)
		if v, _ := f.stored(id); v != flaskValue {
			t.Errorf("change %d rewrote the dict: %s", i, v)
		}
		f.wantExpiry(id, c.Now)
	}
}

// TestFlaskUserBinding: the user key is the binding, not data: setting or
// deleting it as data fails with ErrInvalid and writes nothing; binding
// another user writes a string; unbinding removes the key; a login with a
// renew moves the dict to the new id, deletes the old key and leaves a
// tombstone the store honours, under its prefix, for RenewGrace.
func TestFlaskUserBinding(t *testing.T) {
	onEachKind(t, func(t *testing.T, rc redis.UniversalClient) {
		f := newFlaskFixture(t, rc)
		id := session.NewID()
		f.flaskWrites(id, `{"user_id": 42, "cart": ["book"]}`)

		for name, c := range map[string]*session.Change{
			"set":    {ID: id, Now: f.now, Set: map[string]json.RawMessage{"user_id": raw(`"mallory"`)}},
			"delete": {ID: id, Now: f.now, Delete: []string{"user_id"}},
			"insert": {ID: session.NewID(), Now: f.now, Create: &session.Record{IdleExpires: f.now.Add(time.Minute), Deadline: f.now.Add(time.Minute),
				Data: map[string]json.RawMessage{"user_id": raw(`"mallory"`)}}},
		} {
			if c.Create != nil {
				c.Create.ID = c.ID
			}
			if _, err := f.s.Apply(f.ctx, c); !errors.Is(err, session.ErrInvalid) {
				t.Errorf("%s of the user key as data: %v, want ErrInvalid", name, err)
			}
		}
		if v, _ := f.stored(id); v != `{"user_id": 42, "cart": ["book"]}` {
			t.Errorf("refused changes wrote %s", v)
		}

		bob := "bob"
		f.apply(&session.Change{ID: id, Now: f.now, User: &bob})
		if v, _ := f.stored(id); v != `{"cart":["book"],"user_id":"bob"}` {
			t.Errorf("after binding bob: %s", v)
		}
		none := ""
		f.apply(&session.Change{ID: id, Now: f.now, User: &none})
		if v, _ := f.stored(id); v != `{"cart":["book"]}` {
			t.Errorf("after unbinding: %s", v)
		}

		// Login: a new id, the old key gone, its tombstone left.
		alice, newID := "alice", session.NewID()
		got := f.apply(&session.Change{ID: id, Now: f.now, NewID: newID, User: &alice, Deadline: f.now.Add(time.Hour)})
		if got.ID != newID || got.UserID != "alice" || string(got.Data["cart"]) != `["book"]` {
			t.Errorf("renew returned %+v", got)
		}
		if v, _ := f.stored(newID); v != `{"cart":["book"],"user_id":"alice"}` {
			t.Errorf("under the new id: %q", v)
		}
		f.wantExpiry(newID, f.now)
		if _, exp := f.stored(id); exp != -2 {
			t.Error("the old key survived the renew")
		}
		tomb := f.opts.TombstonePrefix + "{" + id.String() + "}"
		if exp := rc.PExpireTime(f.ctx, tomb).Val().Milliseconds(); exp != f.now.Add(session.RenewGrace).UnixMilli() {
			t.Errorf("tombstone %s expires at %d, want RenewGrace after the renew", tomb, exp)
		}
		if _, err := f.s.Load(f.ctx, id, f.now); !errors.Is(err, session.ErrRenewed) {
			t.Errorf("Load of the old id: %v, want ErrRenewed", err)
		}
		if _, err := f.s.Load(f.ctx, id, f.now.Add(session.RenewGrace)); !errors.Is(err, session.ErrNotFound) || errors.Is(err, session.ErrRenewed) {
			t.Errorf("Load of the old id after RenewGrace: %v, want ErrNotFound only", err)
		}
	})
}

// TestFlaskMergeAgainstAnotherWriter: when another writer (the Flask app)
// replaces the dict between a change's read and its write, the write does
// not happen on the stale read: the change is applied again on top of the
// other writer's dict.
func TestFlaskMergeAgainstAnotherWriter(t *testing.T) {
	f := newFlaskFixture(t, redistest.Shared(t).Client(t))
	id := session.NewID()
	f.flaskWrites(id, `{"user_id": "alice", "a": 1}`)
	var writes atomic.Int32
	redisstore.SetFlaskBeforeWrite(f.s, func() {
		if writes.Add(1) == 1 { // Flask saves its whole dict meanwhile
			f.flaskWrites(id, `{"user_id": "alice", "a": 1, "flask": "was here"}`)
		}
	})
	f.apply(&session.Change{ID: id, Now: f.now, Set: map[string]json.RawMessage{"go": raw(`2`)}})
	v, _ := f.stored(id)
	if m := f.dict(v); m["flask"] != "was here" || m["go"] != float64(2) || m["a"] != float64(1) {
		t.Errorf("stored %s: a change was lost", v)
	}
	if writes.Load() != 2 {
		t.Errorf("%d attempts, want 2 (the first met the other writer)", writes.Load())
	}
}

// TestFlaskLimits: a result over MaxRecordSize fails with ErrTooLarge and
// writes nothing; a read-only store writes nothing; expired sessions are
// neither loaded nor updated.
func TestFlaskLimits(t *testing.T) {
	rc := redistest.Shared(t).Client(t)
	f := newFlaskFixture(t, rc)
	small := flaskOptions()
	small.MaxRecordSize = 64
	s := newFlaskStore(t, rc, small)
	id := session.NewID()
	f.flaskWrites(id, `{"a": 1}`)
	big := raw(`"` + strings.Repeat("x", 64) + `"`)
	if _, err := s.Apply(f.ctx, &session.Change{ID: id, Now: f.now, Set: map[string]json.RawMessage{"b": big}}); !errors.Is(err, session.ErrTooLarge) {
		t.Errorf("too large: %v", err)
	}
	if v, _ := f.stored(id); v != `{"a": 1}` {
		t.Errorf("a refused change wrote %s", v)
	}

	ro := flaskOptions()
	ro.ReadOnly, ro.Lifetime = true, 0 // a reader needs no lifetime
	r := newFlaskStore(t, rc, ro)
	if _, err := r.Apply(f.ctx, &session.Change{ID: id, Now: f.now, Destroy: true}); !errors.Is(err, redisstore.ErrReadOnly) {
		t.Errorf("read-only Apply: %v", err)
	}
	if _, err := r.Delete(f.ctx, id); !errors.Is(err, redisstore.ErrReadOnly) {
		t.Errorf("read-only Delete: %v", err)
	}
	if got, err := r.Load(f.ctx, id, f.now); err != nil || string(got.Data["a"]) != `1` || !got.LastSeen.IsZero() {
		t.Errorf("read-only Load without a lifetime: %+v, %v", got, err)
	}

	later := f.now.Add(flaskLifetime + time.Second) // past the key's expiry, by the caller's clock
	if _, err := f.s.Load(f.ctx, id, later); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("Load after expiry: %v", err)
	}
	if _, err := f.s.Apply(f.ctx, &session.Change{ID: id, Now: later, Set: map[string]json.RawMessage{"b": raw(`1`)}}); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("update after expiry: %v", err)
	}
}

// TestFlaskEach: Each finds every session of the layout, live at the time
// given, and counts the values that are not session dicts; keys of other
// shapes are not its business.
func TestFlaskEach(t *testing.T) {
	srv := redistest.Start(t) // a database of its own: Each reads every key
	onEach := func(t *testing.T, rc redis.UniversalClient) {
		f := newFlaskFixture(t, rc)
		want := map[session.ID]string{}
		for i := range 2500 { // more than one batch
			id := session.NewID()
			f.flaskWrites(id, `{"user_id": "u`+string(rune('a'+i%26))+`", "i": 1}`)
			want[id] = "u" + string(rune('a'+i%26))
		}
		stale := session.NewID()
		if err := rc.Set(f.ctx, stale.String(), `{}`, time.Second).Err(); err != nil {
			t.Fatal(err)
		}
		junk := session.NewID()
		f.flaskWrites(junk, "junk")
		for _, k := range []string{"other:key", strings.ToUpper(session.NewID().String()), "sesbolt:meta"} {
			rc.Set(f.ctx, k, "x", 0)
		}
		seen := map[session.ID]bool{}
		var unreadable []session.ID
		at := time.Now().Add(2 * time.Second) // the stale session has expired
		err := f.s.Each(f.ctx, at, func(id session.ID, r *session.Record, err error) error {
			if err != nil {
				if r != nil || strings.Contains(err.Error(), "junk") {
					t.Errorf("%s: record %v, error %v", id, r, err)
				}
				unreadable = append(unreadable, id)
				return nil
			}
			if seen[r.ID] || r.ID != id {
				t.Errorf("%s seen twice, or as %s", r.ID, id)
			}
			seen[r.ID] = true
			if want[r.ID] != r.UserID {
				t.Errorf("%s: user %q, want %q", r.ID, r.UserID, want[r.ID])
			}
			return nil
		})
		if err != nil || len(unreadable) != 1 || unreadable[0] != junk || len(seen) != len(want) {
			t.Errorf("Each: %d seen of %d, unreadable %v (want %s), %v", len(seen), len(want), unreadable, junk, err)
		}
		if strings.Contains(f.log.String(), junk.String()) {
			t.Error("Each logged the unreadable value; its caller reports it")
		}
		stop := errors.New("stop")
		if err := f.s.Each(f.ctx, time.Time{}, func(session.ID, *session.Record, error) error { return stop }); err != stop {
			t.Errorf("Each did not return fn's error: %v", err)
		}
	}
	t.Run("Standalone", func(t *testing.T) { onEach(t, srv.Client(t)) })
}

// TestNewFlaskRefuses: options without the user key or the lifetime, a
// tombstone prefix with braces, and a client that ignores deadlines fail
// with ErrConfig.
func TestNewFlaskRefuses(t *testing.T) {
	rc := redistest.Shared(t).Client(t)
	for name, o := range map[string]redisstore.FlaskOptions{
		"no user key":   {Lifetime: time.Minute},
		"no lifetime":   {UserKey: "user_id"},
		"sub-ms":        {UserKey: "user_id", Lifetime: time.Microsecond},
		"negative":      {UserKey: "user_id", Lifetime: -time.Minute, ReadOnly: true},
		"braced prefix": {UserKey: "user_id", Lifetime: time.Minute, TombstonePrefix: "x{y}"},
		"zero options":  {},
	} {
		_, err := redisstore.NewFlask(rc, &o)
		if !errors.Is(err, redisstore.ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", name, err)
		}
	}
	if _, err := redisstore.NewFlask(rc, nil); !errors.Is(err, redisstore.ErrConfig) {
		t.Errorf("nil options: %v, want ErrConfig", err)
	}
	plain := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer plain.Close()
	if _, err := redisstore.NewFlask(plain, &redisstore.FlaskOptions{UserKey: "u", Lifetime: time.Minute}); !errors.Is(err, redisstore.ErrConfig) {
		t.Errorf("client without ContextTimeoutEnabled: %v, want ErrConfig", err)
	}
}

// TestFlaskObserverConformance runs the observer suite: the sessions
// Destroy and Delete remove are reported once, with their user and the
// caller's reason; nothing else is. The store has no per-user limit.
func TestFlaskObserverConformance(t *testing.T) {
	onEachKind(t, func(t *testing.T, rc redis.UniversalClient) {
		sessiontest.RunObserver(t, func(t *testing.T, obs session.StoreObserver) session.Store {
			o := flaskOptions()
			o.Observer = obs
			return newFlaskStore(t, rc, o)
		}, sessiontest.Lacks(sessiontest.UserLimit))
	})
}

// TestFlaskObserverCommitsAndFailures: every Apply that reached Redis is
// one commit, a data outcome a commit without an error; with Redis gone,
// Apply, Load and Delete report Failed.
func TestFlaskObserverCommitsAndFailures(t *testing.T) {
	srv := redistest.Start(t)
	rec := &sessiontest.Recorder{}
	o := flaskOptions()
	o.Observer = rec.StoreObserver()
	s := newFlaskStore(t, srv.Client(t), o)
	ctx := context.Background()
	now := time.Now()
	r := sessiontest.NewRecord(session.NewID(), "alice", now)
	if _, err := s.Apply(ctx, sessiontest.CreateChange(r)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Apply(ctx, &session.Change{ID: session.NewID(), Now: now, Set: map[string]json.RawMessage{"a": raw(`1`)}}); !errors.Is(err, session.ErrNotFound) {
		t.Fatal(err)
	}
	if c := rec.Commits(); len(c) != 2 || c[0].Err != nil || c[1].Err != nil || c[0].Size != 1 {
		t.Errorf("commits %+v, want two without error", c)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s.Apply(short, &session.Change{ID: r.ID, Now: now, Destroy: true})
	s.Load(short, r.ID, now)
	s.Delete(short, r.ID)
	if f := rec.Failures(); !slices.Contains(f, "apply") || !slices.Contains(f, "load") || !slices.Contains(f, "delete") {
		t.Errorf("failures %v, want apply, load and delete", f)
	}
	if c := rec.Commits(); len(c) != 3 || c[2].Err == nil {
		t.Errorf("commits %+v, want a third with the error", c)
	}
}
