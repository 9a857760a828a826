// Command loaddriver judges a run of scripts/load.sh: it reads what
// scripts/load.lua recorded under wrk, the sessions the server holds
// afterwards (sesctl export) and the server's memory samples, prints a
// report and exits 1 unless the run passed.
//
//	loaddriver -result result.json -export sessions.jsonl -rss rss.tsv [-rss-limit-mb 512]
//
// The run passes when:
//   - every response was 2xx, or the 303 a login answers with;
//   - wrk saw no socket errors (connect, read, write, timeout) and no
//     response dropped a session cookie;
//   - every write the server acknowledged with 204 is stored, with its
//     value, in the session its cookie names (writes sent but never answered,
//     when wrk stopped, may or may not be stored);
//   - no key is stored twice or was never sent;
//   - the server's memory stayed bounded: its peak VmRSS under
//     -rss-limit-mb, and its anonymous memory (heap, not the mapped file) in
//     the second half of the run at most 1.5 times, plus 32 MiB, its peak in
//     the first half.
package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// result is what load.lua's done() writes.
type result struct {
	DurationUS int64 `json:"duration_us"`
	Requests   int64 `json:"requests"`
	Bytes      int64 `json:"bytes"`
	Errors     struct {
		Connect, Read, Write, Status, Timeout int64
	} `json:"errors"`
	LatencyUS struct {
		Mean float64 `json:"mean"`
		Max  float64 `json:"max"`
		P50  float64 `json:"p50"`
		P90  float64 `json:"p90"`
		P99  float64 `json:"p99"`
		P999 float64 `json:"p99.9"`
	} `json:"latency_us"`
	Threads []thread `json:"threads"`
}

// thread is one wrk thread (one connection).
type thread struct {
	ID      int      `json:"id"`
	Sent    int      `json:"sent"`
	Unacked []int    `json:"unacked"`
	Reads   int64    `json:"reads"`
	News    int64    `json:"news"`
	Logins  int64    `json:"logins"`
	Writes  int64    `json:"writes"`
	S2xx    int64    `json:"s2xx"`
	S204    int64    `json:"s204"`
	S303    int64    `json:"s303"`
	SOther  int64    `json:"sother"`
	Cleared int64    `json:"cleared"`
	Others  []string `json:"others"`
}

// stored is where a key was found.
type stored struct {
	id    session.ID
	value string
}

var loadKey = regexp.MustCompile(`^t(\d+)-(\d+)$`)

func main() {
	resultPath := flag.String("result", "", "load.lua's result `file`")
	exportPath := flag.String("export", "", "sesctl export output `file`")
	rssPath := flag.String("rss", "", "memory samples `file`: seconds VmRSS RssAnon RssFile (kB)")
	rssLimit := flag.Int64("rss-limit-mb", 512, "the most VmRSS the server may reach, MiB")
	flag.Parse()
	if *resultPath == "" || *exportPath == "" || *rssPath == "" {
		flag.Usage()
		os.Exit(2)
	}
	failures, err := report(*resultPath, *exportPath, *rssPath, *rssLimit)
	if err != nil {
		fmt.Fprintf(os.Stderr, "loaddriver: %v\n", err)
		os.Exit(1)
	}
	if len(failures) > 0 {
		for _, f := range failures {
			fmt.Printf("load: FAIL: %s\n", f)
		}
		os.Exit(1)
	}
	fmt.Println("load: PASS")
}

func report(resultPath, exportPath, rssPath string, rssLimitMB int64) ([]string, error) {
	var fails []string
	fail := func(format string, a ...any) { fails = append(fails, fmt.Sprintf(format, a...)) }

	b, err := os.ReadFile(resultPath)
	if err != nil {
		return nil, err
	}
	var res result
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, fmt.Errorf("%s: %w", resultPath, err)
	}
	if len(res.Threads) == 0 || res.DurationUS <= 0 {
		return nil, fmt.Errorf("%s: no threads or no duration", resultPath)
	}

	// Throughput and latency.
	secs := float64(res.DurationUS) / 1e6
	fmt.Printf("load: %.1f s, %d connections: %d requests, %.1f requests/s, %.1f MB read\n",
		secs, len(res.Threads), res.Requests, float64(res.Requests)/secs, float64(res.Bytes)/1e6)
	ms := func(us float64) string { return strconv.FormatFloat(us/1000, 'f', 2, 64) + " ms" }
	l := res.LatencyUS
	fmt.Printf("load: latency mean %s, p50 %s, p90 %s, p99 %s, p99.9 %s, max %s\n",
		ms(l.Mean), ms(l.P50), ms(l.P90), ms(l.P99), ms(l.P999), ms(l.Max))

	// Statuses and errors.
	var t thread
	var others []string
	var unacked, sent int
	for _, th := range res.Threads {
		t.Reads += th.Reads
		t.News += th.News
		t.Logins += th.Logins
		t.Writes += th.Writes
		t.S2xx += th.S2xx
		t.S204 += th.S204
		t.S303 += th.S303
		t.SOther += th.SOther
		t.Cleared += th.Cleared
		others = append(others, th.Others...)
		sent += th.Sent
		unacked += len(th.Unacked)
	}
	fmt.Printf("load: mix: %d reads, %d writes to existing sessions, %d new sessions (a PUT without a cookie), %d logins (new sessions too)\n",
		t.Reads, t.Writes, t.News, t.Logins)
	e := res.Errors
	socketErrors := e.Connect + e.Read + e.Write + e.Timeout
	fmt.Printf("load: responses: %d 2xx (%d of them 204), %d 303 (logins), %d other; socket errors: connect %d, read %d, write %d, timeout %d; cookies dropped: %d\n",
		t.S2xx, t.S204, t.S303, t.SOther, e.Connect, e.Read, e.Write, e.Timeout, t.Cleared)
	if len(others) > 5 { // each thread keeps its first five
		others = others[:5]
	}
	if t.SOther > 0 || e.Status > 0 {
		fail("%d responses were neither 2xx nor a login's 303 (wrk counted %d >= 400); first: %q", t.SOther, e.Status, others)
	}
	if t.S303 > t.Logins {
		fail("%d 303 responses for %d logins", t.S303, t.Logins)
	}
	if socketErrors > 0 {
		fail("%d socket errors", socketErrors)
	}
	if t.Cleared > 0 {
		fail("%d responses dropped a session cookie: sessions ended under load", t.Cleared)
	}
	if t.Reads == 0 || t.Writes == 0 || t.News == 0 || t.Logins == 0 {
		fail("the mix lacks a kind of request: %+v", t)
	}

	// Every acknowledged write is stored where it belongs.
	keys, err := readExport(exportPath)
	if err != nil {
		return nil, err
	}
	acked := sent - unacked
	if int64(acked) != t.S204 {
		fail("%d writes counted as acknowledged, but %d responses were 204: the script's bookkeeping is off", acked, t.S204)
	}
	var lost, misplaced, unackedStored int
	expected := map[string]bool{}
	for _, th := range res.Threads {
		un := map[int]bool{}
		for _, n := range th.Unacked {
			un[n] = true
		}
		for n := 1; n <= th.Sent; n++ {
			key := fmt.Sprintf("t%d-%d", th.ID, n)
			expected[key] = true
			where, ok := keys[key]
			if !ok {
				if !un[n] {
					lost++
					if lost <= 10 {
						fmt.Printf("load: LOST acknowledged write %s\n", key)
					}
				}
				continue
			}
			if un[n] {
				unackedStored++
			}
			if !placedRight(key, where) {
				misplaced++
				if misplaced <= 10 {
					fmt.Printf("load: key %s is in session %s with value %s\n", key, where.id, where.value)
				}
			}
		}
	}
	var strays int
	for k := range keys {
		if !expected[k] {
			strays++
		}
	}
	fmt.Printf("load: writes: %d sent, %d acknowledged, %d readable afterwards (%d of them unacknowledged: in flight when wrk stopped), %d lost\n",
		sent, acked, len(keys)-strays, unackedStored, lost)
	if lost > 0 {
		fail("%d acknowledged writes lost", lost)
	}
	if misplaced > 0 {
		fail("%d keys are in another session than their cookie named, or hold another value", misplaced)
	}
	if strays > 0 {
		fail("%d stored keys were never sent (or stored twice)", strays)
	}

	// Memory.
	fails = append(fails, memory(rssPath, rssLimitMB)...)
	return fails, nil
}

// placedRight reports whether key holds its value, in the session named by
// the cookie the value carries ("new": a session the write created).
func placedRight(key string, where stored) bool {
	var v string
	if json.Unmarshal([]byte(where.value), &v) != nil {
		return false
	}
	parts := strings.Split(v, "|")
	if len(parts) != 3 || parts[0] != key {
		return false
	}
	if parts[1] == "new" {
		return true
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || len(raw) < 16 {
		return false
	}
	return session.ID(raw[:16]) == where.id
}

// readExport reads sesctl export's JSON lines and returns where each load
// key is stored. A key found twice is reported under a mangled name.
func readExport(path string) (map[string]stored, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	keys := map[string]stored{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for n := 1; sc.Scan(); n++ {
		var r struct {
			ID   string                     `json:"id"`
			Data map[string]json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		id, err := session.ParseID(r.ID)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		for k, v := range r.Data {
			if !loadKey.MatchString(k) {
				continue
			}
			if _, dup := keys[k]; dup {
				k = "duplicate " + k
			}
			keys[k] = stored{id: id, value: string(v)}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return keys, nil
}

// memory reports the samples and judges whether memory stayed bounded.
func memory(path string, limitMB int64) []string {
	f, err := os.Open(path)
	if err != nil {
		return []string{err.Error()}
	}
	defer f.Close()
	type sample struct{ t, rss, anon, file int64 }
	var ss []sample
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var s sample
		if _, err := fmt.Sscan(sc.Text(), &s.t, &s.rss, &s.anon, &s.file); err == nil {
			ss = append(ss, s)
		}
	}
	if len(ss) < 4 {
		return []string{fmt.Sprintf("only %d memory samples", len(ss))}
	}
	mib := func(kb int64) string { return fmt.Sprintf("%.1f MiB", float64(kb)/1024) }
	var peak, peakAnon, firstAnon, secondAnon int64
	half := ss[len(ss)-1].t / 2
	for _, s := range ss {
		peak = max(peak, s.rss)
		peakAnon = max(peakAnon, s.anon)
		if s.t <= half {
			firstAnon = max(firstAnon, s.anon)
		} else {
			secondAnon = max(secondAnon, s.anon)
		}
	}
	last := ss[len(ss)-1]
	fmt.Printf("load: server memory (%d samples, 1/s): VmRSS start %s, peak %s, end %s; anonymous (heap) peak %s in the first half, %s in the second; file-backed (the mapped database) at the end %s\n",
		len(ss), mib(ss[0].rss), mib(peak), mib(last.rss), mib(firstAnon), mib(secondAnon), mib(last.file))
	var fails []string
	if peak > limitMB*1024 {
		fails = append(fails, fmt.Sprintf("VmRSS peaked at %s, over the %d MiB limit", mib(peak), limitMB))
	}
	if secondAnon*2 > firstAnon*3+2*32*1024 {
		fails = append(fails, fmt.Sprintf("anonymous memory grew from %s in the first half to %s in the second: not bounded", mib(firstAnon), mib(secondAnon)))
	}
	return fails
}
