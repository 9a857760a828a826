package redisstore

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// Defaults applied by New to zero Options fields.
const (
	// DefaultPrefix starts every key the store writes.
	DefaultPrefix = "sesbolt:"
	// DefaultExpiredRetention is how long Redis keeps a record after it
	// expired.
	DefaultExpiredRetention = 10 * time.Minute
	// DefaultMaxRecordSize bounds the JSON encoding of one record (64 KiB).
	DefaultMaxRecordSize = 64 << 10
	// DefaultMaxAttempts bounds the compare-and-set attempts of one change.
	DefaultMaxAttempts = 20
	// DefaultTrimInterval is how often the background pass drops the
	// index entries of records Redis has expired.
	DefaultTrimInterval = time.Minute
	// DefaultTrimBatch bounds the entries one trim step removes.
	DefaultTrimBatch = 1000
	// DefaultInitTimeout bounds the calls New makes to Redis.
	DefaultInitTimeout = 10 * time.Second
)

// MaxUserIDSize bounds Record.UserID in bytes (the user id is part of the
// user index's key names). A change binding a longer user fails with an
// error wrapping session.ErrTooLarge.
const MaxUserIDSize = 1024

// maxMaxRecordSize caps Options.MaxRecordSize: a Redis value is read and
// written whole by every request of the session.
const maxMaxRecordSize = 16 << 20

// Options configure New. The zero value (or a nil *Options) means the
// defaults documented on each field; a writable store still needs Keys.
type Options struct {
	// Keys seal and verify stored records. Required unless ReadOnly; a
	// read-only store without keys does not verify seals (for inspection
	// by tools that lack the application's keys). The keys never go to
	// Redis.
	Keys *session.Keyring

	// ReadOnly makes every method that writes (Apply, Delete, DeleteUser,
	// Purge, Import) return ErrReadOnly, and starts no trim pass. New
	// still checks the format under the prefix, but writes nothing.
	ReadOnly bool

	// MustExist makes New fail with ErrNoStore when no store was ever
	// opened for writing under the prefix (its format is not recorded),
	// instead of recording it: for tools that must not create a store by
	// mistake, on a mistyped prefix or URL.
	MustExist bool

	// Prefix starts every key the store reads or writes, so one Redis can
	// hold the sessions of several applications (or several stores of one)
	// apart. Empty means DefaultPrefix. It must not contain '{' or '}',
	// which would change the keys' hash slots on Redis Cluster.
	Prefix string

	// ExpiredRetention is how long Redis keeps a record after it expired
	// (Record.Expires) before it deletes it by itself. While kept, an
	// expired record loads as absent like any expired one, but it still
	// occupies its id, is listed with the Expired filter, counted in
	// Stats.Expired, shown by admin lookups (sesctl show) and removed by
	// Purge; and a Redis clock ahead of the application's cannot end a
	// session early. A negative value keeps nothing: Redis deletes a
	// record when it expires, and the Expired filter and Purge find almost
	// nothing.
	//
	// Every store sharing a prefix must use the same retention: Stats and
	// the Expired filter tell expired records from live ones by when Redis
	// deletes them. So the first writable store on a prefix records its
	// retention there, and zero means that recorded retention, or
	// DefaultExpiredRetention on a prefix with none recorded (tools such
	// as sesctl leave it zero and agree with the application). A store
	// given another retention than the recorded one uses its own, and
	// logs a warning.
	ExpiredRetention time.Duration

	// MaxRecordSize bounds the JSON encoding of one record in bytes (the
	// envelope adds about 70 bytes). A change whose result is larger fails
	// with an error wrapping session.ErrTooLarge. Zero means
	// DefaultMaxRecordSize; it is capped at 16 MiB.
	MaxRecordSize int

	// MaxAttempts bounds the optimistic attempts of one change: each reads
	// the record, applies the change in Go and writes the result only if
	// the stored bytes are still those it read. Concurrent changes of one
	// session in this process queue instead of competing, so attempts
	// fail only against other processes (or the store's own Delete and
	// Purge). When they run out, the change fails with ErrConflict,
	// nothing written. Zero (or negative) means DefaultMaxAttempts.
	MaxAttempts int

	// TrimInterval is the period of the background pass that drops the
	// index entries of records Redis has expired (the records themselves
	// need nothing: Redis deletes them). Every write also drops a few such
	// entries of the index it touches, so the pass matters for indexes
	// that see few writes. Zero means DefaultTrimInterval; a negative
	// value disables the pass.
	TrimInterval time.Duration

	// TrimBatch bounds the index entries one trim step removes, so that no
	// step holds Redis for long. Zero (or negative) means DefaultTrimBatch.
	TrimBatch int

	// InitTimeout bounds what New asks of Redis (reading or recording the
	// format, loading the scripts). Zero means DefaultInitTimeout.
	InitTimeout time.Duration

	// Observer receives the store's events (session.StoreObserver): each
	// session it removes, once, after Redis acknowledged the removal
	// (Apply with Destroy, Delete, DeleteUser and DeleteUserExcept with
	// the caller's reason from session.WithEndReason; Apply's per-user
	// limit as session.EndLimit; Purge as session.EndExpired), each Apply
	// as a commit of size 1, each Purge as an expiry pass, each record
	// failing its seal (once per id), and errors of Redis with the
	// operation's name ("load", "apply", "delete", "delete_user",
	// "user_sessions", "list", "stats", "purge", "import", "check",
	// "open", "trim", "limit", "unindex", "undo_renew", "unimport").
	// Records Redis deletes by their TTL are not reported: the store does
	// not see them go. The zero value observes nothing, at no cost.
	Observer session.StoreObserver

	// Logger receives the store's logs (seal failures, trim passes and
	// errors). Nil means slog.Default(). Logs carry session ids and
	// counts, never cookie values, keys or session data.
	Logger *slog.Logger
}

// withDefaults returns a copy of o (nil allowed) with defaults applied, or
// an error wrapping ErrConfig.
func (o *Options) withDefaults() (Options, error) {
	var r Options
	if o != nil {
		r = *o
	}
	if r.Prefix == "" {
		r.Prefix = DefaultPrefix
	}
	if strings.ContainsAny(r.Prefix, "{}") {
		return r, fmt.Errorf("%w: prefix %q contains a brace, which would change the keys' hash slots", ErrConfig, r.Prefix)
	}
	if r.ExpiredRetention == 0 {
		r.ExpiredRetention = DefaultExpiredRetention
	}
	if r.ExpiredRetention < 0 {
		r.ExpiredRetention = 0
	}
	if r.MaxRecordSize <= 0 {
		r.MaxRecordSize = DefaultMaxRecordSize
	}
	r.MaxRecordSize = min(r.MaxRecordSize, maxMaxRecordSize)
	if r.MaxAttempts <= 0 {
		r.MaxAttempts = DefaultMaxAttempts
	}
	if r.TrimInterval == 0 {
		r.TrimInterval = DefaultTrimInterval
	}
	if r.TrimBatch <= 0 {
		r.TrimBatch = DefaultTrimBatch
	}
	if r.InitTimeout <= 0 {
		r.InitTimeout = DefaultInitTimeout
	}
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
	return r, nil
}
