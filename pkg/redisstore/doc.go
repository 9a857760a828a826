// Package redisstore is the Redis-backed session.Store, for applications
// that run on several machines: every instance shares the sessions, with
// the same semantics as the bbolt store. It runs on a single Redis server,
// on one managed by Sentinel, and on Redis Cluster, through any go-redis v9
// client.
//
//	client := redis.NewClient(&redis.Options{Addr: "localhost:6379", ContextTimeoutEnabled: true})
//	store, err := redisstore.New(client, &redisstore.Options{Keys: keys})
//	...
//	defer store.Close()
//
// or, from a URL (one server, a Unix socket, or a Cluster's nodes; see
// NewClient), as sesctl --redis and sesdemo -redis take it:
//
//	client, err := redisstore.NewClient("redis://localhost:6379/0")
//	...
//	defer client.Close() // after store.Close
//
// A *Store implements session.Store and the optional session.SharedLoader,
// session.UserIndex, session.Lister, session.StatsReporter,
// session.Purger, session.Importer and session.Checker. It does not
// implement session.Backuper: a consistent copy of a Redis is Redis's
// business (BGSAVE, replicas), so admin tools answer session.ErrNotSupported
// for a backup. It passes the conformance suite (package sessiontest) on a
// single server and on a three-master Cluster (there with
// sessiontest.LimitAfterWrite, see "Redis Cluster"), including its restart
// group: records, remembered sessions and their last client survive a
// new Store on the same Redis.
//
// FlaskStore (NewFlask) is the other store of this package: sessions in
// the Redis layout of the Flask recipe sesbolt grew from, shared with a
// Flask app during a migration (see "The Flask layout").
//
// # Writes
//
// Apply reads the record, applies the session.Change in Go
// (Change.ApplyTo, a pure function), seals the result and hands it to a Lua
// script that writes it only if the stored bytes are still those it read
// (compare-and-set), together with the index updates. When another writer
// got there first, Apply reads again and retries, up to
// Options.MaxAttempts times, then fails with ErrConflict, never silently
// dropping the change. An update's first attempt reads nothing: it starts
// from the value the store last read or wrote under the id (the request's
// own Load), which the compare-and-set checks like any other; so an update
// after a Load is one round trip, and only a value another process changed
// meanwhile costs a second attempt. Changes of one session from one process take turns
// before they reach Redis, so attempts collide only between processes. So
// two requests changing different keys of one session both persist, and an
// update of a session that ended meanwhile (logout, expiry, a renew that
// moved it) fails with session.ErrNotFound instead of resurrecting it.
// Renew moves the record to its new id and removes the old one in one
// script, leaving a tombstone under the old id for session.RenewGrace (a
// key Redis deletes when it ends): while it lasts, the old id answers
// session.ErrRenewed and cannot be stored again. Tombstones hold no data
// and not the new id; Purge leaves them to their TTL.
//
// A change with session.Change.MaxUserSessions (a login under
// session.Config.MaxUserSessions) also ends the user's least recently seen
// live sessions over the limit (session.OverLimit picks them; no
// tombstones). On a single server the store reads the user's index and the
// records it lists, and the script that writes the change also checks that
// they are unchanged and removes the surplus: one atomic step, so no reader
// ever sees more sessions than the limit; if they changed, the change is
// tried again. Limited changes of one user from one process take turns.
// On Cluster it is a step after the write (see "Redis Cluster").
// DeleteUserExcept ("sign out the other devices") is DeleteUser sparing one
// session.
//
// # Expiry
//
// Idle timeout and absolute lifetime are judged on every read, by the
// caller's clock, as in every store. Redis deletes a record by itself
// (PEXPIREAT) at its expiry (Record.Expires, rounded up to the
// millisecond) plus Options.ExpiredRetention (10 minutes by default): there
// is no reaper. Until then an expired record is what the session.Store
// contract calls expired but not yet removed: invisible to Load and to live
// listings, but listed with the Expired filter, counted in Stats.Expired,
// shown by an admin lookup (Load at the zero time) and removed by Purge. A
// retention of zero (Options.ExpiredRetention < 0) removes records as they
// expire; the Expired filter, Stats.Expired and Purge then find only the
// records whose expiry lies between the caller's clock and Redis's.
//
// Index entries of records Redis deleted are dropped by every write that
// adds or removes entries of that index (a few at a time: an insert drops
// up to two of its bucket's, so they cannot pile up), ignored by every
// reader, and trimmed by a background pass every Options.TrimInterval (at
// most Options.TrimBatch entries per script call); Close stops the pass.
// An update that keeps the id and the user adds and removes no entries: it
// replaces the record and moves its expiry index entry, and its user index
// entry when its retain moved later, and touches nothing else.
//
// # Observing
//
// Options.Observer (a session.StoreObserver) receives each session the
// store removes, once and after Redis acknowledged it (Apply with Destroy,
// Delete, DeleteUser, DeleteUserExcept with the caller's reason; the
// per-user limit as session.EndLimit; Purge as session.EndExpired), each
// Apply as a commit of size 1 (also summarised in Stats.Commits), each
// Purge as an expiry pass (also Stats.LastReap), each record failing its
// seal (once per id), and errors of Redis by operation. Records Redis
// deletes by their TTL are not reported: the store does not see them go.
// The trim pass drops index entries, not sessions, and is no expiry pass.
// Observers run after the queues of the call that reports are released.
//
// # Records
//
// A record's value is readable with any JSON tool:
//
//	{"v":1,"seal":"<base64>","record":{"id":"…","user":"…","created":"…",…}}
//
// "record" is session.Record's JSON encoding, written and read by
// encoding/json (so it carries "persistent" and "last_client" like every
// other field; a record written before they existed reads with them zero);
// "seal" is an HMAC-SHA256 over
// a format label, the 16-byte id and the record JSON, made with the seal key
// the keyring derives (Keyring.Seal; separate from the cookie key, and the
// keys never go to Redis). A record edited in Redis, or copied under
// another id, fails its seal: it loads as absent (session.ErrNotFound), is
// counted in Stats.SealFailures and logged once with its id.
//
// # Key layout
//
// Every key starts with Options.Prefix (P, by default "sesbolt:"). A
// session's bucket b is the first byte of its id in hex ("3f" for
// 3f2504e0-…); a user's bucket u is the first byte of the SHA-256 of the
// user id in hex. The part in braces is the Redis Cluster hash tag.
//
//	Pmeta                  hash: format "sesbolt-redis", schema "1",
//	                       retention: Options.ExpiredRetention in ms
//	P{b}:session:<id>      string: the sealed record, PEXPIREAT retain
//	P{b}:renewed:<id>      string: the tombstone of an id renewed away: when
//	                        it ends, unix nanoseconds in 20 digits;
//	                        PEXPIREAT then
//	P{b}:ids               sorted set: the bucket's ids, score 0 (id order)
//	P{b}:expiry            sorted set: the bucket's ids by retain
//	P{u:u}:user:<user>     sorted set: the user's session ids by retain
//	P{u:u}:versions:<user> hash: session id -> version of the change that
//	                        listed it (orders index updates on Cluster)
//	P{u:u}:users           sorted set: the bucket's users by their largest
//	                        retain (the user registry)
//
// where retain is when Redis deletes the record: its expiry, rounded up to
// the millisecond, plus the retention, in unix milliseconds. A user's index
// keys expire with its last entry. The id indexes give listings their id
// order (ZRANGEBYLEX) bucket after bucket; the expiry indexes give Stats,
// Purge and the Expired filter their candidates; the registries count
// users.
//
// # Redis Cluster
//
// All keys of one session, and the indexes of its bucket, share a hash slot,
// so the record and its bucket indexes are always written in one script. A
// user's index and its bucket's registry share another slot. A client that
// spreads keys over servers (a *redis.ClusterClient, or anything but a
// *redis.Client) cannot run one script over both, so on it, and only on
// it, some guarantees are weaker:
//
//   - The user index is written in a separate step: entries are added
//     before the record is written and removed after it is gone, so the
//     index never misses a stored session (DeleteUser, "log out
//     everywhere", finds them all), but it may list sessions that are gone
//     or bound to another user: after a failure between the steps, until
//     the entry's retain passes; after a change that lost a compare-and-set
//     race, likewise. Every reader re-checks each record, so such an entry
//     never reaches another user's session; it can make Stats.Users count a
//     user whose last session was rebound away. Index scores only grow (an
//     entry outlives its record rather than the reverse).
//   - Renew is two steps: the record is written under the new id, then the
//     old one is removed if unchanged (otherwise the new copy is removed and
//     the renew retried). An error between the two steps can leave a copy
//     under the new id that no client holds; it expires with its TTL.
//   - The per-user session limit (Change.MaxUserSessions) is enforced in a
//     step after the change is written: the store then reads the user's
//     sessions and removes the surplus, each removal guarded by the
//     record's bytes. Until that step, readers (UserSessions, listings) may
//     see more sessions than the limit; should it fail, the change stands,
//     the failure is logged, and the user's next login removes the
//     surplus. Limited changes of one user from one process take turns, so
//     they leave exactly the limit; logins of one user in several
//     processes at the same moment may leave more, or remove a session
//     another login's step kept, leaving fewer. The store passes the
//     conformance suite with sessiontest.LimitAfterWrite on Cluster.
//   - Import is not atomic: records are inserted one by one, and when one
//     fails, the records the batch inserted are removed again as far as
//     Redis lets it.
//   - Stats and Check talk to every master; their answers are not one
//     snapshot.
//
// On a single server (or Sentinel) every change, including its index
// updates and a renew, is one script, and an Import batch is one script.
//
// # Durability
//
// When Apply returns nil, Redis has acknowledged the write; whether it
// survives a crash of Redis is set by Redis's persistence: with appendonly
// yes and appendfsync always every acknowledged write is on disk; with
// appendfsync everysec a crash may lose the last second; with RDB snapshots
// only, what came after the last snapshot; without persistence, everything
// on restart. Stats.Durability reports each server's settings. Replication
// is asynchronous: a failover may lose the writes the replica had not
// received. See docs/redis.md.
//
// # The Flask layout
//
// A FlaskStore keeps sessions as the Flask recipe (shared/seed/,
// examples/flask) does, so that a Flask app and a Go service with
// pkg/flasksession's cookie codec share them (docs/flask.md):
//
//	<id>        string: the session dict as JSON, the data keys and the
//	            user id under FlaskOptions.UserKey, e.g.
//	            {"cart": [1, 2], "user_id": "alice"}; its TTL is
//	            FlaskOptions.Lifetime from the last write
//	T{<id>}     string: the tombstone of an id this store renewed away,
//	            as in sesbolt's layout (T is FlaskOptions.TombstonePrefix);
//	            the Flask app never reads it
//
// where <id> is the session id in canonical form. The store reads any JSON
// object the Flask app writes, with values of any JSON type, and writes
// back the values it did not change as they were (the user id too: a
// number stays a number). Every write sets the TTL, a change of nothing
// but times with PEXPIREAT alone, as the Flask app's EXPIRE; a value that
// is not a JSON object (Python's json writes NaN, which JSON has not)
// loads as absent and is logged once per id.
//
// What the layout cannot keep, and sesbolt's own layout does:
//
//   - No seals: the dict is plain JSON the Flask app must write, so a
//     change made in Redis directly is not detected.
//   - No per-user index: the store does not implement session.UserIndex,
//     so "log out everywhere", signing out other devices and a user's
//     session list answer session.ErrNotSupported, and so does a login
//     with a per-user session limit (session.Config.MaxUserSessions).
//   - No absolute lifetime: the TTL is all. A session in use never ends;
//     its idle timeout is FlaskOptions.Lifetime, whatever the Manager's
//     IdleTimeout and Lifetime say.
//   - No metadata: a record's Created is zero (unknown), LastSeen is the
//     expiry less the lifetime (the last write, when every writer uses the
//     lifetime), IdleExpires and Deadline are the key's expiry
//     (FlaskNoExpiry for a key without TTL), Client and LastClient are
//     empty, Version is 0, and Persistent false: remember-me
//     (Session.Login with Remember) has no longer timeouts here.
//   - No per-key merge against Flask: writes through FlaskStores are
//     compare-and-set, as Store's are, so Go-to-Go changes of different
//     keys both persist; but the Flask app saves whole dicts
//     unconditionally, so a Flask request that read the dict before a Go
//     change and saves after it undoes that change (last save wins, also
//     for keys only the other side changed).
//   - No listing, counts or purge: the keys are bare ids among whatever
//     else the database holds, so the store does not implement
//     session.Lister, StatsReporter or Purger (Redis expires the keys).
//     FlaskStore.Each reads every key name of the database to find the
//     sessions, for a one-off migration (sesctl import --from
//     flask-redis).
//   - Tombstones are the Go side's: the Flask app deletes the old key at
//     its own logins and leaves none, and does not read those this store
//     leaves.
//
// # Caveats
//
//   - The go-redis client must have ContextTimeoutEnabled: without it
//     go-redis ignores context deadlines, and a request could wait on a
//     hung Redis for the client's read timeout times its retries; New
//     refuses such a client. A context cancelled without a deadline stops
//     waiting only at the client's ReadTimeout.
//   - Every read is a network round trip (one MGET); there is no cache of
//     records, only of decoding: the store remembers, for 4096 recent ids,
//     the value it last read or wrote and the record it decoded to (about
//     10 MB when full; values over 4 KiB are not kept), so a read of
//     unchanged bytes skips the seal check and the JSON decoding. An
//     update after a Load is one script call (two more on Cluster when the
//     user index changes); a logout, a renew (which also checks that the
//     new id is free) and a change under a session limit read the record
//     first.
//   - The user index key holds the user id itself, so a user id is limited
//     to MaxUserIDSize bytes, and is visible to anyone who can list the
//     keys (as the records are).
//   - Stats costs about a thousand pipelined commands, List a few
//     pipelined round trips per page (buckets are read in widening
//     windows), Check a SCAN of every key under the prefix.
//   - An Import batch on a single server is one script: Redis serves
//     nothing else while it runs, so import large sets in batches (sesctl
//     import does, 1000 records by default).
//   - Sessions Redis deletes by their TTL are reported to no observer
//     (StoreObserver.Ended): an ended-sessions metric of a Redis store
//     counts logouts, limits, revocations and Purge, not TTL expiry.
//   - Redis's clock decides when records disappear, the caller's when they
//     expire; a Redis clock running ahead by more than the retention can
//     delete sessions before they expire.
package redisstore
