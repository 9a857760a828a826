package redisstore_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sesbolt/sesbolt/internal/redistest"
	"github.com/sesbolt/sesbolt/internal/testclient"
	"github.com/sesbolt/sesbolt/pkg/redisstore"
	"github.com/sesbolt/sesbolt/pkg/session"
	"github.com/sesbolt/sesbolt/pkg/session/sessiontest"
)

func TestNewClientURLs(t *testing.T) {
	single := func(network, addr string, db int, tls bool) func(*testing.T, redis.UniversalClient) {
		return func(t *testing.T, c redis.UniversalClient) {
			rc, ok := c.(*redis.Client)
			if !ok {
				t.Fatalf("a %T, want a *redis.Client", c)
			}
			o := rc.Options()
			if o.Network != network || o.Addr != addr || o.DB != db || (o.TLSConfig != nil) != tls || !o.ContextTimeoutEnabled {
				t.Errorf("options: network %q addr %q db %d tls %v context timeouts %v; want %q %q %d %v true",
					o.Network, o.Addr, o.DB, o.TLSConfig != nil, o.ContextTimeoutEnabled, network, addr, db, tls)
			}
		}
	}
	cluster := func(addrs ...string) func(*testing.T, redis.UniversalClient) {
		return func(t *testing.T, c redis.UniversalClient) {
			cc, ok := c.(*redis.ClusterClient)
			if !ok {
				t.Fatalf("a %T, want a *redis.ClusterClient", c)
			}
			o := cc.Options()
			if strings.Join(o.Addrs, " ") != strings.Join(addrs, " ") || !o.ContextTimeoutEnabled {
				t.Errorf("options: addrs %q, context timeouts %v; want %q, true", o.Addrs, o.ContextTimeoutEnabled, addrs)
			}
		}
	}
	for _, c := range []struct {
		url   string
		check func(*testing.T, redis.UniversalClient)
	}{
		{"redis://localhost", single("tcp", "localhost:6379", 0, false)},
		{" redis://:s3cret@10.0.0.7:7000/3 ", single("tcp", "10.0.0.7:7000", 3, false)},
		{"rediss://cache.example.com:6380", single("tcp", "cache.example.com:6380", 0, true)},
		{"unix:///run/redis/redis.sock?db=2", single("unix", "/run/redis/redis.sock", 2, false)},
		{"redis://c1:7000,c2:7001,c3", cluster("c1:7000", "c2:7001", "c3:6379")},
		{"redis://c1:7000,redis://c2:7001", cluster("c1:7000", "c2:7001")},
		{"redis://u:s3cret@c1:7000/0?dial_timeout=2s,[::1]:7001", cluster("c1:7000", "[::1]:7001")},
	} {
		t.Run(c.url, func(t *testing.T) {
			rc, err := redisstore.NewClient(c.url)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			c.check(t, rc)
		})
	}

	c, err := redisstore.NewClient("redis://u:s3cret@c1:7000?dial_timeout=2s&max_retries=1,c2:7001")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if o := c.(*redis.ClusterClient).Options(); o.DialTimeout != 2*time.Second || o.MaxRetries != 1 || o.Password != "s3cret" {
		t.Errorf("the first node's options do not apply: dial timeout %v, max retries %d, password set %v",
			o.DialTimeout, o.MaxRetries, o.Password != "")
	}
}

func TestNewClientRefusesBadURLs(t *testing.T) {
	for url, want := range map[string]string{
		"":                                     "empty Redis URL",
		"localhost:6379":                       "scheme",
		"redis.example.com":                    "no scheme",
		"http://u:s3cret@localhost":            `scheme "http"`,
		"redis://u:s3cret@h:port":              "invalid port",
		"redis://u:s3cret@h/x":                 "invalid database number",
		"redis://u:s3cret@h?colour=blue":       "unexpected option",
		"unix://u:s3cret@/tmp/a.sock,h2:7000":  "over TCP",
		"redis://u:s3cret@h1/3,h2":             "only database 0",
		"redis://u:s3cret@h1,rediss://h2":      "the first one's scheme",
		"redis://u:s3cret@h1,redis://u:pw@h2":  "only host and port",
		"redis://u:s3cret@h1,redis://h2/4":     "only host and port",
		"redis://u:s3cret@h1,,h3":              "an empty node",
		"redis://u:s3cret@h1,h2/x":             "give host:port",
		"redis://u:s3cret@h1?colour=blue,h2":   "unexpected option",
		"redis://u:s3cret@h1:7000,:7001":       "has no host",
		"redis://u:s3cret@h\x7f1:7000,h2:7001": "invalid control character",
	} {
		c, err := redisstore.NewClient(url)
		if err == nil {
			c.Close()
			t.Errorf("NewClient(%q) succeeded", url)
			continue
		}
		if !errors.Is(err, redisstore.ErrConfig) || !strings.Contains(err.Error(), want) {
			t.Errorf("NewClient(%q) = %v; want ErrConfig saying %q", url, err, want)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("NewClient(%q): the error shows the password: %v", url, err)
		}
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"redis://localhost:6379/0":                "redis://localhost:6379/0",
		"redis://u:s3cret@h:1/0?dial_timeout=2":   "redis://u:xxxxx@h:1/0?dial_timeout=2",
		"unix://:s3cret@/run/redis.sock":          "unix://:xxxxx@/run/redis.sock",
		"rediss://u:s3cret@h1:1,h2:2,redis://h3":  "rediss://u:xxxxx@h1:1,h2:2,redis://h3",
		"redis://u:s3cret@h\x7f:1":                "redis://xxxxx@h\x7f:1",
		"redis://u:s3cr%zzet@h:1":                 "redis://xxxxx@h:1",
		"u:s3cret@h:1":                            "xxxxx@h:1",
		"redis://u:s3cret@h1:1,redis://v:pw@h2:2": "redis://u:xxxxx@h1:1,redis://v:xxxxx@h2:2",
	} {
		if got := redisstore.RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestNewClientConnects: the clients NewClient makes work with New, on
// a server's Unix socket and on a Cluster named by its nodes.
func TestNewClientConnects(t *testing.T) {
	srv := redistest.Shared(t)
	urls := map[string]string{
		"Standalone": "unix://" + srv.Addr,
		"Cluster":    strings.Join(redistest.SharedCluster(t).Addrs(), ","),
	}
	urls["Cluster"] = "redis://" + urls["Cluster"]
	for name, url := range urls {
		t.Run(name, func(t *testing.T) {
			rc, err := redisstore.NewClient(url)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			s := newStore(t, rc, nil)
			now := time.Now().UTC()
			r := sessiontest.Insert(t, s, sessiontest.NewRecord(session.NewID(), "alice", now))[0]
			if got, err := s.Load(context.Background(), r.ID, now); err != nil || !got.Equal(r) {
				t.Errorf("Load = %+v, %v; want %+v", got, err, r)
			}
		})
	}

	// A server that is not there fails New (its first call), and go-redis's
	// own complaints go where SetClientLogger says, not to stderr.
	var log testclient.SyncBuffer
	redisstore.SetClientLogger(slog.New(slog.NewTextHandler(&log, nil)))
	t.Cleanup(func() { redisstore.SetClientLogger(nil) })
	rc, err := redisstore.NewClient("unix://" + t.TempDir() + "/none.sock")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	opts := testOptions(t)
	opts.InitTimeout = 5 * time.Second
	if _, err := redisstore.New(rc, opts); !errors.Is(err, redisstore.ErrRedis) {
		t.Errorf("New on a missing server: %v; want ErrRedis", err)
	}
	if got := log.String(); !strings.Contains(got, "level=WARN") || !strings.Contains(got, `msg="go-redis: `) || !strings.Contains(got, "none.sock") {
		t.Errorf("go-redis's log through SetClientLogger:\n%s", got)
	}
}

func TestMustExist(t *testing.T) {
	rc := redistest.Shared(t).Client(t)
	opts := testOptions(t)
	for _, readOnly := range []bool{false, true} {
		o := *opts
		o.MustExist, o.ReadOnly = true, readOnly
		if _, err := redisstore.New(rc, &o); !errors.Is(err, redisstore.ErrNoStore) || !strings.Contains(err.Error(), opts.Prefix) {
			t.Errorf("MustExist (read-only %v) on an unused prefix: %v; want ErrNoStore naming the prefix", readOnly, err)
		}
	}
	if n := rc.Exists(context.Background(), keyNames{opts.Prefix}.meta()).Val(); n != 0 {
		t.Error("a MustExist store recorded the format")
	}
	newStore(t, rc, opts)
	o := *opts
	o.MustExist, o.ReadOnly = true, true
	newStore(t, rc, &o)
}

// TestRetentionRecorded: the first writable store records its retention
// under the prefix; a store left at zero adopts it, so that its Stats tell
// expired records from live ones as the writer does; a store given another
// retention keeps its own and warns.
func TestRetentionRecorded(t *testing.T) {
	rc := redistest.Shared(t).Client(t)
	ctx := context.Background()
	opts := testOptions(t)
	opts.ExpiredRetention = time.Hour
	w := newStore(t, rc, opts)
	if got := rc.HGet(ctx, keyNames{opts.Prefix}.meta(), "retention").Val(); got != "3600000" {
		t.Errorf("recorded retention %q, want 3600000 (ms)", got)
	}
	// Real time: expired a minute ago, kept for an hour past its expiry.
	now := time.Now().UTC()
	rec := sessiontest.NewRecord(session.NewID(), "alice", now.Add(-10*time.Minute))
	rec.IdleExpires = now.Add(-time.Minute)
	if _, err := w.Import(ctx, []*session.Record{rec}, now.Add(-2*time.Minute)); err != nil {
		t.Fatal(err)
	}

	reader := *opts
	reader.ExpiredRetention, reader.ReadOnly, reader.Keys = 0, true, nil
	if st, err := newStore(t, rc, &reader).Stats(ctx, now); err != nil || st.Expired != 1 || st.Live != 0 {
		t.Errorf("Stats of a store adopting the retention = %+v, %v; want 1 expired, 0 live", st, err)
	}

	var log bytes.Buffer
	other := *opts
	other.ExpiredRetention = 10 * time.Minute
	other.Logger = slog.New(slog.NewTextHandler(&log, nil))
	newStore(t, rc, &other)
	if !strings.Contains(log.String(), "differs from the retention recorded") {
		t.Errorf("no warning for a retention differing from the recorded one; log:\n%s", log.String())
	}
	if got := rc.HGet(ctx, keyNames{opts.Prefix}.meta(), "retention").Val(); got != "3600000" {
		t.Errorf("recorded retention %q after another store opened, want it unchanged", got)
	}

	rc.HSet(ctx, keyNames{opts.Prefix}.meta(), "retention", "soon")
	if _, err := redisstore.New(rc, &reader); !errors.Is(err, redisstore.ErrSchema) {
		t.Errorf("New over a malformed recorded retention: %v; want ErrSchema", err)
	}
}
