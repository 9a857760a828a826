package main

import (
	"context"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/internal/redistest"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// flaskSessions are sessions as the Flask app of examples/flask writes
// them (json.dumps: spaces, \u escapes), by id.
var flaskSessions = map[string]string{
	"0b7c8b8e-2d3f-4a51-9c2e-5d6f7a8b9c01": `{"user_id": "alice", "cart": [1, {"sku": "b\u00e9"}]}`,
	"1c2d3e4f-5a6b-4c7d-8e9f-a0b1c2d3e4f5": `{"user_id": 42, "theme": "dark"}`,
	"2d3e4f5a-6b7c-4d8e-9fa0-b1c2d3e4f5a6": `{"flash": null}`,
	"3e4f5a6b-7c8d-4e9f-a0b1-c2d3e4f5a6b7": `{"user_id": "bob"}`,
}

// flaskRedis starts a private redis-server holding flaskSessions (the last
// one with a TTL, the others without) and other keys that are not
// sessions, and returns its URL and a function returning every key and
// value it holds.
func flaskRedis(t *testing.T, extra map[string]string) (string, func() map[string]string) {
	t.Helper()
	srv := redistest.Start(t)
	rc := srv.Client(t)
	ctx := context.Background()
	for id, v := range flaskSessions {
		ttl := time.Duration(0)
		if strings.HasPrefix(id, "3e4f") {
			ttl = 10 * time.Minute
		}
		rc.Set(ctx, id, v, ttl)
	}
	for k, v := range extra {
		rc.Set(ctx, k, v, 0)
	}
	rc.Set(ctx, "other:key", "x", 0)
	rc.Set(ctx, strings.ToUpper("4f5a6b7c-8d9e-4fa0-b1c2-d3e4f5a6b7c8"), `{"user_id": "not a session key"}`, 0)
	dump := func() map[string]string {
		m := map[string]string{}
		for _, k := range rc.Keys(ctx, "*").Val() {
			m[k] = rc.Get(ctx, k).Val() + " ttl>0:" + map[bool]string{true: "yes", false: "no"}[rc.TTL(ctx, k).Val() > 0]
		}
		return m
	}
	return "unix://" + srv.Addr, dump
}

// TestImportFlask: the recipe's sessions move into sesbolt's format with
// their ids, users (a number as its text) and data, created now, ending
// --lifetime from now (or at their TTL, which comes later here, since the
// test's clock is in the past); keys that are not sessions are ignored,
// the Redis is left as it was, and a second run skips what the first
// imported.
func TestImportFlask(t *testing.T) {
	url, dump := flaskRedis(t, nil)
	before := dump()
	h := importTarget(t)
	h.ok("expire", "--all", "--yes") // only the imported sessions below

	if got := h.ok("import", "--from", "flask-redis", "--user-key", "user_id", "--dry-run", url); got != "4 records valid (dry run: nothing imported)\n" {
		t.Errorf("dry run: %q", got)
	}
	if got := h.ok("import", "--from", "flask-redis", "--user-key", "user_id", "--lifetime", "24h", url); got != "imported 4 sessions of 4\n" {
		t.Errorf("import: %q", got)
	}
	exported := h.ok("export")
	for id := range flaskSessions {
		r, err := h.openRecord(id)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if !r.Created.Equal(testNow) || !r.LastSeen.Equal(testNow) || !r.Deadline.Equal(testNow.Add(24*time.Hour)) ||
			!r.IdleExpires.Equal(r.Deadline) || r.Version != 1 {
			t.Errorf("%s: times or version %+v", id, r)
		}
	}
	h.golden("import_flask.golden", exported)
	if after := dump(); !maps.Equal(before, after) {
		t.Errorf("the Flask layout changed:\nbefore %v\nafter  %v", before, after)
	}
	if got := h.ok("import", "--from", "flask-redis", "--user-key", "user_id", url); got != "imported 0 sessions of 4 (4 skipped: already stored or expired)\n" {
		t.Errorf("second import: %q", got)
	}

	// On the real clock the key with a TTL stays idle until the TTL ends.
	now := importTarget(t)
	now.now = time.Now().UTC()
	now.ok("import", "--from", "flask-redis", "--user-key", "user_id", url)
	bob, err := now.openRecord("3e4f5a6b-7c8d-4e9f-a0b1-c2d3e4f5a6b7")
	if err != nil {
		t.Fatal(err)
	}
	if ttlEnd := bob.IdleExpires.Sub(now.now); ttlEnd <= 0 || ttlEnd > 10*time.Minute || !bob.Deadline.Equal(now.now.Add(session.DefaultLifetime)) {
		t.Errorf("the session with a TTL: idle until %s (%s from now), deadline %s", bob.IdleExpires, ttlEnd, bob.Deadline)
	}
}

// TestImportFlaskInvalid: values that are not session dicts, and dicts
// sesbolt cannot hold (an empty key), are reported by id, never by
// content; nothing is imported unless --skip-invalid.
func TestImportFlaskInvalid(t *testing.T) {
	url, _ := flaskRedis(t, map[string]string{
		"5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d": `{"x": NaN, "secret": "s3cr3t"}`,
		"6b7c8d9e-0f1a-4b2c-9d3e-4f5a6b7c8d9e": `{"": "s3cr3t", "user_id": "carol"}`,
	})
	h := importTarget(t)
	r := h.fails(exitFailure, []string{
		"5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d: the stored value is not a session dict: not valid JSON",
		"6b7c8d9e-0f1a-4b2c-9d3e-4f5a6b7c8d9e: empty data key",
		"2 sessions invalid; nothing imported",
	}, "import", "--from", "flask-redis", "--user-key", "user_id", url)
	if strings.Contains(r.stderr, "s3cr3t") {
		t.Errorf("stderr quotes a stored value:\n%s", r.stderr)
	}
	if got := h.ok("import", "--from", "flask-redis", "--user-key", "user_id", "--skip-invalid", url); got != "imported 4 sessions of 4 (2 invalid left out)\n" {
		t.Errorf("skip invalid: %q", got)
	}
}

// TestImportFlaskUsage: the source URL and --user-key are required, the
// URL must be a Redis URL (its password never printed), --lifetime is
// for this format only, and an unreachable Redis fails cleanly.
func TestImportFlaskUsage(t *testing.T) {
	h := importTarget(t)
	h.fails(exitUsage, []string{"--from flask-redis needs the URL"}, "import", "--from", "flask-redis", "--user-key", "user_id")
	h.fails(exitUsage, []string{"--from flask-redis needs --user-key"}, "import", "--from", "flask-redis", "redis://127.0.0.1:1")
	h.fails(exitUsage, []string{"--lifetime must be positive"}, "import", "--from", "flask-redis", "--user-key", "u", "--lifetime", "0s", "redis://127.0.0.1:1")
	h.fails(exitUsage, []string{"--lifetime applies to --from flask-redis only"}, "import", "--lifetime", "1h")
	r := h.fails(exitUsage, []string{"--from flask-redis:", "scheme"}, "import", "--from", "flask-redis", "--user-key", "u", "http://user:hunter2@host/")
	if strings.Contains(r.stderr, "hunter2") {
		t.Errorf("stderr shows the password:\n%s", r.stderr)
	}
	r = h.fails(exitFailure, []string{"redis://:xxxxx@127.0.0.1:1"}, "import", "--from", "flask-redis", "--user-key", "u", "redis://:hunter2@127.0.0.1:1/0?dial_timeout=1s&max_retries=-1")
	if strings.Contains(r.stderr, "hunter2") {
		t.Errorf("stderr shows the password:\n%s", r.stderr)
	}
}

// openRecord returns the record under id, as sesctl export prints it.
func (h *harness) openRecord(id string) (*session.Record, error) {
	h.t.Helper()
	for _, line := range strings.Split(strings.TrimSpace(h.ok("export")), "\n") {
		r, err := decodeRecordLine([]byte(line))
		if err != nil {
			return nil, err
		}
		if r.ID.String() == id {
			return r, nil
		}
	}
	return nil, session.ErrNotFound
}
