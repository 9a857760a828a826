package redisstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/sesbolt/sesbolt/internal/redistest"
	"github.com/sesbolt/sesbolt/pkg/redisstore"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// testKey is a fixed key, so that stores of one test seal alike.
var testKey = bytes.Repeat([]byte("k"), session.KeySize)

func testKeys(t testing.TB) *session.Keyring {
	t.Helper()
	kr, err := session.NewKeyring(testKey)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// quietLogger discards logs (seal failures are expected in some tests).
func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// testOptions returns options for tests: keys, a prefix of the test's own,
// no background trim, quiet logs.
func testOptions(t testing.TB) *redisstore.Options {
	return &redisstore.Options{
		Keys:         testKeys(t),
		Prefix:       redistest.Prefix(),
		TrimInterval: -1,
		Logger:       quietLogger(),
	}
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
