package redisstore

import (
	"bytes"
	"encoding/binary"
	"sync/atomic"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// recordCache remembers, per session id, the stored value this process
// last read or wrote and the record it decodes to. It serves two ends:
//
//   - A read whose fetched bytes are exactly the remembered ones skips
//     decoding them (the seal check and two JSON parses, a third of a
//     read's CPU).
//   - An update's first attempt starts from the remembered value instead
//     of reading it again (see Store.Apply): a request's own Load has
//     just remembered it, so an update costs one round trip to Redis
//     instead of two. The attempt's compare-and-set guard holds the
//     remembered bytes, so a stale entry (another process changed the
//     session since) only makes that attempt fail, and the next one reads.
//
// It is a memo of decode, a pure function of the id, the stored bytes and
// the store's keys, so it needs no invalidation: a read compares the bytes
// it fetched, and a write checks the bytes in Redis. Entries racing each
// other (a slow read remembering bytes a write has replaced) cost at most a
// failed first attempt.
//
// It is direct-mapped: an id has one of cacheSlots slots and displaces
// whatever held it; every operation is one atomic load or store, so
// concurrent requests never wait for each other. Values over cacheMaxValue
// bytes are not kept. That bounds its memory: about 2.5 KB per typical
// session (10 MB when every slot is full), at most about 40 MB with
// records near the bound. A cached record is never modified: LoadShared
// lends it, Load and Apply hand out copies.
type recordCache struct {
	slots [cacheSlots]atomic.Pointer[cacheEntry]
}

const (
	cacheSlots    = 4096
	cacheMaxValue = 4 << 10
)

// cacheEntry is immutable once stored.
type cacheEntry struct {
	id    session.ID
	value []byte
	rec   *session.Record
}

// slot returns the slot of id. Ids are random (UUID v4); their last two
// bytes are random bits.
func (c *recordCache) slot(id session.ID) *atomic.Pointer[cacheEntry] {
	return &c.slots[binary.BigEndian.Uint16(id[14:])%cacheSlots]
}

// get returns the entry of id, or nil.
func (c *recordCache) get(id session.ID) *cacheEntry {
	if e := c.slot(id).Load(); e != nil && e.id == id {
		return e
	}
	return nil
}

// lookup returns the record of id if the entry was made from exactly
// value, else nil. The record is shared: the caller must not modify it.
func (c *recordCache) lookup(id session.ID, value []byte) *session.Record {
	if e := c.get(id); e != nil && bytes.Equal(e.value, value) {
		return e.rec
	}
	return nil
}

// add remembers that value, stored under id, decodes to rec. It keeps both
// as they are: neither may be modified afterwards. A value over
// cacheMaxValue bytes is not kept (and forgets id).
func (c *recordCache) add(id session.ID, value []byte, rec *session.Record) {
	if len(value) > cacheMaxValue {
		c.drop(id)
		return
	}
	c.slot(id).Store(&cacheEntry{id: id, value: value, rec: rec})
}

// drop forgets id.
func (c *recordCache) drop(id session.ID) {
	s := c.slot(id)
	if e := s.Load(); e != nil && e.id == id {
		s.CompareAndSwap(e, nil)
	}
}
