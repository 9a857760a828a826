package redisstore

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// Buckets spread the store's keys over hash slots. A session's bucket is
// the first byte of its id; a user's bucket is the first byte of the
// SHA-256 of the user id.
const buckets = 256

// layout names the store's keys (see the package documentation, "Key
// layout"). Every key starts with the prefix; the part in braces is the
// Redis Cluster hash tag, so the keys of one session, and its bucket's
// indexes, share a hash slot, and so do the keys of one user and its
// bucket's registry.
type layout struct {
	prefix string
}

// sessionTag returns the hash tag of session bucket b: "{3f}".
func sessionTag(b byte) string { return "{" + hex.EncodeToString([]byte{b}) + "}" }

// userTag returns the hash tag of user bucket b: "{u:a7}".
func userTag(b byte) string { return "{u:" + hex.EncodeToString([]byte{b}) + "}" }

// userBucket returns the bucket of user.
func userBucket(user string) byte {
	sum := sha256.Sum256([]byte(user))
	return sum[0]
}

// meta is the hash recording the store's format and schema.
func (l layout) meta() string { return l.prefix + "meta" }

// record is the key of the sealed record of id.
func (l layout) record(id session.ID) string {
	return l.prefix + sessionTag(id[0]) + ":session:" + id.String()
}

// renewed is the key of the tombstone left by renewing id away.
func (l layout) renewed(id session.ID) string {
	return l.prefix + sessionTag(id[0]) + ":renewed:" + id.String()
}

// ids is the sorted set of the ids of bucket b, all scored 0, so that they
// are in lexical (= id byte) order.
func (l layout) ids(b byte) string { return l.prefix + sessionTag(b) + ":ids" }

// expiry is the sorted set of the ids of bucket b scored by retain.
func (l layout) expiry(b byte) string { return l.prefix + sessionTag(b) + ":expiry" }

// userIndex is the sorted set of user's session ids scored by retain.
func (l layout) userIndex(user string) string {
	return l.prefix + userTag(userBucket(user)) + ":user:" + user
}

// userVersions is the hash of user's session ids to the version of the
// change that last listed them.
func (l layout) userVersions(user string) string {
	return l.prefix + userTag(userBucket(user)) + ":versions:" + user
}

// users is the registry of the users of bucket b: user → the largest
// retain in the user's index.
func (l layout) users(b byte) string { return l.prefix + userTag(b) + ":users" }

// recordPattern is the SCAN pattern matching every record key.
func (l layout) recordPattern() string { return globEscape(l.prefix) + "{??}:session:*" }

// idOfRecordKey returns the id named by a record key; ok is false for a key
// that is not one.
func (l layout) idOfRecordKey(k string) (id session.ID, ok bool) {
	rest, found := strings.CutPrefix(k, l.prefix)
	if !found || len(rest) != len("{00}:session:")+36 {
		return id, false
	}
	id, err := session.ParseID(rest[len("{00}:session:"):])
	if err != nil || l.record(id) != k {
		return id, false
	}
	return id, true
}

// globEscape escapes the characters SCAN's MATCH treats specially.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// tombstoneValue is the stored value of a tombstone that ends at end, and
// the form in which program.lua compares times: unix nanoseconds in 20
// digits (0 for times before 1970).
func tombstoneValue(end time.Time) string {
	switch {
	case end.Before(time.Unix(0, 0)):
		return fmt.Sprintf("%020d", 0)
	case end.After(time.Unix(0, math.MaxInt64)):
		return fmt.Sprintf("%020d", int64(math.MaxInt64))
	}
	return fmt.Sprintf("%020d", end.UnixNano())
}

// tombstoneLasts reports whether the tombstone value v (nil: none) lasts
// at now. A value of another form is no tombstone.
func tombstoneLasts(v []byte, now time.Time) bool {
	if len(v) != 20 {
		return false
	}
	end, err := strconv.ParseInt(string(v), 10, 64)
	return err == nil && now.Before(time.Unix(0, end))
}
