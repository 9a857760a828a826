package session

import (
	"encoding/json"
	"fmt"
	"maps"
	"time"
)

// Record is the stored form of a session. Its JSON encoding (field names as
// tagged, times in RFC 3339 UTC) is the format stores persist, sesctl shows
// and the admin API serves, so it is readable without the application's Go
// types. Data values are JSON documents.
//
// A Record returned by a store belongs to the caller: stores never keep or
// mutate it afterwards.
type Record struct {
	// ID is the session's identifier.
	ID ID `json:"id"`
	// UserID is the user bound by Session.Login; empty for anonymous sessions.
	UserID string `json:"user"`
	// Created is when the session was first stored.
	Created time.Time `json:"created"`
	// LastSeen is when a request last refreshed the session. It is written at
	// most once per touch interval, so it may lag the latest request by that
	// much.
	LastSeen time.Time `json:"last_seen"`
	// IdleExpires is LastSeen plus the idle timeout.
	IdleExpires time.Time `json:"idle_expires"`
	// Deadline is the absolute end of the session, set at creation and reset
	// by Login; renewing the ID does not move it.
	Deadline time.Time `json:"deadline"`
	// Persistent marks a session whose user asked to be remembered at login
	// (Session.Login with Remember): its cookie outlives the browser session
	// and it has its own, longer timeouts (Config.PersistentIdleTimeout and
	// PersistentLifetime), still enforced through IdleExpires and Deadline.
	// False in records stored before sesbolt knew it.
	Persistent bool `json:"persistent"`
	// Client describes the client that created the session. It never
	// changes afterwards.
	Client ClientInfo `json:"client"`
	// LastClient describes the client of the latest request that refreshed
	// LastSeen (at most once per touch interval, with no write of its own):
	// the device and address a session is used from now. Equal to Client
	// when the session is created; zero in records stored before sesbolt
	// recorded it (Latest then falls back to Client).
	LastClient ClientInfo `json:"last_client"`
	// Data holds the session's values by key, each a JSON document.
	// Never nil in a record returned by a store.
	Data map[string]json.RawMessage `json:"data"`
	// Version counts the writes to this record: 1 when inserted, incremented
	// by every applied change. Renew keeps counting.
	Version uint64 `json:"version"`
}

// ClientInfo describes the client that created a session, for people who
// review their active sessions ("Firefox on Linux, 203.0.113.7").
type ClientInfo struct {
	// IP is the remote address without port, as the server saw it.
	IP string `json:"ip,omitempty"`
	// UserAgent is the User-Agent header, truncated to MaxUserAgent bytes.
	UserAgent string `json:"user_agent,omitempty"`
}

// IsZero reports whether c holds neither an IP nor a User-Agent.
func (c ClientInfo) IsZero() bool { return c == ClientInfo{} }

// Latest returns LastClient, or Client when LastClient is zero (a record
// stored before sesbolt recorded the last client).
func (r *Record) Latest() ClientInfo {
	if r.LastClient.IsZero() {
		return r.Client
	}
	return r.LastClient
}

// MaxUserAgent bounds the User-Agent kept in ClientInfo, so a client cannot
// grow every record it creates.
const MaxUserAgent = 256

// Expires returns when the session ends unless refreshed: the earlier of
// IdleExpires and Deadline.
func (r *Record) Expires() time.Time {
	if r.Deadline.Before(r.IdleExpires) {
		return r.Deadline
	}
	return r.IdleExpires
}

// Expired reports whether the session has ended at now. A session is live
// strictly before Expires.
func (r *Record) Expired(now time.Time) bool {
	return !now.Before(r.Expires())
}

// Clone returns a deep copy of r (Data values are copied too). Clone of nil
// is nil.
func (r *Record) Clone() *Record {
	if r == nil {
		return nil
	}
	c := *r
	c.Data = make(map[string]json.RawMessage, len(r.Data))
	size := 0
	for _, v := range r.Data {
		size += len(v)
	}
	arena := make([]byte, 0, size) // one allocation for every value
	for k, v := range r.Data {
		start := len(arena)
		arena = append(arena, v...)
		c.Data[k] = arena[start:len(arena):len(arena)]
	}
	return &c
}

// Equal reports whether r and o hold the same fields and data (times compared
// with time.Time.Equal, data values byte for byte).
func (r *Record) Equal(o *Record) bool {
	if r == nil || o == nil {
		return r == o
	}
	return r.ID == o.ID && r.UserID == o.UserID &&
		r.Created.Equal(o.Created) && r.LastSeen.Equal(o.LastSeen) &&
		r.IdleExpires.Equal(o.IdleExpires) && r.Deadline.Equal(o.Deadline) &&
		r.Persistent == o.Persistent && r.Client == o.Client && r.LastClient == o.LastClient &&
		r.Version == o.Version &&
		maps.EqualFunc(r.Data, o.Data, func(a, b json.RawMessage) bool { return string(a) == string(b) })
}

// Validate reports, with an error wrapping ErrInvalid, a record that no
// store should hold: a zero ID, zero Created, IdleExpires or Deadline, a nil
// Data map, an empty data key, or a data value that is not valid JSON. Use it
// on records from outside (imports).
func (r *Record) Validate() error {
	bad := func(msg string, args ...any) error {
		return fmt.Errorf("%w: record: "+msg, append([]any{ErrInvalid}, args...)...)
	}
	switch {
	case r == nil:
		return bad("nil")
	case r.ID.IsZero():
		return bad("zero id")
	case r.Created.IsZero():
		return bad("%s: no created time", r.ID)
	case r.IdleExpires.IsZero() || r.Deadline.IsZero():
		return bad("%s: no expiry", r.ID)
	case r.Data == nil:
		return bad("%s: no data object", r.ID)
	}
	for k, v := range r.Data {
		if k == "" {
			return bad("%s: empty data key", r.ID)
		}
		if !json.Valid(v) {
			return bad("%s: data %q is not valid JSON", r.ID, k)
		}
	}
	return nil
}
