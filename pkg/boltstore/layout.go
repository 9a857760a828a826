package boltstore

import (
	"bytes"
	"encoding/binary"
	"math"
	"time"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// SchemaVersion is the layout version this package writes into the meta
// bucket. Open refuses files with a newer version (ErrSchema) and upgrades
// older ones when it opens them for writing (see migrate).
//
//	1: expiry-index keys are the exact expiry time and the id.
//	2: expiry-index keys are the expiry time rounded down to expiryGranule,
//	   the creation time and the id.
//
// bucketRenewed and bucketReaped were added to schema 2 without a change of
// version: they are optional (see tombstone.go, reaped.go), so files stay
// readable both ways.
const SchemaVersion = 2

// formatName identifies a sesbolt file in the meta bucket.
const formatName = "sesbolt"

// Top-level buckets. The names are plain words so `bbolt buckets FILE` shows
// what the file holds.
var (
	// bucketSessions maps the 16-byte session id to the sealed envelope.
	bucketSessions = []byte("sessions")
	// bucketExpiry holds one empty-valued key per record: expiryKey, the
	// 8-byte big-endian unix nanoseconds of Record.Expires() rounded down
	// to expiryGranule, then of Record.Created, then the 16-byte id, so a
	// cursor from the start visits the records that expire first, and new
	// sessions are appended at the end of their minute.
	bucketExpiry = []byte("expiry")
	// bucketUsers holds one empty-valued key per record bound to a user:
	// userKey, a 2-byte big-endian length, the user id, the 16-byte
	// session id. The length prefix makes the key unambiguous for any user
	// id (including ones containing NUL) and keeps a user's sessions
	// contiguous.
	bucketUsers = []byte("users")
	// bucketMeta holds the format name, the schema version and the
	// transactional counters.
	bucketMeta = []byte("meta")
	// bucketRenewed holds the tombstones of renewed ids: the 16-byte id
	// and the 8-byte big-endian unix nanoseconds at which the tombstone
	// ends (see tombstone.go). Optional: a file may lack it.
	bucketRenewed = []byte("renewed")
	// bucketReaped holds the ids of records the expiry pass removed and
	// whose index entries it has yet to remove, each with the record's
	// user id (see reaped.go). Optional: a file may lack it.
	bucketReaped = []byte("reaped")
)

// Keys of the meta bucket. Numbers are 8-byte big-endian.
var (
	metaFormat   = []byte("format")
	metaSchema   = []byte("schema")
	metaSessions = []byte("sessions") // stored records
	metaUsers    = []byte("users")    // distinct users with a stored record
)

// expiryFillPercent is the fill percent of the expiry index: its keys are
// appended in (roughly) increasing time order, so full pages are best. bbolt
// keeps FillPercent per Bucket handle and transaction, so every write
// transaction sets it again (see txn).
const expiryFillPercent = 0.95

const (
	idSize        = len(session.ID{})
	expiryKeySize = 8 + 8 + idSize
	// expiryKeySize1 is the size of a schema-1 key: time and id.
	expiryKeySize1 = 8 + idSize
)

// expiryNanos returns t as unix nanoseconds clamped to [0, MaxInt64], so
// the big-endian encoding sorts like the times do: instants before 1970 are
// long expired anyway, instants after 2262 are "never".
func expiryNanos(t time.Time) uint64 {
	if t.Before(time.Unix(0, 0)) {
		return 0
	}
	if t.After(time.Unix(0, math.MaxInt64)) {
		return math.MaxInt64
	}
	return uint64(t.UnixNano())
}

// expiryGranule is the resolution of the expiry index. A write that moves a
// record's expiry within the same minute, as the writes of an active
// session do, leaves the index alone: a third of the pages such a commit
// would otherwise write. The price is that an entry only says "expires in
// this minute": the expiry pass, Stats and List look at the records of the
// current minute to judge them.
const expiryGranule = uint64(time.Minute)

// expiryKey returns the expiry-index key of a record. Within the minute,
// the creation time orders the keys, so the sessions a minute creates are
// appended, not scattered over the minute's pages by their random ids.
func expiryKey(r *session.Record) []byte {
	n := expiryNanos(r.Expires())
	return expiryKeyAt(n-n%expiryGranule, expiryNanos(r.Created), r.ID)
}

// exactExpiryKey is expiryKey in schema 1, for reading files of that
// version (Check) and migrating them.
func exactExpiryKey(r *session.Record) []byte {
	k := make([]byte, expiryKeySize1)
	binary.BigEndian.PutUint64(k, expiryNanos(r.Expires()))
	copy(k[8:], r.ID[:])
	return k
}

// isEntryOf reports whether expiry-index key k is r's own entry, in
// either schema's form, rather than one left behind by an earlier version
// of the record.
func isEntryOf(k []byte, r *session.Record) bool {
	if len(k) == expiryKeySize1 {
		return bytes.Equal(k, exactExpiryKey(r))
	}
	return bytes.Equal(k, expiryKey(r))
}

// due reports whether expiry-index key k is due at limit: its minute has
// begun, so its record may be expired. Malformed keys (shorter than 8 bytes)
// are due, so the reaper removes them.
func due(k []byte, limit uint64) bool {
	if len(k) < 8 {
		return true
	}
	nanos, _ := getUint64(k[:8])
	return nanos <= limit
}

// surelyDue reports whether expiry-index key k is due at limit (unix
// nanoseconds) for every record its minute can hold: the minute ended at or
// before limit. Malformed keys are due.
func surelyDue(k []byte, limit uint64) bool {
	return limit >= expiryGranule && due(k, limit-expiryGranule)
}

// expiryKeyAt returns the expiry-index key for the minute starting at
// nanos of a session created at created.
func expiryKeyAt(nanos, created uint64, id session.ID) []byte {
	k := make([]byte, expiryKeySize)
	binary.BigEndian.PutUint64(k, nanos)
	binary.BigEndian.PutUint64(k[8:], created)
	copy(k[16:], id[:])
	return k
}

// parseExpiryKey splits an expiry-index key of either schema into its time
// and id; ok is false for a malformed key.
func parseExpiryKey(k []byte) (nanos uint64, id session.ID, ok bool) {
	if len(k) != expiryKeySize && len(k) != expiryKeySize1 {
		return 0, id, false
	}
	copy(id[:], k[len(k)-idSize:])
	return binary.BigEndian.Uint64(k), id, true
}

// userPrefix returns the user-index prefix shared by user's keys.
func userPrefix(user string) []byte {
	p := make([]byte, 2+len(user), 2+len(user)+idSize)
	binary.BigEndian.PutUint16(p, uint16(len(user)))
	copy(p[2:], user)
	return p
}

// userKey returns the user-index key of session id bound to user.
func userKey(user string, id session.ID) []byte {
	return append(userPrefix(user), id[:]...)
}

// parseUserKey splits a user-index key; ok is false for a malformed key.
func parseUserKey(k []byte) (user string, id session.ID, ok bool) {
	if len(k) < 2 {
		return "", id, false
	}
	n := int(binary.BigEndian.Uint16(k))
	if len(k) != 2+n+idSize {
		return "", id, false
	}
	copy(id[:], k[2+n:])
	return string(k[2 : 2+n]), id, true
}

// hasUserPrefix reports whether k is a user-index key of the user whose
// prefix is p (the length prefix makes a plain prefix test exact).
func hasUserPrefix(k, p []byte) bool {
	return len(k) == len(p)+idSize && bytes.HasPrefix(k, p)
}

func putUint64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

// getUint64 decodes an 8-byte big-endian number; ok is false otherwise.
func getUint64(b []byte) (uint64, bool) {
	if len(b) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(b), true
}
