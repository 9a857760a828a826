package boltstore

import (
	"bytes"
	"sync"
	"sync/atomic"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// DefaultReadCacheSize is the memory, in bytes, of the decoded-record cache
// when Options.ReadCacheSize is zero (16 MiB: some 7000 typical sessions).
const DefaultReadCacheSize = 16 << 20

// recordCache remembers, per session id, the last stored value it decoded
// and the record it decoded to. Decoding (checking the seal, parsing the
// JSON) is most of the cost of a read; a read whose stored bytes are exactly
// the remembered ones skips it.
//
// The cache needs no invalidation: it is a memo of decode, a pure function
// of the id, the stored bytes and the store's keys, and every lookup
// compares the bytes just read from the file in the caller's transaction.
// A write, a reap, an import or an offline edit changes the bytes, so the
// stale entry simply misses; an entry from a transaction that lost a race
// is as harmless. A cached record is never modified: callers that own a
// record get a clone (Load), others only read it (LoadShared, Apply).
//
// Filling the cache costs a read that misses about a microsecond (a copy of
// the bytes, the map, the collector), which pays off only when sessions are
// read again before they are evicted (oldest first). Records a write just
// stored are always added; records a read missed are only offered, and
// while a shard's lookups mostly miss (a working set larger than the
// cache) few offers are kept, so cold reads cost what they cost uncached.
type recordCache struct {
	shards [cacheShards]cacheShard
	limit  int // bytes per shard
}

const cacheShards = 16

type cacheShard struct {
	mu   sync.Mutex
	m    map[session.ID]*cacheEntry
	size int
	// fifo holds every id of m once, oldest first from head: eviction
	// removes the oldest. (Starting a map iteration to pick a victim cost
	// half of a miss's overhead.)
	fifo []session.ID
	head int

	// Recent lookups, halved as they grow: while most miss (a working set
	// larger than the cache), offer admits only a few records, so reads
	// that would only churn the cache do not pay for filling it.
	hits, misses atomic.Int64
	refused      atomic.Int64 // offers refused while thrashing
}

// cacheEntry is immutable once stored, so it is used outside the lock.
type cacheEntry struct {
	value []byte
	rec   *session.Record
	size  int
}

// newRecordCache returns a cache of about size bytes, or nil (no cache)
// when size is negative.
func newRecordCache(size int) *recordCache {
	if size < 0 {
		return nil
	}
	if size == 0 {
		size = DefaultReadCacheSize
	}
	c := &recordCache{limit: max(size/cacheShards, 1)}
	for i := range c.shards {
		c.shards[i].m = make(map[session.ID]*cacheEntry)
	}
	return c
}

func (c *recordCache) shard(id session.ID) *cacheShard { return &c.shards[c.shardIndex(id)] }

// shardIndex spreads ids over the shards by their last byte: ids are random
// (UUID v4).
func (c *recordCache) shardIndex(id session.ID) int { return int(id[15]) % cacheShards }

// lookup returns the cached record of id if it was decoded from exactly
// value, else nil. The record is shared: the caller must not modify it.
// A nil cache always misses.
func (c *recordCache) lookup(id session.ID, value []byte) *session.Record {
	if c == nil {
		return nil
	}
	sh := c.shard(id)
	sh.mu.Lock()
	e := sh.m[id]
	sh.mu.Unlock()
	if h, m := sh.hits.Load(), sh.misses.Load(); h+m > 1<<16 {
		sh.hits.Store(h / 2)
		sh.misses.Store(m / 2)
	}
	if e == nil || !bytes.Equal(e.value, value) {
		sh.misses.Add(1)
		return nil
	}
	sh.hits.Add(1)
	return e.rec
}

// Admission while thrashing: when fewer than one lookup in thrashRatio
// hits, offer admits one record in thrashAdmit.
const (
	thrashRatio = 8
	thrashAdmit = 16
)

// offer is add for a record a read missed: it is admitted unless the
// shard's recent lookups mostly miss, and then only now and then.
func (c *recordCache) offer(id session.ID, value []byte, rec *session.Record) {
	if c == nil {
		return
	}
	sh := c.shard(id)
	if m := sh.misses.Load(); m > 256 && m > thrashRatio*sh.hits.Load() && sh.refused.Add(1)%thrashAdmit != 0 {
		return
	}
	c.add(id, value, rec)
}

// add remembers that value, stored under id, decodes to rec. It copies
// value but takes rec as it is: from now on rec is shared and must not be
// modified. It evicts the oldest entries to stay within the limit; an entry
// larger than a shard's limit is not kept.
func (c *recordCache) add(id session.ID, value []byte, rec *session.Record) {
	if c == nil {
		return
	}
	c.addOwned(id, bytes.Clone(value), rec)
}

// addOwned is add for a value the caller owns and hands over: neither it nor
// rec may be modified afterwards. Apply uses it for the value it has just
// encoded and committed (bbolt keeps a Put's value only until its
// transaction ends), which saves copying each written record once more.
func (c *recordCache) addOwned(id session.ID, value []byte, rec *session.Record) {
	if c == nil {
		return
	}
	e := &cacheEntry{value: value, rec: rec}
	// The value's whole backing array (a value handed over by addOwned may
	// have spare capacity), and the decoded record: about as much as the
	// value, plus the map and the strings' headers.
	e.size = cap(value) + len(value) + 256
	if e.size > c.limit {
		return
	}
	sh := c.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if old := sh.m[id]; old != nil {
		sh.size -= old.size
	} else {
		sh.fifo = append(sh.fifo, id)
	}
	sh.m[id] = e
	sh.size += e.size
	for sh.size > c.limit && sh.head < len(sh.fifo) {
		victim := sh.fifo[sh.head]
		if victim == id {
			break // only the new entry is left
		}
		sh.head++
		if e := sh.m[victim]; e != nil { // always, as fifo mirrors m; never a panic if not
			sh.size -= e.size
			delete(sh.m, victim)
		}
	}
	if sh.head > len(sh.fifo)/2 { // reclaim the consumed front
		sh.fifo = append(sh.fifo[:0], sh.fifo[sh.head:]...)
		sh.head = 0
	}
}
