#!/usr/bin/env bash
# Load test: sesdemo under a mixed load loses nothing and stays bounded.
#
#   scripts/load.sh                  # DURATION=60s CONNECTIONS=64 by default
#   DURATION=10s scripts/load.sh
#
# Installs wrk from Debian's packages if it is missing (apt-get; needs root).
# Builds sesdemo, sesctl and internal/loaddriver into a temporary directory,
# starts sesdemo on 127.0.0.1 with a fresh database, and runs wrk for
# DURATION with CONNECTIONS connections (one per wrk thread) and
# scripts/load.lua: reads, writes of distinct keys, new sessions and logins.
# The server's memory (VmRSS, RssAnon, RssFile from /proc/PID/status) is
# sampled every second meanwhile.
#
# Then, with the server still running, `sesctl export` (through its admin
# socket) dumps every session and `sesctl check` checks the live file;
# loaddriver judges the run (see its doc): 0 responses other than 2xx and
# the logins' 303, 0 socket errors, every acknowledged write readable in its
# session, memory bounded (RSS_LIMIT_MB, default 512). Last the server is
# stopped with SIGTERM (it must exit 0) and the file checked offline with the
# keys (seals too). Prints requests/s and latency percentiles; exits 1 when
# the run failed. Loopback only; everything started is stopped on exit.
#
# Needs: go, wrk (installed if missing).
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${DURATION:-60s}
connections=${CONNECTIONS:-64}
rss_limit=${RSS_LIMIT_MB:-512}
case $duration in
*[0-9]s) secs=${duration%s} ;;
*[0-9]m) secs=$((${duration%m} * 60)) ;;
*[0-9]) secs=$duration; duration=${duration}s ;;
*) secs="" ;;
esac
case $secs in '' | *[!0-9]*) echo "load.sh: DURATION must be like 60s or 2m, not '$duration'" >&2; exit 2 ;; esac
case $connections in '' | *[!0-9]*) echo "load.sh: CONNECTIONS must be a number" >&2; exit 2 ;; esac
if [ "$secs" -lt 1 ] || [ "$secs" -gt 3600 ]; then echo "load.sh: DURATION must be 1s to 1h" >&2; exit 2; fi
if [ "$connections" -lt 1 ] || [ "$connections" -gt 1024 ]; then echo "load.sh: CONNECTIONS must be 1 to 1024" >&2; exit 2; fi

die() {
	echo "load.sh: $*" >&2
	exit 1
}

if ! command -v wrk >/dev/null; then
	[ "$(id -u)" = 0 ] || die "wrk is missing; install it (apt-get install wrk) or run as root"
	echo "load.sh: installing wrk from Debian's packages"
	apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
	command -v wrk >/dev/null || die "wrk did not install"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sesbolt-load.XXXXXX")
db=$tmp/load.db
keys=$tmp/load.keys
pid=""     # the server
sampler="" # the memory sampler
cleanup() {
	local status=$?
	if [ -n "$sampler" ] && kill -0 "$sampler" 2>/dev/null; then kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true; fi
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	if [ "$status" -ne 0 ] && [ -n "${KEEP_TMP:-}" ]; then
		echo "load.sh: kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT

echo "load.sh: building sesdemo, sesctl, loaddriver"
go build -o "$tmp/sesdemo" ./cmd/sesdemo
go build -o "$tmp/sesctl" ./cmd/sesctl
go build -o "$tmp/loaddriver" ./internal/loaddriver

log=$tmp/server.log
"$tmp/sesdemo" -addr 127.0.0.1:0 -db "$db" -keys "$keys" 2>"$log" &
pid=$!
addr=""
for _ in $(seq 200); do
	addr=$(sed -n 's/.*msg=listening addr=\([^ ]*\).*/\1/p' "$log")
	[ -n "$addr" ] && break
	kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; die "sesdemo did not start"; }
	sleep 0.05
done
[ -n "$addr" ] || { cat "$log" >&2; die "sesdemo did not report its address within 10s"; }
case $addr in 127.0.0.1:*) ;; *) die "sesdemo listens on $addr, not on loopback" ;; esac
echo "load.sh: sesdemo (pid $pid) on http://$addr; wrk $(wrk -v 2>&1 | head -n 1 | cut -d' ' -f2): $duration, $connections connections"

# One sample a second: seconds since start, then VmRSS, RssAnon, RssFile in kB.
(
	start=$(date +%s)
	for _ in $(seq $((secs + 120))); do
		kill -0 "$pid" 2>/dev/null || break
		now=$(date +%s)
		awk -v t=$((now - start)) '/^VmRSS:/ {r=$2} /^RssAnon:/ {a=$2} /^RssFile:/ {f=$2} END {if (r != "") print t, r, a, f}' \
			"/proc/$pid/status" 2>/dev/null || true
		sleep 1
	done
) >"$tmp/rss.tsv" &
sampler=$!

LOAD_RESULT=$tmp/result.json wrk -t "$connections" -c "$connections" -d "$duration" --timeout 5s --latency \
	-s scripts/load.lua "http://$addr" >"$tmp/wrk.out" 2>&1 || { cat "$tmp/wrk.out" >&2; die "wrk failed"; }
sed 's/^/  wrk| /' "$tmp/wrk.out"
[ -s "$tmp/result.json" ] || die "load.lua wrote no result"
sleep 2 # two more memory samples after the load
kill "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true
sampler=""

# The file as the running server has it: export through the admin socket,
# and check it (the server checks the seals with its keys).
"$tmp/sesctl" --db "$db" export >"$tmp/export.jsonl" || die "sesctl export failed"
check_status=0
"$tmp/sesctl" --db "$db" check >"$tmp/check.out" 2>&1 || check_status=$?
sed 's/^/  sesctl check (live)| /' "$tmp/check.out"
"$tmp/sesctl" --db "$db" stats | sed 's/^/  sesctl stats| /'

verdict=0
"$tmp/loaddriver" -result "$tmp/result.json" -export "$tmp/export.jsonl" -rss "$tmp/rss.tsv" \
	-rss-limit-mb "$rss_limit" || verdict=$?

kill -TERM "$pid"
stop_status=0
wait "$pid" || stop_status=$?
pid=""
[ "$stop_status" -eq 0 ] || die "sesdemo exited with $stop_status after SIGTERM"
offline_status=0
"$tmp/sesctl" --db "$db" --keys "$keys" check >"$tmp/check2.out" 2>&1 || offline_status=$?
[ "$offline_status" -eq 0 ] || { cat "$tmp/check2.out" >&2; die "sesctl check of the stopped file failed"; }
if grep -q 'level=ERROR' "$log"; then
	grep 'level=ERROR' "$log" | head -n 5 >&2
	die "the server logged errors"
fi
[ "$check_status" -eq 0 ] || die "sesctl check of the live file failed"
[ "$verdict" -eq 0 ] || die "the run failed"
echo "load.sh: sesdemo stopped cleanly; sesctl check clean (live, and offline with seals)"
