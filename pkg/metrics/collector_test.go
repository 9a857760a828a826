package metrics_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/sesbolt/sesbolt/pkg/memstore"
	"github.com/sesbolt/sesbolt/pkg/metrics"
	"github.com/sesbolt/sesbolt/pkg/middleware"
	"github.com/sesbolt/sesbolt/pkg/session"
)

var key = bytes.Repeat([]byte{7}, 32)

// app is a Manager on a memstore, both observed by a Collector, behind
// LoadAndSave.
type app struct {
	col   *metrics.Collector
	store *memstore.Store
	mgr   *session.Manager
	h     http.Handler
}

func newApp(t *testing.T) *app {
	t.Helper()
	a := &app{col: metrics.New(nil)}
	a.store = memstore.New(&memstore.Options{CleanupInterval: -1, Observer: a.col.StoreObserver()})
	t.Cleanup(func() { a.store.Close() })
	a.col.SetStats(a.store)
	keys, err := session.NewKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	a.mgr, err = session.New(session.Config{Store: a.store, Keys: keys, Observer: a.col.Observer(),
		Cookie: session.CookieOptions{Insecure: true}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s, _ := session.FromContext(r.Context())
		s.Login(r.FormValue("user"))
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		s, _ := session.FromContext(r.Context())
		s.Destroy()
	})
	mux.HandleFunc("POST /logout-everywhere", func(w http.ResponseWriter, r *http.Request) {
		s, _ := session.FromContext(r.Context())
		if _, err := a.mgr.DestroyUser(r.Context(), s.UserID()); err != nil {
			t.Error(err)
		}
		s.Destroy()
	})
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {})
	a.h = middleware.LoadAndSave(a.mgr)(mux)
	return a
}

// do sends a request with cookie (may be "") and returns the cookie the
// response sets.
func (a *app) do(t *testing.T, method, path, cookie string) string {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	if cookie != "" {
		r.AddCookie(&http.Cookie{Name: a.mgr.CookieName(), Value: cookie})
	}
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, r)
	for _, c := range w.Result().Cookies() {
		if c.Name == a.mgr.CookieName() {
			return c.Value
		}
	}
	return ""
}

func TestCollectAndLint(t *testing.T) {
	a := newApp(t)
	a.do(t, "POST", "/login?user=alice", "")
	a.col.StoreObserver().Committed(session.Commit{Duration: time.Millisecond, Size: 2})
	a.col.StoreObserver().Reaped(session.ReapStats{At: time.Now(), Removed: 1, Duration: time.Millisecond})
	a.col.StoreObserver().Failed("load", errors.New("i/o"))
	problems, err := testutil.CollectAndLint(a.col)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	// A pedantic registry checks that Collect matches Describe.
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(a.col); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Gather(); err != nil {
		t.Fatalf("pedantic gather: %v", err)
	}
}

// TestCounters: a scripted sequence of requests gives exactly the counts
// it should, every reason label present from the start.
func TestCounters(t *testing.T) {
	a := newApp(t)
	alice1 := a.do(t, "POST", "/login?user=alice", "")
	alice2 := a.do(t, "POST", "/login?user=alice", "")
	bob := a.do(t, "POST", "/login?user=bob", "")
	a.do(t, "POST", "/logout", bob)
	a.do(t, "POST", "/logout-everywhere", alice1)
	a.do(t, "GET", "/", alice2) // ended: unknown id
	other, _ := session.NewKeyring(bytes.Repeat([]byte{8}, 32))
	for range 2 {
		a.do(t, "GET", "/", other.SignCookie(a.mgr.CookieName(), session.NewID()))
	}

	want := `
# HELP sesbolt_cookies_rejected_total Session cookies that led to no session, by reason: oversized, malformed, bad_signature, unknown_id, renewed.
# TYPE sesbolt_cookies_rejected_total counter
sesbolt_cookies_rejected_total{reason="bad_signature"} 2
sesbolt_cookies_rejected_total{reason="malformed"} 0
sesbolt_cookies_rejected_total{reason="oversized"} 0
sesbolt_cookies_rejected_total{reason="renewed"} 0
sesbolt_cookies_rejected_total{reason="unknown_id"} 1
# HELP sesbolt_logins_total Logins stored (Session.Login), each giving its session a new id.
# TYPE sesbolt_logins_total counter
sesbolt_logins_total 3
# HELP sesbolt_sessions_created_total Sessions created: a new session's first change stored.
# TYPE sesbolt_sessions_created_total counter
sesbolt_sessions_created_total 3
# HELP sesbolt_sessions_ended_total Sessions ended, by reason: logout, logout_everywhere, logout_others, limit, expired, revoked, other.
# TYPE sesbolt_sessions_ended_total counter
sesbolt_sessions_ended_total{reason="expired"} 0
sesbolt_sessions_ended_total{reason="limit"} 0
sesbolt_sessions_ended_total{reason="logout"} 1
sesbolt_sessions_ended_total{reason="logout_everywhere"} 2
sesbolt_sessions_ended_total{reason="logout_others"} 0
sesbolt_sessions_ended_total{reason="other"} 0
sesbolt_sessions_ended_total{reason="revoked"} 0
# HELP sesbolt_sessions_live Sessions live now (from the store's Stats at scrape time).
# TYPE sesbolt_sessions_live gauge
sesbolt_sessions_live 0
# HELP sesbolt_store_stats_up 1 when this scrape read the store's Stats, 0 when that failed or timed out.
# TYPE sesbolt_store_stats_up gauge
sesbolt_store_stats_up 1
`
	names := []string{"sesbolt_cookies_rejected_total", "sesbolt_logins_total", "sesbolt_sessions_created_total",
		"sesbolt_sessions_ended_total", "sesbolt_sessions_live", "sesbolt_store_stats_up"}
	if err := testutil.CollectAndCompare(a.col, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}

	// A purge: expired sessions, the reaper's counters and timestamp.
	if n := testutil.CollectAndCount(a.col, "sesbolt_reaper_last_round_timestamp_seconds"); n != 0 {
		t.Errorf("reaper timestamp exported before any round")
	}
	a.do(t, "POST", "/login?user=carol", "")
	at := time.Now().Add(13 * time.Hour)
	if n, err := a.store.Purge(context.Background(), at); err != nil || n != 1 {
		t.Fatalf("Purge = %d, %v", n, err)
	}
	want = fmt.Sprintf(`
# HELP sesbolt_reaper_last_round_timestamp_seconds When the latest expiry round started, in seconds since the Unix epoch (left out before the first).
# TYPE sesbolt_reaper_last_round_timestamp_seconds gauge
sesbolt_reaper_last_round_timestamp_seconds %g
# HELP sesbolt_reaper_removed_total Expired sessions removed by the reaper and purges.
# TYPE sesbolt_reaper_removed_total counter
sesbolt_reaper_removed_total 1
`, float64(at.UnixNano())/1e9)
	if err := testutil.CollectAndCompare(a.col, strings.NewReader(want),
		"sesbolt_reaper_removed_total", "sesbolt_reaper_last_round_timestamp_seconds"); err != nil {
		t.Error(err)
	}
	if got := testutil.CollectAndCount(a.col, "sesbolt_reaper_round_duration_seconds"); got != 1 {
		t.Errorf("reaper_round_duration_seconds: %d series", got)
	}
}

// TestStatsGauges: the gauges come from Stats at scrape time; size and
// free space only when the store knows them.
func TestStatsGauges(t *testing.T) {
	col := metrics.New(nil)
	if n := testutil.CollectAndCount(col, "sesbolt_sessions_live", "sesbolt_store_stats_up"); n != 0 {
		t.Errorf("%d Stats gauges before SetStats, want none", n)
	}
	rep := &fakeStats{st: session.Stats{Live: 4, Expired: 2, Users: 3, SizeBytes: 65536, FreeBytes: 8192}}
	col.SetStats(rep)
	want := `
# HELP sesbolt_sessions_expired Expired sessions still stored, waiting for the reaper (from Stats).
# TYPE sesbolt_sessions_expired gauge
sesbolt_sessions_expired 2
# HELP sesbolt_sessions_live Sessions live now (from the store's Stats at scrape time).
# TYPE sesbolt_sessions_live gauge
sesbolt_sessions_live 4
# HELP sesbolt_store_free_bytes Allocated but unused storage, what a compaction would give back (from Stats; left out when unknown).
# TYPE sesbolt_store_free_bytes gauge
sesbolt_store_free_bytes 8192
# HELP sesbolt_store_size_bytes Size of the store's storage, the database file (from Stats; left out when unknown).
# TYPE sesbolt_store_size_bytes gauge
sesbolt_store_size_bytes 65536
# HELP sesbolt_users Distinct users with at least one stored session (from Stats).
# TYPE sesbolt_users gauge
sesbolt_users 3
`
	if err := testutil.CollectAndCompare(col, strings.NewReader(want), "sesbolt_sessions_expired", "sesbolt_sessions_live",
		"sesbolt_store_free_bytes", "sesbolt_store_size_bytes", "sesbolt_users"); err != nil {
		t.Error(err)
	}
	rep.set(session.Stats{Live: 1})
	if n := testutil.CollectAndCount(col, "sesbolt_store_size_bytes", "sesbolt_store_free_bytes"); n != 0 {
		t.Errorf("size gauges exported for a store that does not know its size")
	}
	col.SetStats(nil)
	if n := testutil.CollectAndCount(col, "sesbolt_sessions_live"); n != 0 {
		t.Errorf("live gauge after SetStats(nil)")
	}
}

// TestStatsBounded: a scrape waits for the store's Stats at most
// StatsTimeout, even when the store ignores its context (the gauges are
// left out, store_stats_up is 0); while that call lasts, every further
// scrape, concurrent or not, joins it instead of starting another; once it
// returns, scrapes read Stats again.
func TestStatsBounded(t *testing.T) {
	col := metrics.New(&metrics.Options{StatsTimeout: 10 * time.Millisecond})
	rep := &fakeStats{st: session.Stats{Live: 3}, release: make(chan struct{})}
	col.SetStats(rep)
	scrape := func() string {
		t.Helper()
		out := make(chan string, 1)
		go func() {
			b, err := testutil.CollectAndFormat(col, expfmt.TypeTextPlain, "sesbolt_store_stats_up", "sesbolt_sessions_live")
			if err != nil {
				t.Error(err)
			}
			out <- string(b)
		}()
		select {
		case r := <-out:
			return r
		case <-time.After(30 * time.Second):
			t.Error("a scrape of a Stats that ignores its context did not return") // not Fatal: also called off the test's goroutine
			return ""
		}
	}
	cutOff := func(r string) bool {
		return strings.Contains(r, "sesbolt_store_stats_up 0") && !strings.Contains(r, "sesbolt_sessions_live ")
	}

	for range 2 {
		if r := scrape(); !cutOff(r) {
			t.Errorf("a scrape of a blocked Stats gave:\n%s", r)
		}
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if r := scrape(); !cutOff(r) {
				t.Errorf("a concurrent scrape of a blocked Stats gave:\n%s", r)
			}
		})
	}
	wg.Wait()
	if n := rep.calls.Load(); n != 1 {
		t.Errorf("6 scrapes during one blocked Stats call made %d calls; want them to share it", n)
	}
	if !rep.deadline.Load() {
		t.Error("the Stats call's context had no deadline")
	}

	close(rep.release)
	deadline := time.Now().Add(30 * time.Second)
	for r := scrape(); !strings.Contains(r, "sesbolt_sessions_live 3"); r = scrape() {
		if t.Failed() || time.Now().After(deadline) {
			t.Fatalf("scrapes after the blocked call returned still give:\n%s", r)
		}
	}
}

// TestStatsReplacedWhileInFlight: a scrape after SetStats reads the new
// reporter, even while a call of the old one is still in flight: it does
// not join that call.
func TestStatsReplacedWhileInFlight(t *testing.T) {
	// Generous: a scrape of the new reporter returns at once; only one
	// that wrongly joined the blocked call would wait this long.
	col := metrics.New(&metrics.Options{StatsTimeout: 10 * time.Second})
	old := &fakeStats{st: session.Stats{Live: 3}, release: make(chan struct{})}
	col.SetStats(old)
	first := make(chan struct{})
	go func() { // a scrape that waits on the blocked call of old
		defer close(first)
		testutil.CollectAndCount(col, "sesbolt_sessions_live")
	}()
	t.Cleanup(func() { close(old.release); <-first })
	for deadline := time.Now().Add(30 * time.Second); old.calls.Load() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first scrape never called Stats")
		}
	}
	col.SetStats(&fakeStats{st: session.Stats{Live: 7}})
	want := `
# HELP sesbolt_sessions_live Sessions live now (from the store's Stats at scrape time).
# TYPE sesbolt_sessions_live gauge
sesbolt_sessions_live 7
`
	if err := testutil.CollectAndCompare(col, strings.NewReader(want), "sesbolt_sessions_live"); err != nil {
		t.Errorf("the first scrape after SetStats: %v", err)
	}
}

// TestLabelsBounded: a reason the collector does not know is counted as
// "other"; store operations beyond MaxOps names too.
func TestLabelsBounded(t *testing.T) {
	col := metrics.New(nil)
	obs := col.StoreObserver()
	obs.Ended(context.Background(), session.Ended{Reason: session.EndReason("user-chose-this-42")})
	for i := range 3 * metrics.MaxOps {
		obs.Failed(fmt.Sprintf("op%d", i), errors.New("boom"))
	}
	col.Observer().CookieRejected(context.Background(), session.CookieReason("new-reason"))
	if got := testutil.ToFloat64(collectOne(t, col, "sesbolt_sessions_ended_total", "other")); got != 1 {
		t.Errorf("ended{other} = %v, want 1", got)
	}
	if n := testutil.CollectAndCount(col, "sesbolt_store_errors_total"); n != metrics.MaxOps {
		t.Errorf("store_errors_total has %d series, want at most %d", n, metrics.MaxOps)
	}
	if got := testutil.ToFloat64(collectOne(t, col, "sesbolt_store_errors_total", "other")); got != float64(3*metrics.MaxOps-(metrics.MaxOps-1)) {
		t.Errorf("store_errors_total{op=other} = %v", got)
	}
	if got := testutil.ToFloat64(collectOne(t, col, "sesbolt_cookies_rejected_total", "other")); got != 1 {
		t.Errorf("cookies_rejected_total{other} = %v, want 1", got)
	}
}

// TestOptionsBuckets: bucket lists out of order, with duplicates or NaNs
// mean their sorted distinct values (prometheus would panic on them), and
// an empty list means the default.
func TestOptionsBuckets(t *testing.T) {
	col := metrics.New(&metrics.Options{
		CommitBuckets: []float64{0.5, 0.1, math.NaN(), 0.5},
		BatchBuckets:  []float64{},
	})
	obs := col.StoreObserver()
	obs.Committed(session.Commit{Duration: 200 * time.Millisecond, Size: 3})
	want := map[string][]float64{
		"sesbolt_store_commit_duration_seconds": {0.1, 0.5},
		"sesbolt_store_commit_batch_size":       metrics.DefaultBatchBuckets,
	}
	for name, bounds := range want {
		h := histogram(t, col, name)
		var got []float64
		for _, b := range h.GetBucket() {
			got = append(got, b.GetUpperBound())
		}
		if !slices.Equal(got, bounds) {
			t.Errorf("%s buckets = %v, want %v", name, got, bounds)
		}
	}
}

// TestReapedNegative: a store that reports a pass removing a negative
// number of sessions (a bug of its own) neither panics the reporting
// goroutine nor moves the counter; the round still counts.
func TestReapedNegative(t *testing.T) {
	col := metrics.New(nil)
	col.StoreObserver().Reaped(session.ReapStats{At: time.Now(), Removed: -3, Duration: time.Millisecond})
	want := `
# HELP sesbolt_reaper_removed_total Expired sessions removed by the reaper and purges.
# TYPE sesbolt_reaper_removed_total counter
sesbolt_reaper_removed_total 0
`
	if err := testutil.CollectAndCompare(col, strings.NewReader(want), "sesbolt_reaper_removed_total"); err != nil {
		t.Error(err)
	}
	if n := histogram(t, col, "sesbolt_reaper_round_duration_seconds").GetSampleCount(); n != 1 {
		t.Errorf("reaper_round_duration_seconds counts %d rounds, want 1", n)
	}
}

// histogram returns the one series of histogram name.
func histogram(t *testing.T, col prometheus.Collector, name string) *dto.Histogram {
	t.Helper()
	ch := make(chan prometheus.Metric, 256)
	col.Collect(ch)
	close(ch)
	for m := range ch {
		if strings.Contains(m.Desc().String(), `"`+name+`"`) {
			var pb dto.Metric
			if err := m.Write(&pb); err != nil {
				t.Fatal(err)
			}
			return pb.GetHistogram()
		}
	}
	t.Fatalf("no series of %s", name)
	return nil
}

// collectOne returns the series of metric name whose one label has value.
func collectOne(t *testing.T, col prometheus.Collector, name, value string) prometheus.Collector {
	t.Helper()
	ch := make(chan prometheus.Metric, 256)
	col.Collect(ch)
	close(ch)
	for m := range ch {
		if !strings.Contains(m.Desc().String(), `"`+name+`"`) {
			continue
		}
		var pb dto.Metric
		if err := m.Write(&pb); err != nil {
			t.Fatal(err)
		}
		for _, l := range pb.GetLabel() {
			if l.GetValue() == value {
				return constCollector{m}
			}
		}
	}
	t.Fatalf("no series of %s with label value %q", name, value)
	return nil
}

// constCollector collects one metric.
type constCollector struct{ m prometheus.Metric }

func (c constCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.m.Desc() }
func (c constCollector) Collect(ch chan<- prometheus.Metric) { ch <- c.m }

// fakeStats is a StatsReporter with a settable answer. With release set,
// each call ignores its context and waits until release is closed, as a
// store stuck on a lock would.
type fakeStats struct {
	mu       sync.Mutex
	st       session.Stats
	release  chan struct{}
	calls    atomic.Int64
	deadline atomic.Bool // a call's context had a deadline
}

func (f *fakeStats) set(st session.Stats) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st = st
}

func (f *fakeStats) Stats(ctx context.Context, _ time.Time) (session.Stats, error) {
	f.calls.Add(1)
	if _, ok := ctx.Deadline(); ok {
		f.deadline.Store(true)
	}
	if f.release != nil {
		<-f.release
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st, nil
}

// TestHandler: the handler serves the collector and the Go runtime's
// metrics in the text format.
func TestHandler(t *testing.T) {
	a := newApp(t)
	a.do(t, "POST", "/login?user=alice", "")
	w := httptest.NewRecorder()
	a.col.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	body := w.Body.String()
	if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
		t.Fatalf("status %d, Content-Type %q", w.Code, w.Header().Get("Content-Type"))
	}
	for _, want := range []string{"\nsesbolt_logins_total 1\n", "\nsesbolt_sessions_live 1\n", "\ngo_goroutines "} {
		if !strings.Contains(body, want) {
			t.Errorf("the answer lacks %q:\n%s", want, body)
		}
	}
}
