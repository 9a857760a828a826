package sessiontest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/pkg/session"
)

var listCases = []testCase{
	{"Empty", testListEmpty},
	{"Paging", testListPaging},
	{"Filters", testListFilters},
	{"User", testListUser},
	{"After", testListAfter},
	{"ExpiredPaging", testListExpiredPaging},
	{"BadCursor", testListBadCursor},
	{"Limit", testListLimit},
	{"ReturnsCopies", testListReturnsCopies},
}

// listUsers are the users listing fixtures are spread over; "" is anonymous.
var listUsers = []string{"alice", "bob", "ali", ""}

// listFixture inserts n records spread over listUsers, every fifth of them
// expiring at Base()+1m and the rest at Base()+IdleTimeout, and returns them
// (as stored) sorted by ID.
func listFixture(t *testing.T, s session.Store, n int) []*session.Record {
	t.Helper()
	now := Base()
	recs := make([]*session.Record, n)
	for i := range recs {
		r := NewRecord(session.NewID(), listUsers[i%len(listUsers)], now.Add(time.Duration(i)*time.Millisecond))
		if i%5 == 0 {
			r.IdleExpires = now.Add(time.Minute)
		}
		recs[i] = r
	}
	return sortByID(insertMany(t, s, recs))
}

// listNow is when listFixture's short-lived records are expired and the
// others live.
func listNow() time.Time { return Base().Add(2 * time.Minute) }

// insertMany inserts recs from a few goroutines, so that stores which
// coalesce concurrent writes insert large fixtures quickly, and returns them
// as stored, in the order of recs.
func insertMany(t *testing.T, s session.Store, recs []*session.Record) []*session.Record {
	t.Helper()
	const workers = 8
	out := make([]*session.Record, len(recs))
	errs := make([]error, len(recs))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(recs); i += workers {
				out[i], errs[i] = s.Apply(ctx(t), CreateChange(recs[i]))
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("inserting record %d (%s): %v", i, recs[i].ID, err)
		}
	}
	return out
}

// selectRecords returns the records of recs (in order) for which keep is true.
func selectRecords(recs []*session.Record, keep func(*session.Record) bool) []*session.Record {
	var out []*session.Record
	for _, r := range recs {
		if keep(r) {
			out = append(out, r)
		}
	}
	return out
}

func testListEmpty(t *testing.T, s session.Store) {
	l := implementing[session.Lister](t, s)
	for _, f := range []session.Filter{session.Live, session.Expired, session.All} {
		p, err := l.List(ctx(t), session.ListQuery{Now: Base(), Filter: f})
		if err != nil || len(p.Records) != 0 || !p.Next.IsZero() {
			t.Fatalf("List(%s) of an empty store = %d records, next %s, %v; want none, zero, <nil>",
				f, len(p.Records), p.Next, err)
		}
	}
}

func testListPaging(t *testing.T, s session.Store) {
	l := implementing[session.Lister](t, s)
	const n = 250
	all := listFixture(t, s, n)
	for _, limit := range []int{7, 1, 100, n, n + 1} {
		maxPages := (n+limit-1)/limit + 1
		got := listAll(t, l, session.ListQuery{Limit: limit, Now: listNow(), Filter: session.All}, maxPages)
		wantRecords(t, fmt.Sprintf("List(all, limit %d)", limit), got, all)
	}
	// A single page of the whole listing has a zero Next.
	p, err := l.List(ctx(t), session.ListQuery{Limit: n + 1, Now: listNow(), Filter: session.All})
	if err != nil || len(p.Records) != n || !p.Next.IsZero() {
		t.Fatalf("List(all, limit %d) = %d records, next %s, %v; want %d, zero, <nil>", n+1, len(p.Records), p.Next, err, n)
	}
}

func testListFilters(t *testing.T, s session.Store) {
	l := implementing[session.Lister](t, s)
	all := listFixture(t, s, 60)
	now := listNow()
	live := selectRecords(all, func(r *session.Record) bool { return !r.Expired(now) })
	expired := selectRecords(all, func(r *session.Record) bool { return r.Expired(now) })
	if len(live) == 0 || len(expired) == 0 {
		t.Fatalf("test setup: %d live, %d expired records", len(live), len(expired))
	}
	cases := []struct {
		filter session.Filter
		want   []*session.Record
	}{
		{session.Live, live},
		{session.Expired, expired},
		{session.All, all},
	}
	for _, c := range cases {
		got := listAll(t, l, session.ListQuery{Limit: 9, Now: now, Filter: c.filter}, 0)
		wantRecords(t, fmt.Sprintf("List(%s)", c.filter), got, c.want)
	}
	// Live is the default; before any expiry every record is live.
	wantRecords(t, "List(default filter)", listAll(t, l, session.ListQuery{Limit: 9, Now: now}, 0), live)
	wantRecords(t, "List(live) at Base", listAll(t, l, session.ListQuery{Now: Base()}, 0), all)
	wantRecords(t, "List(expired) at Base", listAll(t, l, session.ListQuery{Now: Base(), Filter: session.Expired}, 0), nil)
}

func testListUser(t *testing.T, s session.Store) {
	l := implementing[session.Lister](t, s)
	all := listFixture(t, s, 60)
	now := listNow()
	for _, user := range []string{"alice", "ali", "nobody"} {
		for _, f := range []session.Filter{session.Live, session.Expired, session.All} {
			want := selectRecords(all, func(r *session.Record) bool {
				if r.UserID != user {
					return false
				}
				switch f {
				case session.Live:
					return !r.Expired(now)
				case session.Expired:
					return r.Expired(now)
				}
				return true
			})
			got := listAll(t, l, session.ListQuery{Limit: 4, Now: now, Filter: f, User: user}, 0)
			wantRecords(t, fmt.Sprintf("List(%s, user %q)", f, user), got, want)
		}
	}
}

func testListAfter(t *testing.T, s session.Store) {
	l := implementing[session.Lister](t, s)
	all := listFixture(t, s, 40)
	now := listNow()
	q := session.ListQuery{After: session.IDCursor(all[9].ID), Limit: 8, Now: now, Filter: session.All}
	wantRecords(t, "List(all) after the 10th id", listAll(t, l, q, 0), all[10:])

	// The cursor need not be a stored id.
	between := nextID(all[19].ID)
	if between == all[20].ID {
		t.Skip("random ids happen to be adjacent")
	}
	q.After = session.IDCursor(between)
	wantRecords(t, "List(all) after an id that is not stored", listAll(t, l, q, 0), all[20:])

	q.After = session.IDCursor(all[len(all)-1].ID)
	wantRecords(t, "List(all) after the last id", listAll(t, l, q, 1), nil)
}

// testListExpiredPaging pages through expired records that expire over
// hours, minutes and within one minute, with small pages: every record
// expired at the listing's instant is seen exactly once, whatever order
// the store lists them in. Then it pages with the clock moving forward
// between pages, as an operator's listing does: every record expired when
// the listing began is still seen exactly once.
func testListExpiredPaging(t *testing.T, s session.Store) {
	l := implementing[session.Lister](t, s)
	base := Base()
	offsets := []time.Duration{-3 * time.Hour, -90 * time.Minute, -61 * time.Second, -59 * time.Second,
		-2 * time.Second, -time.Millisecond, 0, time.Millisecond, 30 * time.Second, time.Hour}
	var recs []*session.Record
	for i := range 60 {
		// Created so that IdleExpires is base+offset: spread over hours, and
		// several records in the same minute and at the same instant.
		expires := base.Add(offsets[i%len(offsets)])
		r := NewRecord(session.NewID(), listUsers[i%len(listUsers)], expires.Add(-IdleTimeout))
		recs = append(recs, r)
	}
	all := sortByID(insertMany(t, s, recs))
	for _, now := range []time.Time{base, base.Add(-time.Hour), base.Add(2 * time.Hour)} {
		want := selectRecords(all, func(r *session.Record) bool { return r.Expired(now) })
		for _, limit := range []int{1, 3, 7, 100} {
			got := listAll(t, l, session.ListQuery{Limit: limit, Now: now, Filter: session.Expired}, len(want)+2)
			wantRecords(t, fmt.Sprintf("List(expired at %s, limit %d)", stamp(now), limit), got, want)
		}
	}

	// The clock moves on between pages.
	now := base
	want := selectRecords(all, func(r *session.Record) bool { return r.Expired(now) })
	q := session.ListQuery{Limit: 4, Now: now, Filter: session.Expired}
	seen := make(map[session.ID]int)
	for pages := 0; ; pages++ {
		if pages > len(all) {
			t.Fatalf("List(expired) with a moving clock: more than %d pages", len(all))
		}
		p, err := l.List(ctx(t), q)
		if err != nil {
			t.Fatalf("List(%s): %v", describeQuery(q), err)
		}
		for _, r := range p.Records {
			seen[r.ID]++
			if !r.Expired(q.Now) {
				t.Fatalf("List(%s) returned %s, live at that instant", describeQuery(q), r.ID)
			}
		}
		if p.Next.IsZero() {
			break
		}
		q.After, q.Now = p.Next, q.Now.Add(20*time.Second)
	}
	for _, r := range want {
		if seen[r.ID] != 1 {
			t.Errorf("record %s, expired when the listing began, seen %d times", r.ID, seen[r.ID])
		}
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("record %s seen %d times", id, n)
		}
	}
}

// testListBadCursor passes cursors no store returns: each listing fails
// with ErrInvalid instead of guessing a position.
func testListBadCursor(t *testing.T, s session.Store) {
	l := implementing[session.Lister](t, s)
	listFixture(t, s, 5)
	for _, after := range []session.Cursor{"not a cursor", "\x00", session.Cursor(strings.Repeat("f", 200))} {
		for _, f := range []session.Filter{session.Live, session.Expired, session.All} {
			q := session.ListQuery{After: after, Now: listNow(), Filter: f}
			if p, err := l.List(ctx(t), q); !errors.Is(err, session.ErrInvalid) {
				t.Errorf("List(%s) = %d records, %v; want ErrInvalid", describeQuery(q), len(p.Records), err)
			}
		}
	}
}

func testListLimit(t *testing.T, s session.Store) {
	l := implementing[session.Lister](t, s)
	const n = session.MaxPageSize + 1
	all := listFixture(t, s, n)
	now := listNow()
	cases := []struct {
		limit, want int
	}{
		{0, session.DefaultPageSize},
		{-5, session.DefaultPageSize},
		{1, 1},
		{session.MaxPageSize, session.MaxPageSize},
		{session.MaxPageSize + 1, session.MaxPageSize},
		{1 << 30, session.MaxPageSize},
	}
	for _, c := range cases {
		q := session.ListQuery{Limit: c.limit, Now: now, Filter: session.All}
		if got := q.PageLimit(); got != c.want {
			t.Fatalf("ListQuery{Limit: %d}.PageLimit() = %d, want %d", c.limit, got, c.want)
		}
		p, err := l.List(ctx(t), q)
		if err != nil {
			t.Fatalf("List(limit %d): %v", c.limit, err)
		}
		if len(p.Records) != c.want || p.Next.IsZero() {
			t.Fatalf("List(limit %d) of %d records = %d records, next %s; want %d and a non-zero next",
				c.limit, n, len(p.Records), p.Next, c.want)
		}
		wantRecords(t, fmt.Sprintf("List(limit %d)", c.limit), p.Records, all[:c.want])
	}
	got := listAll(t, l, session.ListQuery{Limit: 1 << 30, Now: now, Filter: session.All}, 3)
	wantRecords(t, "List(all, limit clamped)", got, all)
}

func testListReturnsCopies(t *testing.T, s session.Store) {
	l := implementing[session.Lister](t, s)
	all := listFixture(t, s, 5)
	p, err := l.List(ctx(t), session.ListQuery{Now: Base(), Filter: session.All})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	for _, r := range p.Records {
		scribble(r)
	}
	for _, r := range all {
		wantLoad(t, s, r.ID, Base(), r)
	}
	wantRecords(t, "List(all)", listAll(t, l, session.ListQuery{Now: Base(), Filter: session.All}, 0), all)
}

// nextID returns id plus one, as a 128-bit big-endian number.
func nextID(id session.ID) session.ID {
	for i := len(id) - 1; i >= 0; i-- {
		id[i]++
		if id[i] != 0 {
			break
		}
	}
	return id
}
