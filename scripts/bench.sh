#!/usr/bin/env bash
# Runs the side-by-side benchmarks (the bench/ module: sesbolt against scs
# and gorilla/sessions, same handler, same process, same machine) and
# rewrites the "## Side by side" section of BENCHMARKS.md from the results.
#
# Every benchmark runs COUNT times (default 5; the report gives medians and
# min–max). The large cases use 1,000,000 sessions; SIDEBYSIDE_N=100000
# makes a quicker run (the report then says so). The raw `go test` output is
# kept in bench/results.txt. Needs: go. About 6–8 minutes on 2 cores, a few
# GB of free space in $TMPDIR (the 1M-session files, built once per run).
#
#   scripts/bench.sh                      # the published run
#   SIDEBYSIDE_N=100000 scripts/bench.sh  # quicker
#   BENCH='HTTP/case=read' COUNT=3 scripts/bench.sh   # a subset (rewrites the section with it)
set -euo pipefail
cd "$(dirname "$0")/.."

count=${COUNT:-5}
benchtime=${BENCHTIME:-200ms}
pattern=${BENCH:-.}
out=bench/results.txt

if ((count < 5)) && [ -z "${BENCH:-}" ]; then
	echo "bench.sh: COUNT=$count; the published run needs at least 5" >&2
fi

load() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || true; }
# pressure prints the share of the last 5 minutes some task waited for RESOURCE (cpu, io).
pressure() { sed -n 's/^some .*avg300=\([0-9.]*\).*/\1%/p' "/proc/pressure/$1" 2>/dev/null || true; }

load_before="$(load)"
pressure_before="cpu $(pressure cpu), io $(pressure io)"
start=$(date +%s)
cmd="go test -run '^TestContenders\$' -bench '$pattern' -benchtime $benchtime -count $count -timeout 40m ."
if [ -n "${SIDEBYSIDE_N:-}" ]; then cmd="SIDEBYSIDE_N=$SIDEBYSIDE_N $cmd"; fi
echo "== (cd bench && $cmd)"
(
	cd bench
	go test -run '^TestContenders$' -bench "$pattern" -benchtime "$benchtime" -count "$count" -timeout 40m .
) | tee "$out.tmp"
mv "$out.tmp" "$out"
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
