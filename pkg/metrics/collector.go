package metrics

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// namespace prefixes every metric name.
const namespace = "sesbolt"

// Defaults applied by New to zero Options fields.
const (
	// DefaultStatsTimeout bounds one Stats call at scrape time.
	DefaultStatsTimeout = 2 * time.Second
	// MaxOps bounds the distinct values of store_errors_total's op label.
	MaxOps = 32
)

// Default histogram buckets, in the unit of each metric.
var (
	// DefaultCommitBuckets (seconds) span a cached write (100 µs) to a
	// stalled disk (10 s); a bbolt commit is two fsyncs.
	DefaultCommitBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
	// DefaultBatchBuckets count the operations of one commit, up to
	// boltstore's group limit of 256.
	DefaultBatchBuckets = []float64{1, 2, 4, 8, 16, 32, 64, 128, 256}
	// DefaultReapBuckets (seconds) span an empty pass to one that removes
	// millions of sessions.
	DefaultReapBuckets = []float64{0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300}
)

// Options configure New. The zero value (or nil) means the defaults.
//
// The bucket lists are upper bounds, as in prometheus.HistogramOpts; New
// uses a sorted copy without duplicates and NaNs, so a list out of order
// means the same buckets (prometheus.NewHistogram would panic on it).
type Options struct {
	// StatsTimeout bounds how long a scrape waits for the store's Stats.
	// Zero or negative means DefaultStatsTimeout.
	StatsTimeout time.Duration
	// CommitBuckets are the buckets of store_commit_duration_seconds.
	// Nil or empty means DefaultCommitBuckets.
	CommitBuckets []float64
	// BatchBuckets are the buckets of store_commit_batch_size. Nil or
	// empty means DefaultBatchBuckets.
	BatchBuckets []float64
	// ReapBuckets are the buckets of reaper_round_duration_seconds. Nil
	// or empty means DefaultReapBuckets.
	ReapBuckets []float64
}

// Collector is a prometheus.Collector of sesbolt's metrics (see
// docs/metrics.md). Feed it through Observer and StoreObserver, point it
// at a store's Stats with SetStats, and register it. It is safe for
// concurrent use.
type Collector struct {
	timeout time.Duration

	created, loggedIn, renewed, dropped, late prometheus.Counter
	ended                                     *prometheus.CounterVec
	endedBy                                   map[session.EndReason]prometheus.Counter
	rejected                                  *prometheus.CounterVec
	rejectedBy                                map[session.CookieReason]prometheus.Counter
	commitDuration, commitSize                prometheus.Histogram
	reaped                                    prometheus.Counter
	reapDuration                              prometheus.Histogram
	lastReap                                  atomic.Int64 // unix nanoseconds of the latest round; 0 before one
	sealFailures                              prometheus.Counter
	storeErrors                               *prometheus.CounterVec

	opsMu sync.Mutex
	ops   map[string]prometheus.Counter // store_errors_total by op, at most MaxOps

	stats     atomic.Pointer[statsSource]
	statsMu   sync.Mutex
	statsCall *statsCall // the Stats call in flight, shared by concurrent scrapes

	liveDesc, expiredDesc, usersDesc, sizeDesc, freeDesc, upDesc, lastReapDesc *prometheus.Desc
}

// statsSource wraps the StatsReporter SetStats was given.
type statsSource struct{ r session.StatsReporter }

// statsCall is one Stats call of src and, once done is closed, its result.
type statsCall struct {
	src  *statsSource
	done chan struct{}
	st   session.Stats
	err  error
}

// New returns a Collector with every counter at zero. opts may be nil
// (see Options for the defaults).
func New(opts *Options) *Collector {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.StatsTimeout <= 0 {
		o.StatsTimeout = DefaultStatsTimeout
	}
	o.CommitBuckets = buckets(o.CommitBuckets, DefaultCommitBuckets)
	o.BatchBuckets = buckets(o.BatchBuckets, DefaultBatchBuckets)
	o.ReapBuckets = buckets(o.ReapBuckets, DefaultReapBuckets)
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help})
	}
	histogram := func(name, help string, buckets []float64) prometheus.Histogram {
		return prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Name: name, Help: help, Buckets: buckets})
	}
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, nil, nil)
	}
	c := &Collector{
		timeout:  o.StatsTimeout,
		created:  counter("sessions_created_total", "Sessions created: a new session's first change stored."),
		loggedIn: counter("logins_total", "Logins stored (Session.Login), each giving its session a new id."),
		renewed:  counter("sessions_renewed_total", "Session ids renewed without a login (Session.Renew)."),
		dropped: counter("session_changes_dropped_total",
			"Changes dropped because their session ended or was renewed by another request before this one saved."),
		late: counter("session_late_changes_total",
			"Calls that tried to change a session after its response had started (a handler bug)."),
		ended: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "sessions_ended_total",
			Help: "Sessions ended, by reason: logout, logout_everywhere, logout_others, limit, expired, revoked, other."},
			[]string{"reason"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "cookies_rejected_total",
			Help: "Session cookies that led to no session, by reason: oversized, malformed, bad_signature, unknown_id, renewed."},
			[]string{"reason"}),
		commitDuration: histogram("store_commit_duration_seconds",
			"Duration of the store's write commits (bbolt: one group commit, fsyncs included).", o.CommitBuckets),
		commitSize: histogram("store_commit_batch_size",
			"Operations (changes, deletes, imports) carried by one write commit.", o.BatchBuckets),
		reaped: counter("reaper_removed_total", "Expired sessions removed by the reaper and purges."),
		reapDuration: histogram("reaper_round_duration_seconds",
			"Duration of one expiry round: a pass of the reaper or a purge.", o.ReapBuckets),
		sealFailures: counter("seal_failures_total", "Stored records that failed their integrity check (each counted once)."),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "store_errors_total",
			Help: "System errors of the store (I/O, a damaged file, the network), by operation."}, []string{"op"}),
		ops: make(map[string]prometheus.Counter),

		liveDesc:    desc("sessions_live", "Sessions live now (from the store's Stats at scrape time)."),
		expiredDesc: desc("sessions_expired", "Expired sessions still stored, waiting for the reaper (from Stats)."),
		usersDesc:   desc("users", "Distinct users with at least one stored session (from Stats)."),
		sizeDesc:    desc("store_size_bytes", "Size of the store's storage, the database file (from Stats; left out when unknown)."),
		freeDesc:    desc("store_free_bytes", "Allocated but unused storage, what a compaction would give back (from Stats; left out when unknown)."),
		upDesc:      desc("store_stats_up", "1 when this scrape read the store's Stats, 0 when that failed or timed out."),
		lastReapDesc: desc("reaper_last_round_timestamp_seconds",
			"When the latest expiry round started, in seconds since the Unix epoch (left out before the first)."),
	}
	c.endedBy = make(map[session.EndReason]prometheus.Counter)
	for _, r := range session.EndReasons() {
		c.endedBy[r] = c.ended.WithLabelValues(string(r)) // every reason shows, from 0
	}
	c.rejectedBy = make(map[session.CookieReason]prometheus.Counter)
	for _, r := range session.CookieReasons() {
		c.rejectedBy[r] = c.rejected.WithLabelValues(string(r))
	}
	return c
}

// Observer returns the session.Observer that feeds the Manager's events
// into c (session.Config.Observer).
func (c *Collector) Observer() session.Observer {
	return session.Observer{
		Created:  func(context.Context, *session.Record) { c.created.Inc() },
		LoggedIn: func(context.Context, *session.Record) { c.loggedIn.Inc() },
		Renewed:  func(context.Context, *session.Record) { c.renewed.Inc() },
		CookieRejected: func(_ context.Context, reason session.CookieReason) {
			if n, ok := c.rejectedBy[reason]; ok {
				n.Inc()
				return
			}
			c.rejected.WithLabelValues("other").Inc() // a reason this version does not know
		},
		Dropped:    func(context.Context) { c.dropped.Inc() },
		LateChange: func(context.Context, string) { c.late.Inc() },
	}
}

// StoreObserver returns the session.StoreObserver that feeds a store's
// events into c (boltstore.Options.Observer, memstore.Options.Observer).
func (c *Collector) StoreObserver() session.StoreObserver {
	return session.StoreObserver{
		Ended: func(_ context.Context, e session.Ended) {
			n, ok := c.endedBy[e.Reason]
			if !ok {
				n = c.endedBy[session.EndOther] // a reason of the caller's own: not a label value
			}
			n.Inc()
		},
		Committed: func(cm session.Commit) {
			c.commitDuration.Observe(cm.Duration.Seconds())
			c.commitSize.Observe(float64(cm.Size))
		},
		Reaped: func(r session.ReapStats) {
			if r.Removed > 0 { // a counter panics when it would go down
				c.reaped.Add(float64(r.Removed))
			}
			c.reapDuration.Observe(r.Duration.Seconds())
			c.lastReap.Store(r.At.UnixNano())
		},
		SealFailed: func(session.ID) { c.sealFailures.Inc() },
		Failed:     func(op string, _ error) { c.opErrors(op).Inc() },
	}
}

// buckets returns a sorted copy of b, or of def when b is empty, without
// duplicates and NaNs.
func buckets(b, def []float64) []float64 {
	if len(b) == 0 {
		b = def
	}
	b = slices.DeleteFunc(slices.Clone(b), math.IsNaN)
	slices.Sort(b)
	return slices.Compact(b)
}

// opErrors returns the store_errors_total counter of op, or of "other"
// once MaxOps names are in use.
func (c *Collector) opErrors(op string) prometheus.Counter {
	c.opsMu.Lock()
	defer c.opsMu.Unlock()
	if n, ok := c.ops[op]; ok {
		return n
	}
	if len(c.ops) >= MaxOps-1 || op == "" { // one left for "other"
		op = "other"
		if n, ok := c.ops[op]; ok {
			return n
		}
	}
	n := c.storeErrors.WithLabelValues(op)
	c.ops[op] = n
	return n
}

// SetStats makes c read r's Stats at every scrape for the gauges
// sessions_live, sessions_expired, users, store_size_bytes and
// store_free_bytes. Until it is called, or after SetStats(nil), those
// gauges and store_stats_up are left out. It is separate from New because
// the store needs c's StoreObserver before it exists.
func (c *Collector) SetStats(r session.StatsReporter) {
	if r == nil {
		c.stats.Store(nil)
		return
	}
	c.stats.Store(&statsSource{r})
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range c.collectors() {
		m.Describe(ch)
	}
	for _, d := range []*prometheus.Desc{c.liveDesc, c.expiredDesc, c.usersDesc, c.sizeDesc, c.freeDesc, c.upDesc, c.lastReapDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: the counters and histograms,
// then the gauges from one Stats call (bounded by Options.StatsTimeout).
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, m := range c.collectors() {
		m.Collect(ch)
	}
	if at := c.lastReap.Load(); at != 0 {
		ch <- prometheus.MustNewConstMetric(c.lastReapDesc, prometheus.GaugeValue, float64(at)/1e9)
	}
	src := c.stats.Load()
	if src == nil {
		return
	}
	st, err := c.readStats(src)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.upDesc, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.upDesc, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(c.liveDesc, prometheus.GaugeValue, float64(st.Live))
	ch <- prometheus.MustNewConstMetric(c.expiredDesc, prometheus.GaugeValue, float64(st.Expired))
	ch <- prometheus.MustNewConstMetric(c.usersDesc, prometheus.GaugeValue, float64(st.Users))
	if st.SizeBytes > 0 {
		ch <- prometheus.MustNewConstMetric(c.sizeDesc, prometheus.GaugeValue, float64(st.SizeBytes))
		ch <- prometheus.MustNewConstMetric(c.freeDesc, prometheus.GaugeValue, float64(st.FreeBytes))
	}
}

// Handler returns an http.Handler that serves c, with the Go runtime's and
// the process's metrics, in the Prometheus text format (for GET /metrics),
// from a registry of its own. An application that has a registry already
// registers c there instead. A failure to collect answers 500.
func (c *Collector) Handler() http.Handler {
	reg := prometheus.NewRegistry()
	// None of these can collide: c's names all start with sesbolt_.
	reg.MustRegister(c, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// collectors are c's own metrics.
func (c *Collector) collectors() []prometheus.Collector {
	return []prometheus.Collector{c.created, c.loggedIn, c.renewed, c.dropped, c.late, c.ended, c.rejected,
		c.commitDuration, c.commitSize, c.reaped, c.reapDuration, c.sealFailures, c.storeErrors}
}

// readStats returns src's Stats, waiting at most c.timeout. A scrape that
// finds a call of src in flight joins it rather than start another, so
// concurrent scrapes, and scrapes while a slow call lasts, cost one call.
// The call runs on a goroutine of its own with a context that ends after
// c.timeout: a store that does not honour its context delays no scrape
// past the timeout (the call then ends whenever the store returns).
func (c *Collector) readStats(src *statsSource) (session.Stats, error) {
	c.statsMu.Lock()
	call := c.statsCall
	if call == nil || call.src != src {
		call = &statsCall{src: src, done: make(chan struct{})}
		c.statsCall = call
		go c.callStats(call)
	}
	c.statsMu.Unlock()

	timer := time.NewTimer(c.timeout)
	defer timer.Stop()
	select {
	case <-call.done:
		return call.st, call.err
	case <-timer.C:
		return session.Stats{}, fmt.Errorf("metrics: the store's Stats took longer than %v", c.timeout)
	}
}

// callStats makes call and publishes its result.
func (c *Collector) callStats(call *statsCall) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	call.st, call.err = call.src.r.Stats(ctx, time.Now())
	c.statsMu.Lock()
	if c.statsCall == call { // not replaced by a call of a later SetStats
		c.statsCall = nil
	}
	c.statsMu.Unlock()
	close(call.done)
}

var _ prometheus.Collector = (*Collector)(nil)
