package main

import (
	"fmt"
	"strings"
)

// The Redis contenders (BenchmarkRedis) and the lost-updates bursts
// (BenchmarkLostUpdates).

var (
	redisNets      = []string{"unix", "tcp"}
	redisNetText   = map[string]string{"unix": "Unix socket", "tcp": "TCP loopback"}
	redisPeers     = []string{"scs-redis", "scs-redis-idle"}
	redisStores    = append([]string{"sesbolt-redis"}, redisPeers...)
	lostStores     = []string{"sesbolt-mem", "scs-mem", "sesbolt-redis", "scs-redis"}
	redisTargetFor = map[string]map[int]float64{ // the targets against scs-redis
		"read": {1: 1, 64: 1.5},
		"set":  {1: 0.8, 64: 0.8},
	}
)

func redisName(net, c, store string, g int) string {
	return fmt.Sprintf("BenchmarkRedis/net=%s/case=%s/store=%s/g=%d", net, c, store, g)
}

// passRatio is sesbolt's throughput relative to a peer in one case: the
// median over the passes of the peer's time divided by sesbolt's in the same
// pass, with the smallest and largest. Runs of the two are paired by
// their order in the input, which is the pass order when each pass ran both
// once (scripts/bench.sh); with unequal counts it falls back to the ratio of
// the medians.
func (res *results) passRatio(ours, peer string) stat {
	o, p := res.values[ours]["ns/op"], res.values[peer]["ns/op"]
	if len(o) == 0 || len(p) == 0 {
		return stat{}
	}
	if len(o) != len(p) {
		r := summarize(p).med / summarize(o).med
		return stat{med: r, lo: r, hi: r, n: 1}
	}
	rs := make([]float64, len(o))
	for i := range o {
		rs[i] = p[i] / o[i]
	}
	return summarize(rs)
}

// ratioRange formats a passRatio: "1.23× (1.10–1.40×)".
func ratioRange(s stat) string { return spread(s, ratio, num, ratio) }

// renderRedis writes the "Sessions in Redis" subsection, when the run has
// Redis results.
func renderRedis(b *strings.Builder, res *results) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	if !res.get(redisName("unix", "read", "sesbolt-redis", 1), "ns/op").ok() {
		return
	}
	p("\n### Sessions in Redis\n\n")
	p("The same cases through sesbolt with `pkg/redisstore` (on go-redis) and through\n")
	p("scs with its [redisstore](https://github.com/alexedwards/scs/tree/master/redisstore)\n")
	p("(on redigo), on one local `redis-server` started by the benchmark (persistence\n")
	p("off), reached over its Unix socket and over TCP loopback. For each transport,\n")
	p("case and number of goroutines the contenders run one after another in every\n")
	p("pass. *scs-redis* is scs as it ships: a 24 h lifetime and no idle timeout, so\n")
	p("its sessions do not expire while unused, and a read is one GET.\n")
	p("*scs-redis-idle* has sesbolt's expiry (30 min idle timeout, 12 h lifetime),\n")
	p("for which scs rewrites the session on every request, reads included.\n")
	p("Microseconds per request, median (min–max):\n\n")
	p("| case | goroutines | transport |")
	for _, s := range redisStores {
		p(" %s |", s)
	}
	for _, s := range redisPeers {
		p(" vs %s |", s)
	}
	p("\n|---|---|---|%s\n", strings.Repeat("---|", len(redisStores)+len(redisPeers)))
	for _, c := range cases {
		for _, g := range []int{1, 64} {
			for _, n := range redisNets {
				p("| %s | %d | %s |", caseText[c], g, redisNetText[n])
				for _, s := range redisStores {
					cell := withRange(res.get(redisName(n, c, s, g), "ns/op"), 1000)
					if s == "sesbolt-redis" {
						cell = "**" + cell + "**"
					}
					p(" %s |", cell)
				}
				for _, s := range redisPeers {
					r := res.passRatio(redisName(n, c, "sesbolt-redis", g), redisName(n, c, s, g))
					cell := ratioRange(r)
					if r.ok() && r.med < 1 {
						cell = "**" + cell + "**"
					}
					p(" %s |", cell)
				}
				p("\n")
			}
		}
	}
	p("\nThe *vs* columns are sesbolt's throughput relative to the peer: the median\n")
	p("over the passes of the peer's time divided by sesbolt's in the same pass,\n")
	p("with the range; bold where sesbolt is slower.\n\n")

	p("What one request costs, medians: *round trips* are the server's read events\n")
	p("per request, *commands* the Redis commands it ran (those a script runs\n")
	p("included), *Redis CPU* and *app CPU* the CPU time of the server and of the\n")
	p("benchmark process (the HTTP handling and the harness included) per request;\n")
	p("sesbolt-redis / scs-redis / scs-redis-idle in each cell.\n\n")
	p("| case | goroutines | transport | round trips | commands | Redis CPU, µs | app CPU, µs |\n")
	p("|---|---|---|---|---|---|---|\n")
	for _, c := range cases {
		for _, g := range []int{1, 64} {
			for _, n := range redisNets {
				p("| %s | %d | %s |", caseText[c], g, redisNetText[n])
				for _, unit := range []string{"rtt/op", "cmds/op", "redis-cpu-µs/op", "app-cpu-µs/op"} {
					cells := make([]string, len(redisStores))
					for i, s := range redisStores {
						cells[i] = "—"
						if v := res.get(redisName(n, c, s, g), unit); v.ok() {
							cells[i] = num(v.med)
						}
					}
					p(" %s |", strings.Join(cells, " / "))
				}
				p("\n")
			}
		}
	}

	if res.get("BenchmarkLostUpdates/store=sesbolt-redis", "lost-keys/op").ok() {
		p("\n**Lost updates.** A burst of 50 concurrent requests of one session, each\n")
		p("setting a key of its own while its handler works for 5 ms, on a session\n")
		p("holding one key; on Redis the requests alternate between two instances of\n")
		p("the application (two stores, two connection pools) sharing the server.\n")
		p("Keys lost per burst, of 51, median (min–max) over the passes:\n\n")
		p("| store | keys lost |\n|---|---|\n")
		for _, s := range lostStores {
			if v := res.get("BenchmarkLostUpdates/store="+s, "lost-keys/op"); v.ok() {
				p("| %s | %s |\n", s, withRange(v, 1))
			}
		}
	}
}

// redisTargets evaluates the Redis targets against scs-redis (as it
// ships), showing the ratio against scs-redis-idle beside it.
func redisTargets(res *results) []target {
	var ts []target
	if !res.get(redisName("unix", "read", "sesbolt-redis", 1), "ns/op").ok() {
		return nil
	}
	for _, c := range []string{"read", "set"} {
		for _, g := range []int{1, 64} {
			want := redisTargetFor[c][g]
			for _, n := range redisNets {
				ours := redisName(n, c, "sesbolt-redis", g)
				r := res.passRatio(ours, redisName(n, c, "scs-redis", g))
				idle := res.passRatio(ours, redisName(n, c, "scs-redis-idle", g))
				measured := ratioRange(r)
				if idle.ok() {
					measured += "; vs scs-redis-idle " + ratioRange(idle)
				}
				ts = append(ts, target{
					fmt.Sprintf("Redis, %s, %s, %s: ≥ %s scs-redis's throughput", caseText[c], goroutines(g), redisNetText[n], ratio(want)),
					measured, r.med >= want, r.ok(),
				})
			}
		}
	}
	lost := res.get("BenchmarkLostUpdates/store=sesbolt-redis", "lost-keys/op")
	peer := res.get("BenchmarkLostUpdates/store=scs-redis", "lost-keys/op")
	if lost.ok() {
		measured := fmt.Sprintf("%s of 51 keys lost in the worst run", num(lost.hi))
		if peer.ok() {
			measured += fmt.Sprintf("; scs-redis %s (median)", num(peer.med))
		}
		ts = append(ts, target{"Redis, 50 concurrent one-key updates of one session over two instances: no key lost", measured, lost.hi == 0, true})
	}
	return ts
}

// redisLosses lists the Redis cases where sesbolt is slower than a peer.
func redisLosses(res *results) []string {
	var out []string
	for _, c := range cases {
		for _, g := range []int{1, 64} {
			for _, n := range redisNets {
				ours := redisName(n, c, "sesbolt-redis", g)
				o := res.get(ours, "ns/op")
				var slower []string
				for _, s := range redisPeers {
					r := res.passRatio(ours, redisName(n, c, s, g))
					if o.ok() && r.ok() && r.med < 1 {
						slower = append(slower, fmt.Sprintf("%s (%s vs %s per request, %s)",
							s, duration(res.get(redisName(n, c, s, g), "ns/op").med), duration(o.med), ratio(r.med)))
					}
				}
				if len(slower) > 0 {
					out = append(out, fmt.Sprintf("**Redis, %s, %s, %s**: slower than %s.", caseText[c], goroutines(g), redisNetText[n], strings.Join(slower, ", ")))
				}
			}
		}
	}
	return out
}
