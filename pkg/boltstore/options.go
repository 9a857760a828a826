package boltstore

import (
	"log/slog"
	"os"
	"time"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// Defaults applied by Open to zero Options fields.
const (
	// DefaultLockTimeout is how long Open waits for another process to
	// release the file before it returns ErrLocked.
	DefaultLockTimeout = time.Second
	// DefaultMaxRecordSize bounds the JSON encoding of one record (64 KiB).
	DefaultMaxRecordSize = 64 << 10
	// DefaultReapInterval is how often the reaper removes expired records.
	DefaultReapInterval = time.Minute
	// DefaultReapBatch bounds the deletions of one reaper transaction.
	DefaultReapBatch = 1000
	// DefaultFileMode is the mode of a database file Open creates.
	DefaultFileMode os.FileMode = 0o600
)

// MaxUserIDSize bounds Record.UserID in bytes. A change binding a longer user
// fails with an error wrapping session.ErrTooLarge.
const MaxUserIDSize = 1024

// Options configure Open. The zero value (or a nil *Options) means the
// defaults documented on each field; a writable store still needs Keys.
type Options struct {
	// Keys seal and verify stored records. Required unless ReadOnly; a
	// read-only store opened without keys does not verify seals (for
	// offline inspection), with keys it verifies them like a writable one.
	// The keys never go into the database.
	Keys *session.Keyring

	// ReadOnly opens the file with a shared lock for inspection: several
	// read-only stores may share a file, but not with a writable one. Every
	// write returns ErrReadOnly and no reaper runs.
	ReadOnly bool

	// LockTimeout bounds how long Open waits for another process to release
	// the file; then it returns ErrLocked. Zero means DefaultLockTimeout; a
	// negative value tries exactly once. Open never waits indefinitely.
	LockTimeout time.Duration

	// MaxRecordSize bounds the JSON encoding of one record in bytes (the
	// envelope adds about 90 bytes). A change whose result is larger fails
	// with an error wrapping session.ErrTooLarge. Zero means
	// DefaultMaxRecordSize; it is capped at 16 MiB.
	MaxRecordSize int

	// ReapInterval is the period of the background reaper. Zero means
	// DefaultReapInterval; a negative value disables the reaper (Purge
	// still works).
	ReapInterval time.Duration

	// ReapBatch bounds the records one reaper or Purge transaction
	// removes (and the tombstones it removes), so request latency stays
	// flat while it runs; a transaction that removes only index entries,
	// which neighbour each other, may take 16 times as many. Time bounds
	// every transaction too (about 10 ms). Zero (or negative) means
	// DefaultReapBatch.
	ReapBatch int

	// Now is the reaper's clock. Nil means time.Now. Load, Apply and
	// friends judge expiry by the time they are given, not by Now.
	Now func() time.Time

	// Logger receives the store's logs (seal failures, reaper passes and
	// errors). Nil means slog.Default(). Logs carry session ids and counts,
	// never cookie values, keys or session data.
	Logger *slog.Logger

	// FileMode is the mode of a file Open creates. Zero means
	// DefaultFileMode (0600): the file holds every session's data.
	FileMode os.FileMode

	// Verify makes Open walk every reachable page of the file (through
	// ordinary reads, not the memory map) and fail with ErrCorrupt when the
	// structure is damaged. It costs a read of the whole file, so it is off
	// by default; tools that open files of unknown provenance should set
	// it. Without it Open checks the meta and freelist pages only, and
	// damage found later surfaces as ErrCorrupt from the call that met it.
	Verify bool

	// ReadCacheSize is the memory, in bytes, of the cache of decoded
	// records that spares a repeated read of an unchanged session the seal
	// check and the JSON parse (most of a read's cost). Every read still
	// goes to the file and uses the cache only when the stored bytes are
	// exactly those it decoded, so the cache can never return a stale or
	// tampered record. Zero means DefaultReadCacheSize; a negative value
	// turns the cache off.
	ReadCacheSize int

	// Observer receives the store's events (session.StoreObserver): each
	// session it removes, once (Apply with Destroy, Delete, DeleteUser and
	// DeleteUserExcept with the caller's reason from
	// session.WithEndReason; Apply's per-user limit as session.EndLimit;
	// the reaper and Purge as session.EndExpired), each group commit, each expiry pass,
	// each record failing its seal (once per id), and system errors with
	// the operation's name. The zero value observes nothing, at no cost.
	Observer session.StoreObserver

	// InitialMmapSize is passed to bbolt: the initial size of the memory
	// map. A long read (Backup, Check, a large List page) blocks a write
	// that must grow the map, so a generous value avoids such stalls on
	// busy stores. Zero lets bbolt size the map from the file.
	InitialMmapSize int
}

// maxMaxRecordSize caps Options.MaxRecordSize: bbolt values must stay well
// below its MaxValueSize and one record should never dominate a page set.
const maxMaxRecordSize = 16 << 20

// withDefaults returns a copy of o (nil allowed) with defaults applied.
func (o *Options) withDefaults() Options {
	var r Options
	if o != nil {
		r = *o
	}
	if r.LockTimeout == 0 {
		r.LockTimeout = DefaultLockTimeout
	}
	if r.MaxRecordSize <= 0 {
		r.MaxRecordSize = DefaultMaxRecordSize
	}
	if r.MaxRecordSize > maxMaxRecordSize {
		r.MaxRecordSize = maxMaxRecordSize
	}
	if r.ReapInterval == 0 {
		r.ReapInterval = DefaultReapInterval
	}
	if r.ReapBatch <= 0 {
		r.ReapBatch = DefaultReapBatch
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
	if r.FileMode == 0 {
		r.FileMode = DefaultFileMode
	}
	return r
}

// boltTimeout maps LockTimeout to bbolt's Options.Timeout, where zero means
// "wait forever": a negative LockTimeout becomes the smallest positive
// duration, with which bbolt tries the lock once.
func (o *Options) boltTimeout() time.Duration {
	if o.LockTimeout < 0 {
		return time.Nanosecond
	}
	return o.LockTimeout
}
