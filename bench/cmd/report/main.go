// Command report turns the output of the side-by-side benchmarks (go test
// -bench in bench/, with -count ≥ 5) into the "## Side by side" section of
// BENCHMARKS.md: medians and min–max of each contender, sesbolt's ratio
// against each peer, the targets met and missed, and where sesbolt loses.
// scripts/bench.sh runs it.
//
//	go run ./cmd/report -in results.txt -out ../BENCHMARKS.md -kernel "$(uname -r)" ...
//
// The section replaces the existing one (from its heading to the next "## "
// heading), or is appended when there is none; the rest of the file is
// left as it is.
package main

import (
	"bufio"
	_ "embed"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
)

//go:embed notes.md
var notes string

// heading is the section this command owns in BENCHMARKS.md.
const heading = "## Side by side"

func main() {
	var m meta
	in := flag.String("in", "", "go test -bench output to read (default stdin)")
	out := flag.String("out", "", "BENCHMARKS.md to update (default: print the section to stdout)")
	flag.StringVar(&m.Date, "date", "", "date of the run")
	flag.StringVar(&m.Kernel, "kernel", "", "kernel release (uname -r)")
	flag.StringVar(&m.GoVersion, "go", runtime.Version(), "go version of the run")
	flag.StringVar(&m.LoadBefore, "load-before", "", "load averages before the run")
	flag.StringVar(&m.LoadAfter, "load-after", "", "load averages after the run")
	flag.StringVar(&m.Duration, "duration", "", "wall time of the run")
	flag.StringVar(&m.Command, "command", "", "the go test command that produced the input")
	flag.StringVar(&m.Size, "n", "", "the size of the large cases (SIDEBYSIDE_N), when not 1M")
	flag.IntVar(&m.CPUs, "cpus", runtime.NumCPU(), "number of CPUs")
	flag.Parse()
	if err := run(*in, *out, m); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func run(in, out string, m meta) error {
	r := io.Reader(os.Stdin)
	if in != "" {
		f, err := os.Open(in)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	res, err := parse(r)
	if err != nil {
		return err
	}
	if len(res.values) == 0 {
		return fmt.Errorf("no benchmark results in the input")
	}
	if m.CPU == "" {
		m.CPU = res.cpu
	}
	section := render(res, m)
	if out == "" {
		_, err := io.WriteString(os.Stdout, section)
		return err
	}
	old, err := os.ReadFile(out)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	return os.WriteFile(out, []byte(replaceSection(string(old), section)), 0o644)
}

// meta describes the run.
type meta struct {
	Date, Kernel, GoVersion, CPU string
	LoadBefore, LoadAfter        string
	Duration, Command, Size      string
	CPUs                         int
}

// results are the parsed benchmark lines: values[name][unit] lists the
// value of every run, in order.
type results struct {
	cpu    string
	values map[string]map[string][]float64
}

// parse reads go test -bench output. Benchmark names lose their -GOMAXPROCS
// suffix; other lines (logs, PASS, goos) are ignored except "cpu:".
func parse(r io.Reader) (*results, error) {
	res := &results{values: map[string]map[string][]float64{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if cpu, ok := strings.CutPrefix(line, "cpu: "); ok {
			res.cpu = strings.TrimSpace(cpu)
			continue
		}
		if !strings.HasPrefix(line, "Benchmark") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || len(f)%2 != 0 {
			continue // a name line of -v output, or a skip
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		name := trimProcs(f[0])
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil || math.IsNaN(v) {
				continue
			}
			if res.values[name] == nil {
				res.values[name] = map[string][]float64{}
			}
			res.values[name][f[i+1]] = append(res.values[name][f[i+1]], v)
		}
	}
	return res, sc.Err()
}

// trimProcs drops the "-N" GOMAXPROCS suffix of a benchmark name.
func trimProcs(name string) string {
	i := strings.LastIndexByte(name, '-')
	if i < 0 {
		return name
	}
	if _, err := strconv.Atoi(name[i+1:]); err != nil {
		return name
	}
	return name[:i]
}

// stat summarises one metric's runs.
type stat struct {
	med, lo, hi float64
	n           int
}

func (s stat) ok() bool { return s.n > 0 }

func summarize(vs []float64) stat {
	if len(vs) == 0 {
		return stat{}
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return stat{med: med, lo: s[0], hi: s[len(s)-1], n: len(s)}
}

// cleanupStores lists the stores measured for a cleanup pass: sesbolt,
// its variants, then scs-bolt.
func (res *results) cleanupStores(expired, n string) []string {
	prefix := "BenchmarkCleanup/expired=" + expired + "/n=" + n + "/store="
	var out []string
	for name := range res.values {
		if s, ok := strings.CutPrefix(name, prefix); ok {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b string) int {
		rank := func(s string) int {
			switch {
			case s == "sesbolt":
				return 0
			case strings.HasPrefix(s, "sesbolt"):
				return 1
			}
			return 2
		}
		if c := rank(a) - rank(b); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	return out
}

func (res *results) get(name, unit string) stat { return summarize(res.values[name][unit]) }

// runs returns the largest number of runs of any benchmark.
func (res *results) runs() int {
	n := 0
	for _, units := range res.values {
		n = max(n, len(units["ns/op"]))
	}
	return n
}

// Names of the contenders, in table order.
var (
	httpStores = []string{"bare", "sesbolt", "sesbolt-mem", "scs-bolt", "scs-mem", "gorilla-cookie", "gorilla-fs"}
	peers      = []string{"scs-bolt", "scs-mem", "gorilla-cookie", "gorilla-fs"}
	cases      = []string{"read", "set", "new"}
	caseText   = map[string]string{
		"read": "read a session (no change)",
		"set":  "set one key",
		"new":  "new session, one key",
	}
)

func httpName(c, store string, g int) string {
	if store == "bare" {
		c = "all"
	}
	return fmt.Sprintf("BenchmarkHTTP/case=%s/store=%s/g=%d", c, store, g)
}

// sizeName is the benchmarks' name for a size (1k, 100k, 1M).
func (res *results) sizes(prefix string) []string {
	seen := map[string]bool{}
	var out []string
	for name := range res.values {
		rest, ok := strings.CutPrefix(name, prefix)
		if !ok {
			continue
		}
		for _, part := range strings.Split(rest, "/") {
			if n, ok := strings.CutPrefix(part, "n="); ok && !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	slices.SortFunc(out, func(a, b string) int { return int(sizeValue(a) - sizeValue(b)) })
	return out
}

func sizeValue(s string) float64 {
	mult := 1.0
	switch {
	case strings.HasSuffix(s, "M"):
		mult, s = 1e6, strings.TrimSuffix(s, "M")
	case strings.HasSuffix(s, "k"):
		mult, s = 1e3, strings.TrimSuffix(s, "k")
	}
	v, _ := strconv.ParseFloat(s, 64)
	return v * mult
}

// ---- formatting ----

// num formats v with three significant digits (and no exponent).
func num(v float64) string {
	a := math.Abs(v)
	switch {
	case v == 0:
		return "0"
	case v == math.Trunc(v) && a >= 10 && a < 1e15:
		return strconv.FormatInt(int64(v), 10)
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	case a >= 0.1:
		return strconv.FormatFloat(v, 'f', 3, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// spread formats a stat as "median (min–max)", each part by its own
// function; just the median when there is no range, "—" when there is no
// stat.
func spread(s stat, med, lo, hi func(float64) string) string {
	if !s.ok() {
		return "—"
	}
	if s.n == 1 || s.lo == s.hi {
		return med(s.med)
	}
	return fmt.Sprintf("%s (%s–%s)", med(s.med), lo(s.lo), hi(s.hi))
}

// withRange formats a stat scaled by div: "median (min–max)".
func withRange(s stat, div float64) string {
	f := func(v float64) string { return num(v / div) }
	return spread(s, f, f, f)
}

// duration formats nanoseconds with a unit.
func duration(ns float64) string {
	switch {
	case ns >= 1e9:
		return num(ns/1e9) + " s"
	case ns >= 1e6:
		return num(ns/1e6) + " ms"
	case ns >= 1e3:
		return num(ns/1e3) + " µs"
	}
	return num(ns) + " ns"
}

// durationRange formats a stat of nanoseconds: "1.2 ms (1.1 ms–1.4 ms)".
func durationRange(s stat) string { return spread(s, duration, duration, duration) }

func ratio(r float64) string {
	if math.IsNaN(r) || math.IsInf(r, 0) || r == 0 {
		return "—"
	}
	return num(r) + "×"
}

// ---- the section ----

// target is one of the goals with its measured ratio.
type target struct {
	what     string
	measured string
	met      bool
	known    bool // false when the run lacks the figures
}

func render(res *results, m meta) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	runs := res.runs()

	p("%s\n\n", heading)
	p("sesbolt against the session libraries people would pick instead, in one\n")
	p("process, on one machine, in the same run: [scs](https://github.com/alexedwards/scs)\n")
	p("with its bbolt store, its memstore and its Redis store, and\n")
	p("[gorilla/sessions](https://github.com/gorilla/sessions) with its CookieStore and FilesystemStore,\n")
	p("each as it ships (defaults; every bbolt store fsyncs each commit; the Redis\n")
	p("stores share one local redis-server). The code\n")
	p("is the separate module `bench/` (see its `doc.go`); `scripts/bench.sh` runs it\n")
	p("and rewrites this section. This section is generated: edit\n")
	p("`bench/cmd/report` (and its `notes.md`), not the text here.\n\n")
	p("```sh\nscripts/bench.sh                    # the published run (1M sessions; under 10 minutes on 2 cores)\n")
	p("SIDEBYSIDE_N=100000 scripts/bench.sh # a quicker run with 100k instead of 1M\n```\n\n")

	p("**Run.** ")
	if m.Date != "" {
		p("%s; ", m.Date)
	}
	p("%s", m.GoVersion)
	if m.CPU != "" {
		p("; %s", m.CPU)
	}
	p(", %d CPUs", m.CPUs)
	if m.Kernel != "" {
		p("; Linux %s", m.Kernel)
	}
	if fs := res.get("BenchmarkFsync", "ns/op"); fs.ok() {
		p("; the disk takes %s per 4 KiB write + fdatasync (median; %s–%s)", duration(fs.med), duration(fs.lo), duration(fs.hi))
	}
	p(". Each figure is the median of %d runs (`-count %d`) with the min–max range", runs, runs)
	p(" in brackets.")
	if m.Size != "" && m.Size != "1000000" {
		p(" **Large cases used %s sessions instead of 1M.**", m.Size)
	}
	if m.LoadBefore != "" || m.LoadAfter != "" {
		p(" Load average before the run %s, after %s", orDash(m.LoadBefore), orDash(m.LoadAfter))
		p(" (the machine is shared with other jobs, so figures vary between runs).")
	}
	if m.Duration != "" {
		p(" The whole run took %s.", m.Duration)
	}
	p("\n")
	if m.Command != "" {
		p("\n```sh\n%s\n```\n", m.Command)
	}

	// Requests.
	p("\n### Requests through each library's middleware\n\n")
	p("Microseconds per request, driven in-process (httptest requests, no network)\n")
	p("around the same handler; at 64 goroutines this is wall time divided by\n")
	p("requests, so lower is more throughput. *bare* is the handler without\n")
	p("sessions. Existing sessions hold a user id, a CSRF token, a flash message and\n")
	p("a small cart; `read` reads two keys and changes nothing, `set` sets one key,\n")
	p("`new` creates a session holding one key.\n\n")
	p("| case | goroutines |")
	for _, s := range httpStores {
		p(" %s |", s)
	}
	p("\n|---|---|")
	for range httpStores {
		p("---|")
	}
	p("\n")
	for _, c := range cases {
		for _, g := range []int{1, 64} {
			p("| %s | %d |", caseText[c], g)
			for _, s := range httpStores {
				cell := withRange(res.get(httpName(c, s, g), "ns/op"), 1000)
				if s == "sesbolt" {
					cell = "**" + cell + "**"
				}
				p(" %s |", cell)
			}
			p("\n")
		}
	}

	p("\n**sesbolt's throughput relative to each peer** (the peer's median time per\n")
	p("request divided by sesbolt's: above 1× sesbolt is faster, below 1× it is\n")
	p("slower), and sesbolt's time as a multiple of the bare handler's:\n\n")
	p("| case | goroutines |")
	for _, s := range peers {
		p(" vs %s |", s)
	}
	p(" sesbolt ÷ bare |\n|---|---|")
	for range peers {
		p("---|")
	}
	p("---|\n")
	for _, c := range cases {
		for _, g := range []int{1, 64} {
			ours := res.get(httpName(c, "sesbolt", g), "ns/op")
			p("| %s | %d |", caseText[c], g)
			for _, s := range peers {
				peer := res.get(httpName(c, s, g), "ns/op")
				cell := "—"
				if ours.ok() && peer.ok() {
					cell = ratio(peer.med / ours.med)
					if peer.med < ours.med {
						cell = "**" + cell + "**"
					}
				}
				p(" %s |", cell)
			}
			bare := res.get(httpName(c, "bare", g), "ns/op")
			if ours.ok() && bare.ok() {
				p(" %s |\n", ratio(ours.med/bare.med))
			} else {
				p(" — |\n")
			}
		}
	}
	p("\nBold ratios are cases where sesbolt is slower than that peer.\n")

	// Bytes written per request.
	if res.get(httpName("set", "sesbolt", 1), "wB/op").ok() {
		disk := []string{"sesbolt", "scs-bolt", "gorilla-fs"}
		p("\nKilobytes the process wrote to files per request (`wB/op`: pages written\n")
		p("with pwrite, before each fsync), medians:\n\n")
		p("| case | goroutines | %s |\n|---|---|%s\n", strings.Join(disk, " | "), strings.Repeat("---|", len(disk)))
		for _, c := range []string{"set", "new"} {
			for _, g := range []int{1, 64} {
				p("| %s | %d |", caseText[c], g)
				for _, s := range disk {
					v := res.get(httpName(c, s, g), "wB/op")
					cell := "—"
					if v.ok() {
						cell = num(v.med / 1000)
					}
					p(" %s |", cell)
				}
				p("\n")
			}
		}
	}

	renderRedis(&b, res)

	// Read latency vs size.
	if sizes := res.sizes("BenchmarkReadSize/"); len(sizes) > 0 {
		p("\n### Read latency against the number of stored sessions\n\n")
		p("One goroutine reading existing sessions through the middleware, cycling\n")
		p("through up to 100,000 of them in random order (µs per request).\n")
		p("*sesbolt* is as it ships; *sesbolt, no cache* has its read cache off\n")
		p("(`ReadCacheSize: -1`). The default cache holds all the sessions read from\n")
		p("the small file but few of the 100,000 read from the large one, so only the\n")
		p("uncached figures compare the lookups themselves:\n\n")
		p("| sessions stored | sesbolt | sesbolt, no cache | scs-bolt | scs-bolt ÷ sesbolt |\n|---|---|---|---|---|\n")
		for _, n := range sizes {
			o := res.get("BenchmarkReadSize/n="+n+"/store=sesbolt", "ns/op")
			u := res.get("BenchmarkReadSize/n="+n+"/store=sesbolt-nocache", "ns/op")
			s := res.get("BenchmarkReadSize/n="+n+"/store=scs-bolt", "ns/op")
			p("| %s | %s | %s | %s | %s |\n", n, withRange(o, 1000), withRange(u, 1000), withRange(s, 1000), ratio(s.med/o.med))
		}
		if len(sizes) >= 2 {
			small, big := sizes[0], sizes[len(sizes)-1]
			get := func(n, store string) float64 { return res.get("BenchmarkReadSize/n="+n+"/store="+store, "ns/op").med }
			p("\nFrom %s to %s sessions a read costs %s as much with sesbolt (%s without its cache) and %s with scs.\n",
				small, big, ratio(get(big, "sesbolt")/get(small, "sesbolt")),
				ratio(get(big, "sesbolt-nocache")/get(small, "sesbolt-nocache")), ratio(get(big, "scs-bolt")/get(small, "scs-bolt")))
		}
	}

	// Cleanup.
	if sizes := res.sizes("BenchmarkCleanup/"); len(sizes) > 0 {
		p("\n### Removing expired sessions\n\n")
		p("One expiry pass on a copy of a bulk-built file: sesbolt's `Purge` (what its\n")
		p("reaper runs: write transactions sized to take about 10 ms each, 5 ms while\n")
		p("request writes commit, of at most `Options.ReapBatch` records or 16 times as\n")
		p("many index entries) against scs's bbolt cleanup goroutine (one\n")
		p("scan of every session, then one write transaction deleting every expired\n")
		p("one). Each pass runs twice: with nothing else writing, and while a writer\n")
		p("sets one key of live sessions through the middleware, one request after\n")
		p("another. *Longest write request* is the longest of that writer's requests\n")
		p("that overlapped the pass, what a user waits; *reaper's longest\n")
		p("transaction* is boltstore's own measure (`Stats().LastReap.LongestStep`).\n")
		p("Both are the median over the runs of each run's longest, with the worst\n")
		p("run in brackets. *Written* counts the bytes the process wrote to the file\n")
		p("during the pass (without the writer).\n\n")
		p("| pass | store | time | scs's time ÷ this | written | longest write request | writes during the pass | reaper's longest transaction |\n")
		p("|---|---|---|---|---|---|---|---|\n")
		for _, n := range sizes {
			for _, e := range cleanupKinds {
				scs := res.get("BenchmarkCleanup/expired="+e+"/n="+n+"/store=scs-bolt", "ns/op")
				what := cleanupText(e, n)
				for _, store := range res.cleanupStores(e, n) {
					name := "BenchmarkCleanup/expired=" + e + "/n=" + n + "/store=" + store
					t := res.get(name, "ns/op")
					r := "—"
					if store != "scs-bolt" {
						r = ratio(scs.med / t.med)
					}
					written := "—"
					if ws := res.get(name, "written-MB"); ws.ok() {
						written = num(ws.med) + " MB"
					}
					writes := "—"
					if ws := res.get(name, "writes/op"); ws.ok() {
						writes = num(ws.med)
					}
					p("| %s | %s | %s | %s | %s | %s | %s | %s |\n", what, store, durationRange(t), r, written,
						longestMS(res.get(name, "max-write-ms")), writes, longestMS(res.get(name, "reaper-tx-ms")))
				}
			}
		}
	}

	// Footprint.
	fp := func(store, unit string) stat { return res.get("BenchmarkFootprint/store="+store, unit) }
	if fp("sesbolt", "file-B/session").ok() || fp("scs-bolt", "file-B/session").ok() {
		p("\n### Space\n\n")
		created := "5000"
		if v := fp("sesbolt", "sessions"); v.ok() {
			created = num(v.med)
		}
		p("Sizes are measured once per run. *Created through the middleware*: %s\n", created)
		p("typical sessions created by login requests at 64 goroutines, then the file\n")
		p("size (bbolt grows files in steps, so this includes preallocated space) and\n")
		p("the pages in use, per session; for gorilla-fs the disk blocks of its files\n")
		p("and their bytes. *Bulk-built*: the large files of the cleanup cases (written\n")
		p("in id order by big transactions, which leaves bbolt's pages half full).\n\n")
		stores := []string{"sesbolt", "scs-bolt", "gorilla-fs", "gorilla-cookie"}
		p("| | sesbolt | scs-bolt | gorilla-fs | gorilla-cookie |\n|---|---|---|---|---|\n")
		row := func(label, unit string, div float64, suffix string) {
			any := false
			cells := make([]string, len(stores))
			for i, s := range stores {
				v := fp(s, unit)
				cells[i] = "—"
				if v.ok() {
					any = true
					cells[i] = num(v.med/div) + suffix
				}
			}
			if any {
				p("| %s | %s |\n", label, strings.Join(cells, " | "))
			}
		}
		row("bytes on disk per session, created through the middleware", "file-B/session", 1, "")
		row("bytes in use per session, created through the middleware", "used-B/session", 1, "")
		row("session cookie, bytes", "cookie-B", 1, "")
		size := "1M"
		if sizes := res.sizes("BenchmarkCleanup/"); len(sizes) > 0 {
			size = sizes[len(sizes)-1]
		}
		row("bulk-built file of "+size+" sessions", "bulk-MB", 1, " MB")
		row("bulk-built file, bytes per session", "bulk-file-B/session", 1, "")
		row("after 90% expired and purged: file size", "purged-MB", 1, " MB")
		row("after 90% expired and purged: pages in use", "purged-used-MB", 1, " MB")
		row("time to purge the 90%", "purge90-s", 1, " s")
		row("after bbolt.Compact into a new file", "compacted-MB", 1, " MB")
		row("time to compact", "compact-s", 1, " s")
		p("\nbbolt files never shrink: deleted sessions leave free pages that later\n")
		p("writes reuse. Compaction (`sesctl compact`, offline) gives the space back.\n")
	}

	// Failures.
	if fails := failures(res); len(fails) > 0 {
		p("\n### Failed requests\n\n")
		p("Any failed sesbolt request fails the run; a peer's failures are counted:\n\n")
		for _, f := range fails {
			p("- %s\n", f)
		}
	}

	// Targets.
	ts := append(targets(res), redisTargets(res)...)
	p("\n### Targets\n\n")
	p("Ratios against scs with the same kind of store (bbolt, Redis), in this run;\n")
	p("for Redis, the median of the per-pass ratios with their range.\n\n")
	p("| target | measured | |\n|---|---|---|\n")
	for _, t := range ts {
		mark := "missed"
		switch {
		case !t.known:
			mark = "not measured"
		case t.met:
			mark = "met"
		}
		p("| %s | %s | %s |\n", t.what, t.measured, mark)
	}

	// Losses.
	p("\n### Where sesbolt loses\n\n")
	losses := append(lossList(res), redisLosses(res)...)
	if len(losses) == 0 {
		p("Nowhere in this run.\n")
	}
	for _, l := range losses {
		p("- %s\n", l)
	}

	if strings.TrimSpace(notes) != "" {
		p("\n%s", strings.TrimLeft(notes, "\n"))
		if !strings.HasSuffix(notes, "\n") {
			p("\n")
		}
	}
	return b.String()
}

// goroutines names a goroutine count.
func goroutines(g int) string {
	if g == 1 {
		return "1 goroutine"
	}
	return strconv.Itoa(g) + " goroutines"
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// longestMS formats per-run maxima in milliseconds: their median, and the
// worst run in brackets.
func longestMS(s stat) string {
	if !s.ok() {
		return "—"
	}
	if s.n == 1 || s.hi == s.med {
		return num(s.med) + " ms"
	}
	return fmt.Sprintf("%s ms (%s)", num(s.med), num(s.hi))
}

// Cleanup passes, in table order.
var cleanupKinds = []string{"10pct-idle", "10pct", "none"}

func cleanupText(kind, n string) string {
	switch kind {
	case "10pct-idle":
		return "10% of " + n + " expired, nothing else writing"
	case "10pct":
		return "10% of " + n + " expired, a writer running"
	}
	return "nothing expired, " + n + " stored"
}

// failures lists the benchmarks in which a peer answered requests with an
// error (metrics failed/op and failed-writes).
func failures(res *results) []string {
	var out []string
	names := slices.Sorted(maps.Keys(res.values))
	for _, name := range names {
		units := res.values[name]
		if v := units["failed/op"]; len(v) > 0 {
			out = append(out, fmt.Sprintf("`%s`: %d of %d runs had failed requests, up to %s of them.",
				strings.TrimPrefix(name, "Benchmark"), len(v), res.runs(), pct(slices.Max(v))))
		}
		if v := units["failed-writes"]; len(v) > 0 {
			total := 0.0
			for _, x := range v {
				total += x
			}
			out = append(out, fmt.Sprintf("`%s`: the writer's requests failed in %d of %d runs (%d in all).",
				strings.TrimPrefix(name, "Benchmark"), len(v), res.runs(), int(total)))
		}
	}
	return out
}

func pct(f float64) string { return num(f*100) + "%" }

// targets evaluates the targets.
func targets(res *results) []target {
	var ts []target
	http := func(c string, g int) (ours, scs, bare stat) {
		return res.get(httpName(c, "sesbolt", g), "ns/op"), res.get(httpName(c, "scs-bolt", g), "ns/op"), res.get(httpName(c, "bare", g), "ns/op")
	}
	for _, g := range []int{1, 64} {
		o, s, _ := http("read", g)
		r := s.med / o.med
		ts = append(ts, target{fmt.Sprintf("read, %s: ≥ 4× scs-bolt's throughput", goroutines(g)), ratio(r), r >= 4, o.ok() && s.ok()})
	}
	for _, g := range []int{1, 64} {
		o, _, bare := http("read", g)
		r := o.med / bare.med
		ts = append(ts, target{fmt.Sprintf("read, %s: within 2× of the bare handler", goroutines(g)), ratio(r) + " the bare handler's time", r <= 2, o.ok() && bare.ok()})
	}
	for _, c := range []string{"set", "new"} {
		for _, g := range []int{64, 1} {
			want := 20.0
			if g == 1 {
				want = 1
			}
			o, s, _ := http(c, g)
			r := s.med / o.med
			ts = append(ts, target{fmt.Sprintf("%s, %s: ≥ %s scs-bolt's throughput", caseText[c], goroutines(g), ratio(want)), ratio(r), r >= want, o.ok() && s.ok()})
		}
	}
	sizes := res.sizes("BenchmarkCleanup/")
	if len(sizes) > 0 {
		n := sizes[len(sizes)-1]
		o := res.get("BenchmarkCleanup/expired=none/n="+n+"/store=sesbolt", "ns/op")
		s := res.get("BenchmarkCleanup/expired=none/n="+n+"/store=scs-bolt", "ns/op")
		r := s.med / o.med
		ts = append(ts, target{"cleanup pass with nothing expired on " + n + ": ≥ 100× cheaper than scs's", ratio(r) + " (" + duration(o.med) + " vs " + duration(s.med) + ")", r >= 100, o.ok() && s.ok()})
		for _, e := range []string{"10pct-idle", "10pct"} {
			o = res.get("BenchmarkCleanup/expired="+e+"/n="+n+"/store=sesbolt", "ns/op")
			s = res.get("BenchmarkCleanup/expired="+e+"/n="+n+"/store=scs-bolt", "ns/op")
			if o.ok() || s.ok() {
				ts = append(ts, target{cleanupText(e, n) + ": total cleanup time ≤ scs's", duration(o.med) + " vs " + duration(s.med), o.med <= s.med, o.ok() && s.ok()})
			}
		}
		w := res.get("BenchmarkCleanup/expired=10pct/n="+n+"/store=sesbolt", "max-write-ms")
		sw := res.get("BenchmarkCleanup/expired=10pct/n="+n+"/store=scs-bolt", "max-write-ms")
		ts = append(ts, target{"10% of " + n + " expired: longest single write transaction ≤ 20 ms, as the writer waits (median of the runs' longest; worst run)",
			fmt.Sprintf("%s ms (%s); scs %s ms (%s)", num(w.med), num(w.hi), num(sw.med), num(sw.hi)), w.med <= 20, w.ok()})
		rt := res.get("BenchmarkCleanup/expired=10pct/n="+n+"/store=sesbolt", "reaper-tx-ms")
		ts = append(ts, target{"the same, the reaper's own longest write transaction (`LastReap.LongestStep`)", fmt.Sprintf("%s ms (%s)", num(rt.med), num(rt.hi)), rt.med <= 20, rt.ok()})
	}
	if sizes := res.sizes("BenchmarkReadSize/"); len(sizes) >= 2 {
		small, big := sizes[0], sizes[len(sizes)-1]
		for _, v := range []struct{ store, what string }{{"sesbolt", "as it ships"}, {"sesbolt-nocache", "read cache off"}} {
			o1 := res.get("BenchmarkReadSize/n="+small+"/store="+v.store, "ns/op")
			o2 := res.get("BenchmarkReadSize/n="+big+"/store="+v.store, "ns/op")
			r := o2.med / o1.med
			ts = append(ts, target{"read latency at " + big + " ≤ 1.5× at " + small + " (" + v.what + ")", ratio(r) + " (" + duration(o2.med) + " vs " + duration(o1.med) + ")", r <= 1.5, o1.ok() && o2.ok()})
		}
	}
	return ts
}

// lossList lists every comparison in the run where sesbolt (with its bbolt
// store) is worse than a peer.
func lossList(res *results) []string {
	var out []string
	for _, c := range cases {
		for _, g := range []int{1, 64} {
			o := res.get(httpName(c, "sesbolt", g), "ns/op")
			if !o.ok() {
				continue
			}
			var slower []string
			for _, s := range peers {
				p := res.get(httpName(c, s, g), "ns/op")
				if p.ok() && p.med < o.med {
					slower = append(slower, fmt.Sprintf("%s (%s vs %s per request)", s, duration(p.med), duration(o.med)))
				}
			}
			if len(slower) > 0 {
				out = append(out, fmt.Sprintf("**%s, %s**: slower than %s.", caseText[c], goroutines(g), strings.Join(slower, ", ")))
			}
		}
	}
	for _, n := range res.sizes("BenchmarkReadSize/") {
		o := res.get("BenchmarkReadSize/n="+n+"/store=sesbolt", "ns/op")
		s := res.get("BenchmarkReadSize/n="+n+"/store=scs-bolt", "ns/op")
		if o.ok() && s.ok() && s.med < o.med {
			out = append(out, fmt.Sprintf("**Reads with %s sessions stored**: slower than scs-bolt (%s vs %s).", n, duration(s.med), duration(o.med)))
		}
	}
	for _, n := range res.sizes("BenchmarkCleanup/") {
		for _, e := range cleanupKinds {
			o := res.get("BenchmarkCleanup/expired="+e+"/n="+n+"/store=sesbolt", "ns/op")
			s := res.get("BenchmarkCleanup/expired="+e+"/n="+n+"/store=scs-bolt", "ns/op")
			if o.ok() && s.ok() && s.med < o.med {
				out = append(out, fmt.Sprintf("**Cleanup, %s**: the whole pass takes %s against scs's %s (%s as long).",
					cleanupText(e, n), duration(o.med), duration(s.med), ratio(o.med/s.med)))
			}
			ow := res.get("BenchmarkCleanup/expired="+e+"/n="+n+"/store=sesbolt", "max-write-ms")
			sw := res.get("BenchmarkCleanup/expired="+e+"/n="+n+"/store=scs-bolt", "max-write-ms")
			if ow.ok() && sw.ok() && sw.med < ow.med {
				out = append(out, fmt.Sprintf("**Writes during the cleanup, %s**: the longest waited %s ms, against %s ms with scs.", cleanupText(e, n), num(ow.med), num(sw.med)))
			}
		}
	}
	fp := func(store, unit string) stat { return res.get("BenchmarkFootprint/store="+store, unit) }
	for _, unit := range []string{"file-B/session", "used-B/session"} {
		o := fp("sesbolt", unit)
		var bigger []string
		for _, s := range []string{"scs-bolt", "gorilla-fs"} {
			if p := fp(s, unit); o.ok() && p.ok() && p.med < o.med {
				bigger = append(bigger, fmt.Sprintf("%s (%s)", s, num(p.med)))
			}
		}
		if len(bigger) > 0 {
			what := "on disk"
			if unit == "used-B/session" {
				what = "in use"
			}
			out = append(out, fmt.Sprintf("**Space**: %s bytes %s per session against %s.", num(o.med), what, strings.Join(bigger, ", ")))
		}
	}
	for _, unit := range []string{"purged-MB", "compacted-MB", "purge90-s"} {
		o, s := fp("sesbolt", unit), fp("scs-bolt", unit)
		if o.ok() && s.ok() && s.med < o.med {
			what := map[string]string{"purged-MB": "File after 90% purged", "compacted-MB": "File after compaction", "purge90-s": "Purging 90%"}[unit]
			u := map[string]string{"purged-MB": " MB", "compacted-MB": " MB", "purge90-s": " s"}[unit]
			out = append(out, fmt.Sprintf("**%s**: %s%s against scs-bolt's %s%s.", what, num(o.med), u, num(s.med), u))
		}
	}
	return out
}

// replaceSection returns doc with the section starting at heading replaced
// by section (or section appended when doc has none).
func replaceSection(doc, section string) string {
	lines := strings.SplitAfter(doc, "\n")
	start, end := -1, len(lines)
	for i, l := range lines {
		t := strings.TrimRight(l, "\n")
		if start < 0 && t == heading {
			start = i
			continue
		}
		if start >= 0 && strings.HasPrefix(t, "## ") {
			end = i
			break
		}
	}
	if start < 0 {
		doc = strings.TrimRight(doc, "\n")
		if doc != "" {
			doc += "\n\n"
		}
		return doc + section
	}
	tail := strings.Join(lines[end:], "")
	if tail != "" && !strings.HasSuffix(section, "\n\n") {
		section += "\n"
	}
	return strings.Join(lines[:start], "") + section + tail
}
