package sessiontest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// apply applies c and fails the test on error.
func apply(t testing.TB, s session.Store, c *session.Change) *session.Record {
	t.Helper()
	r, err := s.Apply(ctx(t), c)
	if err != nil {
		t.Fatalf("Apply(%s): unexpected error: %v", describe(c), err)
	}
	return r
}

// applyFails applies c and fails the test unless the error matches want.
func applyFails(t testing.TB, s session.Store, c *session.Change, want error) {
	t.Helper()
	r, err := s.Apply(ctx(t), c)
	if !errors.Is(err, want) {
		t.Fatalf("Apply(%s) = %s, %v; want an error matching %q", describe(c), format(r), err, want)
	}
}

// load loads id at now and fails the test unless it is found.
func load(t testing.TB, s session.Store, id session.ID, now time.Time) *session.Record {
	t.Helper()
	r, err := s.Load(ctx(t), id, now)
	if err != nil {
		t.Fatalf("Load(%s, %s): unexpected error: %v", id, stamp(now), err)
	}
	if r == nil {
		t.Fatalf("Load(%s, %s) returned a nil record and no error", id, stamp(now))
	}
	return r
}

// wantLoad loads id at now and fails the test unless the record equals want.
func wantLoad(t testing.TB, s session.Store, id session.ID, now time.Time, want *session.Record) {
	t.Helper()
	wantEqual(t, fmt.Sprintf("Load(%s, %s)", id, stamp(now)), load(t, s, id, now), want)
}

// wantGone fails the test unless Load of id at now fails with ErrNotFound.
func wantGone(t testing.TB, s session.Store, id session.ID, now time.Time) {
	t.Helper()
	r, err := s.Load(ctx(t), id, now)
	if !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Load(%s, %s) = %s, %v; want ErrNotFound", id, stamp(now), format(r), err)
	}
}

// wantEqual fails the test unless got equals want (see same).
func wantEqual(t testing.TB, what string, got, want *session.Record) {
	t.Helper()
	if !same(t, got, want) {
		t.Fatalf("%s:\n got  %s\n want %s", what, format(got), format(want))
	}
}

// wantRecords fails the test unless got holds records equal to want, in the
// same order.
func wantRecords(t testing.TB, what string, got, want []*session.Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d records %v, want %d %v", what, len(got), ids(got), len(want), ids(want))
	}
	for i := range got {
		if !same(t, got[i], want[i]) {
			t.Fatalf("%s: record %d:\n got  %s\n want %s", what, i, format(got[i]), format(want[i]))
		}
	}
}

// wantIDs fails the test unless got holds exactly the records with the ids
// in want, in that order.
func wantIDs(t testing.TB, what string, got []*session.Record, want ...session.ID) {
	t.Helper()
	if g := ids(got); !slices.Equal(g, want) {
		t.Fatalf("%s: got ids %v, want %v", what, g, want)
	}
}

// same reports whether got equals want: every field (session.Record.Equal),
// or, for a store that lacks Metadata, ID, UserID and Data.
func same(t testing.TB, got, want *session.Record) bool {
	if got == nil || want == nil || !lacks(t, Metadata) {
		return got.Equal(want)
	}
	// want's metadata with got's ID, UserID and Data: equal to want
	// exactly when got keeps what want holds.
	kept := *want
	kept.ID, kept.UserID, kept.Data = got.ID, got.UserID, got.Data
	return kept.Equal(want)
}

// ids returns the ids of recs, in order.
func ids(recs []*session.Record) []session.ID {
	out := make([]session.ID, 0, len(recs))
	for _, r := range recs {
		if r == nil {
			out = append(out, session.ID{})
			continue
		}
		out = append(out, r.ID)
	}
	return out
}

// sortByID sorts recs in place by ID bytes and returns them.
func sortByID(recs []*session.Record) []*session.Record {
	slices.SortFunc(recs, func(a, b *session.Record) int { return compareID(a.ID, b.ID) })
	return recs
}

// sortedIDs returns ids sorted by their bytes, in a new slice.
func sortedIDs(list ...session.ID) []session.ID {
	out := slices.Clone(list)
	slices.SortFunc(out, compareID)
	return out
}

// compareID orders ids by their bytes, the order of a listing.
func compareID(a, b session.ID) int { return bytes.Compare(a[:], b[:]) }

// format renders a record for failure messages.
func format(r *session.Record) string {
	if r == nil {
		return "<nil>"
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Sprintf("%+v", *r)
	}
	return string(b)
}

// describe renders a change for failure messages.
func describe(c *session.Change) string {
	if c == nil {
		return "<nil change>"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "{id %s now %s", c.ID, stamp(c.Now))
	if c.Create != nil {
		fmt.Fprintf(&b, " create %s", format(c.Create))
	}
	if c.Destroy {
		b.WriteString(" destroy")
	}
	if !c.NewID.IsZero() {
		fmt.Fprintf(&b, " new-id %s", c.NewID)
	}
	if c.Clear {
		b.WriteString(" clear")
	}
	if len(c.Delete) > 0 {
		fmt.Fprintf(&b, " delete %q", c.Delete)
	}
	if len(c.Set) > 0 {
		keys := slices.Sorted(maps.Keys(c.Set))
		b.WriteString(" set")
		for _, k := range keys {
			fmt.Fprintf(&b, " %q=%s", k, c.Set[k])
		}
	}
	if c.User != nil {
		fmt.Fprintf(&b, " user %q", *c.User)
	}
	if !c.LastSeen.IsZero() {
		fmt.Fprintf(&b, " last-seen %s", stamp(c.LastSeen))
	}
	if !c.IdleExpires.IsZero() {
		fmt.Fprintf(&b, " idle-expires %s", stamp(c.IdleExpires))
	}
	if !c.Deadline.IsZero() {
		fmt.Fprintf(&b, " deadline %s", stamp(c.Deadline))
	}
	if c.Persistent != nil {
		fmt.Fprintf(&b, " persistent %v", *c.Persistent)
	}
	if !c.LastClient.IsZero() {
		fmt.Fprintf(&b, " last-client %+v", c.LastClient)
	}
	if c.MaxUserSessions != 0 {
		fmt.Fprintf(&b, " max-user-sessions %d", c.MaxUserSessions)
	}
	b.WriteString("}")
	return b.String()
}

// stamp renders an instant as an offset from Base, which reads better in
// failure messages than a date in 2099.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "zero-time"
	}
	d := t.Sub(Base())
	if d >= 0 {
		return "base+" + d.String()
	}
	return "base-" + (-d).String()
}

// implementing returns s as the optional interface T, or skips the test
// when the store does not implement it.
func implementing[T any](t testing.TB, s session.Store) T {
	t.Helper()
	v, ok := s.(T)
	if !ok {
		t.Skipf("store does not implement %v", reflect.TypeFor[T]())
	}
	return v
}

// userSessions returns ui.UserSessions(user, now), failing the test on error
// or when the records are not in Created order.
func userSessions(t testing.TB, ui session.UserIndex, user string, now time.Time) []*session.Record {
	t.Helper()
	recs, err := ui.UserSessions(ctx(t), user, now)
	if err != nil {
		t.Fatalf("UserSessions(%q, %s): %v", user, stamp(now), err)
	}
	for i, r := range recs {
		if r == nil {
			t.Fatalf("UserSessions(%q, %s): record %d is nil", user, stamp(now), i)
		}
		if r.UserID != user {
			t.Fatalf("UserSessions(%q, %s): record %s belongs to user %q", user, stamp(now), r.ID, r.UserID)
		}
		if i > 0 && r.Created.Before(recs[i-1].Created) {
			t.Fatalf("UserSessions(%q, %s): not oldest Created first: %v", user, stamp(now), ids(recs))
		}
	}
	return recs
}

// wantUserIDs fails the test unless UserSessions(user, now) lists exactly
// the ids in want, in any order (ties in Created are unordered).
func wantUserIDs(t testing.TB, ui session.UserIndex, user string, now time.Time, want ...session.ID) {
	t.Helper()
	got := sortedIDs(ids(userSessions(t, ui, user, now))...)
	if want := sortedIDs(want...); !slices.Equal(got, want) {
		t.Fatalf("UserSessions(%q, %s): got ids %v, want %v", user, stamp(now), got, want)
	}
}

// listAll pages through l with q (starting at q.After) until Page.Next is
// zero and returns every record seen: in listing order, or sorted by ID for
// an Expired listing, whose order is the store's. It fails the test when a
// page is longer than q.PageLimit(), when a record is seen twice, when a
// cursor does not advance, after more than maxPages pages (0: no bound
// beyond a sanity limit), and, in an ID-ordered listing (Live, All), when
// records are not in strictly ascending ID order across the whole listing
// or a cursor is not an ID cursor at or past the last record returned.
func listAll(t testing.TB, l session.Lister, q session.ListQuery, maxPages int) []*session.Record {
	t.Helper()
	if maxPages <= 0 {
		maxPages = 100000
	}
	byID := q.Filter != session.Expired
	var all []*session.Record
	seen := make(map[session.ID]bool)
	last, err := q.After.ID()
	if byID && err != nil {
		t.Fatalf("List(%s): the starting cursor is not an ID cursor: %v", describeQuery(q), err)
	}
	for pages := 1; ; pages++ {
		if pages > maxPages {
			t.Fatalf("List(%s): more than %d pages", describeQuery(q), maxPages)
		}
		p, err := l.List(ctx(t), q)
		if err != nil {
			t.Fatalf("List(%s): %v", describeQuery(q), err)
		}
		if len(p.Records) > q.PageLimit() {
			t.Fatalf("List(%s): page of %d records, limit %d", describeQuery(q), len(p.Records), q.PageLimit())
		}
		for _, r := range p.Records {
			if r == nil {
				t.Fatalf("List(%s): nil record", describeQuery(q))
			}
			if seen[r.ID] {
				t.Fatalf("List(%s): record %s seen twice", describeQuery(q), r.ID)
			}
			seen[r.ID] = true
			if byID && compareID(r.ID, last) <= 0 {
				t.Fatalf("List(%s): record %s is not after %s: ids not strictly ascending across pages",
					describeQuery(q), r.ID, last)
			}
			last = r.ID
			all = append(all, r)
		}
		if p.Next.IsZero() {
			break
		}
		if len(p.Next) > session.MaxCursorSize {
			t.Fatalf("List(%s): Next of %d bytes, more than MaxCursorSize", describeQuery(q), len(p.Next))
		}
		if p.Next == q.After {
			t.Fatalf("List(%s): Next %q does not advance", describeQuery(q), p.Next)
		}
		if byID {
			next, err := p.Next.ID()
			if err != nil || compareID(next, last) < 0 {
				t.Fatalf("List(%s): Next %q is not an ID cursor past the records returned (last %s): %v",
					describeQuery(q), p.Next, last, err)
			}
		}
		q.After = p.Next
	}
	if !byID {
		sortByID(all)
	}
	return all
}

// describeQuery renders a list query for failure messages.
func describeQuery(q session.ListQuery) string {
	return fmt.Sprintf("after %q limit %d now %s filter %s user %q", q.After, q.Limit, stamp(q.Now), q.Filter, q.User)
}

// stats returns sr.Stats(now), failing the test on error.
func stats(t testing.TB, sr session.StatsReporter, now time.Time) session.Stats {
	t.Helper()
	st, err := sr.Stats(ctx(t), now)
	if err != nil {
		t.Fatalf("Stats(%s): %v", stamp(now), err)
	}
	return st
}

// counts are the Stats fields the suite checks.
type counts struct{ Sessions, Live, Expired, Users int64 }

// wantCounts fails the test unless Stats at now report want.
func wantCounts(t testing.TB, sr session.StatsReporter, now time.Time, want counts) {
	t.Helper()
	st := stats(t, sr, now)
	got := counts{st.Sessions, st.Live, st.Expired, st.Users}
	if got != want {
		t.Fatalf("Stats(%s): got %+v, want %+v", stamp(now), got, want)
	}
}

// str returns a pointer to s, for Change.User.
func str(s string) *string { return &s }

// raw returns s as a JSON value; s must be compact JSON.
func raw(s string) json.RawMessage { return json.RawMessage(s) }
