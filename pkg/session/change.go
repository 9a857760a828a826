package session

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// Change is what one request did to one session, recorded by Session and
// applied by a Store to the latest stored record in one atomic step. Because
// it lists keys rather than carrying a whole snapshot, two requests of one
// session that change different keys both persist (per-key merge).
//
// A Change is either an insert (Create is set: the session was created in
// this request) or an update of a stored record (Create is nil). An update of
// a record that is missing or expired at Now fails with ErrNotFound: a
// session ended elsewhere is never resurrected. An ID held by a stored
// record counts as taken until the record is removed, even if it expired:
// an insert or a renew onto it fails with ErrExists. So does an ID that was
// renewed away less than RenewGrace ago (its tombstone; see Store).
type Change struct {
	// ID is the session the change applies to: the stored ID for an update,
	// Create.ID for an insert. Never zero.
	ID ID
	// Now is the committing request's clock; stores judge expiry by it.
	Now time.Time

	// Create, when non-nil, is the complete new record to insert. The other
	// fields below are then ignored, except MaxUserSessions.
	Create *Record

	// Destroy deletes the stored record; the other fields are ignored.
	Destroy bool
	// NewID, when non-zero, moves the record to a new ID (Renew): the old ID
	// is gone in the same atomic step and leaves a tombstone that lasts
	// RenewGrace (see Store).
	NewID ID
	// Clear removes every data key before Delete and Set are applied.
	Clear bool
	// Delete lists data keys to remove.
	Delete []string
	// Set maps data keys to their new JSON values.
	Set map[string]json.RawMessage
	// User, when non-nil, binds the session to *User (Login).
	User *string
	// LastSeen and IdleExpires, when non-zero, refresh sliding expiry.
	LastSeen    time.Time
	IdleExpires time.Time
	// Deadline, when non-zero, replaces the absolute deadline (Login).
	Deadline time.Time
	// Persistent, when non-nil, sets the record's Persistent flag (Login,
	// remembered or not).
	Persistent *bool
	// LastClient, when not zero, replaces the record's LastClient: the
	// client of the request that refreshes LastSeen. No change alters
	// Client, the client that created the session.
	LastClient ClientInfo

	// MaxUserSessions, when positive, caps the live sessions of the user
	// the resulting record is bound to, in the same atomic step that
	// applies the change (Config.MaxUserSessions; Session.Login sets it):
	//   - afterwards at most MaxUserSessions sessions of that user are live
	//     at Now, the result included;
	//   - when more would be, the store removes the surplus among the
	//     user's other live sessions, least recently seen first: the
	//     smallest LastSeen, ties broken by the smaller ID (byte order), as
	//     OverLimit computes it;
	//   - removed sessions end as by Delete: no tombstone, and a request
	//     still holding one cannot write it back (ErrNotFound);
	//   - the result itself is never removed; the user's expired sessions
	//     neither count nor are removed; a change that fails, a Destroy and
	//     a result bound to no user remove nothing.
	// It applies to inserts (Create) as well as to updates. Zero means no
	// limit.
	MaxUserSessions int
}

// Validate reports a malformed change, with an error wrapping ErrInvalid: a
// zero ID, an insert that also destroys, an insert whose record ID differs
// from ID, an insert without expiry times, a renew to the same ID, or a
// negative MaxUserSessions. Stores call it before touching storage.
func (c *Change) Validate() error {
	bad := func(msg string, args ...any) error {
		return fmt.Errorf("%w: change: "+msg, append([]any{ErrInvalid}, args...)...)
	}
	if c.ID.IsZero() {
		return bad("zero id")
	}
	if c.Create != nil {
		if c.Destroy {
			return bad("both creates and destroys")
		}
		if c.Create.ID != c.ID {
			return bad("id %s differs from the created record's id %s", c.ID, c.Create.ID)
		}
		if c.Create.IdleExpires.IsZero() || c.Create.Deadline.IsZero() {
			return bad("created record has no expiry")
		}
	}
	if c.NewID == c.ID {
		return bad("renew to the same id")
	}
	if c.MaxUserSessions < 0 {
		return bad("negative session limit %d", c.MaxUserSessions)
	}
	return nil
}

// TargetID returns the ID the record has after the change: NewID when an
// update renews, ID otherwise (an insert or a Destroy ignores NewID, as it
// ignores the other fields).
func (c *Change) TargetID() ID {
	if c.Create == nil && !c.Destroy && !c.NewID.IsZero() {
		return c.NewID
	}
	return c.ID
}

// ApplyTo returns the record that results from applying c to latest, the
// record currently stored under c.ID. It does not modify latest and is a pure
// function of its inputs, so a store may call it again when it retries a
// transaction. For an insert it returns a copy of c.Create with Version 1,
// and latest is not read (it may be nil). It returns nil for Destroy. For
// an update latest must not be nil: a store answers an update of a missing
// record with ErrNotFound instead of calling ApplyTo.
func (c *Change) ApplyTo(latest *Record) *Record {
	if c.Destroy {
		return nil
	}
	if c.Create != nil {
		r := c.Create.Clone()
		r.Version = 1
		return r
	}
	r := latest.Clone()
	if !c.NewID.IsZero() {
		r.ID = c.NewID
	}
	if c.Clear {
		clear(r.Data)
	}
	for _, k := range c.Delete {
		delete(r.Data, k)
	}
	for k, v := range c.Set {
		r.Data[k] = append(json.RawMessage(nil), v...)
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
	if !c.LastClient.IsZero() {
		r.LastClient = c.LastClient
	}
	r.Version++
	return r
}

// OverLimit returns the IDs of the sessions a store removes to hold the
// user of result to limit live sessions (Change.MaxUserSessions): given the
// other stored sessions of that user, in any order, it picks the least
// recently seen of those live at now (smallest LastSeen, ties by the
// smaller ID) until limit sessions remain live, result included. Records of
// others that are expired at now, nil, bound to another user or have
// result's ID are ignored. It returns nil when limit is not positive,
// result is nil or bound to no user, or nothing is over the limit. It only
// reads its arguments.
func OverLimit(limit int, result *Record, others []*Record, now time.Time) []ID {
	if limit <= 0 || result == nil || result.UserID == "" {
		return nil
	}
	live := make([]*Record, 0, len(others))
	for _, r := range others {
		if r != nil && r.ID != result.ID && r.UserID == result.UserID && !r.Expired(now) {
			live = append(live, r)
		}
	}
	surplus := len(live) + 1 - limit
	if surplus <= 0 {
		return nil
	}
	slices.SortFunc(live, func(a, b *Record) int {
		if c := a.LastSeen.Compare(b.LastSeen); c != 0 {
			return c
		}
		return slices.Compare(a.ID[:], b.ID[:])
	})
	ids := make([]ID, surplus)
	for i := range ids {
		ids[i] = live[i].ID
	}
	return ids
}
