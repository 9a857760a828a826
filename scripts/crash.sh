#!/usr/bin/env bash
# Crash test: acknowledged writes survive SIGKILL.
#
#   scripts/crash.sh [ROUNDS]           # or ROUNDS=N scripts/crash.sh; default 20
#   scripts/crash.sh --redis [ROUNDS]   # sessions in Redis; default 10
#
# Builds sesdemo, sesctl and internal/crashdriver into a temporary directory
# and runs ROUNDS rounds on one database file. Each round:
#
#   1. crashdriver drives concurrent PUTs of distinct keys over HTTP (WORKERS
#      writers, default 32, on 8 new sessions and up to 8 of earlier rounds,
#      so several writers share each session) and records every write the
#      server acknowledged with 204;
#   2. the server is SIGKILLed at a random moment (0.2 to 3 s in);
#   3. `sesctl --keys check` runs on the file exactly as the crash left it
#      (structure, indexes, counters and every record's seal) and must be
#      clean;
#   4. sesdemo restarts on the same file, and every write acknowledged in
#      this or any earlier round must be readable through GET /api/session
#      with its value; the restarted server is the next round's.
#
# With --redis the sessions are in a redis-server (appendonly yes,
# appendfsync always, its directory in the run's temporary directory, on a
# Unix socket there) and it is redis-server that is SIGKILLed in step 2,
# while sesdemo -redis stays up (its requests fail with 500 until Redis is
# back: crashdriver -stop-on-5xx ends its writers then). Step 3 restarts
# redis-server on its directory, which replays its append-only file, and
# runs `sesctl --redis --keys check` on what it loaded; step 4 reads every
# acknowledged write back through the same sesdemo, which reconnects.
#
# Prints one line per round and a summary: rounds, acknowledged, lost.
# Exits 1 when anything was lost, a check failed or the server misbehaved.
# CRASH_SEED=N repeats a run's kill delays (the script prints its seed).
# Loopback only; everything started is killed on exit.
#
# Needs: go; with --redis, redis-server and redis-cli (Debian: apt-get
# install redis-server redis-tools).
set -euo pipefail
cd "$(dirname "$0")/.."

target=file
if [ "${1:-}" = "--redis" ]; then
	target=redis
	shift
fi
default_rounds=20
[ "$target" = redis ] && default_rounds=10
rounds=${1:-${ROUNDS:-$default_rounds}}
workers=${WORKERS:-32}
case $rounds in '' | *[!0-9]*) echo "crash.sh: ROUNDS must be a number, not '$rounds'" >&2; exit 2 ;; esac
case $workers in '' | *[!0-9]*) echo "crash.sh: WORKERS must be a number, not '$workers'" >&2; exit 2 ;; esac
if [ "$rounds" -lt 1 ] || [ "$rounds" -gt 1000 ]; then echo "crash.sh: ROUNDS must be 1 to 1000" >&2; exit 2; fi
seed=${CRASH_SEED:-$(( $$ ^ $(date +%s) ))}
RANDOM=$seed

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sesbolt-crash.XXXXXX")
db=$tmp/crash.db
keys=$tmp/crash.keys
acks=$tmp/acks.tsv
redis_sock=$tmp/redis.sock
redis_dir=$tmp/redis
pid=""    # the server
driver="" # the driver
rpid=""   # redis-server, with --redis
starts=0
rstarts=0

cleanup() {
	local status=$?
	if [ -n "$driver" ] && kill -0 "$driver" 2>/dev/null; then kill -KILL "$driver" 2>/dev/null || true; wait "$driver" 2>/dev/null || true; fi
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	if [ -n "$rpid" ] && kill -0 "$rpid" 2>/dev/null; then kill -KILL "$rpid" 2>/dev/null || true; wait "$rpid" 2>/dev/null || true; fi
	if [ "$status" -ne 0 ] && [ -n "${KEEP_TMP:-}" ]; then
		echo "crash.sh: kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT

die() {
	echo "crash.sh: $*" >&2
	exit 1
}

# store: where sesdemo keeps the sessions, and where sesctl finds them.
if [ "$target" = redis ]; then
	store=(-redis "unix://$redis_sock")
	ctl_store=(--redis "unix://$redis_sock")
else
	store=(-db "$db")
	ctl_store=(--db "$db")
fi

# start_redis starts redis-server on its directory (replaying its
# append-only file), sets rpid, and waits until it answers PING.
start_redis() {
	rstarts=$((rstarts + 1))
	local log=$tmp/redis.$rstarts.log
	mkdir -p "$redis_dir"
	redis-server --port 0 --unixsocket "$redis_sock" --unixsocketperm 700 --dir "$redis_dir" \
		--appendonly yes --appendfsync always --save "" --daemonize no --logfile "$log" &
	rpid=$!
	for _ in $(seq 400); do
		[ "$(redis-cli -s "$redis_sock" ping 2>/dev/null)" = PONG ] && return 0
		kill -0 "$rpid" 2>/dev/null || { cat "$log" >&2; die "redis-server did not start"; }
		sleep 0.05
	done
	cat "$log" >&2
	die "redis-server did not answer within 20s"
}

# start_server starts sesdemo on the store and sets pid and base.
start_server() {
	starts=$((starts + 1))
	log=$tmp/server.$starts.log
	: >"$log" # exists before the background start opens it, for sed below
	"$tmp/sesdemo" -addr 127.0.0.1:0 "${store[@]}" -keys "$keys" -idle 2h -lifetime 12h 2>"$log" &
	pid=$!
	local addr=""
	for _ in $(seq 400); do
		addr=$(sed -n 's/.*msg=listening addr=\([^ ]*\).*/\1/p' "$log")
		[ -n "$addr" ] && break
		kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; die "sesdemo did not start"; }
		sleep 0.05
	done
	[ -n "$addr" ] || { cat "$log" >&2; die "sesdemo did not report its address within 20s"; }
	case $addr in 127.0.0.1:*) ;; *) die "sesdemo listens on $addr, not on loopback" ;; esac
	base=http://$addr
}

# check runs sesctl check (with the keys: seals too) on the file (or the
# Redis); it must be clean. $1 says when.
check() {
	local out status=0
	out=$("$tmp/sesctl" "${ctl_store[@]}" --keys "$keys" check 2>&1) || status=$?
	if [ "$status" -ne 0 ]; then
		printf '%s\n' "$out" >&2
		die "sesctl check failed $1 (exit $status)"
	fi
}

# field NAME TEXT prints the value of NAME=VALUE in TEXT.
field() { printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | tail -n 1; }

if [ "$target" = redis ]; then
	for p in redis-server redis-cli; do
		command -v "$p" >/dev/null || die "--redis needs $p (Debian: apt-get install redis-server redis-tools)"
	done
fi
echo "crash.sh: building sesdemo, sesctl, crashdriver"
go build -o "$tmp/sesdemo" ./cmd/sesdemo
go build -o "$tmp/sesctl" ./cmd/sesctl
go build -o "$tmp/crashdriver" ./internal/crashdriver
if [ "$target" = redis ]; then
	echo "crash.sh: $rounds rounds, $workers writers, seed $seed, $(redis-server --version | cut -d' ' -f1-3) in $redis_dir (appendonly yes, appendfsync always)"
	start_redis
	victim=" redis-server"
	drive_flags=(-stop-on-5xx)
else
	echo "crash.sh: $rounds rounds, $workers writers, seed $seed, database $db"
	victim=""
	drive_flags=()
fi

start_server
lost=0
acknowledged=0
for round in $(seq "$rounds"); do
	"$tmp/crashdriver" drive -base "$base" -acks "$acks" -round "$round" -workers "$workers" -max 60s "${drive_flags[@]}" \
		>"$tmp/drive.out" 2>"$tmp/drive.err" &
	driver=$!
	delay_ms=$((200 + RANDOM % 2801))
	sleep "$((delay_ms / 1000)).$(printf '%03d' $((delay_ms % 1000)))"
	if [ "$target" = redis ]; then
		kill -KILL "$rpid"
		wait "$rpid" 2>/dev/null || true
		rpid=""
	else
		kill -KILL "$pid"
		wait "$pid" 2>/dev/null || true
		pid=""
	fi
	drive_status=0
	wait "$driver" || drive_status=$?
	driver=""
	if [ "$drive_status" -ne 0 ]; then
		cat "$tmp/drive.out" "$tmp/drive.err" >&2
		die "round $round: the driver failed (exit $drive_status)"
	fi
	drove=$(cat "$tmp/drive.out")

	if [ "$target" = redis ]; then
		start_redis
		check "on what Redis loaded after the crash of round $round"
	else
		check "on the file the crash of round $round left"
		start_server
	fi
	verify_status=0
	verified=$("$tmp/crashdriver" verify -base "$base" -acks "$acks" -wait 20s 2>"$tmp/verify.err") || verify_status=$?
	acknowledged=$(field acknowledged "$verified")
	round_lost=$(field lost "$verified")
	if [ -z "$acknowledged" ] || [ -z "$round_lost" ]; then
		cat "$tmp/verify.err" >&2
		die "round $round: verification failed (exit $verify_status)"
	fi
	if [ "$round_lost" -gt 0 ]; then
		cat "$tmp/verify.err" >&2
		lost=$round_lost
	fi
	printf 'round %2d/%d: SIGKILL%s after %4d ms: %5d writes acknowledged in the round (%s; %s errors cut by the kill), %6d in all; check clean; lost %d\n' \
		"$round" "$rounds" "$victim" "$delay_ms" "$(field acked "$drove")" "$(field sessions "$drove") sessions" \
		"$(field transient_errors "$drove")" "$acknowledged" "$round_lost"
	[ "$round_lost" -eq 0 ] || break
done

# A clean stop, and the file checked once more.
kill -TERM "$pid"
stop_status=0
wait "$pid" || stop_status=$?
pid=""
[ "$stop_status" -eq 0 ] || die "sesdemo exited with $stop_status after SIGTERM"
check "after the final clean stop"
if [ "$target" = redis ]; then
	kill -TERM "$rpid"
	wait "$rpid" || die "redis-server exited with $? after SIGTERM"
	rpid=""
fi

summary="crash:"
[ "$target" = redis ] && summary="crash: target=redis"
echo "$summary rounds=$round acknowledged=$acknowledged lost=$lost"
[ "$lost" -eq 0 ] || die "LOST $lost acknowledged writes"
