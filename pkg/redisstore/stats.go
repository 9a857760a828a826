package redisstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// Stats returns the store's counters, judging expiry at now
// (session.StatsReporter), from the buckets' expiry indexes and the user
// registries: about a thousand commands in one pipeline, whatever the
// number of sessions, plus a read of the records whose expiry falls in the
// millisecond of now. Sessions and Expired count the records Redis still
// keeps (see Options.ExpiredRetention). LastReap describes this Store's
// latest Purge (zero when it ran none: Redis expires records itself);
// Commits summarises this Store's Apply calls since New (each one
// commit); SizeBytes and FreeBytes are zero (Redis's memory is shared with
// whatever else it holds). Durability describes the servers' persistence
// settings.
func (s *Store) Stats(ctx context.Context, now time.Time) (_ session.Stats, err error) {
	if err := s.usable(ctx); err != nil {
		return session.Stats{}, err
	}
	defer func() { s.leave("stats", err) }()
	at, err := s.client.Time(ctx).Result()
	if err != nil {
		return session.Stats{}, s.redisErr(ctx, "reading the time", err)
	}
	stored := fmt.Sprint(at.UnixMilli())  // a record is kept while its retain is not before Redis's now
	sure := now.UnixMilli() + s.retention // retain up to here: expired at now
	band := fmt.Sprint(sure + 1)          // retain here: expired or not, by the nanosecond
	pipe := s.client.Pipeline()
	type bucketCmds struct{ sessions, expired, users *redis.IntCmd }
	cmds := make([]bucketCmds, buckets)
	bands := make([]*redis.StringSliceCmd, buckets)
	for b := range buckets {
		exp := s.keys.expiry(byte(b))
		cmds[b] = bucketCmds{
			sessions: pipe.ZCount(ctx, exp, stored, "+inf"),
			expired:  pipe.ZCount(ctx, exp, stored, fmt.Sprint(sure)),
			users:    pipe.ZCount(ctx, s.keys.users(byte(b)), stored, "+inf"),
		}
		bands[b] = pipe.ZRangeByScore(ctx, exp, &redis.ZRangeBy{Min: band, Max: band})
	}
	pipe.Exec(ctx) // errors are per command, read below
	var st session.Stats
	var edge []session.ID
	for b := range buckets {
		for _, c := range []*redis.IntCmd{cmds[b].sessions, cmds[b].expired, cmds[b].users} {
			if c.Err() != nil {
				return session.Stats{}, s.redisErr(ctx, "counting", c.Err())
			}
		}
		st.Sessions += cmds[b].sessions.Val()
		st.Expired += cmds[b].expired.Val()
		st.Users += cmds[b].users.Val()
		ids, err := bands[b].Result()
		if err != nil {
			return session.Stats{}, s.redisErr(ctx, "counting", err)
		}
		if sure+1 >= at.UnixMilli() {
			edge = append(edge, parseIDs(ids)...)
		}
	}
	values, err := s.readMany(ctx, edge)
	if err != nil {
		return session.Stats{}, err
	}
	for i, id := range edge {
		if values[i] == nil {
			continue
		}
		if r, err := decodeUnverified(id, values[i]); err == nil && r.Expired(now) {
			st.Expired++
		}
	}
	st.Live = st.Sessions - st.Expired
	st.SealFailures = s.seals.Count()
	st.Commits = s.commitStats.Stats()
	if p := s.lastReap.Load(); p != nil {
		st.LastReap = *p
	}
	st.Durability = s.durability(ctx)
	return st, nil
}

// durability describes the persistence settings of the store's servers
// (every master of a Cluster) and what they guarantee. Servers that refuse
// CONFIG GET (some managed services) are reported as unknown.
func (s *Store) durability(ctx context.Context) string {
	var mu sync.Mutex
	byNode := make(map[string]string)
	describe := func(ctx context.Context, c *redis.Client) error {
		d := describePersistence(ctx, c)
		mu.Lock()
		byNode[c.Options().Addr] = d
		mu.Unlock()
		return nil
	}
	var err error
	switch c := s.client.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, describe)
	case *redis.Ring:
		err = c.ForEachShard(ctx, describe)
	case *redis.Client:
		err = describe(ctx, c)
	default:
		return "unknown (a client of another kind)"
	}
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	distinct := make(map[string]bool)
	for _, d := range byNode {
		distinct[d] = true
	}
	if len(distinct) == 1 {
		for d := range distinct {
			if len(byNode) > 1 {
				return fmt.Sprintf("%d masters: %s", len(byNode), d)
			}
			return d
		}
	}
	parts := make([]string, 0, len(byNode))
	for node, d := range byNode {
		parts = append(parts, node+": "+d)
	}
	slices.Sort(parts)
	return strings.Join(parts, "; ")
}

// describePersistence returns one server's persistence settings and what
// they mean for an acknowledged write, and warns of an eviction policy
// that may drop sessions or index entries.
func describePersistence(ctx context.Context, c *redis.Client) string {
	conf := make(map[string]string)
	for _, p := range []string{"appendonly", "appendfsync", "save", "maxmemory-policy"} {
		m, err := c.ConfigGet(ctx, p).Result()
		if err != nil {
			return "unknown (CONFIG GET refused: " + err.Error() + ")"
		}
		conf[p] = m[p]
	}
	settings := fmt.Sprintf("appendonly=%s appendfsync=%s save=%q", conf["appendonly"], conf["appendfsync"], conf["save"])
	var means string
	switch {
	case conf["appendonly"] == "yes" && conf["appendfsync"] == "always":
		means = "every acknowledged write is on disk"
	case conf["appendonly"] == "yes" && conf["appendfsync"] == "everysec":
		means = "a crash may lose the last second of writes"
	case conf["appendonly"] == "yes":
		means = "a crash may lose the writes the OS had not flushed yet"
	case conf["save"] != "":
		means = "a crash loses the writes since the last snapshot"
	default:
		means = "nothing is persisted: a restart loses every session"
	}
	d := settings + ": " + means
	if p := conf["maxmemory-policy"]; p != "noeviction" {
		d += fmt.Sprintf("; maxmemory-policy=%s: when memory runs out Redis may evict sessions and index entries (use noeviction)", p)
	}
	return d
}
