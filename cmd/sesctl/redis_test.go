package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/internal/redistest"
	"github.com/sesbolt/sesbolt/pkg/redisstore"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// The commands on sessions in Redis (--redis), on a real redis-server and
// a real three-master Cluster (internal/redistest). Where the output must
// be the same as on a file, the tests compare it with the file's golden
// files.

// fixtureRetention is the retention of the stores the Redis tests seed: the
// fixture's sessions expire around testNow, long before the machine's
// clock, by which Redis deletes records; this keeps them for decades.
// sesctl adopts it: the seeding store records it under the prefix.
const fixtureRetention = 30 * 365 * 24 * time.Hour

// redisKinds are the deployments the Redis tests run on.
var redisKinds = []string{"Standalone", "Cluster"}

// onRedis runs test on a Redis harness holding the fixture, once per kind.
func onRedis(t *testing.T, test func(t *testing.T, h *harness)) {
	for _, kind := range redisKinds {
		t.Run(kind, func(t *testing.T) { test(t, redisHarness(t, kind, fixture()...)) })
	}
}

// redisHarness returns a harness whose sessions are in Redis: the test
// binary's shared server or Cluster (kind), under a prefix of the test's
// own, where the application's store (h.redisStore) holds recs (inserted
// as the app would, at their creation time). $SESCTL_REDIS and
// $SESCTL_REDIS_PREFIX point sesctl there; $SESCTL_DB is unset.
func redisHarness(t testing.TB, kind string, recs ...*session.Record) *harness {
	t.Helper()
	h, open := redisTarget(t, kind)
	st, err := open(&redisstore.Options{
		Keys:             h.keys,
		Prefix:           h.env[envPrefix],
		ExpiredRetention: fixtureRetention,
		TrimInterval:     -1,
		Logger:           slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	h.redisStore = st
	t.Cleanup(func() { st.Close() })
	for _, r := range recs {
		if _, err := st.Apply(context.Background(), &session.Change{ID: r.ID, Now: r.Created, Create: r}); err != nil {
			t.Fatalf("seeding %s: %v", r.ID, err)
		}
	}
	return h
}

// redisTarget returns a harness pointing sesctl at a prefix of its own on
// the shared server or Cluster (kind), where no store was opened yet, and
// the function that opens one there.
func redisTarget(t testing.TB, kind string) (*harness, func(*redisstore.Options) (*redisstore.Store, error)) {
	t.Helper()
	h := newHarness(t)
	prefix := redistest.Prefix()
	var url string
	var open func(*redisstore.Options) (*redisstore.Store, error)
	switch kind {
	case "Cluster":
		c := redistest.SharedCluster(t)
		rc := c.Client(t)
		url = c.URL()
		open = func(o *redisstore.Options) (*redisstore.Store, error) { return redisstore.New(rc, o) }
		h.snapshot = func(t testing.TB) string { return redistest.Snapshot(t, rc, prefix) }
	default:
		s := redistest.Shared(t)
		rc := s.Client(t)
		url = s.URL()
		open = func(o *redisstore.Options) (*redisstore.Store, error) { return redisstore.New(rc, o) }
		h.snapshot = func(t testing.TB) string { return redistest.Snapshot(t, rc, prefix) }
	}
	delete(h.env, envDB)
	h.env[envRedis], h.env[envPrefix] = url, prefix
	return h, open
}

// redisMasked returns s with the harness's Redis URL and prefix replaced by
// $REDIS and $PREFIX, for golden files.
func (h *harness) redisMasked(s string) string {
	return strings.NewReplacer(h.env[envRedis], "$REDIS", h.env[envPrefix], "$PREFIX").Replace(s)
}

// TestRedisSameOutput: list, show, export and check print on Redis what
// they print on a file holding the same sessions, byte for byte (the
// file's golden files), and change nothing in Redis.
func TestRedisSameOutput(t *testing.T) {
	onRedis(t, func(t *testing.T, h *harness) {
		runGolden(t, h, listCases)
		runGolden(t, h, showCases)
		h.t = t
		h.unchanged(func() {
			h.golden("export.golden", h.ok("export"))
			// On Redis --expired lists in bucket order, here the id order.
			h.golden("list_expired_redis.golden", h.ok("list", "--expired"))
		})
		h.env[envKeys] = h.keyFile
		h.unchanged(func() {
			h.golden("check_ok.golden", h.ok("check"))
			h.golden("check_ok_json.golden", h.ok("-o", "json", "check"))
		})
		if got := h.complete("show", "0f8e"); len(got) != 1 || !strings.HasPrefix(got[0], idAlice1.String()+"\talice") {
			t.Errorf("completing an id on Redis: %q", got)
		}
	})
}

// TestRedisStats: the counters of the fixture, and the durability the
// server's settings give (the test servers persist nothing); no file size.
func TestRedisStats(t *testing.T) {
	h := redisHarness(t, "Standalone", fixture()...)
	h.unchanged(func() {
		h.golden("stats_redis.golden", h.ok("stats"))
		h.golden("stats_redis_json.golden", h.ok("-o", "json", "stats"))
	})

	h = redisHarness(t, "Cluster", fixture()...)
	var st statsView
	if err := json.Unmarshal([]byte(h.ok("-o", "json", "stats")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Sessions != 6 || st.Live != 4 || st.Expired != 2 || st.Users != 3 || st.SizeBytes != 0 ||
		!strings.HasPrefix(st.Durability, "3 masters: ") {
		t.Errorf("stats on the Cluster: %+v", st)
	}
}

// TestRedisExpire: every form of expire ends on Redis the sessions it ends
// on a file, and the application (a store on the same prefix) no longer
// finds them.
func TestRedisExpire(t *testing.T) {
	cases := []struct {
		args      []string
		want      string
		remaining int // sessions stored afterwards, live or expired
		gone      session.ID
	}{
		{[]string{"expire", idAlice1.String()}, "expired 1 session\n", 5, idAlice1},
		{[]string{"expire", "0f8e4d2c", "b0b0b0b0-1111"}, "expired 2 sessions\n", 4, idCarol},
		{[]string{"expire", "99999999-0000-4000-8000-000000000000"}, "expired 0 sessions\n", 6, session.ID{}},
		{[]string{"expire", "--user", "alice"}, "expired 2 sessions\n", 4, idAlice2},
		{[]string{"-o", "json", "expire", "--user", "carol"}, `{"expired":1}` + "\n", 5, idCarol},
		{[]string{"expire", "--all", "--yes"}, "expired 6 sessions\n", 0, idBob},
	}
	for _, kind := range redisKinds {
		for _, c := range cases {
			t.Run(kind+" "+strings.Join(c.args, " "), func(t *testing.T) {
				h := redisHarness(t, kind, fixture()...)
				h.fails(exitFailure, []string{"needs the app's keys", "--keys"}, c.args...)
				h.env[envKeys] = h.keyFile
				if got := h.ok(c.args...); got != c.want {
					t.Errorf("got %q, want %q", got, c.want)
				}
				if n := countLines(h.ok("-o", "json", "list", "--all")); n != c.remaining {
					t.Errorf("%d sessions remain, want %d", n, c.remaining)
				}
				if c.gone.IsZero() {
					return
				}
				if _, err := h.redisStore.Load(context.Background(), c.gone, time.Time{}); !errors.Is(err, session.ErrNotFound) {
					t.Errorf("the app still finds %s: %v", c.gone, err)
				}
			})
		}
	}
}

// TestRedisExpireAllConfirmation: on a terminal, expire --all names the
// Redis it works on (without the password) and asks.
func TestRedisExpireAllConfirmation(t *testing.T) {
	h := redisHarness(t, "Standalone", fixture()...)
	h.env[envKeys] = h.keyFile
	h.terminal = func(any) bool { return true }
	h.stdin = "n\n"
	h.unchanged(func() {
		h.fails(exitFailure, []string{"End all 6 sessions in the Redis at " + h.env[envRedis] + ` (prefix "` + h.env[envPrefix] + `")? [y/N]`, "aborted"},
			"expire", "--all")
	})
}

// TestRedisPurge: purge removes the expired sessions (its index clean-up
// included: check stays clean), --dry-run counts them and changes nothing.
func TestRedisPurge(t *testing.T) {
	onRedis(t, func(t *testing.T, h *harness) {
		h.unchanged(func() {
			if got := h.ok("-o", "json", "purge", "--dry-run"); got != `{"removed":2,"dry_run":true}`+"\n" {
				t.Errorf("dry run: %q", got)
			}
		})
		h.env[envKeys] = h.keyFile
		if got := h.ok("purge"); got != "purged 2 expired sessions\n" {
			t.Errorf("purge: %q", got)
		}
		if got := h.ok("list", "--expired"); got != "no sessions\n" {
			t.Errorf("expired sessions after purge:\n%s", got)
		}
		if n := countLines(h.ok("-o", "json", "list", "--all")); n != 4 {
			t.Errorf("%d sessions remain, want the 4 live ones", n)
		}
		var rep checkView
		if err := json.Unmarshal([]byte(h.ok("-o", "json", "check")), &rep); err != nil || !rep.OK || rep.Records != 4 {
			t.Errorf("check after purge: %+v, %v", rep, err)
		}
	})
}

// TestRedisImport: what export writes from a file, import writes into
// Redis: the same records, so the same export; a new prefix is started only
// for a valid input, with keys, saying so on stderr; a second run skips
// everything. The sessions are the fixture's moved to the machine's clock:
// a new store keeps records for the default retention past their expiry,
// by Redis's clock.
func TestRedisImport(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	src := newHarness(t)
	src.now = now
	for _, r := range fixture() {
		r.Created, r.LastSeen = r.Created.Add(now.Sub(testNow)), r.LastSeen.Add(now.Sub(testNow))
		r.IdleExpires, r.Deadline = r.IdleExpires.Add(now.Sub(testNow)), r.Deadline.Add(now.Sub(testNow))
		src.seed(r)
	}
	exported := src.ok("export", "--live")
	for _, kind := range redisKinds {
		t.Run(kind, func(t *testing.T) {
			h, _ := redisTarget(t, kind) // the prefix holds no store yet
			h.now = now
			h.env[envKeys] = h.keyFile
			empty := h.snapshot(t)
			h.stdin = exported + "{not json\n"
			h.fails(exitFailure, []string{"1 line invalid; nothing imported"}, "import")
			h.stdin = exported
			h.ok("import", "--dry-run")
			delete(h.env, envKeys)
			h.fails(exitFailure, []string{"needs the app's keys"}, "import")
			if h.snapshot(t) != empty {
				t.Fatal("a failed import wrote to Redis")
			}
			h.env[envKeys] = h.keyFile
			// Listing a prefix where no store was started is an error, not
			// an empty listing.
			h.fails(exitFailure, []string{"no session store under the prefix", "only import starts a new store"}, "list")

			got := h.redisMasked(h.transcript([]string{"import"}, []string{"import", "--batch", "3"}))
			h.golden("import_create_redis.golden", got)
			if got := h.ok("export"); got != exported {
				t.Errorf("Redis exports:\n%s\nwant what the file exported:\n%s", got, exported)
			}
			if n := countLines(h.ok("-o", "json", "list")); n != 4 {
				t.Errorf("%d sessions verify with the keys, want 4", n)
			}
		})
	}
}

// TestRedisMessages: what sesctl says on Redis when a command cannot run:
// backup and compact point at Redis's own means, an absent server or
// store is named (without the password) with what to check, and bad or
// conflicting flags are usage errors.
func TestRedisMessages(t *testing.T) {
	h := redisHarness(t, "Standalone", fixture()...)
	none := "unix://" + filepath.Join(h.dir, "none.sock")
	h.env[envKeys] = wrongKeyFile(t, h)
	var got string
	h.unchanged(func() {
		got = h.redisMasked(h.transcript(
			[]string{"backup", filepath.Join(h.dir, "copy.db")},
			[]string{"compact", filepath.Join(h.dir, "compact.db")},
			[]string{"--redis", none, "stats"},
			[]string{"--redis", "redis://app:s3cret@127.0.0.1:1/0", "stats"},
			[]string{"--redis-prefix", "nothing-here:", "list"},
			[]string{"list", "--all"},
			[]string{"--redis", "ftp://app:s3cret@host", "list"},
			[]string{"--redis", "", "list"},
			[]string{"--db", h.db, "--redis", none, "list"},
			[]string{"--socket", h.db + ".sock", "--redis", none, "list"},
			[]string{"--db", h.db, "--redis-prefix", "app:", "list"},
		))
	})
	h.golden("redis_messages.golden", got)
	for _, line := range strings.Split(got, "\n") {
		if !strings.HasPrefix(line, "$ ") && (strings.Contains(line, "s3cret") || strings.Contains(line, "level=") || strings.Contains(line, "pool.go")) {
			t.Errorf("a password or a library's log line reached the output: %s", line)
		}
	}
	if _, err := os.Lstat(filepath.Join(h.dir, "copy.db")); err == nil {
		t.Error("backup on Redis wrote a file")
	}

	// Both $SESCTL_DB and $SESCTL_REDIS: sesctl asks which.
	h.env[envDB] = h.db
	h.fails(exitUsage, []string{"both $SESCTL_DB and $SESCTL_REDIS are set"}, "list")
	// A flag beats the other's variable.
	h.fails(exitFailure, []string{"no such database file"}, "--db", h.db, "list")
	delete(h.env, envKeys)
	if n := countLines(h.ok("--redis", h.env[envRedis], "-o", "json", "list")); n != 4 {
		t.Errorf("--redis beside $SESCTL_DB listed %d sessions, want 4", n)
	}
}

// TestRedisDown: a Redis that stopped answering (SIGSTOP) fails the
// command within the open timeout, with a clean message, never a hang.
func TestRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	h := newHarness(t)
	delete(h.env, envDB)
	h.env[envRedis] = srv.URL()
	if err := srv.Pause(); err != nil {
		t.Fatal(err)
	}
	defer srv.Resume()
	defer func(d time.Duration) { redisTimeout = d }(redisTimeout)
	redisTimeout = time.Second
	start := time.Now()
	r := h.fails(exitFailure, []string{"no Redis answer", srv.URL()}, "stats")
	if took := time.Since(start); took > redisTimeout+5*time.Second {
		t.Errorf("sesctl took %v on a hung Redis; the open timeout is %v", took, redisTimeout)
	}
	if strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("more than one line on stderr:\n%s", r.stderr)
	}
}
