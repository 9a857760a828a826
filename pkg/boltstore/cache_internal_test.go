package boltstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/sesbolt/sesbolt/pkg/session"
	"github.com/sesbolt/sesbolt/pkg/session/sessiontest"
)

// TestReadCacheFollowsStoredBytes changes a cached record's stored bytes
// behind the store's back: the next read must see exactly what is stored
// (a tampered record is no session, a rewritten one is the new record),
// never the cached decode.
func TestReadCacheFollowsStoredBytes(t *testing.T) {
	s := openInternal(t, filepath.Join(t.TempDir(), "s.db"), false)
	ctx, now := context.Background(), sessiontest.Base()
	r := sessiontest.NewRecord(session.NewID(), "alice", now)
	r.Data["k"] = json.RawMessage(`"first"`)
	if _, err := s.Apply(ctx, sessiontest.CreateChange(r)); err != nil {
		t.Fatal(err)
	}
	stored := func() []byte {
		var v []byte
		if err := s.db.View(func(tx *bolt.Tx) error {
			v = bytes.Clone(tx.Bucket(bucketSessions).Get(r.ID[:]))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return v
	}
	overwrite := func(v []byte) {
		if err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketSessions).Put(r.ID[:], v) }); err != nil {
			t.Fatal(err)
		}
	}
	load := func() (*session.Record, error) { return s.LoadShared(ctx, r.ID, now) }

	if _, err := load(); err != nil {
		t.Fatal(err)
	}
	original := stored()
	if s.codec.cache.lookup(r.ID, original) == nil {
		t.Fatal("a loaded record is not in the read cache")
	}

	overwrite(bytes.Replace(original, []byte(`"first"`), []byte(`"forged"`), 1))
	if got, err := load(); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Load of a tampered cached record = %v, %v; want ErrNotFound", got, err)
	}

	next := r.Clone()
	next.Data["k"] = json.RawMessage(`"second"`)
	enc, err := s.codec.encode(next)
	if err != nil {
		t.Fatal(err)
	}
	overwrite(enc.value)
	got, err := load()
	if err != nil || string(got.Data["k"]) != `"second"` {
		t.Fatalf("Load after a rewrite = %v, %v; want the rewritten record", got, err)
	}

	overwrite(original)
	if got, err := load(); err != nil || string(got.Data["k"]) != `"first"` {
		t.Fatalf("Load after restoring the first bytes = %v, %v; want the first record", got, err)
	}
}

// openInternal opens the store at path for the tests of package boltstore,
// with keys, without reaper, and closes it at cleanup.
func openInternal(t *testing.T, path string, readOnly bool) *Store {
	t.Helper()
	keys, err := session.NewKeyring(bytes.Repeat([]byte("k"), session.MinKeySize))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, &Options{Keys: keys, ReadOnly: readOnly, ReapInterval: -1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestRecordCacheBounded(t *testing.T) {
	const limit = cacheShards * 4096
	c := newRecordCache(limit)
	value := bytes.Repeat([]byte("v"), 500)
	rec := sessiontest.NewRecord(session.NewID(), "", sessiontest.Base())
	var last [cacheShards]session.ID
	for range 1000 {
		id := session.NewID()
		c.add(id, value, rec)
		last[c.shardIndex(id)] = id
	}
	for i := range c.shards {
		sh := &c.shards[i]
		if sh.size > c.limit {
			t.Errorf("shard %d holds %d bytes, limit %d", i, sh.size, c.limit)
		}
		sum := 0
		for _, e := range sh.m {
			sum += e.size
		}
		if sum != sh.size {
			t.Errorf("shard %d accounts %d bytes, holds %d", i, sh.size, sum)
		}
		if !last[i].IsZero() && c.lookup(last[i], value) == nil {
			t.Errorf("shard %d evicted the entry it just added", i)
		}
	}

	huge := bytes.Repeat([]byte("v"), c.limit)
	id := session.NewID()
	c.add(id, huge, rec)
	if c.lookup(id, huge) != nil {
		t.Error("an entry larger than a shard was kept")
	}
}

// TestRecordCacheCountsCapacity: a value handed over (addOwned, as Apply
// does with what it encoded) is counted by its backing array, spare
// capacity included, so the cache's bound holds for the memory it keeps.
func TestRecordCacheCountsCapacity(t *testing.T) {
	const limit = cacheShards * 4096
	c := newRecordCache(limit)
	rec := sessiontest.NewRecord(session.NewID(), "", sessiontest.Base())
	value := []byte("0123456789")
	copied, owned := session.NewID(), session.NewID()
	c.add(copied, value, rec)
	if c.lookup(copied, value) == nil {
		t.Fatal("a small value was not kept")
	}
	roomy := append(make([]byte, 0, c.limit), value...) // 10 bytes in a shard's worth of memory
	c.addOwned(owned, roomy, rec)
	if c.lookup(owned, value) != nil {
		t.Errorf("a value whose backing array exceeds a shard (cap %d, limit %d) was kept", cap(roomy), c.limit)
	}
}

func TestRecordCacheOff(t *testing.T) {
	c := newRecordCache(-1)
	if c != nil {
		t.Fatal("newRecordCache(-1) is not nil")
	}
	id := session.NewID()
	c.add(id, []byte("v"), sessiontest.NewRecord(id, "", sessiontest.Base()))
	if c.lookup(id, []byte("v")) != nil {
		t.Fatal("a nil cache hit")
	}
}

// TestRecordCacheAdmission: while a shard's lookups mostly miss, reads
// offer records that are rarely kept; once lookups hit, every offer is.
func TestRecordCacheAdmission(t *testing.T) {
	c := newRecordCache(cacheShards << 20)
	rec := sessiontest.NewRecord(session.NewID(), "", sessiontest.Base())
	value := []byte("v")
	inShard0 := func() session.ID {
		id := session.NewID()
		id[15] = 0
		return id
	}
	sh := &c.shards[0]
	for range 4000 {
		c.lookup(inShard0(), value) // misses: a working set larger than the cache
	}
	for range 1600 {
		c.offer(inShard0(), value, rec)
	}
	if n := len(sh.m); n == 0 || n > 1600/thrashAdmit*2 {
		t.Errorf("while thrashing, %d of 1600 offers were kept; want about %d", n, 1600/thrashAdmit)
	}

	hot := inShard0()
	c.add(hot, value, rec)
	for range 4000 / thrashRatio {
		c.lookup(hot, value)
	}
	before := len(sh.m)
	for range 100 {
		c.offer(inShard0(), value, rec)
	}
	if got := len(sh.m) - before; got != 100 {
		t.Errorf("with lookups hitting, %d of 100 offers were kept", got)
	}
}
