// Package boltstore is the bbolt-backed session.Store: every session of an
// application in one embedded file, durable across restarts, with no server
// to run.
//
//	keys, _, err := session.LoadOrCreateKeyFile("sessions.keys")
//	...
//	store, err := boltstore.Open("sessions.db", &boltstore.Options{Keys: keys})
//	...
//	defer store.Close()
//
// A *Store implements session.Store and the optional session.UserIndex,
// session.Lister, session.StatsReporter, session.Purger, session.Importer,
// session.Checker and session.Backuper, plus what the admin tools need:
// Diagnose (Check's detailed report: page structure, bbolt's check, index
// consistency both ways, seals), Path and ReadOnly.
//
// # File layout
//
// The file (schema version SchemaVersion) has six top-level buckets:
//
//	sessions  16-byte session id → sealed envelope (JSON, below)
//	expiry    8-byte big-endian unix nanoseconds of Record.Expires(), rounded
//	          down to the minute, + of Record.Created + id → empty
//	users     2-byte big-endian length + user id + session id → empty
//	meta      "format" = "sesbolt", "schema", and the counters "sessions"
//	          and "users" (8-byte big-endian), kept by every write transaction
//	renewed   16-byte id renewed away → 8-byte big-endian unix nanoseconds
//	          at which its tombstone ends (session.Store, "Renewed IDs")
//	reaped    16-byte id of a record the expiry pass removed → its user id;
//	          empty between passes
//
// The renewed bucket holds no data and not the new id. It and the reaped
// bucket came after schema 2 without a new version, as older versions of
// the package ignore them: a writable Open creates them in a file that
// lacks them, and a file without them has no tombstones and nothing
// pending.
//
// A session's value is readable with any JSON tool, without the
// application's Go types:
//
//	{"v":1,"seal":"<base64>","record":{"id":"…","user":"…","created":"…",…}}
//
// "record" is session.Record's JSON encoding. "seal" is an HMAC-SHA256 over
// a format label, the 16-byte id and the record JSON, made with the seal key
// the keyring derives (separate from the cookie key; the keys never enter
// the file). bbolt has no page checksums, so the seal is what makes a
// damaged or edited record visible: such a record loads as absent
// (session.ErrNotFound), is counted in Stats.SealFailures and logged once
// with its id. A store opened read-only without keys does not check seals.
//
// The expiry index is ordered by time, so the reaper and Stats walk it from
// its start and stop at the first entry in the future: their cost tracks the
// number of expired sessions, not the total. Its resolution is a minute: a
// write that keeps a session's expiry in the same minute, as an active
// user's requests do, leaves the index alone (a third fewer pages per
// commit); the reaper, Purge, Stats and List judge the records of the
// current minute by their exact expiry. Within a minute the creation time
// orders the entries, so new sessions are appended. The index is filled to
// 95% (its keys arrive roughly in time order); the sessions bucket, keyed by
// random ids, keeps bbolt's default. The user index makes UserSessions,
// DeleteUser and DeleteUserExcept cost the user's sessions, and so the
// per-user limit of a change (session.Change.MaxUserSessions), which the
// write transaction applies through it; its length prefix keeps any user
// id, including ones with NUL bytes, unambiguous.
//
// List pages through the sessions bucket in id order, or with a user
// through that user's index entries. With the Expired filter it walks the
// expiry index instead, and so lists expired sessions in the index's order
// (by expiry minute, oldest first), each page resuming at the entry where
// the previous one stopped, named by an opaque session.Cursor: a whole
// listing costs what is expired, however many pages it takes. A page reads
// on until it is full, however many records its filter skips (live ones on
// a file of mostly expired sessions cost the expired ones too), so every
// walk checks its context and Close as it goes.
//
// Open upgrades a file of an older schema when it opens it for writing, in
// one transaction (schema 1 had exact expiry times in the index); a
// read-only store reads older schemas as they are.
//
// # Writes
//
// Apply applies a session.Change to the latest stored record inside a write
// transaction, so two requests changing different keys of one session both
// persist, and an update of a session that ended meanwhile fails with
// session.ErrNotFound instead of resurrecting it. Concurrent changes are
// group-committed by leader election: a request that finds no commit running
// commits every change waiting at that moment in one transaction (one
// fsync), with no timer and no hand-off, so a lone change commits at once in
// its own goroutine (bbolt's DB.Batch would hold it for its 10 ms
// MaxBatchDelay). Each change gets its own result: one that fails (not
// found, exists, too large, invalid) leaves no trace in the shared
// transaction; if the commit itself fails (disk full, I/O error), every
// change in it gets that error. When Apply returns nil the change is on
// disk.
//
// The reaper (every Options.ReapInterval) and Purge delete expired records
// in rounds of at most Options.ReapBatch records, sized to take about 10 ms each
// (5 ms while request writes are committing),
// re-checking each record inside the deleting transaction, so a session
// refreshed meanwhile survives. They take the due entries in chunks and
// work in key order, not expiry order: first the records, in id order,
// each removed id noted in the reaped bucket; then the chunk's index
// entries, user index and expiry index each in its own order, and last the
// noted ids. Expired sessions' ids, users and expiry times are unrelated,
// so removing each record with its entries in expiry order dirtied three
// random pages per session in every round (3.5 times the bytes scs's one
// transaction writes, BENCHMARKS.md). A noted id is reserved (nothing is
// stored under it) until its entries are gone; a pass that stops between
// the two (Close, an error, a crash) leaves them to the next pass, and
// readers and Check take index entries of noted ids for what they are.
// Then the pass removes the tombstones that ended, also at most
// Options.ReapBatch per transaction; finding them scans the renewed
// bucket, which holds about the renews of the last session.RenewGrace, not
// the stored sessions.
//
// # Observing
//
// Options.Observer (a session.StoreObserver) receives what the store sees:
// each session it removes, once and after the removal is durable, with
// the reason the caller gave (session.WithEndReason) or, for the reaper
// and Purge, session.EndExpired; each group commit (its duration and
// size); each expiry pass; each record failing its seal; system errors
// by operation ("load", "commit", "reap", "reap_scan", "list",
// "user_sessions", "stats", "prepare", "backup", "diagnose", "open",
// "create_buckets", "migrate_schema"). Observers run outside the store's
// transactions. pkg/metrics turns them into Prometheus metrics. The
// store also keeps a histogram of its commits' durations itself, for
// Stats.Commits (percentiles since Open), which sesctl stats shows
// through the admin socket.
//
// # Live administration
//
// The store opens a file and starts its reaper; it starts no listener.
// bbolt locks the file exclusively while a store has it open, so an
// application that wants sesctl to reach it while it runs serves the admin
// API itself, with one line (package admin):
//
//	adm, err := admin.ServeSocket(store, "", nil) // sessions.db.sock, mode 0600
//	...
//	defer adm.Close() // before store.Close
//
// Store.Path makes the store an admin.FileBacked one, so the socket goes
// beside the file by default, where sesctl --db FILE looks for it.
//
// # Damaged files
//
// Open refuses files that are not bbolt (ErrNotBolt), visibly damaged ones
// (ErrCorrupt: bad meta pages, truncation, a broken freelist), other
// applications' bbolt files and newer schemas (ErrSchema). bbolt itself
// trusts the file and panics or faults on a damaged page, and inside
// bbolt.Open such a fault could not be cleaned up, so the store checks what
// bbolt.Open reads with ordinary file reads first: package
// internal/boltfile re-implements the parts of bbolt's on-disk format this
// needs (meta pages, freelist, the page tree), with errors the store maps
// to ErrNotBolt and ErrCorrupt. Afterwards the store runs every bbolt call
// with faults turned into panics and recovers them into ErrCorrupt, so a
// damaged file fails calls instead of crashing the process. Options.Verify
// makes Open walk every page of the tree first (boltfile.Walk); Diagnose
// and Check do so before they run bbolt's own check. Open always walks a
// file that stores no freelist (written with bbolt's NoFreelistSync, as
// etcd writes, and not closed cleanly): bbolt.Open rebuilds its freelist
// by checking every page on a goroutine of its own, out of reach of the
// store's recover, so the walk (and its key-order check, which that check
// also makes) must find the damage first.
//
// # Caveats
//
//   - One process holds the file. bbolt locks it exclusively, so while the
//     application runs no other process can open it, not even read-only:
//     Open then fails with ErrLocked after Options.LockTimeout (it never
//     hangs). Administer a running application through the admin socket
//     it serves (admin.ServeSocket; sesctl finds FILE.sock by itself).
//   - Files never shrink. Deleted sessions leave free pages that bbolt
//     reuses, but the file keeps its largest size; write a compacted copy
//     offline (sesctl compact) to give the space back. Stats.FreeBytes shows
//     how much a compaction would gain.
//   - Every commit is fsynced (bbolt's NoSync is never set), twice per
//     transaction (data, then meta page). Group commit shares that cost among
//     concurrent requests, but a lone request still pays it: write latency is
//     the disk's sync latency. Sliding expiry refreshes at most once per touch
//     interval (package session), which keeps read-mostly traffic write-free.
//   - Decoded records are cached (Options.ReadCacheSize, 16 MiB by
//     default): a read whose stored bytes are unchanged skips the seal check
//     and the JSON parse. Every read still reads the file and compares the
//     bytes, so the cache never serves a stale or tampered record.
//   - Long reads (Backup, Check) hold a read transaction; a write that must
//     grow bbolt's memory map waits for them. Options.InitialMmapSize avoids
//     remapping on busy stores.
//   - A reaper round holds the write lock for about 10 ms, 5 ms while
//     request writes commit (its batch adapts to the file;
//     Stats.LastReap.LongestStep shows the longest), and
//     request writes wait at most that long. A disk whose fsync alone takes
//     longer makes every round, and every request write, that slow.
//   - Recovery has limits. Without Options.Verify, a damaged file whose
//     pages form a cycle makes bbolt recurse without end, a stack overflow
//     Go cannot recover from, and a damaged length can make a write allocate
//     far too much memory. Open files of doubtful origin with Verify (or run
//     sesctl check first).
package boltstore
