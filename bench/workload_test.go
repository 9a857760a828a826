package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/internal/redistest"
)

// The workload: every contender stores the same typical session, a user
// id, a CSRF token, a flash message and a small cart (about 200 bytes of
// values), and runs the same handlers.

const (
	typicalFlash = "Your changes were saved."
	typicalCart  = `[{"sku":"A-1001","qty":2},{"sku":"B-2002","qty":1}]`
	typicalUA    = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
	typicalIP    = "192.0.2.10"
)

// typicalUser is the user of the i-th seeded session: three sessions per
// user.
func typicalUser(i int) string { return fmt.Sprintf("user%07d", i/3) }

// typicalCSRF is the i-th session's CSRF token: 48 hex digits.
func typicalCSRF(i int) string {
	x := uint64(i)*0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019
	return fmt.Sprintf("%016x%016x%016x", x, x*31, x*131)
}

// caseKind is one request handler of the workload.
type caseKind int

const (
	// caseRead reads the user and the CSRF token of an existing session
	// and changes nothing.
	caseRead caseKind = iota
	// caseSet sets one key ("n", an integer) of an existing session.
	caseSet
	// caseNew creates a new session (the request has no cookie) holding
	// one key ("theme").
	caseNew
	// caseGet writes the value of key ?k= (tests only).
	caseGet
	// caseTypical creates a new session as a login does, with the typical
	// data (the footprint benchmark).
	caseTypical
)

var caseNames = map[caseKind]string{caseRead: "read", caseSet: "set", caseNew: "new", caseGet: "get", caseTypical: "typical"}

func (k caseKind) String() string { return caseNames[k] }

// counter gives caseSet a different value on every request.
var counter atomic.Int64

// sink is a ResponseWriter with no cost of its own beyond the header map.
type sink struct {
	h    http.Header
	code int
	body []byte
}

func (w *sink) Header() http.Header { return w.h }
func (w *sink) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}
func (w *sink) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	if len(w.body) < 256 {
		w.body = append(w.body, b...)
	}
	return len(b), nil
}

func (w *sink) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

// requester makes a request per call: a shallow copy of one base request
// with its own Cookie header, so no handler sees another request's state
// (gorilla's registry, for one, is stored into the request).
type requester struct {
	base    *http.Request
	cookies []string // Cookie header values; empty: no cookie
}

func newRequester(target string, cookies []*http.Cookie) *requester {
	rq := &requester{base: httptest.NewRequest(http.MethodGet, target, nil)}
	rq.base.RemoteAddr = typicalIP + ":41234"
	rq.base.Header.Set("User-Agent", typicalUA)
	for _, c := range cookies {
		rq.cookies = append(rq.cookies, c.Name+"="+c.Value)
	}
	return rq
}

// request returns the i-th request (cookie i modulo their number).
func (rq *requester) request(i int) *http.Request {
	r := rq.base.WithContext(context.Background())
	h := make(http.Header, 2)
	h["User-Agent"] = rq.base.Header["User-Agent"]
	if len(rq.cookies) > 0 {
		h["Cookie"] = []string{rq.cookies[i%len(rq.cookies)]}
	}
	r.Header = h
	return r
}

// serve runs one request and returns the response.
func serve(h http.Handler, r *http.Request) *sink {
	w := &sink{h: make(http.Header, 4)}
	h.ServeHTTP(w, r)
	return w
}

// runRequests runs b.N requests through h from g goroutines (the timer
// measures the wall time: ns/op is the time per request of the whole
// group). A non-200 answer fails the benchmark when strict (sesbolt and the
// bare handler); a peer's failures are counted and reported as failed/op
// instead, since they are the peer's behaviour under this load.
func runRequests(b *testing.B, g int, h http.Handler, rq *requester, strict bool) {
	var failed atomic.Value
	var failures atomic.Int64
	do := func(i int) {
		if w := serve(h, rq.request(i)); w.status() != http.StatusOK {
			failures.Add(1)
			failed.CompareAndSwap(nil, fmt.Sprintf("status %d: %s", w.status(), w.body))
		}
	}
	b.ReportAllocs()
	before := writtenBytes()
	b.ResetTimer()
	runN(b.N, g, do)
	b.StopTimer()
	if f := failed.Load(); f != nil {
		if strict {
			b.Fatal(f)
		}
		b.Logf("%d of %d requests failed, the first with %s", failures.Load(), b.N, f)
		b.ReportMetric(float64(failures.Load())/float64(b.N), "failed/op")
	}
	if after := writtenBytes(); before >= 0 && after >= 0 {
		// Bytes the process wrote to files (pages, not counting fsyncs).
		b.ReportMetric(float64(after-before)/float64(b.N), "wB/op")
	}
}

// runN calls fn(i) for i in [0, n) from g goroutines.
func runN(n, g int, fn func(i int)) {
	if g <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range g {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				fn(int(i))
			}
		})
	}
	wg.Wait()
}

// Sizes of the large cases. SIDEBYSIDE_N sets the "1M" size (the published
// run uses 1,000,000); -short shrinks every large case.
func bigN() int {
	if testing.Short() {
		return 4000
	}
	if v := os.Getenv("SIDEBYSIDE_N"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 1000 {
			return n
		}
	}
	return 1_000_000
}

func midN() int   { return bigN() / 10 }
func smallN() int { return 1000 }

// sizeName names a size in benchmark names: 1k, 100k, 1M, or the number.
func sizeName(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return strconv.Itoa(n/1_000_000) + "M"
	case n >= 1000 && n%1000 == 0:
		return strconv.Itoa(n/1000) + "k"
	}
	return strconv.Itoa(n)
}

// processDir is a directory for files shared by the benchmarks of one
// process (the large datasets), removed by TestMain when the process exits.
var processDir string

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "sesbolt-sidebyside-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	processDir = d
	code := redistest.Main(m) // runs the tests, then stops the shared redis-server
	closeReaders()
	os.RemoveAll(d)
	os.Exit(code)
}

// ms is a duration in milliseconds, for metrics.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
