package redisstore_test

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/sesbolt/sesbolt/internal/redistest"
	"github.com/sesbolt/sesbolt/pkg/redisstore"
	"github.com/sesbolt/sesbolt/pkg/session"
	"github.com/sesbolt/sesbolt/pkg/session/sessiontest"
)

// conformance runs the whole suite against stores on client, each under a
// prefix of its own, and checks each store's consistency after its
// subtest. A restart (sessiontest.Reopen) closes the store and makes a new
// one with the same options on the same client, as an application does.
func conformance(t *testing.T, client redis.UniversalClient, extra ...sessiontest.Option) {
	opened := map[session.Store]*redisstore.Options{}
	open := func(t *testing.T, opts *redisstore.Options) session.Store {
		s := newStore(t, client, opts)
		opened[s] = opts
		t.Cleanup(func() {
			if _, open := opened[s]; open { // not closed by reopen
				mustCheck(t, s)
			}
		})
		return s
	}
	reopen := sessiontest.Reopen(func(t *testing.T, s session.Store) session.Store {
		opts, ok := opened[s]
		rs, isRedis := s.(*redisstore.Store)
		if !ok || !isRedis {
			t.Fatalf("reopen of a store the suite did not open")
		}
		delete(opened, s)
		if err := rs.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		return open(t, opts)
	})
	sessiontest.Run(t, func(t *testing.T) session.Store {
		return open(t, testOptions(t))
	}, append([]sessiontest.Option{reopen}, extra...)...)
}

func TestConformance(t *testing.T) {
	conformance(t, redistest.Shared(t).Client(t))
}

// TestConformanceCluster: on Cluster the per-user session limit is
// enforced in a step after the write (see the package documentation), so
// the suite is told so.
func TestConformanceCluster(t *testing.T) {
	conformance(t, redistest.SharedCluster(t).Client(t), sessiontest.LimitAfterWrite())
}

// flaskConformance runs the suite against Flask-layout stores on client,
// each with tombstones under a prefix of its own (the session keys are
// random ids). The layout keeps a session's user and data under a TTL and
// nothing else, and has no per-user index, so the store declares it lacks
// metadata and the per-user limit (see sessiontest.Lacks); its lifetime is
// the suite's idle timeout.
func flaskConformance(t *testing.T, client redis.UniversalClient) {
	sessiontest.Run(t, func(t *testing.T) session.Store {
		return newFlaskStore(t, client, nil)
	}, sessiontest.Lacks(sessiontest.Metadata|sessiontest.UserLimit))
}

func TestFlaskConformance(t *testing.T) {
	flaskConformance(t, redistest.Shared(t).Client(t))
}

func TestFlaskConformanceCluster(t *testing.T) {
	flaskConformance(t, redistest.SharedCluster(t).Client(t))
}
