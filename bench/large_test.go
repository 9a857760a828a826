package bench

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	scsbolt "github.com/alexedwards/scs/boltstore"
	scs "github.com/alexedwards/scs/v2"
	bolt "go.etcd.io/bbolt"

	"github.com/sesbolt/sesbolt/pkg/boltstore"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// readSample bounds the sessions a read benchmark cycles through: enough
// that their pages do not fit in the CPU caches.
const readSample = 100_000

// frozen returns a clock stopped at t.
func frozen(t time.Time) func() time.Time { return func() time.Time { return t } }

// openSesboltSet opens a sesbolt file with the reaper off and a manager
// whose clock is stopped at now (the files' sessions were last seen at
// their base time, so a running clock would soon make reads refresh them).
func openSesboltSet(tb testing.TB, path string, now time.Time) (*boltstore.Store, *session.Manager) {
	return openSesboltSetWith(tb, path, now, boltstore.Options{})
}

// openSesboltSetWith is openSesboltSet with options (Keys and ReapInterval
// are set here).
func openSesboltSetWith(tb testing.TB, path string, now time.Time, opts boltstore.Options) (*boltstore.Store, *session.Manager) {
	keys := benchKeys(tb)
	opts.Keys, opts.ReapInterval = keys, -1
	if opts.Logger == nil {
		// Through tb.Log: the store's warnings (slow reaper rounds) then
		// follow the result line instead of splitting it, which go test
		// prints in two parts around a benchmark's run.
		opts.Logger = slog.New(slog.NewTextHandler(tbWriter{tb}, nil))
	}
	store, err := boltstore.Open(path, &opts)
	if err != nil {
		tb.Fatal(err)
	}
	mgr, err := session.New(session.Config{Store: store, Keys: keys, Now: frozen(now)})
	if err != nil {
		tb.Fatal(err)
	}
	return store, mgr
}

// tbWriter writes each log line to tb.Log.
type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// sesboltCookies returns cookies of up to max sessions of set chosen by
// pick (session index → wanted), in a random order.
func sesboltCookies(mgr *session.Manager, set *sesboltSet, max int, pick func(i int) bool) []*http.Cookie {
	keys := mgr.Config().Keys
	var cookies []*http.Cookie
	for _, i := range rand.Perm(set.n) {
		if len(cookies) == max {
			break
		}
		if pick(i) {
			cookies = append(cookies, &http.Cookie{Name: mgr.CookieName(), Value: keys.SignCookie(mgr.CookieName(), set.ids[i])})
		}
	}
	return cookies
}

// scsSetCookies returns cookies of up to max sessions of set chosen by
// pick, in a random order.
func scsSetCookies(sm *scs.SessionManager, set *scsSet, max int, pick func(i int) bool) []*http.Cookie {
	var tokens []string
	for _, i := range rand.Perm(set.n) {
		if len(tokens) == max {
			break
		}
		if pick(i) {
			tokens = append(tokens, set.tokens[i])
		}
	}
	return scsCookies(sm, tokens)
}

func all(int) bool { return true }

// readers caches the read benchmarks' opened stores: they stay open across
// the runs of BenchmarkReadSize (-count), as in a server, so the timed reads
// find the sampled sessions' pages mapped (a warm-up pass reads each once)
// and measure the steady state, not first-touch page faults. The other
// large benchmarks close them first (closeReaders): bbolt locks its file.
var readers sync.Map // "store/n" → *reader

type reader struct {
	h     http.Handler
	rq    *requester
	close func()
}

// closeReaders closes the stores BenchmarkReadSize left open.
func closeReaders() {
	readers.Range(func(k, v any) bool {
		v.(*reader).close()
		readers.Delete(k)
		return true
	})
}

// cachedReader returns the reader for key, opening it with open (which
// registers its closing with atExit) on first use and warming it up.
func cachedReader(b *testing.B, key string, open func() *reader) *reader {
	if r, ok := readers.Load(key); ok {
		return r.(*reader)
	}
	r := open()
	for i := range len(r.rq.cookies) {
		if w := serve(r.h, r.rq.request(i)); w.status() != http.StatusOK {
			b.Fatalf("warm-up read: status %d: %s", w.status(), w.body)
		}
	}
	readers.Store(key, r)
	return r
}

// BenchmarkReadSize reads existing sessions through each bbolt-backed
// contender's middleware from files of 1k and 1M sessions, one goroutine,
// cycling through up to readSample sessions in a random order. sesbolt runs
// as it ships, and with its read cache off (sesbolt-nocache): the 1k
// sessions fit in the default cache, a sample of 100k from 1M mostly does
// not, so only the uncached store compares lookups in small and large trees.
func BenchmarkReadSize(b *testing.B) {
	for _, n := range []int{smallN(), bigN()} {
		for _, v := range []struct {
			store string
			opts  boltstore.Options
		}{{"sesbolt", boltstore.Options{}}, {"sesbolt-nocache", boltstore.Options{ReadCacheSize: -1}}} {
			b.Run(fmt.Sprintf("n=%s/store=%s", sizeName(n), v.store), func(b *testing.B) {
				r := cachedReader(b, v.store+"/"+sizeName(n), func() *reader {
					set := sesboltFile(b, n)
					path := set.path
					if v.store != "sesbolt" { // the file is held open by the other variant's reader
						dir := filepath.Join(processDir, v.store)
						if err := os.MkdirAll(dir, 0o700); err != nil {
							b.Fatal(err)
						}
						path = copyFile(b, set.path, dir)
					}
					store, mgr := openSesboltSetWith(b, path, set.base, v.opts)
					return &reader{sesboltHandlers(mgr)(caseRead), newRequester("/", sesboltCookies(mgr, set, readSample, all)), func() { store.Close() }}
				})
				runRequests(b, 1, r.h, r.rq, true)
			})
		}
		b.Run(fmt.Sprintf("n=%s/store=scs-bolt", sizeName(n)), func(b *testing.B) {
			r := cachedReader(b, "scs-bolt/"+sizeName(n), func() *reader {
				set := scsFile(b, n, 0)
				db, err := bolt.Open(set.path, 0o600, nil)
				if err != nil {
					b.Fatal(err)
				}
				sm := scs.New()
				sm.Store = scsbolt.NewWithCleanupInterval(db, 0) // no cleanup pass during the reads
				return &reader{scsHandlers(sm)(caseRead), newRequester("/", scsSetCookies(sm, set, readSample, all)), func() { db.Close() }}
			})
			runRequests(b, 1, r.h, r.rq, false)
		})
	}
}

// writer sends requests one after another in the background and records
// each one's latency: what a user feels while a cleanup runs.
type writer struct {
	strict   bool // fail on a non-200 answer (sesbolt), or count it (peers)
	stop     chan struct{}
	done     chan struct{}
	samples  []sample
	err      error
	failures int
}

type sample struct {
	start time.Time
	d     time.Duration
}

func startWriter(h http.Handler, rq *requester, strict bool) *writer {
	w := &writer{strict: strict, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for i := 0; ; i++ {
			select {
			case <-w.stop:
				return
			default:
			}
			t := time.Now()
			resp := serve(h, rq.request(i))
			w.samples = append(w.samples, sample{t, time.Since(t)})
			if resp.status() != http.StatusOK {
				w.failures++
				if w.err == nil {
					w.err = fmt.Errorf("writer: status %d: %s", resp.status(), resp.body)
				}
			}
		}
	}()
	return w
}

// finish stops the writer and returns the longest latency and the number
// of its requests that overlapped [from, to].
func (w *writer) finish(tb testing.TB, from, to time.Time) (longest time.Duration, n int) {
	close(w.stop)
	<-w.done
	if w.err != nil {
		if w.strict {
			tb.Fatal(w.err)
		}
		tb.Logf("%d of the writer's %d requests failed, the first with %v", w.failures, len(w.samples), w.err)
	}
	for _, s := range w.samples {
		if s.start.Before(to) && s.start.Add(s.d).After(from) {
			n++
			longest = max(longest, s.d)
		}
	}
	return longest, n
}

// cleanupResult accumulates the runs of one cleanup benchmark.
type cleanupResult struct {
	total, longest, step time.Duration
	writes, failures     int
	written              int64
}

func (r *cleanupResult) report(b *testing.B, withWriter bool) {
	b.ReportMetric(float64(r.total.Nanoseconds())/float64(b.N), "ns/op")
	if withWriter {
		b.ReportMetric(ms(r.longest), "max-write-ms")
		b.ReportMetric(float64(r.writes)/float64(b.N), "writes/op")
		if r.failures > 0 {
			b.ReportMetric(float64(r.failures), "failed-writes")
		}
	} else if r.written >= 0 {
		b.ReportMetric(float64(r.written)/1e6/float64(b.N), "written-MB")
	}
}

// sesboltCleanup measures Purge with 10% of n sessions expired, with or
// without a writer running (withWriter), and reports the reaper's own
// longest write transaction (Stats.LastReap.LongestStep) as reaper-tx-ms.
func sesboltCleanup(b *testing.B, n int, withWriter bool) {
	set := sesboltFile(b, n)
	at := set.base.Add(expiresA)
	var r cleanupResult
	for range b.N {
		b.StopTimer()
		dir := b.TempDir()
		store, mgr := openSesboltSet(b, copyFile(b, set.path, dir), at)
		var w *writer
		if withWriter {
			w = startWriter(sesboltHandlers(mgr)(caseSet), newRequester("/", sesboltCookies(mgr, set, 1000, func(i int) bool { return tranche(i) == 'C' })), true)
		}
		time.Sleep(scsTickInterval) // as long as scs waits for its first tick
		written := writtenBytes()
		b.StartTimer()
		start := time.Now()
		removed, err := store.Purge(context.Background(), at)
		end := time.Now()
		b.StopTimer()
		r.written += writtenBytes() - written
		if err != nil || removed != n/10 {
			b.Fatalf("purge removed %d, want %d: %v", removed, n/10, err)
		}
		if w != nil {
			l, k := w.finish(b, start, end)
			r.longest, r.writes = max(r.longest, l), r.writes+k
		}
		r.total += end.Sub(start)
		stats, err := store.Stats(context.Background(), at)
		if err != nil {
			b.Fatal(err)
		}
		r.step = max(r.step, stats.LastReap.LongestStep)
		store.Close()
		os.RemoveAll(dir)
	}
	r.report(b, withWriter)
	b.ReportMetric(ms(r.step), "reaper-tx-ms")
}

// scsCleanup measures scs's cleanup pass with 10% of n sessions expired,
// with or without a writer running.
func scsCleanup(b *testing.B, n int, withWriter bool) {
	set := scsFile(b, n, 10)
	var r cleanupResult
	for range b.N {
		b.StopTimer()
		dir := b.TempDir()
		db, err := bolt.Open(copyFile(b, set.path, dir), 0o600, nil)
		if err != nil {
			b.Fatal(err)
		}
		sm := scs.New()
		rq := newRequester("/", scsSetCookies(sm, set, 1000, func(i int) bool { return tranche(i) == 'C' }))
		written := writtenBytes()
		b.StartTimer()
		store := scsbolt.NewWithCleanupInterval(db, scsTickInterval)
		start := time.Now().Add(scsTickInterval)
		sm.Store = store
		var w *writer
		if withWriter {
			w = startWriter(scsHandlers(sm)(caseSet), rq, false)
		}
		end := scsWaitGone(b, db, set.tokens[0], 5*time.Minute) // session 0 is in tranche A
		b.StopTimer()
		r.written += writtenBytes() - written
		if w != nil {
			l, k := w.finish(b, start, end)
			r.longest, r.writes, r.failures = max(r.longest, l), r.writes+k, r.failures+w.failures
		}
		r.total += end.Sub(start)
		store.StopCleanup()
		db.Close()
		os.RemoveAll(dir)
	}
	r.report(b, withWriter)
}

// scsTickInterval is the cleanup interval given to scs's store in the
// cleanup benchmarks: its first pass starts this long after the store is
// made (scs does not export the pass itself).
const scsTickInterval = 20 * time.Millisecond

// scsWaitGone polls until token is no longer stored (the cleanup's delete
// transaction committed) and returns when it saw that.
func scsWaitGone(tb testing.TB, db *bolt.DB, token string, deadline time.Duration) time.Time {
	limit := time.Now().Add(deadline)
	for {
		var present bool
		db.View(func(tx *bolt.Tx) error {
			present = tx.Bucket([]byte(scsBucket)).Get([]byte(token)) != nil
			return nil
		})
		now := time.Now()
		if !present {
			return now
		}
		if now.After(limit) {
			tb.Fatalf("scs cleanup did not remove an expired session within %v", deadline)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// scsWaitScan polls the database statistics until a read transaction
// started after the first had been seen and closed (a cleanup pass that
// deletes nothing only reads), and returns when it saw that.
func scsWaitScan(tb testing.TB, db *bolt.DB, before int, deadline time.Duration) time.Time {
	limit := time.Now().Add(deadline)
	for {
		st := db.Stats()
		now := time.Now()
		if st.TxN >= before+2 || (st.TxN > before && st.OpenTxN == 0) {
			return now
		}
		if now.After(limit) {
			tb.Fatalf("scs cleanup pass did not finish within %v", deadline)
		}
		time.Sleep(50 * time.Microsecond)
	}
}

// BenchmarkCleanup measures one expiry pass: sesbolt's Purge (its reaper's
// pass) against scs's bbolt cleanup goroutine, on copies of the large
// files; expired=10pct runs it while a writer sets one key of live sessions
// through the middleware and records its longest wait (max-write-ms),
// expired=10pct-idle with nothing else writing (written-MB: the bytes
// written during the pass). ns/op is the pass's wall time.
func BenchmarkCleanup(b *testing.B) {
	closeReaders()
	for _, n := range []int{midN(), bigN()} {
		for _, withWriter := range []bool{true, false} {
			expired := "10pct"
			if !withWriter {
				expired = "10pct-idle"
			}
			b.Run(fmt.Sprintf("expired=%s/n=%s/store=sesbolt", expired, sizeName(n)), func(b *testing.B) {
				sesboltCleanup(b, n, withWriter)
			})
			b.Run(fmt.Sprintf("expired=%s/n=%s/store=scs-bolt", expired, sizeName(n)), func(b *testing.B) {
				scsCleanup(b, n, withWriter)
			})
		}
	}
	n := bigN()
	b.Run(fmt.Sprintf("expired=none/n=%s/store=sesbolt", sizeName(n)), func(b *testing.B) {
		set := sesboltFile(b, n)
		store, _ := openSesboltSet(b, set.path, set.base)
		defer store.Close()
		ctx := context.Background()
		b.ResetTimer()
		for range b.N {
			if removed, err := store.Purge(ctx, set.base); err != nil || removed != 0 {
				b.Fatalf("purge removed %d: %v", removed, err)
			}
		}
	})
	b.Run(fmt.Sprintf("expired=none/n=%s/store=scs-bolt", sizeName(n)), func(b *testing.B) {
		set := scsFile(b, n, 0) // nothing expires for a day: the pass deletes nothing
		db, err := bolt.Open(set.path, 0o600, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		var total time.Duration
		b.ResetTimer()
		for range b.N {
			before := db.Stats().TxN
			store := scsbolt.NewWithCleanupInterval(db, scsTickInterval)
			start := time.Now().Add(scsTickInterval)
			end := scsWaitScan(b, db, before, 5*time.Minute)
			total += end.Sub(start)
			b.StopTimer()
			store.StopCleanup()
			b.StartTimer()
		}
		b.ReportMetric(float64(total.Nanoseconds())/float64(b.N), "ns/op")
	})
}

// footprintN is the number of sessions created through the middleware for
// the bytes-per-session figures.
func footprintN() int {
	if testing.Short() {
		return 500
	}
	return 5_000
}

// footprints holds the metrics of each footprint benchmark, measured on
// its first run in the process: they are sizes, not timings, and the 1M
// ones take a while. Later runs (-count) report the same figures.
var footprints sync.Map // benchmark name → []metric

type metric struct {
	v    float64
	unit string
}

// measureOnce reports measure's metrics, running it only on b's first run.
func measureOnce(b *testing.B, measure func(report func(v float64, unit string))) {
	var ms []metric
	if got, ok := footprints.Load(b.Name()); ok {
		ms = got.([]metric)
	} else {
		measure(func(v float64, unit string) { ms = append(ms, metric{v, unit}) })
		footprints.Store(b.Name(), ms)
	}
	for _, m := range ms {
		b.ReportMetric(m.v, m.unit)
	}
}

// createTypical creates footprintN typical sessions through h (64
// goroutines) and returns the last response's session cookie length.
func createTypical(b *testing.B, h http.Handler) (cookieLen int) {
	rq := newRequester("/", nil)
	var mu sync.Mutex
	runN(footprintN(), 64, func(i int) {
		w := serve(h, rq.request(i))
		if w.status() != http.StatusOK {
			panic(fmt.Sprintf("typical session: status %d: %s", w.status(), w.body))
		}
		if cs := (&http.Response{Header: w.h}).Cookies(); len(cs) > 0 {
			mu.Lock()
			cookieLen = max(cookieLen, len(cs[0].Value))
			mu.Unlock()
		}
	})
	return cookieLen
}

// BenchmarkFootprint reports sizes, once per process:
//   - file-B/session and used-B/session: bytes of file and of pages in use
//     per session after footprintN typical sessions were created through
//     the middleware (gorilla-fs: disk blocks and bytes of its files);
//   - cookie-B: the session cookie's length;
//   - for the bbolt stores, the 1M bulk-built file per session, its size
//     after 90% of its sessions expired and were purged, and after
//     bbolt.Compact into a new file.
func BenchmarkFootprint(b *testing.B) {
	closeReaders()
	b.Run("store=sesbolt", func(b *testing.B) {
		measureOnce(b, func(report func(float64, string)) {
			dir := b.TempDir()
			keys := benchKeys(b)
			store, err := boltstore.Open(filepath.Join(dir, "sessions.db"), &boltstore.Options{Keys: keys})
			if err != nil {
				b.Fatal(err)
			}
			mgr, err := session.New(session.Config{Store: store, Keys: keys})
			if err != nil {
				b.Fatal(err)
			}
			cookieLen := createTypical(b, sesboltHandlers(mgr)(caseTypical))
			store.Close()
			size, used := boltUsage(b, filepath.Join(dir, "sessions.db"))
			report(float64(size)/float64(footprintN()), "file-B/session")
			report(float64(used)/float64(footprintN()), "used-B/session")
			report(float64(cookieLen), "cookie-B")

			set := sesboltFile(b, bigN())
			size, used = boltUsage(b, set.path)
			report(float64(size)/float64(set.n), "bulk-file-B/session")
			report(float64(used)/float64(set.n), "bulk-used-B/session")
			report(float64(size)/1e6, "bulk-MB")
			report(set.took.Seconds(), "build-s")
			dir = b.TempDir()
			s, _ := openSesboltSet(b, copyFile(b, set.path, dir), set.base.Add(expiresB))
			start := time.Now()
			removed, err := s.Purge(context.Background(), set.base.Add(expiresB))
			took := time.Since(start)
			if err != nil || removed != set.n*9/10 {
				b.Fatalf("purge removed %d, want %d: %v", removed, set.n*9/10, err)
			}
			s.Close()
			report(took.Seconds(), "purge90-s")
			footprintAfter(b, report, filepath.Join(dir, filepath.Base(set.path)), dir)
		})
	})
	b.Run("store=scs-bolt", func(b *testing.B) {
		measureOnce(b, func(report func(float64, string)) {
			dir := b.TempDir()
			db, err := bolt.Open(filepath.Join(dir, "scs.db"), 0o600, nil)
			if err != nil {
				b.Fatal(err)
			}
			sm := scs.New()
			store := scsbolt.New(db)
			sm.Store = store
			cookieLen := createTypical(b, scsHandlers(sm)(caseTypical))
			store.StopCleanup()
			db.Close()
			size, used := boltUsage(b, filepath.Join(dir, "scs.db"))
			report(float64(size)/float64(footprintN()), "file-B/session")
			report(float64(used)/float64(footprintN()), "used-B/session")
			report(float64(cookieLen), "cookie-B")

			full := scsFile(b, bigN(), 0)
			size, used = boltUsage(b, full.path)
			report(float64(size)/float64(full.n), "bulk-file-B/session")
			report(float64(used)/float64(full.n), "bulk-used-B/session")
			report(float64(size)/1e6, "bulk-MB")
			report(full.took.Seconds(), "build-s")
			set := scsFile(b, bigN(), 90)
			dir = b.TempDir()
			path := copyFile(b, set.path, dir)
			db, err = bolt.Open(path, 0o600, nil)
			if err != nil {
				b.Fatal(err)
			}
			store = scsbolt.NewWithCleanupInterval(db, scsTickInterval)
			start := time.Now().Add(scsTickInterval)
			end := scsWaitGone(b, db, set.tokens[0], 10*time.Minute)
			store.StopCleanup()
			db.Close()
			report(end.Sub(start).Seconds(), "purge90-s")
			footprintAfter(b, report, path, dir)
		})
	})
	b.Run("store=gorilla-fs", func(b *testing.B) {
		measureOnce(b, func(report func(float64, string)) {
			dir := b.TempDir()
			cookieLen := createTypical(b, openGorillaFS(b, dir, 0).handler(caseTypical))
			var size, blocks int64
			entries, err := os.ReadDir(dir)
			if err != nil {
				b.Fatal(err)
			}
			for _, e := range entries {
				fi, err := e.Info()
				if err != nil {
					b.Fatal(err)
				}
				size += fi.Size()
				blocks += diskBytes(fi)
			}
			report(float64(blocks)/float64(footprintN()), "file-B/session")
			report(float64(size)/float64(footprintN()), "used-B/session")
			report(float64(cookieLen), "cookie-B")
		})
	})
	b.Run("store=gorilla-cookie", func(b *testing.B) {
		measureOnce(b, func(report func(float64, string)) {
			cookieLen := createTypical(b, openGorillaCookie(b, "", 0).handler(caseTypical))
			report(0, "file-B/session")
			report(float64(cookieLen), "cookie-B")
		})
	})
}

// footprintAfter reports the size of the purged file at path and of its
// compacted copy.
func footprintAfter(b *testing.B, report func(float64, string), path, dir string) {
	size, used := boltUsage(b, path)
	report(float64(size)/1e6, "purged-MB")
	report(float64(used)/1e6, "purged-used-MB")
	start := time.Now()
	c := compact(b, path, dir)
	report(time.Since(start).Seconds(), "compact-s")
	report(float64(fileSize(b, c))/1e6, "compacted-MB")
}
