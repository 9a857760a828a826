package bench

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	scsredis "github.com/alexedwards/scs/redisstore"
	scs "github.com/alexedwards/scs/v2"
	scsmem "github.com/alexedwards/scs/v2/memstore"

	"github.com/sesbolt/sesbolt/pkg/memstore"
	"github.com/sesbolt/sesbolt/pkg/middleware"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// The lost-updates workload backs the README's "no lost updates":
// concurrent requests of one session, each setting a different key while
// its handler works for a few milliseconds (lostWork). sesbolt keeps every
// key; scs saves each request's whole snapshot, so overlapping requests
// overwrite each other's keys. It runs on the memory stores (one process:
// only the session logic differs) and on Redis, where the requests
// alternate between two instances of the application sharing one
// redis-server, as behind a load balancer.

const (
	lostRequests = 50                   // concurrent writes per burst
	lostWork     = 5 * time.Millisecond // the handler's own work between load and save
)

// lostContender opens the instances of one library and store for the
// workload; close releases them.
type lostContender struct {
	name string
	open func(tb testing.TB) (instances []http.Handler, close func())
}

var lostContenders = []lostContender{
	{"sesbolt-mem", func(tb testing.TB) ([]http.Handler, func()) {
		store := memstore.New(nil)
		return []http.Handler{lostSesbolt(tb, store)}, func() { store.Close() }
	}},
	{"scs-mem", func(tb testing.TB) ([]http.Handler, func()) {
		store := scsmem.New()
		return []http.Handler{lostSCS(store)}, func() { store.StopCleanup() }
	}},
	{"sesbolt-redis", func(tb testing.TB) ([]http.Handler, func()) {
		srv := sharedRedis(tb)
		srv.flush(tb)
		var hs []http.Handler
		var closers []func()
		for range 2 {
			store, _, close := sesboltRedis(tb, srv.unix(), session.Config{})
			hs = append(hs, lostSesbolt(tb, store))
			closers = append(closers, close)
		}
		return hs, func() {
			for _, c := range closers {
				c()
			}
		}
	}},
	{"scs-redis", func(tb testing.TB) ([]http.Handler, func()) {
		srv := sharedRedis(tb)
		srv.flush(tb)
		var hs []http.Handler
		var pools []interface{ Close() error }
		for range 2 {
			pool := scsRedisPool(srv.unix())
			hs = append(hs, lostSCS(scsredis.New(pool)))
			pools = append(pools, pool)
		}
		return hs, func() {
			for _, p := range pools {
				p.Close()
			}
		}
	}},
}

// lostSesbolt is the workload's handler through sesbolt on store: with
// ?k=KEY it works, then sets KEY; it answers the number of keys.
func lostSesbolt(tb testing.TB, store session.Store) http.Handler {
	mgr, err := session.New(session.Config{Store: store, Keys: benchKeys(tb), Cookie: session.CookieOptions{Insecure: true}})
	if err != nil {
		tb.Fatal(err)
	}
	return middleware.LoadAndSave(mgr)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := session.FromContext(r.Context())
		if k := r.URL.Query().Get("k"); k != "" {
			time.Sleep(lostWork)
			if err := s.Set(k, true); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
		fmt.Fprint(w, len(s.Keys()))
	}))
}

// lostSCS is the same handler through scs on store.
func lostSCS(store scs.Store) http.Handler {
	sm := scs.New()
	sm.Store = store
	sm.Cookie.Secure = false
	return sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if k := r.URL.Query().Get("k"); k != "" {
			time.Sleep(lostWork)
			sm.Put(r.Context(), k, true)
		}
		fmt.Fprint(w, len(sm.Keys(r.Context())))
	}))
}

// burst creates a session with one key, sends lostRequests concurrent
// requests with its cookie, each setting a key of its own, request i to
// instance i modulo their number, and returns how many keys the session
// then holds (of lostRequests+1) and how many requests failed.
func burst(tb testing.TB, instances []http.Handler) (kept, failed int) {
	tb.Helper()
	first := httptest.NewRecorder()
	instances[0].ServeHTTP(first, httptest.NewRequest("GET", "/?k=init", nil))
	cookies := first.Result().Cookies()
	if first.Code != http.StatusOK || len(cookies) != 1 {
		tb.Fatalf("creating the session: status %d, %d cookies", first.Code, len(cookies))
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i := range lostRequests {
		wg.Go(func() {
			r := httptest.NewRequest("GET", fmt.Sprintf("/?k=k%d", i), nil)
			r.AddCookie(cookies[0])
			w := httptest.NewRecorder()
			instances[i%len(instances)].ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				mu.Lock()
				failed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(cookies[0])
	count := httptest.NewRecorder()
	instances[0].ServeHTTP(count, r)
	kept, err := strconv.Atoi(count.Body.String())
	if count.Code != http.StatusOK || err != nil {
		tb.Fatalf("counting the keys: status %d, body %q", count.Code, count.Body)
	}
	return kept, failed
}

// isSesbolt reports whether a contender name is one of sesbolt's.
func isSesbolt(name string) bool { return strings.HasPrefix(name, "sesbolt") }

// TestLostUpdates runs one burst per contender: sesbolt must keep every
// key; scs must lose some (or the README's claim about it is wrong).
//
//	cd bench && go test -run TestLostUpdates -v
func TestLostUpdates(t *testing.T) {
	for _, c := range lostContenders {
		t.Run(c.name, func(t *testing.T) {
			instances, close := c.open(t)
			defer close()
			kept, failed := burst(t, instances)
			t.Logf("%-13s %d of %d keys survived %d concurrent writes over %d instance(s); %d requests failed",
				c.name, kept, lostRequests+1, lostRequests, len(instances), failed)
			switch {
			case isSesbolt(c.name) && (kept != lostRequests+1 || failed != 0):
				t.Errorf("sesbolt kept %d keys, want %d, and %d requests failed: an update was lost", kept, lostRequests+1, failed)
			case !isSesbolt(c.name) && kept == lostRequests+1:
				t.Errorf("scs kept every key: the README's claim that snapshots overwrite each other no longer holds")
			}
		})
	}
}

// BenchmarkLostUpdates measures the same: each iteration is one burst on a
// new session; lost-keys/op is the keys lost per burst (of
// lostRequests+1), which for sesbolt must be zero.
func BenchmarkLostUpdates(b *testing.B) {
	for _, c := range lostContenders {
		b.Run("store="+c.name, func(b *testing.B) {
			instances, close := c.open(b)
			defer close()
			lost, failed := 0, 0
			for b.Loop() {
				kept, f := burst(b, instances)
				lost += lostRequests + 1 - kept
				failed += f
			}
			if isSesbolt(c.name) && (lost != 0 || failed != 0) {
				b.Fatalf("sesbolt lost %d keys in %d bursts (%d requests failed)", lost, b.N, failed)
			}
			b.ReportMetric(float64(lost)/float64(b.N), "lost-keys/op")
		})
	}
}
