package metrics_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sesbolt/sesbolt/pkg/memstore"
	"github.com/sesbolt/sesbolt/pkg/metrics"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// The wiring of an application: the store reports to the collector, the
// collector reads the store's Stats, the manager reports to the
// collector, and /metrics serves a registry holding it.
func Example() {
	col := metrics.New(nil)
	store := memstore.New(&memstore.Options{Observer: col.StoreObserver()})
	defer store.Close()
	col.SetStats(store)
	keys, _ := session.NewKeyring(key)
	mgr, err := session.New(session.Config{Store: store, Keys: keys, Observer: col.Observer()})
	if err != nil {
		panic(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(col)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))

	// A login, then a logout everywhere.
	r := httptest.NewRequest("POST", "/login", nil)
	s, _ := mgr.Load(r)
	s.Login("alice")
	mgr.Save(r.Context(), http.Header{}, s)
	mgr.DestroyUser(context.Background(), "alice")

	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	sc := bufio.NewScanner(w.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "sesbolt_sessions_") || strings.HasPrefix(line, "sesbolt_logins") {
			fmt.Println(line)
		}
	}
	// Output:
	// sesbolt_logins_total 1
	// sesbolt_sessions_created_total 1
	// sesbolt_sessions_ended_total{reason="expired"} 0
	// sesbolt_sessions_ended_total{reason="limit"} 0
	// sesbolt_sessions_ended_total{reason="logout"} 0
	// sesbolt_sessions_ended_total{reason="logout_everywhere"} 1
	// sesbolt_sessions_ended_total{reason="logout_others"} 0
	// sesbolt_sessions_ended_total{reason="other"} 0
	// sesbolt_sessions_ended_total{reason="revoked"} 0
	// sesbolt_sessions_expired 0
	// sesbolt_sessions_live 0
	// sesbolt_sessions_renewed_total 0
}
