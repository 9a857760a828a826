package session_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/pkg/session"
)

func record(data map[string]string) *session.Record {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := &session.Record{ID: session.NewID(), UserID: "u", Created: t0, LastSeen: t0,
		IdleExpires: t0.Add(time.Hour), Deadline: t0.Add(2 * time.Hour), Version: 3,
		Data: map[string]json.RawMessage{}}
	for k, v := range data {
		r.Data[k] = json.RawMessage(v)
	}
	return r
}

func TestChangeApplyTo(t *testing.T) {
	bob := "bob"
	newID := session.NewID()
	later := time.Date(2026, 1, 1, 0, 30, 0, 0, time.UTC)
	tests := []struct {
		name   string
		change session.Change
		want   map[string]string
		check  func(t *testing.T, r *session.Record)
	}{
		{name: "set keeps other keys", change: session.Change{Set: map[string]json.RawMessage{"b": json.RawMessage(`2`)}},
			want: map[string]string{"a": `1`, "b": `2`, "c": `3`}},
		{name: "delete", change: session.Change{Delete: []string{"a", "missing"}},
			want: map[string]string{"c": `3`}},
		{name: "clear then set", change: session.Change{Clear: true, Set: map[string]json.RawMessage{"z": json.RawMessage(`9`)}},
			want: map[string]string{"z": `9`}},
		{name: "set wins over delete of the same key", change: session.Change{Delete: []string{"a"}, Set: map[string]json.RawMessage{"a": json.RawMessage(`5`)}},
			want: map[string]string{"a": `5`, "c": `3`}},
		{name: "renew and login", change: session.Change{NewID: newID, User: &bob, Deadline: later.Add(time.Hour)},
			want: map[string]string{"a": `1`, "c": `3`},
			check: func(t *testing.T, r *session.Record) {
				if r.ID != newID || r.UserID != "bob" || !r.Deadline.Equal(later.Add(time.Hour)) {
					t.Errorf("id/user/deadline = %v %q %v", r.ID, r.UserID, r.Deadline)
				}
			}},
		{name: "touch", change: session.Change{LastSeen: later, IdleExpires: later.Add(time.Hour)},
			want: map[string]string{"a": `1`, "c": `3`},
			check: func(t *testing.T, r *session.Record) {
				if !r.LastSeen.Equal(later) || !r.IdleExpires.Equal(later.Add(time.Hour)) || r.UserID != "u" {
					t.Errorf("last seen %v, idle %v, user %q", r.LastSeen, r.IdleExpires, r.UserID)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			latest := record(map[string]string{"a": `1`, "c": `3`})
			orig := latest.Clone()
			tt.change.ID = latest.ID
			got := tt.change.ApplyTo(latest)
			if !latest.Equal(orig) {
				t.Error("ApplyTo modified its input")
			}
			if got.Version != 4 {
				t.Errorf("Version %d, want 4", got.Version)
			}
			if len(got.Data) != len(tt.want) {
				t.Errorf("data %v, want %v", got.Data, tt.want)
			}
			for k, v := range tt.want {
				if string(got.Data[k]) != v {
					t.Errorf("data[%q] = %s, want %s", k, got.Data[k], v)
				}
			}
			if tt.check != nil {
				tt.check(t, got)
			}
			if again := tt.change.ApplyTo(latest); !again.Equal(got) {
				t.Error("ApplyTo is not repeatable")
			}
		})
	}
}

func TestChangeInsertAndDestroy(t *testing.T) {
	r := record(map[string]string{"a": `1`})
	c := session.Change{ID: r.ID, Create: r}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	got := c.ApplyTo(nil)
	if got.Version != 1 || string(got.Data["a"]) != `1` {
		t.Errorf("insert gave %+v", got)
	}
	if (&session.Change{ID: r.ID, Destroy: true}).ApplyTo(r) != nil {
		t.Error("destroy returned a record")
	}
}

func TestChangeValidate(t *testing.T) {
	r := record(nil)
	for name, c := range map[string]session.Change{
		"zero id":            {},
		"id mismatch":        {ID: session.NewID(), Create: r},
		"renew to self":      {ID: r.ID, NewID: r.ID},
		"no expiry":          {ID: r.ID, Create: &session.Record{ID: r.ID}},
		"negative limit":     {ID: r.ID, MaxUserSessions: -1},
		"create and destroy": {ID: r.ID, Create: r, Destroy: true},
	} {
		if err := c.Validate(); !errors.Is(err, session.ErrInvalid) {
			t.Errorf("%s: Validate = %v, want an error wrapping ErrInvalid", name, err)
		}
	}
	for name, c := range map[string]session.Change{
		"insert":       {ID: r.ID, Create: r, MaxUserSessions: 2},
		"update":       {ID: r.ID, Set: map[string]json.RawMessage{"a": json.RawMessage(`1`)}},
		"renew":        {ID: r.ID, NewID: session.NewID()},
		"destroy":      {ID: r.ID, Destroy: true},
		"empty update": {ID: r.ID},
	} {
		if err := c.Validate(); err != nil {
			t.Errorf("%s: Validate = %v, want nil", name, err)
		}
	}
}

// TestChangeTargetID: only an update that renews moves the record; an
// insert and a Destroy ignore NewID.
func TestChangeTargetID(t *testing.T) {
	r := record(nil)
	newID := session.NewID()
	for name, tc := range map[string]struct {
		c    session.Change
		want session.ID
	}{
		"update":  {session.Change{ID: r.ID}, r.ID},
		"renew":   {session.Change{ID: r.ID, NewID: newID}, newID},
		"insert":  {session.Change{ID: r.ID, Create: r, NewID: newID}, r.ID},
		"destroy": {session.Change{ID: r.ID, Destroy: true, NewID: newID}, r.ID},
	} {
		if got := tc.c.TargetID(); got != tc.want {
			t.Errorf("%s: TargetID = %s, want %s", name, got, tc.want)
		}
	}
}

func TestRecordExpires(t *testing.T) {
	r := record(nil) // idle at +1h, deadline at +2h
	if !r.Expires().Equal(r.IdleExpires) {
		t.Errorf("Expires %v, want idle expiry", r.Expires())
	}
	r.IdleExpires = r.Deadline.Add(time.Hour)
	if !r.Expires().Equal(r.Deadline) {
		t.Errorf("Expires %v, want deadline", r.Expires())
	}
	if r.Expired(r.Deadline.Add(-time.Nanosecond)) || !r.Expired(r.Deadline) {
		t.Error("a session must be live strictly before Expires and expired at it")
	}
}

func TestChangeApplyToPersistentAndLastClient(t *testing.T) {
	r := record(nil)
	r.Client = session.ClientInfo{IP: "192.0.2.1", UserAgent: "first"}
	yes := true
	phone := session.ClientInfo{IP: "198.51.100.2", UserAgent: "phone"}
	got := (&session.Change{ID: r.ID, Persistent: &yes, LastClient: phone}).ApplyTo(r)
	if !got.Persistent || got.LastClient != phone || got.Client != r.Client || got.Latest() != phone {
		t.Fatalf("ApplyTo = %+v", got)
	}
	again := (&session.Change{ID: r.ID}).ApplyTo(got)
	if !again.Persistent || again.LastClient != phone {
		t.Fatalf("an empty change altered persistent or last client: %+v", again)
	}
	if r.Persistent || !r.LastClient.IsZero() || r.Latest() != r.Client {
		t.Fatalf("ApplyTo changed its input: %+v", r)
	}
}

func TestOverLimit(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rec := func(id byte, user string, seen time.Duration, expired bool) *session.Record {
		r := &session.Record{UserID: user, LastSeen: t0.Add(seen), IdleExpires: t0.Add(time.Hour), Deadline: t0.Add(time.Hour)}
		r.ID[15] = id
		if expired {
			r.IdleExpires = t0
		}
		return r
	}
	result := rec(9, "alice", 0, false)
	others := []*session.Record{
		rec(5, "alice", 2*time.Minute, false),
		rec(3, "alice", time.Minute, false),
		rec(4, "alice", time.Minute, false),
		rec(1, "alice", 0, true), // expired: neither counts nor ends
		rec(2, "bob", 0, false),  // another user
		nil,
		result, // the result itself
	}
	ids := func(list []session.ID) []byte {
		var out []byte
		for _, id := range list {
			out = append(out, id[15])
		}
		return out
	}
	for _, tc := range []struct {
		limit int
		want  []byte
	}{{0, nil}, {-1, nil}, {4, nil}, {3, []byte{3}}, {2, []byte{3, 4}}, {1, []byte{3, 4, 5}}} {
		if got := ids(session.OverLimit(tc.limit, result, others, t0.Add(time.Minute))); string(got) != string(tc.want) {
			t.Errorf("OverLimit(%d) = %v, want %v", tc.limit, got, tc.want)
		}
	}
	if got := session.OverLimit(1, rec(9, "", 0, false), others, t0); got != nil {
		t.Errorf("OverLimit of an anonymous result = %v, want nil", got)
	}
}
