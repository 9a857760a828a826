package redisstore

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// imported is one record of an import, encoded.
type imported struct {
	id     session.ID
	value  []byte
	user   string
	retain int64
	ver    uint64
}

// Import inserts recs and returns how many it inserted (session.Importer).
// Records whose id is already stored (or repeated in recs) and records
// expired at now are skipped, so running an import again is harmless. Each
// record's Version is kept (0 becomes 1). A record that fails
// session.Record.Validate fails the import with an error wrapping
// session.ErrInvalid, one over the size limits with session.ErrTooLarge;
// nothing is inserted then. The records are copied.
//
// On a single server the batch is one script: all or nothing, and Redis
// serves no other command while it runs, so import millions of records in
// batches (sesctl import does). On a sharded client it cannot be atomic:
// records are inserted one by one, and when an insert fails, Import removes
// the records of the batch it had inserted (those not changed since), as
// far as Redis lets it, before it returns the error.
func (s *Store) Import(ctx context.Context, recs []*session.Record, now time.Time) (_ int, err error) {
	if err := s.writable(ctx); err != nil {
		return 0, err
	}
	defer func() { s.leave("import", err) }()
	var items []imported
	seen := make(map[session.ID]bool, len(recs))
	for i, r := range recs {
		if err := r.Validate(); err != nil {
			return 0, fmt.Errorf("redisstore: import: record %d: %w", i+1, err)
		}
		c := r.Clone()
		c.Version = max(c.Version, 1)
		value, stored, err := s.codec.encode(c)
		if err != nil {
			return 0, fmt.Errorf("redisstore: import: record %d: %w", i+1, err)
		}
		if seen[c.ID] || stored.Expired(now) {
			continue
		}
		seen[c.ID] = true
		items = append(items, imported{id: c.ID, value: value, user: stored.UserID, retain: s.retain(stored), ver: stored.Version})
	}
	for attempt := 1; len(items) > 0; attempt++ {
		free, err := s.free(ctx, items, now)
		if err != nil || len(free) == 0 {
			return 0, err
		}
		if s.sharded {
			return s.importSteps(ctx, free, now)
		}
		p := &program{}
		for _, it := range free {
			p.create(s.keys, it.id, it.value, it.retain, now)
			if it.user != "" {
				p.uadd(s.keys, it.user, it.id, it.retain, it.ver, true)
			}
		}
		kind, err := s.run(ctx, p)
		switch {
		case err != nil:
			return 0, err
		case kind == guardOK:
			return len(free), nil
		case attempt >= s.opts.MaxAttempts:
			return 0, fmt.Errorf("%w: ids of the batch were taken during each of %d attempts to import it", ErrConflict, attempt)
		}
		// An id was taken since it was checked: check again.
		if err := s.backoff(ctx, attempt); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// free returns the items whose id is not taken at now: no record, no
// tombstone that lasts.
func (s *Store) free(ctx context.Context, items []imported, now time.Time) ([]imported, error) {
	pipe := s.client.Pipeline()
	cmds := make([]*redis.SliceCmd, len(items))
	for i, it := range items {
		cmds[i] = pipe.MGet(ctx, s.keys.record(it.id), s.keys.renewed(it.id))
	}
	pipe.Exec(ctx) // errors are per command, read below
	var out []imported
	for i, c := range cmds {
		vals, err := c.Result()
		if err != nil {
			return nil, s.redisErr(ctx, "checking ids", err)
		}
		tomb, _ := vals[1].(string)
		if vals[0] == nil && !tombstoneLasts([]byte(tomb), now) {
			out = append(out, items[i])
		}
	}
	return out, nil
}

// importSteps inserts items one by one on a sharded client: the user index
// entries first, then the records. On failure it removes what it inserted.
func (s *Store) importSteps(ctx context.Context, items []imported, now time.Time) (int, error) {
	var pre, main []*program
	for _, it := range items {
		if it.user != "" {
			pre = append(pre, s.userAdd(it.user, it.id, it.retain, it.ver))
		}
		p := &program{}
		p.create(s.keys, it.id, it.value, it.retain, now)
		main = append(main, p)
	}
	if _, err := s.runAll(ctx, pre); err != nil {
		return 0, err
	}
	out, err := s.runAll(ctx, main)
	if err != nil {
		s.unimport(ctx, items)
		return 0, err
	}
	n := 0
	for _, k := range out {
		if k == guardOK {
			n++
		}
	}
	return n, nil
}

// unimport removes the records of items that still hold what the import
// wrote, with a context of its own: the caller's may be what failed.
func (s *Store) unimport(ctx context.Context, items []imported) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.InitTimeout)
	defer cancel()
	mine := make(map[session.ID][]byte, len(items))
	ids := make([]session.ID, len(items))
	for i, it := range items {
		mine[it.id] = it.value
		ids[i] = it.id
	}
	n, err := s.removeIf(ctx, ids, func(id session.ID, value []byte) bool { return bytes.Equal(value, mine[id]) }, nil)
	if err != nil {
		s.log.Warn("redisstore: removing the records of a failed import failed; some stay", "removed", n, "err", err)
		s.failed("unimport", err)
	}
}
