package redisstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// Purge removes every record expired at now that Redis still keeps (see
// Options.ExpiredRetention), with its index entries, and returns how many
// it removed (session.Purger). Candidates come from the buckets' expiry
// indexes; each record is re-read, judged by its exact expiry and removed
// only if unchanged since, so a session refreshed concurrently survives.
// Records are removed in pipelined batches of Options.TrimBatch.
//
// Purge is the store's expiry pass: each record it removed is reported to
// Options.Observer's Ended as session.EndExpired (also those removed
// before an error), then a pass that completed to Reaped (also one that
// removed nothing) and Stats.LastReap. Records Redis deletes by itself
// when their retention ends are reported nowhere.
func (s *Store) Purge(ctx context.Context, now time.Time) (n int, err error) {
	if err := s.writable(ctx); err != nil {
		return 0, err
	}
	start := time.Now()
	var ended []session.Ended
	defer func() {
		s.leave("purge", err)
		s.opts.Observer.ReportEnded(ctx, session.EndExpired, ended)
		if err == nil {
			s.reaped(session.ReapStats{At: now, Removed: n, Duration: time.Since(start)})
		}
	}()
	hi := fmt.Sprint(now.UnixMilli() + s.retention + 1) // the millisecond that may go either way included
	pipe := s.client.Pipeline()
	cmds := make([]*redis.StringSliceCmd, buckets)
	for b := range buckets {
		cmds[b] = pipe.ZRangeByScore(ctx, s.keys.expiry(byte(b)), &redis.ZRangeBy{Min: "-inf", Max: hi})
	}
	pipe.Exec(ctx) // errors are per command, read below
	var ids []session.ID
	for _, c := range cmds {
		members, err := c.Result()
		if err != nil {
			return 0, s.redisErr(ctx, "finding expired sessions", err)
		}
		ids = append(ids, parseIDs(members)...)
	}
	expired := func(id session.ID, value []byte) bool {
		r, err := decodeUnverified(id, value)
		return err != nil || r.Expired(now) // a damaged record goes when its index entry says it is due
	}
	for chunk := range slices.Chunk(ids, s.opts.TrimBatch) {
		m, err := s.removeIf(ctx, chunk, expired, &ended)
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// trimLoop runs trim every interval until Close.
func (s *Store) trimLoop(interval time.Duration) {
	defer close(s.trimDone)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		start := time.Now()
		n, err := s.trim(s.ctx)
		switch {
		case s.ctx.Err() != nil:
			return
		case err != nil:
			s.log.Warn("redisstore: trimming the indexes failed", "err", err, "removed", n)
			s.failed("trim", err)
		default:
			s.log.Debug("redisstore: trimmed the indexes", "removed", n, "took", time.Since(start))
		}
		s.trimPasses.Add(1)
	}
}

// trim drops, from every bucket's indexes and user registry, the entries of
// records (and users) Redis has expired, at most Options.TrimBatch per
// script call, and returns how many it dropped.
func (s *Store) trim(ctx context.Context) (int, error) {
	batch := []any{s.opts.TrimBatch}
	targets := make([]scriptCall, 0, 2*buckets)
	for b := range buckets {
		targets = append(targets,
			scriptCall{keys: []string{s.keys.expiry(byte(b)), s.keys.ids(byte(b))}, args: batch},
			scriptCall{keys: []string{s.keys.users(byte(b))}, args: batch})
	}
	total := 0
	for len(targets) > 0 {
		removed, err := s.evalAll(ctx, trimScript, targets)
		var more []scriptCall
		for i, n := range removed {
			total += int(n)
			if n == int64(s.opts.TrimBatch) {
				more = append(more, targets[i])
			}
		}
		if err != nil {
			return total, s.redisErr(ctx, "trimming", err)
		}
		targets = more
	}
	return total, nil
}
