package redisstore_test

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/sesbolt/sesbolt/internal/redistest"
	"github.com/sesbolt/sesbolt/pkg/session"
	"github.com/sesbolt/sesbolt/pkg/session/sessiontest"
)

// conformance runs the whole suite against stores on client, each under a
// prefix of its own, and checks each store's consistency after its
// subtest.
func conformance(t *testing.T, client redis.UniversalClient) {
	sessiontest.Run(t, func(t *testing.T) session.Store {
		s := newStore(t, client, nil)
		t.Cleanup(func() { mustCheck(t, s) })
		return s
	})
}

func TestConformance(t *testing.T) {
	conformance(t, redistest.Shared(t).Client(t))
}

func TestConformanceCluster(t *testing.T) {
	conformance(t, redistest.SharedCluster(t).Client(t))
}
