#!/usr/bin/env bash
# Runs every fuzz target of the module, one after the other.
#
#   scripts/fuzz.sh                    # FUZZTIME=60s each
#   FUZZTIME=10m scripts/fuzz.sh       # longer
#   FUZZTIME=5s scripts/fuzz.sh        # the smoke run of scripts/test.sh
#   FUZZ_TARGETS=Cookie scripts/fuzz.sh   # only targets whose name matches
#
# The targets are found in the sources (every func FuzzX(f *testing.F) in a
# _test.go file), so a new target runs without editing this script. Each
# runs with `go test -run '^FuzzX$' -fuzz '^FuzzX$' -fuzztime FUZZTIME`, which
# first replays its seeds and its corpus in testdata/fuzz/FuzzX (regression
# cases), then fuzzes. FUZZ_MINIMIZE (default 10s) bounds the minimization
# of each new input; FUZZ_PARALLEL (default: the number of CPUs) the workers.
#
# A target that fails leaves its input in testdata/fuzz/FuzzX/ (go test
# prints the path): fix the bug and commit the input as a regression case.
# Exits 1 when any target failed, after running all of them.
#
# Needs: go.
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime=${FUZZTIME:-60s}
minimize=${FUZZ_MINIMIZE:-10s}
parallel=${FUZZ_PARALLEL:-$(nproc 2>/dev/null || echo 2)}
filter=${FUZZ_TARGETS:-}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sesbolt-fuzz.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# Every "dir name" pair, sorted.
grep -rE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' . |
	sed -E 's#^\./(.*)/[^/]*_test\.go:func (Fuzz[A-Za-z0-9_]*)\(.*#\1 \2#' |
	grep -v '^bench/' | sort -u >"$tmp/targets"
if [ -n "$filter" ]; then
	awk -v f="$filter" '$2 ~ f' "$tmp/targets" >"$tmp/t" && mv "$tmp/t" "$tmp/targets"
fi
count=$(wc -l <"$tmp/targets")
[ "$count" -gt 0 ] || { echo "fuzz.sh: no fuzz targets found${filter:+ matching $filter}" >&2; exit 1; }
echo "fuzz.sh: $count targets, $fuzztime each, $parallel workers"

failed=()
while read -r dir name; do
	log=$tmp/$name.log
	start=$(date +%s)
	status=0
	go test -run "^${name}\$" -fuzz "^${name}\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimize" \
		-parallel "$parallel" "./$dir" >"$log" 2>&1 </dev/null || status=$?
	secs=$(($(date +%s) - start))
	corpus=0
	if [ -d "$dir/testdata/fuzz/$name" ]; then corpus=$(find "$dir/testdata/fuzz/$name" -type f | wc -l); fi
	last=$({ grep -E '^fuzz: elapsed' "$log" || true; } | tail -n 1 | sed -E 's/^fuzz: elapsed: [^,]*, //; s/ \([0-9]+\/sec\)//')
	# Go's fuzzing engine sometimes fails a run with a bare "context deadline
	# exceeded" when -fuzztime ends while it minimizes a new interesting
	# input: no failing input is written and nothing is
	# wrong with the target. Anything that wrote an input is a real failure.
	if [ "$status" -ne 0 ] && grep -q 'context deadline exceeded' "$log" &&
		! grep -q 'Failing input written to' "$log"; then
		last="${last:+$last, }ended by the engine's deadline during minimization (not a failure)"
		status=0
	fi
	if [ "$status" -eq 0 ]; then
		printf 'fuzz.sh: ok   %-20s %-16s %s (%d regression inputs in testdata; %ds)\n' "$name" "$dir" "${last:-no fuzzing output}" "$corpus" "$secs"
	else
		printf 'fuzz.sh: FAIL %-20s %-16s (%ds)\n' "$name" "$dir" "$secs"
		sed 's/^/    /' "$log" | tail -n 40
		failed+=("$dir $name")
	fi
done <"$tmp/targets"

if [ "${#failed[@]}" -gt 0 ]; then
	echo "fuzz.sh: ${#failed[@]} of $count targets failed: ${failed[*]}" >&2
	echo "fuzz.sh: their inputs are under testdata/fuzz/ of each package: fix the bug, keep the input" >&2
	exit 1
fi
echo "fuzz.sh: all $count targets passed"
