// Package memstore is an in-memory session.Store for tests and development.
//
// A Store keeps session records in maps guarded by a sync.RWMutex, together
// with a per-user index (user → set of session ids). It implements
// session.Store and the optional session.SharedLoader, session.UserIndex,
// session.Lister, session.StatsReporter, session.Purger and
// session.Importer; not session.Checker and session.Backuper (there is no
// file to verify or copy), for which package admin answers
// session.ErrNotSupported. It passes the conformance suite in package
// sessiontest, so code tested against it sees
// the semantics every store shares: per-key merge of concurrent changes, no
// resurrection of ended sessions, and expiry judged on every read. Like a
// persistent store it also limits the size of a record's JSON encoding
// (Options.MaxRecordSize) and rejects, as session.ErrInvalid, Data values
// that are not valid JSON.
//
// Records are copied on the way in and on the way out: a Store never shares a
// Record or its Data map with a caller.
//
// A renew leaves a tombstone for the old ID (see session.Store, "Renewed
// IDs"): an entry in a map of IDs to the end of their tombstone, removed by
// the cleanup goroutine or Purge once it ended.
//
// A background goroutine removes expired records every
// Options.CleanupInterval; Close stops it and waits for it.
//
// Options.Observer (a session.StoreObserver) receives each session the
// store removes, once, with its reason, and each cleanup or Purge pass as
// a reaper round; the store has no commits, seals or I/O to report.
//
//	store := memstore.New(nil) // defaults: cleanup every minute, 64 KiB records
//	defer store.Close()
//
// # Caveats
//
//   - Nothing is persistent: every session is lost when the process exits,
//     so every user is logged out by a restart or a deploy.
//   - Sessions live in one process: several instances of an application
//     behind a load balancer do not share them. Use the bbolt store (one
//     machine) or a networked store instead.
//   - Memory is bounded only by the expiry of sessions and by
//     Options.MaxRecordSize per record; there is no limit on their number.
//   - Stats and Purge scan every record (Purge also every tombstone), and
//     List every record, or with ListQuery.User every session of that
//     user, then sorts the matching ids: O(n) and O(n log n) in the number
//     of records scanned. Load, Apply, Delete and the per-user operations
//     do not scan.
//   - A Store that is not closed keeps its cleanup goroutine, and so itself,
//     alive: call Close when done with it.
package memstore
