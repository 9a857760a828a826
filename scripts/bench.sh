#!/usr/bin/env bash
# Runs the side-by-side benchmarks (the bench/ module: sesbolt against scs
# and gorilla/sessions, same handler, same process, same machine; on bbolt,
# in memory and on one local redis-server) and rewrites the "## Side by
# side" section of BENCHMARKS.md from the results.
#
# Every benchmark runs COUNT times (default 5; the report gives medians and
# min–max). The large cases use 1,000,000 sessions; SIDEBYSIDE_N=100000
# makes a quicker run (the report then says so). The raw `go test` output is
# kept in bench/results.txt. Needs: go, and redis-server for the Redis
# cases (they are skipped without it). About 8–10 minutes on 2 cores, a few
# GB of free space in $TMPDIR (the 1M-session files, built once per run).
#
#   scripts/bench.sh                      # the published run
#   SIDEBYSIDE_N=100000 scripts/bench.sh  # quicker
#   BENCH='HTTP/case=read' COUNT=3 scripts/bench.sh   # a subset, in COUNT passes (rewrites the section with it)
set -euo pipefail
cd "$(dirname "$0")/.."

count=${COUNT:-5}
benchtime=${BENCHTIME:-200ms}
pattern=${BENCH:-.}
out=bench/results.txt

if ((count < 5)) && [ -z "${BENCH:-}" ]; then
	echo "bench.sh: COUNT=$count; the published run needs at least 5" >&2
fi
if ! command -v redis-server >/dev/null; then
	echo "bench.sh: redis-server not found: the Redis cases will be skipped (apt-get install redis-server)" >&2
fi

load() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || true; }
# pressure prints the share of the last 5 minutes some task waited for RESOURCE (cpu, io).
pressure() { sed -n 's/^some .*avg300=\([0-9.]*\).*/\1%/p' "/proc/pressure/$1" 2>/dev/null || true; }

load_before="$(load)"
pressure_before="cpu $(pressure cpu), io $(pressure io)"
start=$(date +%s)
env=""
if [ -n "${SIDEBYSIDE_N:-}" ]; then env="SIDEBYSIDE_N=$SIDEBYSIDE_N "; fi
# The request cases, the Redis cases, the lost-updates bursts (and the
# fsync probe) run in COUNT passes of -count 1, so that a change in the
# machine's load lands on every contender of a case alike: with -count N, go
# test runs each benchmark N times in a row. The large cases need files
# built once per process, so they run with -count.
quick='^Benchmark(HTTP|Redis|LostUpdates|Fsync)$'
large='^Benchmark(ReadSize|Cleanup|Footprint)$'
if [ -n "${BENCH:-}" ]; then quick=$pattern large=$pattern; fi
quick_cmd="go test -run '^Test(Redis)?Contenders\$' -bench '$quick' -benchtime $benchtime -count 1 ."
large_cmd="go test -run '^\$' -bench '$large' -benchtime $benchtime -count $count -timeout 40m ."
: >"$out.tmp"
for pass in $(seq "$count"); do
	echo "== pass $pass/$count: (cd bench && $env$quick_cmd)"
	if [ "$pass" -eq 1 ]; then
		(cd bench && go test -run '^Test(Redis)?Contenders$' -bench "$quick" -benchtime "$benchtime" -count 1 .) | tee -a "$out.tmp"
	else
		(cd bench && go test -run '^$' -bench "$quick" -benchtime "$benchtime" -count 1 .) | tee -a "$out.tmp"
	fi
done
if [ -z "${BENCH:-}" ]; then
	echo "== (cd bench && $env$large_cmd)"
	(cd bench && go test -run '^$' -bench "$large" -benchtime "$benchtime" -count "$count" -timeout 40m .) | tee -a "$out.tmp"
fi
mv "$out.tmp" "$out"
cmd="for pass in 1..$count: $env$quick_cmd; then $env$large_cmd"
secs=$(($(date +%s) - start))

echo "== writing BENCHMARKS.md (## Side by side)"
(
	cd bench
	go run ./cmd/report -in results.txt -out ../BENCHMARKS.md \
		-date "$(date -u +%Y-%m-%d)" -kernel "$(uname -r)" -go "$(go env GOVERSION)" \
		-load-before "$load_before (pressure: $pressure_before)" \
		-load-after "$(load) (pressure: cpu $(pressure cpu), io $(pressure io))" \
		-duration "$((secs / 60)) min $((secs % 60)) s" -n "${SIDEBYSIDE_N:-}" \
		-command "(cd bench && $cmd)"
)
echo "done in $((secs / 60)) min $((secs % 60)) s; raw results in $out"
