package redisstore_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/sesbolt/sesbolt/internal/redistest"
	"github.com/sesbolt/sesbolt/pkg/redisstore"
	"github.com/sesbolt/sesbolt/pkg/session"
	"github.com/sesbolt/sesbolt/pkg/session/sessiontest"
)

// testOptions returns options for tests: keys, a prefix of the test's own,
// no background trim, no logs (some tests make seal failures on purpose).
func testOptions(t testing.TB) *redisstore.Options {
	keys, err := session.NewKeyring(session.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	return &redisstore.Options{
		Keys:         keys,
		Prefix:       redistest.Prefix(),
		TrimInterval: -1,
		Logger:       slog.New(slog.DiscardHandler),
	}
}

// onEachKind runs test as two subtests: on the shared standalone server
// and on the shared Cluster.
func onEachKind(t *testing.T, test func(t *testing.T, rc redis.UniversalClient)) {
	t.Run("Standalone", func(t *testing.T) { test(t, redistest.Shared(t).Client(t)) })
	t.Run("Cluster", func(t *testing.T) { test(t, redistest.SharedCluster(t).Client(t)) })
}

// newStore returns a store on client with opts (nil: testOptions), closed
// at cleanup.
func newStore(t testing.TB, client redis.UniversalClient, opts *redisstore.Options) *redisstore.Store {
	t.Helper()
	if opts == nil {
		opts = testOptions(t)
	}
	s, err := redisstore.New(client, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// twoStores returns two stores on client with opts (not nil: both share
// its keys and prefix), closed at cleanup: s, and other, which stands for
// another process on the same keys (s has not seen its writes).
func twoStores(t testing.TB, client redis.UniversalClient, opts *redisstore.Options) (s, other *redisstore.Store) {
	t.Helper()
	return newStore(t, client, opts), newStore(t, client, opts)
}

// mustCheck fails the test unless Check finds the store consistent.
func mustCheck(t testing.TB, s *redisstore.Store) session.CheckReport {
	t.Helper()
	rep, err := s.Check(context.Background())
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	for _, p := range rep.Problems {
		t.Errorf("Check: %s", p)
	}
	return rep
}

// sha256Hex returns the hex SHA-256 of s.
func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// flaskOptions returns Flask-layout options for tests: the user key
// "user_id", the suite's idle timeout as lifetime, tombstones under a
// prefix of the test's own, no logs.
func flaskOptions() *redisstore.FlaskOptions {
	return &redisstore.FlaskOptions{
		UserKey:         "user_id",
		Lifetime:        sessiontest.IdleTimeout,
		TombstonePrefix: redistest.Prefix() + "renewed:",
		Logger:          slog.New(slog.DiscardHandler),
	}
}

// newFlaskStore returns a Flask-layout store on client with opts (nil:
// flaskOptions), closed at cleanup.
func newFlaskStore(t testing.TB, client redis.UniversalClient, opts *redisstore.FlaskOptions) *redisstore.FlaskStore {
	t.Helper()
	if opts == nil {
		opts = flaskOptions()
	}
	s, err := redisstore.NewFlask(client, opts)
	if err != nil {
		t.Fatalf("NewFlask: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
