package main

import (
	"strings"
	"testing"
)

const sample = `goos: linux
cpu: Test CPU
BenchmarkHTTP/case=all/store=bare/g=1-2      	 1000	      1000 ns/op	     864 B/op	       8 allocs/op
BenchmarkHTTP/case=all/store=bare/g=1-2      	 1000	      3000 ns/op	     864 B/op	       8 allocs/op
BenchmarkHTTP/case=all/store=bare/g=1-2      	 1000	      2000 ns/op	     864 B/op	       8 allocs/op
BenchmarkHTTP/case=read/store=sesbolt/g=1-2  	 1000	      4000 ns/op
BenchmarkHTTP/case=read/store=sesbolt/g=1-2  	 1000	      6000 ns/op
BenchmarkHTTP/case=read/store=scs-bolt/g=1-2 	 1000	     20000 ns/op
BenchmarkHTTP/case=read/store=scs-bolt/g=1-2 	 1000	     30000 ns/op
BenchmarkHTTP/case=read/store=scs-mem/g=1-2  	 1000	      2500 ns/op
BenchmarkCleanup/expired=10pct/n=1M/store=sesbolt-2 	 1	 3000000000 ns/op	 12.0 max-write-ms	 9.5 reaper-tx-ms	 300 writes/op
BenchmarkCleanup/expired=10pct/n=1M/store=scs-bolt-2 	 1	 2000000000 ns/op	 2500 max-write-ms	 40 writes/op	 2 failed-writes
BenchmarkCleanup/expired=none/n=1M/store=sesbolt-2 	 1000000	 1000 ns/op
BenchmarkCleanup/expired=none/n=1M/store=scs-bolt-2 	 3	 400000000 ns/op
BenchmarkFootprint/store=gorilla-cookie-2 	 1	 0.00001 ns/op	 524 cookie-B	 0 file-B/session
--- SKIP: BenchmarkSkipped
PASS
`

func TestParseAndSummarize(t *testing.T) {
	res, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if res.cpu != "Test CPU" {
		t.Errorf("cpu = %q", res.cpu)
	}
	bare := res.get("BenchmarkHTTP/case=all/store=bare/g=1", "ns/op")
	if bare.med != 2000 || bare.lo != 1000 || bare.hi != 3000 || bare.n != 3 {
		t.Errorf("bare = %+v, want median 2000 of 1000–3000", bare)
	}
	if got := res.get("BenchmarkHTTP/case=read/store=sesbolt/g=1", "ns/op").med; got != 5000 {
		t.Errorf("even count median = %v, want 5000", got)
	}
	if got := res.get("BenchmarkCleanup/expired=10pct/n=1M/store=sesbolt", "reaper-tx-ms").med; got != 9.5 {
		t.Errorf("custom metric = %v", got)
	}
	if got := res.runs(); got != 3 {
		t.Errorf("runs = %d, want 3", got)
	}
}

func TestRender(t *testing.T) {
	res, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	out := render(res, meta{Date: "2026-01-02", GoVersion: "go1.26", CPUs: 2})
	for _, want := range []string{
		heading + "\n",
		"| read a session (no change) | 1 | 2.00 (1.00–3.00) | **5.00 (4.00–6.00)** |",
		"| read a session (no change) | 1 | 5.00× | **0.500×** |", // faster than scs-bolt, slower than scs-mem
		"| read, 1 goroutine: ≥ 4× scs-bolt's throughput | 5.00× | met |",
		"| read, 1 goroutine: within 2× of the bare handler | 2.50× the bare handler's time | missed |",
		"| cleanup pass with nothing expired on 1M: ≥ 100× cheaper than scs's | 400000× (1.00 µs vs 400 ms) | met |",
		"| 10% of 1M expired, a writer running: total cleanup time ≤ scs's | 3.00 s vs 2.00 s | missed |",
		"slower than scs-mem (2.50 µs vs 5.00 µs per request)",
		"**Cleanup, 10% of 1M expired, a writer running**",
		"`Cleanup/expired=10pct/n=1M/store=scs-bolt`: the writer's requests failed in 1 of 3 runs (2 in all).",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(out, "gorilla-cookie | — | — |") {
		t.Errorf("missing peers should not fail the report")
	}
}

func TestReplaceSection(t *testing.T) {
	section := heading + "\n\nnew\n"
	for _, tc := range []struct{ doc, want string }{
		{"", section},
		{"# B\n\n## A\n\nold a\n", "# B\n\n## A\n\nold a\n\n" + section},
		{"# B\n\n" + heading + "\n\nold\n\n## C\n\nc\n", "# B\n\n" + section + "\n## C\n\nc\n"},
		{"# B\n\n" + heading + "\n\nold\n", "# B\n\n" + section},
	} {
		if got := replaceSection(tc.doc, section); got != tc.want {
			t.Errorf("replaceSection(%q) = %q, want %q", tc.doc, got, tc.want)
		}
	}
}

// redisSample is two passes of a few Redis cases: in the first pass
// sesbolt reads in 20 µs against scs's 30, in the second in 25 against 25.
const redisSample = `BenchmarkRedis/net=unix/case=read/store=sesbolt-redis/g=1-2 	 1000	 20000 ns/op	 18.0 app-cpu-µs/op	 1.000 cmds/op	 7.0 redis-cpu-µs/op	 1.000 rtt/op
BenchmarkRedis/net=unix/case=read/store=scs-redis/g=1-2 	 1000	 30000 ns/op	 20.0 app-cpu-µs/op	 1.000 cmds/op	 6.0 redis-cpu-µs/op	 1.000 rtt/op
BenchmarkRedis/net=unix/case=read/store=scs-redis-idle/g=1-2 	 1000	 50000 ns/op	 30.0 app-cpu-µs/op	 5.000 cmds/op	 14.0 redis-cpu-µs/op	 2.000 rtt/op
BenchmarkRedis/net=unix/case=set/store=sesbolt-redis/g=1-2 	 1000	 90000 ns/op	 60.0 app-cpu-µs/op	 17.00 cmds/op	 33.0 redis-cpu-µs/op	 2.000 rtt/op
BenchmarkRedis/net=unix/case=set/store=scs-redis/g=1-2 	 1000	 45000 ns/op	 35.0 app-cpu-µs/op	 5.000 cmds/op	 14.0 redis-cpu-µs/op	 2.000 rtt/op
BenchmarkLostUpdates/store=sesbolt-redis-2 	 10	 20000000 ns/op	 0 lost-keys/op
BenchmarkLostUpdates/store=scs-redis-2 	 16	 12000000 ns/op	 49.00 lost-keys/op
BenchmarkRedis/net=unix/case=read/store=sesbolt-redis/g=1-2 	 1000	 25000 ns/op	 18.0 app-cpu-µs/op	 1.000 cmds/op	 7.0 redis-cpu-µs/op	 1.000 rtt/op
BenchmarkRedis/net=unix/case=read/store=scs-redis/g=1-2 	 1000	 25000 ns/op	 20.0 app-cpu-µs/op	 1.000 cmds/op	 6.0 redis-cpu-µs/op	 1.000 rtt/op
BenchmarkRedis/net=unix/case=read/store=scs-redis-idle/g=1-2 	 1000	 50000 ns/op	 30.0 app-cpu-µs/op	 5.000 cmds/op	 14.0 redis-cpu-µs/op	 2.000 rtt/op
BenchmarkRedis/net=unix/case=set/store=sesbolt-redis/g=1-2 	 1000	 90000 ns/op	 60.0 app-cpu-µs/op	 17.00 cmds/op	 33.0 redis-cpu-µs/op	 2.000 rtt/op
BenchmarkRedis/net=unix/case=set/store=scs-redis/g=1-2 	 1000	 45000 ns/op	 35.0 app-cpu-µs/op	 5.000 cmds/op	 14.0 redis-cpu-µs/op	 2.000 rtt/op
BenchmarkLostUpdates/store=sesbolt-redis-2 	 10	 20000000 ns/op	 0 lost-keys/op
BenchmarkLostUpdates/store=scs-redis-2 	 16	 12000000 ns/op	 47.00 lost-keys/op
`

func TestRenderRedis(t *testing.T) {
	res, err := parse(strings.NewReader(sample + redisSample))
	if err != nil {
		t.Fatal(err)
	}
	if r := res.passRatio("BenchmarkRedis/net=unix/case=read/store=sesbolt-redis/g=1", "BenchmarkRedis/net=unix/case=read/store=scs-redis/g=1"); r.n != 2 || r.lo != 1 || r.hi != 1.5 {
		t.Errorf("per-pass ratios = %+v, want 1 and 1.5", r)
	}
	out := render(res, meta{GoVersion: "go1.26", CPUs: 2})
	for _, want := range []string{
		"### Sessions in Redis",
		"| read a session (no change) | 1 | Unix socket | **22.5 (20–25)** | 27.5 (25–30) | 50 | 1.25× (1.00–1.50×) | 2.25× (2.00–2.50×) |",
		"| set one key | 1 | Unix socket | **90** | 45 | — | **0.500×** | — |",
		"| read a session (no change) | 1 | Unix socket | 1.00 / 1.00 / 2.00 | 1.00 / 1.00 / 5.00 | 7.00 / 6.00 / 14 | 18 / 20 / 30 |",
		"| sesbolt-redis | 0 |",
		"| scs-redis | 48 (47–49) |",
		"| Redis, read a session (no change), 1 goroutine, Unix socket: ≥ 1.00× scs-redis's throughput | 1.25× (1.00–1.50×); vs scs-redis-idle 2.25× (2.00–2.50×) | met |",
		"| Redis, set one key, 1 goroutine, Unix socket: ≥ 0.800× scs-redis's throughput | 0.500× | missed |",
		"| Redis, read a session (no change), 64 goroutines, TCP loopback: ≥ 1.50× scs-redis's throughput | — | not measured |",
		"| Redis, 50 concurrent one-key updates of one session over two instances: no key lost | 0 of 51 keys lost in the worst run; scs-redis 48 (median) | met |",
		"**Redis, set one key, 1 goroutine, Unix socket**: slower than scs-redis (45 µs vs 90 µs per request, 0.500×).",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if out := render(mustParse(t, sample), meta{}); strings.Contains(out, "Sessions in Redis") {
		t.Errorf("a run without Redis results has a Redis section")
	}
}

func mustParse(t *testing.T, in string) *results {
	t.Helper()
	res, err := parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	return res
}
