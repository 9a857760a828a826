// Package metrics turns sesbolt's events and a store's Stats into
// Prometheus metrics. It is the only package of sesbolt that imports
// github.com/prometheus/client_golang: the core packages report through
// the small observer seams of package session (session.Observer for the
// Manager, session.StoreObserver for stores) and know no metrics library.
//
// A Collector counts what the seams report and reads the store's Stats
// when scraped:
//
//	col := metrics.New(nil)
//	store, err := boltstore.Open("sessions.db", &boltstore.Options{Keys: keys, Observer: col.StoreObserver()})
//	...
//	col.SetStats(store) // sesbolt_sessions_live and friends, read at scrape time
//	mgr, err := session.New(session.Config{Store: store, Keys: keys, Observer: col.Observer()})
//	...
//	http.Handle("GET /metrics", col.Handler()) // or register col in a registry of your own
//
// An application that also wants its own hook (say, an audit log of ended
// sessions) joins it with the collector's: session.JoinStoreObservers(
// col.StoreObserver(), session.StoreObserver{Ended: audit}).
//
// docs/metrics.md lists every metric with its labels and a sample query.
// Labels carry only values from fixed sets (reasons, operation names),
// never session ids, users or anything a client sends.
//
// # Caveats
//
//   - Counters start at zero when the Collector is made; Prometheus's
//     rate() and increase() handle the reset a restart causes.
//   - The Stats gauges cost one Stats call per scrape (boltstore: a walk
//     of the expired part of the expiry index; memstore: a scan). A
//     scrape waits for it at most Options.StatsTimeout, also when the
//     store does not honour the call's context, and scrapes that come
//     while a call lasts share it; when it fails or times out the gauges
//     are left out of that scrape and sesbolt_store_stats_up is 0.
//   - A store reports operation names of its own in store_errors_total's
//     op label; the Collector keeps at most MaxOps distinct names and
//     counts any further one as "other", so a misbehaving store cannot
//     grow the label set without bound.
package metrics
