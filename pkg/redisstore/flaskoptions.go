package redisstore

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// DefaultFlaskTombstonePrefix starts the keys of the tombstones a
// FlaskStore leaves for renewed ids.
const DefaultFlaskTombstonePrefix = "sesbolt:flask:renewed:"

// FlaskOptions configure NewFlask. UserKey is required, and Lifetime for a
// store that writes; every other zero field means the default documented
// on it.
type FlaskOptions struct {
	// UserKey is the key of the session dict that holds the user id, as
	// the Flask app writes it ("user_id" in examples/flask). Required.
	// Record.UserID is its value: a JSON string as it is, any other JSON
	// value but null as its JSON text (42 → "42"); absent or null is an
	// anonymous session. Record.Data never holds it, and a change that
	// sets or deletes it as data fails with session.ErrInvalid: the user
	// changes only with the binding (session.Change.User, Session.Login).
	UserKey string

	// Lifetime is the Flask app's permanent_session_lifetime, at least a
	// millisecond; required unless ReadOnly. Every write sets the key's
	// time to live to it, counted from the change's Now, as the Flask
	// app's writes do: it is the sessions' idle timeout, and there is no
	// absolute lifetime. Records report LastSeen as their expiry less
	// Lifetime (zero when Lifetime is).
	Lifetime time.Duration

	// TombstonePrefix starts the keys of the tombstones this store leaves
	// for ids it renewed away (see NewFlask); the Flask app never reads
	// them. Empty means DefaultFlaskTombstonePrefix. It must not contain
	// '{' or '}': the id in braces after it puts a tombstone in its
	// session's Redis Cluster hash slot.
	TombstonePrefix string

	// ReadOnly makes Apply and Delete return ErrReadOnly, for tools that
	// only read the sessions (sesctl import reading the layout).
	ReadOnly bool

	// MaxRecordSize bounds the JSON of one session dict this store writes,
	// in bytes; a change whose result is larger fails with an error
	// wrapping session.ErrTooLarge. Values the Flask app wrote are read
	// whatever their size. Zero means DefaultMaxRecordSize; it is capped at
	// 16 MiB.
	MaxRecordSize int

	// MaxAttempts bounds the optimistic attempts of one change, as
	// Options.MaxAttempts does for Store. Zero (or negative) means
	// DefaultMaxAttempts.
	MaxAttempts int

	// Logger receives the store's logs: values that are not a JSON object
	// (each id once), which load as absent. Nil means slog.Default(). Logs
	// carry session ids, never cookie values, secrets or session data.
	Logger *slog.Logger

	// Observer receives the store's events, as Options.Observer does
	// Store's: Ended for the sessions Apply (Destroy) and Delete remove,
	// once Redis acknowledged it, with the caller's reason
	// (session.EndReasonFrom); Committed once per Apply that reached
	// Redis; Failed for the errors wrapping ErrRedis. Sessions Redis
	// deletes by their TTL, and those the Flask app deletes, are reported
	// nowhere; there are no reaper passes and no seals. The zero value
	// reports nothing.
	Observer session.StoreObserver
}

// withDefaults returns a copy of o (nil allowed) with defaults applied, or
// an error wrapping ErrConfig.
func (o *FlaskOptions) withDefaults() (FlaskOptions, error) {
	var r FlaskOptions
	if o != nil {
		r = *o
	}
	switch {
	case r.UserKey == "":
		return r, fmt.Errorf("%w: FlaskOptions.UserKey is required: the key of the Flask session dict that holds the user id", ErrConfig)
	case r.Lifetime < 0 || r.Lifetime < time.Millisecond && !(r.ReadOnly && r.Lifetime == 0):
		return r, fmt.Errorf("%w: FlaskOptions.Lifetime is required (at least 1ms): the Flask app's permanent_session_lifetime", ErrConfig)
	}
	if r.TombstonePrefix == "" {
		r.TombstonePrefix = DefaultFlaskTombstonePrefix
	}
	if strings.ContainsAny(r.TombstonePrefix, "{}") {
		return r, fmt.Errorf("%w: tombstone prefix %q contains a brace, which would change the keys' hash slots", ErrConfig, r.TombstonePrefix)
	}
	if r.MaxRecordSize <= 0 {
		r.MaxRecordSize = DefaultMaxRecordSize
	}
	r.MaxRecordSize = min(r.MaxRecordSize, maxMaxRecordSize)
	if r.MaxAttempts <= 0 {
		r.MaxAttempts = DefaultMaxAttempts
	}
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
	return r, nil
}
