package session

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Store persists session records. Implementations must be safe for
// concurrent use. The interface carries no storage concepts, so a networked
// backend (a Redis hash per session, the change applied by a script) fits it
// as well as the embedded bbolt store does.
//
// Errors: ErrNotFound, ErrExists and ErrTooLarge (possibly wrapped) describe
// the data and ErrInvalid a malformed input; any other error is a system
// failure (I/O, a closed store, a cancelled context) and the caller may retry.
//
// Reads never write: an expired record stays stored (invisible to Load and
// to live listings) until Delete, DeleteUser, Purge or the store's reaper
// removes it. Anonymous sessions (UserID "") belong to no user.
//
// # Renewed IDs
//
// Applying a renew (a Change with NewID) also leaves a tombstone for the old
// ID, in the same atomic step, that lasts until c.Now+RenewGrace. While it
// lasts, judged by the time each call is given:
//   - Load of the old ID, and Apply of an update to it, fail with an error
//     wrapping ErrRenewed (which matches ErrNotFound as well);
//   - an insert, or a renew, onto the old ID fails with ErrExists, and
//     Import skips a record with that ID.
//
// A tombstone holds no data and not the new ID: nothing of the renewed
// session can be reached or learned through the old ID (session fixation).
// It is not a record: listings, Stats, UserSessions, Delete and DeleteUser
// (which count records), export and Check neither show, count nor report
// it, and Destroy of a tombstoned ID succeeds. The store removes tombstones
// once they ended (its reaper or Purge for the bundled stores; a TTL for a
// networked store). Only a renew leaves one: Destroy, Delete, DeleteUser and
// expiry do not.
//
// Tombstones let a Manager tell "this cookie's session was renewed, so the
// browser probably holds a newer cookie already" (leave the cookie alone)
// from "this session ended" across every process sharing the store.
type Store interface {
	// Load returns a copy of the record stored under id if it is live at now.
	// It returns ErrNotFound when id is not stored, when the record is
	// expired at now (whether or not it was reaped yet), and when the stored
	// record fails an integrity check; an error wrapping ErrRenewed when id
	// was renewed away and its tombstone lasts at now. Expiry is judged by
	// now alone, so at the zero time every stored record is live:
	// Load(ctx, id, time.Time{}) returns a record that has expired but is
	// still stored (admin's Get shows such records to operators this way).
	Load(ctx context.Context, id ID, now time.Time) (*Record, error)

	// Apply applies c atomically to the latest stored record and returns the
	// resulting record (nil for Destroy). See Change for the semantics:
	//   - an update (c.Create == nil) of a record that is missing or expired
	//     at c.Now fails with ErrNotFound and writes nothing; with an error
	//     wrapping ErrRenewed when the ID's tombstone lasts at c.Now;
	//   - an insert, or a renew, onto an ID already stored, or tombstoned,
	//     fails with ErrExists and writes nothing;
	//   - a result larger than the store's limit fails with ErrTooLarge and
	//     writes nothing;
	//   - Destroy of a missing record succeeds;
	//   - a renew leaves a tombstone for c.ID until c.Now+RenewGrace (see
	//     "Renewed IDs");
	//   - with c.MaxUserSessions, the sessions of the result's user over
	//     the limit are removed in the same atomic step (see Change), also
	//     by a store that does not implement UserIndex.
	// When Apply returns nil the change is durable.
	Apply(ctx context.Context, c *Change) (*Record, error)

	// Delete removes the records stored under ids, live or expired, with
	// their index entries, and returns how many distinct ids existed.
	// Missing ids are not an error.
	Delete(ctx context.Context, ids ...ID) (int, error)
}

// RenewGrace is how long a store keeps the tombstone of an ID that a renew
// moved away from (see Store, "Renewed IDs"). It covers the requests a
// browser sent with the old cookie before the renewing response (a login)
// reached it: queued, in flight, retried. The Manager leaves such a
// request's cookie alone, so the browser keeps the new one. It is short
// because a browser that never received the new cookie (the login response
// was lost) cannot store anonymous data under its old cookie until the
// tombstone ends; it can log in again at once.
const RenewGrace = 5 * time.Minute

// SharedLoader is implemented by stores that can lend a stored record
// instead of copying it, which saves most of the allocations of a read. The
// Manager uses it for every request and never modifies the record nor hands
// its memory to handlers: Session's getters copy what they return.
type SharedLoader interface {
	// LoadShared is Load, with the same results and errors, except that the
	// record may be shared with the store (its cache or its own copy): the
	// caller must not modify the record or anything it references. The
	// store, in turn, never modifies a record it lent.
	LoadShared(ctx context.Context, id ID, now time.Time) (*Record, error)
}

// UserIndex is implemented by stores that index sessions by user, so that
// "log out everywhere" costs the number of the user's sessions, not a scan.
type UserIndex interface {
	// UserSessions returns the records of user's sessions live at now,
	// oldest Created first (ties by ID); nil when there are none or user is
	// "".
	UserSessions(ctx context.Context, user string, now time.Time) ([]*Record, error)
	// DeleteUser removes every session bound to user, live or expired, and
	// returns how many it removed; 0 for user "".
	DeleteUser(ctx context.Context, user string) (int, error)
	// DeleteUserExcept is DeleteUser sparing the session keep ("sign out
	// my other devices"): it removes every session bound to user, live or
	// expired, except the one stored under keep, and returns how many it
	// removed; 0 for user "". A zero keep, or one that names no session
	// of user, spares nothing. Each session is removed atomically, as by
	// Delete (no tombstone), and the sessions of user stored when the call
	// starts are removed without a scan of other users' sessions; sessions
	// bound to user while it runs may survive.
	DeleteUserExcept(ctx context.Context, user string, keep ID) (int, error)
}

// Lister is implemented by stores that can page through their records: in
// ID order, except with the Expired filter (see Cursor). Each call is a
// short read; a listing never holds the store.
type Lister interface {
	// List returns the next page of records matching q. Records stored or
	// removed while a caller pages may or may not be seen; every record
	// stored for the whole listing (with the Expired filter: and expired at
	// every page's Now) is seen exactly once. A Filter outside Live, Expired
	// and All is an error wrapping ErrInvalid, and so is a q.After that is
	// not a cursor of this kind of listing (see Cursor).
	List(ctx context.Context, q ListQuery) (Page, error)
}

// Cursor is where a listing resumes: the Page.Next of one page, passed as
// the ListQuery.After of the next. The zero Cursor ("") starts a listing.
//
// With the Live and All filters, pages are in ascending ID order and
// cursors are ID cursors: IDCursor(id) resumes after id, whether or not id
// is stored, so a caller may also start such a listing after any ID.
//
// With the Expired filter, a store may list in an order of its own and
// return cursors of its own (the bbolt store: expiry order, so that paging
// through expired records costs what they are, not what is stored), to be
// passed back unchanged; a store that keeps ID order uses ID cursors here
// too. Callers must not interpret an Expired listing's cursor or expect
// its records in ID order.
//
// A cursor is a short printable string (at most MaxCursorSize bytes), so it
// travels as it is in URLs and JSON.
type Cursor string

// MaxCursorSize bounds the length of a Cursor.
const MaxCursorSize = 256

// IDCursor returns the cursor that resumes an ID-ordered listing after id;
// the zero ID gives the zero Cursor (the start).
func IDCursor(id ID) Cursor {
	if id.IsZero() {
		return ""
	}
	return Cursor(id.String())
}

// ID returns the ID of an ID cursor: the zero ID for the zero Cursor, and
// an error wrapping ErrInvalid when c is not an ID cursor.
func (c Cursor) ID() (ID, error) {
	if c == "" {
		return ID{}, nil
	}
	id, err := ParseID(string(c))
	if err != nil {
		return ID{}, fmt.Errorf("%w: cursor %.40q is not an id: %w", ErrInvalid, string(c), err)
	}
	return id, nil
}

// IsZero reports whether c is the zero Cursor, the start of a listing (as
// ListQuery.After) or its end (as Page.Next).
func (c Cursor) IsZero() bool { return c == "" }

// String returns c as it is.
func (c Cursor) String() string { return string(c) }

// Filter selects records by state in a ListQuery.
type Filter int

// Filters for ListQuery.
const (
	// Live selects records not expired at ListQuery.Now (the default).
	Live Filter = iota
	// Expired selects records expired at ListQuery.Now but not yet removed.
	Expired
	// All selects every stored record.
	All
)

// String returns "live", "expired" or "all".
func (f Filter) String() string {
	switch f {
	case Live:
		return "live"
	case Expired:
		return "expired"
	case All:
		return "all"
	}
	return "unknown"
}

// Page sizes for ListQuery.Limit.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// ListQuery selects one page of records.
type ListQuery struct {
	// After is where the page starts: zero for the first page, otherwise
	// the previous page's Next. In an ID-ordered listing, only records with
	// an ID greater than After's (byte order) are returned; see Cursor.
	After Cursor
	// Limit caps the page: <= 0 means DefaultPageSize, larger than
	// MaxPageSize means MaxPageSize.
	Limit int
	// Now is the instant Filter judges expiry by.
	Now time.Time
	// Filter selects live (default), expired or all records.
	Filter Filter
	// User, when non-empty, selects only that user's sessions.
	User string
}

// PageLimit returns q.Limit clamped to [1, MaxPageSize] with the default
// applied.
func (q ListQuery) PageLimit() int {
	switch {
	case q.Limit <= 0:
		return DefaultPageSize
	case q.Limit > MaxPageSize:
		return MaxPageSize
	}
	return q.Limit
}

// Page is one page of a listing.
type Page struct {
	// Records are in ascending ID order, except with the Expired filter,
	// where the order is the store's (see Cursor).
	Records []*Record
	// Next is the cursor for the following page (ListQuery.After); zero when
	// the listing is complete. A store may return a non-zero Next with a
	// full last page; the page after it is then empty with a zero Next.
	Next Cursor
}

// StatsReporter is implemented by stores that report their counters. Its
// cost is documented by each store (bbolt: proportional to the number of
// expired records, not to the total).
type StatsReporter interface {
	// Stats returns the store's counters, judging expiry at now.
	Stats(ctx context.Context, now time.Time) (Stats, error)
}

// Stats are a store's counters. Fields a store cannot know are zero.
type Stats struct {
	// Sessions counts stored records, live or expired.
	Sessions int64 `json:"sessions"`
	// Live counts records live at the time of the call.
	Live int64 `json:"live"`
	// Expired counts records expired but not yet removed.
	Expired int64 `json:"expired"`
	// Users counts distinct users with at least one stored session, live or
	// expired.
	Users int64 `json:"users"`
	// SealFailures counts records that failed their integrity check since
	// the store was opened.
	SealFailures int64 `json:"seal_failures"`
	// LastReap describes the latest expiry pass; zero if none ran, which
	// JSON encodes as null.
	LastReap ReapStats `json:"last_reap"`
	// SizeBytes is the storage size (a file's size); 0 when unknown.
	SizeBytes int64 `json:"size_bytes"`
	// FreeBytes is allocated but unused storage (free pages); 0 when unknown.
	FreeBytes int64 `json:"free_bytes"`
	// Durability says, in the store's words, what makes an acknowledged
	// write durable where that depends on settings outside the store (a
	// Redis server's persistence); empty when the store has nothing to
	// add to its documentation.
	Durability string `json:"durability,omitempty"`
	// Commits describes the store's write commits since it was opened;
	// zero, which JSON encodes as null, when the store does not measure
	// them or none ran.
	Commits CommitStats `json:"commits"`
}

// CommitStats summarises a store's write commits (each a Commit reported
// to StoreObserver.Committed) since the store was opened: how many, and
// how long they took. Percentiles come from a histogram with fixed
// buckets and are the upper bound of the bucket they fall in, so they
// overstate by at most a bucket's width (boltstore: a factor of 1.25).
type CommitStats struct {
	// Count counts the commits.
	Count int64 `json:"count"`
	// Changes counts the operations they carried (Commit.Size summed).
	Changes int64 `json:"changes"`
	// Failed counts the commits that failed.
	Failed int64 `json:"failed"`
	// P50, P90 and P99 are the median, 90th and 99th percentile of their
	// durations.
	P50 time.Duration `json:"p50_ns"`
	P90 time.Duration `json:"p90_ns"`
	P99 time.Duration `json:"p99_ns"`
	// Max is the longest.
	Max time.Duration `json:"max_ns"`
}

// MarshalJSON encodes c as JSON null when no commit was measured (Count is
// zero). Decoding null leaves a CommitStats zero.
func (c CommitStats) MarshalJSON() ([]byte, error) {
	if c.Count == 0 {
		return []byte("null"), nil
	}
	type plain CommitStats // without this method
	return json.Marshal(plain(c))
}

// ReapStats describes one expiry pass.
type ReapStats struct {
	// At is when the pass started.
	At time.Time `json:"at"`
	// Removed counts the records it removed.
	Removed int `json:"removed"`
	// Duration is how long it took.
	Duration time.Duration `json:"duration_ns"`
	// LongestStep is the longest single write step of the pass (a bbolt
	// write transaction), which is how long other writers could wait
	// behind it; zero when the store does not measure it.
	LongestStep time.Duration `json:"longest_step_ns"`
}

// MarshalJSON encodes r as JSON null when no pass ran (At is zero), so that
// Stats taken before the first pass say "last_reap": null rather than
// describe a pass at the zero time. Decoding null leaves a ReapStats zero.
func (r ReapStats) MarshalJSON() ([]byte, error) {
	if r.At.IsZero() {
		return []byte("null"), nil
	}
	type plain ReapStats // without this method
	return json.Marshal(plain(r))
}

// Purger is implemented by stores that can remove expired records on demand
// (the reaper does it periodically).
type Purger interface {
	// Purge removes every record expired at now, with its index entries,
	// and returns how many it removed. Records refreshed concurrently
	// survive. It also removes the tombstones that ended at now, which it
	// does not count.
	Purge(ctx context.Context, now time.Time) (int, error)
}

// Importer is implemented by stores that insert a batch of records in one
// atomic step (sesctl import, migrations).
type Importer interface {
	// Import inserts recs atomically: either every record that is inserted
	// is stored, or, on error, none is. Records whose ID is already stored
	// or tombstoned (see Store) and records expired at now are skipped, so re-running an import is
	// harmless. It returns how many it inserted. Each record's Version is
	// kept (0 becomes 1).
	Import(ctx context.Context, recs []*Record, now time.Time) (int, error)
}

// Checker is implemented by stores that can verify their own consistency.
type Checker interface {
	// Check verifies the storage structure and that records and indexes
	// match, and, when the store has keys, every record's seal. Problems
	// found are returned in the report with a nil error; the error is for
	// failures to run the check at all.
	Check(ctx context.Context) (CheckReport, error)
}

// CheckReport is the result of Checker.Check.
type CheckReport struct {
	// Records counts the records examined.
	Records int64 `json:"records"`
	// SealsVerified reports whether record seals were checked (the store was
	// opened with keys).
	SealsVerified bool `json:"seals_verified"`
	// Problems lists what is wrong, one human-readable line each; empty
	// when the store is consistent. It may be capped by the store.
	Problems []string `json:"problems"`
}

// OK reports whether the check found no problem.
func (r CheckReport) OK() bool { return len(r.Problems) == 0 }

// Backuper is implemented by stores that can write a consistent copy of
// themselves while serving.
type Backuper interface {
	// Backup writes a consistent snapshot of the whole store to w and
	// returns the number of bytes written. For the bbolt store the copy is a
	// database file that boltstore.Open accepts.
	Backup(ctx context.Context, w io.Writer) (int64, error)
}
