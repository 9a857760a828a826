package sessiontest

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/pkg/session"
)

var randomCases = []testCase{
	{"Seed1", func(t *testing.T, s session.Store) { testRandom(t, s, 1, 250) }},
	{"Seed2", func(t *testing.T, s session.Store) { testRandom(t, s, 2, 250) }},
}

// randomUsers are the users of the random test; "ali" is a prefix of
// "alice", "" is anonymous.
var randomUsers = []string{"alice", "ali", "bob", ""}

// randomKeys are the data keys the random test sets and deletes.
var randomKeys = []string{"a", "b", "c", "d"}

// model is what a store should hold: the stored records, live or expired,
// maintained by hand rather than with session.Change.ApplyTo so that a store
// and the model share no code.
type model struct {
	recs map[session.ID]*session.Record
	// renewed maps the ids renewed away to the end of their tombstone.
	renewed map[session.ID]time.Time
}

// renewedAt reports whether id's tombstone lasts at now.
func (m *model) renewedAt(id session.ID, now time.Time) bool {
	until, ok := m.renewed[id]
	return ok && now.Before(until)
}

// apply returns what Store.Apply should return for c, and updates the model.
func (m *model) apply(c *session.Change) (*session.Record, error) {
	if c.Create != nil {
		if _, ok := m.recs[c.ID]; ok || m.renewedAt(c.ID, c.Now) {
			return nil, session.ErrExists
		}
		r := c.Create.Clone()
		r.Version = 1
		m.recs[r.ID] = r
		m.limit(r, c)
		return r.Clone(), nil
	}
	cur, ok := m.recs[c.ID]
	if c.Destroy {
		delete(m.recs, c.ID)
		return nil, nil
	}
	if !ok && m.renewedAt(c.ID, c.Now) {
		return nil, session.ErrRenewed
	}
	if !ok || !c.Now.Before(cur.Expires()) {
		return nil, session.ErrNotFound
	}
	r := cur.Clone()
	if !c.NewID.IsZero() {
		if _, ok := m.recs[c.NewID]; ok || m.renewedAt(c.NewID, c.Now) {
			return nil, session.ErrExists
		}
		r.ID = c.NewID
		m.renewed[c.ID] = c.Now.Add(session.RenewGrace)
	}
	if c.Clear {
		r.Data = map[string]json.RawMessage{}
	}
	for _, k := range c.Delete {
		delete(r.Data, k)
	}
	for k, v := range c.Set {
		r.Data[k] = slices.Clone(v)
	}
	if c.User != nil {
		r.UserID = *c.User
	}
	if !c.LastSeen.IsZero() {
		r.LastSeen = c.LastSeen
	}
	if !c.IdleExpires.IsZero() {
		r.IdleExpires = c.IdleExpires
	}
	if !c.Deadline.IsZero() {
		r.Deadline = c.Deadline
	}
	if c.Persistent != nil {
		r.Persistent = *c.Persistent
	}
	if c.LastClient != (session.ClientInfo{}) {
		r.LastClient = c.LastClient
	}
	r.Version++
	delete(m.recs, c.ID)
	m.recs[r.ID] = r
	m.limit(r, c)
	return r.Clone(), nil
}

// limit ends the sessions of r's user over c.MaxUserSessions: while more
// than the limit are live at c.Now, r included, it removes the other one
// seen least recently (ties: the smaller id).
func (m *model) limit(r *session.Record, c *session.Change) {
	if c.MaxUserSessions <= 0 || r.UserID == "" {
		return
	}
	var others []*session.Record
	for _, o := range m.recs {
		if o.ID != r.ID && o.UserID == r.UserID && c.Now.Before(o.Expires()) {
			others = append(others, o)
		}
	}
	for len(others)+1 > c.MaxUserSessions {
		oldest := 0
		for i, o := range others {
			first := others[oldest]
			if o.LastSeen.Before(first.LastSeen) || o.LastSeen.Equal(first.LastSeen) && compareID(o.ID, first.ID) < 0 {
				oldest = i
			}
		}
		delete(m.recs, others[oldest].ID)
		others = slices.Delete(others, oldest, oldest+1)
	}
}

// remove removes the records matching keep and returns how many.
func (m *model) remove(match func(*session.Record) bool) int {
	n := 0
	for id, r := range m.recs {
		if match(r) {
			delete(m.recs, id)
			n++
		}
	}
	return n
}

// sorted returns the model's records matching keep, sorted by ID.
func (m *model) sorted(keep func(*session.Record) bool) []*session.Record {
	var out []*session.Record
	for _, r := range m.recs {
		if keep(r) {
			out = append(out, r)
		}
	}
	return sortByID(out)
}

// randomRun is the state of one random test.
type randomRun struct {
	t     *testing.T
	s     session.Store
	rng   *rand.Rand
	m     *model
	now   time.Time
	known []session.ID // every id used so far, stored or not, in order of first use
	seed  uint64
	step  int
}

// testRandom applies a seeded random sequence of steps operations to s and
// checks after each that Load, UserSessions, List and Stats agree with the
// model. Failures name the seed and the step.
func testRandom(t *testing.T, s session.Store, seed uint64, steps int) {
	r := &randomRun{
		t:    t,
		s:    s,
		rng:  rand.New(rand.NewPCG(seed, 0x5e5b017)),
		m:    &model{recs: make(map[session.ID]*session.Record), renewed: make(map[session.ID]time.Time)},
		now:  Base(),
		seed: seed,
	}
	_, hasIndex := s.(session.UserIndex)
	_, hasPurge := s.(session.Purger)
	type op struct {
		weight int
		run    func() string
	}
	ops := []op{
		{20, r.insert},
		{3, r.insertExisting},
		{20, r.set},
		{8, r.deleteKeys},
		{3, r.clear},
		{7, r.renew},
		{2, r.renewOntoExisting},
		{7, r.login},
		{2, r.unbind},
		{5, r.destroy},
		{5, r.delete},
		{3, r.updateUnknown},
	}
	if hasIndex {
		ops = append(ops, op{2, r.deleteUser}, op{2, r.deleteUserExcept})
	}
	if hasPurge {
		ops = append(ops, op{1, r.purge})
	}
	total := 0
	for _, o := range ops {
		total += o.weight
	}
	for step := range steps {
		r.step = step
		r.now = r.now.Add(time.Duration(r.rng.IntN(181)) * time.Second)
		pick := r.rng.IntN(total)
		var what string
		for _, o := range ops {
			if pick < o.weight {
				what = o.run()
				break
			}
			pick -= o.weight
		}
		if err := r.check(); err != nil {
			t.Fatalf("seed %d, step %d at %s, after %s:\n%v", seed, step, stamp(r.now), what, err)
		}
	}
}

// fail stops the test with a message about the operation being run.
func (r *randomRun) fail(format string, args ...any) {
	r.t.Helper()
	r.t.Fatalf("seed %d, step %d at %s: %s", r.seed, r.step, stamp(r.now), fmt.Sprintf(format, args...))
}

// newID returns a fresh seeded id and remembers it.
func (r *randomRun) newID() session.ID {
	var id session.ID
	for i := range id {
		id[i] = byte(r.rng.Uint32())
	}
	id[6] = id[6]&0x0f | 0x40
	id[8] = id[8]&0x3f | 0x80
	r.known = append(r.known, id)
	return id
}

// target picks the id an update applies to: mostly a live record, sometimes
// any id used so far (expired, removed or never stored).
func (r *randomRun) target() session.ID {
	live := r.m.sorted(func(rec *session.Record) bool { return !rec.Expired(r.now) })
	if len(live) > 0 && r.rng.IntN(10) < 8 {
		return live[r.rng.IntN(len(live))].ID
	}
	if len(r.known) == 0 {
		return r.newID()
	}
	return r.known[r.rng.IntN(len(r.known))]
}

// liveOther picks a live record other than id, or reports there is none.
func (r *randomRun) liveOther(id session.ID) (session.ID, bool) {
	live := r.m.sorted(func(rec *session.Record) bool { return !rec.Expired(r.now) && rec.ID != id })
	if len(live) == 0 {
		return session.ID{}, false
	}
	return live[r.rng.IntN(len(live))].ID, true
}

func (r *randomRun) user() string { return randomUsers[r.rng.IntN(len(randomUsers))] }

func (r *randomRun) value() json.RawMessage { return jsonValue(r.rng.IntN(1000)) }

// idle returns a random idle timeout, so records expire during the run.
func (r *randomRun) idle() time.Duration { return time.Duration(5+r.rng.IntN(40)) * time.Minute }

// applyChange applies c to the store and the model and fails unless the
// store's result matches the model's.
func (r *randomRun) applyChange(what string, c *session.Change) string {
	r.t.Helper()
	want, wantErr := r.m.apply(c)
	got, err := r.s.Apply(ctx(r.t), c)
	desc := what + " " + describe(c)
	switch {
	case wantErr != nil && !errors.Is(err, wantErr):
		r.fail("%s: Apply = %s, %v; want error %q", desc, format(got), err, wantErr)
	case wantErr == nil && err != nil:
		r.fail("%s: Apply: unexpected error %v", desc, err)
	case wantErr == nil && !got.Equal(want):
		r.fail("%s: Apply result\n got  %s\n want %s", desc, format(got), format(want))
	}
	return desc
}

func (r *randomRun) newRecord(id session.ID) *session.Record {
	rec := NewRecord(id, r.user(), r.now)
	rec.IdleExpires = r.now.Add(r.idle())
	rec.Deadline = r.now.Add(time.Duration(20+r.rng.IntN(160)) * time.Minute)
	if r.rng.IntN(4) == 0 {
		rec.Data = nil
	}
	return rec
}

func (r *randomRun) insert() string {
	c := CreateChange(r.newRecord(r.newID()))
	c.MaxUserSessions = r.limit()
	return r.applyChange("insert", c)
}

// limit returns a session limit for a change: mostly none, sometimes 1 to 3.
func (r *randomRun) limit() int {
	if r.rng.IntN(3) == 0 {
		return 1 + r.rng.IntN(3)
	}
	return 0
}

// client returns a client for a touch: mostly one of a few, sometimes none.
func (r *randomRun) client() session.ClientInfo {
	clients := []session.ClientInfo{{}, {IP: "192.0.2.7", UserAgent: "phone/1"}, {IP: "2001:db8::1"}, {UserAgent: "laptop/2"}}
	return clients[r.rng.IntN(len(clients))]
}

// insertExisting inserts onto a live id: ErrExists. (Collisions with an
// expired record are left out: the contract does not say whether an expired
// record still occupies its id.)
func (r *randomRun) insertExisting() string {
	id, ok := r.liveOther(session.ID{})
	if !ok {
		return r.insert()
	}
	return r.applyChange("insert onto a live id", CreateChange(r.newRecord(id)))
}

func (r *randomRun) set() string {
	c := &session.Change{ID: r.target(), Now: r.now, Set: map[string]json.RawMessage{}}
	for range 1 + r.rng.IntN(2) {
		c.Set[randomKeys[r.rng.IntN(len(randomKeys))]] = r.value()
	}
	if r.rng.IntN(2) == 0 { // touch
		c.LastSeen, c.IdleExpires, c.LastClient = r.now, r.now.Add(r.idle()), r.client()
	}
	return r.applyChange("set", c)
}

func (r *randomRun) deleteKeys() string {
	c := &session.Change{ID: r.target(), Now: r.now}
	for range 1 + r.rng.IntN(2) {
		c.Delete = append(c.Delete, randomKeys[r.rng.IntN(len(randomKeys))])
	}
	if r.rng.IntN(3) == 0 {
		c.Set = map[string]json.RawMessage{randomKeys[r.rng.IntN(len(randomKeys))]: r.value()}
	}
	return r.applyChange("delete keys", c)
}

func (r *randomRun) clear() string {
	c := &session.Change{ID: r.target(), Now: r.now, Clear: true}
	if r.rng.IntN(2) == 0 {
		c.Set = map[string]json.RawMessage{"flash": r.value()}
	}
	return r.applyChange("clear", c)
}

func (r *randomRun) renew() string {
	c := &session.Change{ID: r.target(), Now: r.now, NewID: r.newID()}
	if r.rng.IntN(2) == 0 {
		c.Set = map[string]json.RawMessage{"renewed": r.value()}
	}
	return r.applyChange("renew", c)
}

// renewOntoExisting renews a live record onto another live id: ErrExists.
// Both are live, so the outcome does not depend on which check a store makes
// first.
func (r *randomRun) renewOntoExisting() string {
	from, ok := r.liveOther(session.ID{})
	if !ok {
		return r.renew()
	}
	onto, ok := r.liveOther(from)
	if !ok {
		return r.renew()
	}
	return r.applyChange("renew onto a live id", &session.Change{ID: from, Now: r.now, NewID: onto})
}

// login is what Session.Login writes: bind, renew, fresh expiry.
func (r *randomRun) login() string {
	user := r.user()
	persistent := r.rng.IntN(2) == 0
	c := &session.Change{ID: r.target(), Now: r.now, NewID: r.newID(), User: &user,
		LastSeen: r.now, IdleExpires: r.now.Add(r.idle()), LastClient: r.client(), Persistent: &persistent,
		Deadline: r.now.Add(time.Duration(20+r.rng.IntN(160)) * time.Minute), MaxUserSessions: r.limit()}
	return r.applyChange("login", c)
}

// unbind rebinds a session to another user, or to none, without renewing.
func (r *randomRun) unbind() string {
	user := r.user()
	return r.applyChange("rebind", &session.Change{ID: r.target(), Now: r.now, User: &user})
}

func (r *randomRun) destroy() string {
	return r.applyChange("destroy", &session.Change{ID: r.target(), Now: r.now, Destroy: true})
}

// updateUnknown updates an id never stored: ErrNotFound.
func (r *randomRun) updateUnknown() string {
	return r.applyChange("update of an unknown id", &session.Change{ID: r.newID(), Now: r.now,
		Set: map[string]json.RawMessage{"a": r.value()}})
}

func (r *randomRun) delete() string {
	var del []session.ID
	for range 1 + r.rng.IntN(3) {
		if id := r.target(); !slices.Contains(del, id) {
			del = append(del, id)
		}
	}
	want := r.m.remove(func(rec *session.Record) bool { return slices.Contains(del, rec.ID) })
	n, err := r.s.Delete(ctx(r.t), del...)
	if err != nil || n != want {
		r.fail("Delete(%v) = %d, %v; want %d, <nil>", del, n, err, want)
	}
	return fmt.Sprintf("Delete(%v)", del)
}

func (r *randomRun) deleteUser() string {
	user := r.user()
	want := 0
	if user != "" {
		want = r.m.remove(func(rec *session.Record) bool { return rec.UserID == user })
	}
	n, err := r.s.(session.UserIndex).DeleteUser(ctx(r.t), user)
	if err != nil || n != want {
		r.fail("DeleteUser(%q) = %d, %v; want %d, <nil>", user, n, err, want)
	}
	return fmt.Sprintf("DeleteUser(%q)", user)
}

// deleteUserExcept signs a user out of every session but one: mostly one
// of the user's, sometimes any id used so far.
func (r *randomRun) deleteUserExcept() string {
	user := r.user()
	keep := r.target()
	if mine := r.m.sorted(func(rec *session.Record) bool { return rec.UserID == user }); len(mine) > 0 && r.rng.IntN(4) > 0 {
		keep = mine[r.rng.IntN(len(mine))].ID
	}
	want := 0
	if user != "" {
		want = r.m.remove(func(rec *session.Record) bool { return rec.UserID == user && rec.ID != keep })
	}
	n, err := r.s.(session.UserIndex).DeleteUserExcept(ctx(r.t), user, keep)
	if err != nil || n != want {
		r.fail("DeleteUserExcept(%q, %s) = %d, %v; want %d, <nil>", user, keep, n, err, want)
	}
	return fmt.Sprintf("DeleteUserExcept(%q, %s)", user, keep)
}

func (r *randomRun) purge() string {
	want := r.m.remove(func(rec *session.Record) bool { return rec.Expired(r.now) })
	n, err := r.s.(session.Purger).Purge(ctx(r.t), r.now)
	if err != nil || n != want {
		r.fail("Purge(%s) = %d, %v; want %d, <nil>", stamp(r.now), n, err, want)
	}
	return fmt.Sprintf("Purge(%s)", stamp(r.now))
}

// check compares the store with the model at r.now and returns the first
// difference.
func (r *randomRun) check() error {
	t, s, now := r.t, r.s, r.now
	for _, id := range r.known {
		want, ok := r.m.recs[id]
		got, err := s.Load(ctx(t), id, now)
		switch {
		case ok && !want.Expired(now):
			if err != nil || !got.Equal(want) {
				return fmt.Errorf("Load(%s) = %s, %v\n want %s", id, format(got), err, format(want))
			}
		case !ok && r.m.renewedAt(id, now):
			if !errors.Is(err, session.ErrRenewed) {
				return fmt.Errorf("Load(%s) = %s, %v; want ErrRenewed (renewed away less than RenewGrace ago)", id, format(got), err)
			}
		case !errors.Is(err, session.ErrNotFound) || errors.Is(err, session.ErrRenewed):
			return fmt.Errorf("Load(%s) = %s, %v; want ErrNotFound (and no tombstone)", id, format(got), err)
		}
	}

	if ui, ok := s.(session.UserIndex); ok {
		for _, user := range randomUsers {
			got, err := ui.UserSessions(ctx(t), user, now)
			if err != nil {
				return fmt.Errorf("UserSessions(%q): %v", user, err)
			}
			for i := 1; i < len(got); i++ {
				if got[i].Created.Before(got[i-1].Created) {
					return fmt.Errorf("UserSessions(%q): not oldest Created first: %v", user, ids(got))
				}
			}
			want := r.m.sorted(func(rec *session.Record) bool {
				return user != "" && rec.UserID == user && !rec.Expired(now)
			})
			if err := sameRecords(sortByID(slices.Clone(got)), want); err != nil {
				return fmt.Errorf("UserSessions(%q): %v", user, err)
			}
		}
	}

	if l, ok := s.(session.Lister); ok {
		got, err := pageThrough(t, l, session.ListQuery{Limit: 7, Now: now, Filter: session.All}, len(r.m.recs)+2)
		if err != nil {
			return err
		}
		if !slices.IsSortedFunc(got, func(a, b *session.Record) int { return compareID(a.ID, b.ID) }) {
			return fmt.Errorf("List(all): not in ascending ID order: %v", ids(got))
		}
		if err := sameRecords(got, r.m.sorted(func(*session.Record) bool { return true })); err != nil {
			return fmt.Errorf("List(all): %v", err)
		}
		got, err = pageThrough(t, l, session.ListQuery{Limit: 3, Now: now, Filter: session.Expired}, len(r.m.recs)+2)
		if err != nil {
			return err
		}
		// In the store's own order: compare as sets (sameRecords also
		// catches a record seen twice).
		if err := sameRecords(sortByID(got), r.m.sorted(func(rec *session.Record) bool { return rec.Expired(now) })); err != nil {
			return fmt.Errorf("List(expired): %v", err)
		}
	}

	if sr, ok := s.(session.StatsReporter); ok {
		st, err := sr.Stats(ctx(t), now)
		if err != nil {
			return fmt.Errorf("Stats: %v", err)
		}
		var want counts
		users := make(map[string]bool)
		for _, rec := range r.m.recs {
			want.Sessions++
			if rec.Expired(now) {
				want.Expired++
			} else {
				want.Live++
			}
			if rec.UserID != "" {
				users[rec.UserID] = true
			}
		}
		want.Users = int64(len(users))
		if got := (counts{st.Sessions, st.Live, st.Expired, st.Users}); got != want {
			return fmt.Errorf("Stats: got %+v, want %+v", got, want)
		}
	}
	return nil
}

// sameRecords reports how got and want (both sorted by ID) differ.
// pageThrough pages through l with q and returns the records in the order
// listed; an error after more than maxPages pages.
func pageThrough(t testing.TB, l session.Lister, q session.ListQuery, maxPages int) ([]*session.Record, error) {
	var got []*session.Record
	for pages := 0; ; pages++ {
		if pages > maxPages {
			return nil, fmt.Errorf("List(%s): more than %d pages", q.Filter, maxPages)
		}
		p, err := l.List(ctx(t), q)
		if err != nil {
			return nil, fmt.Errorf("List(%s): %v", q.Filter, err)
		}
		got = append(got, p.Records...)
		if p.Next.IsZero() {
			return got, nil
		}
		q.After = p.Next
	}
}

func sameRecords(got, want []*session.Record) error {
	if len(got) != len(want) {
		return fmt.Errorf("got %d records %v, want %d %v", len(got), ids(got), len(want), ids(want))
	}
	for i := range got {
		if !got[i].Equal(want[i]) {
			return fmt.Errorf("record %d:\n got  %s\n want %s", i, format(got[i]), format(want[i]))
		}
	}
	return nil
}
