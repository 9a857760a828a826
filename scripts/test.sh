#!/usr/bin/env bash
# Runs every check and test of the project. CI calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

# Tests run against real things from Debian's packages: redis-server (and
# redis-cli) for pkg/redisstore's tests, one server and a Cluster of three,
# and for bench/'s Redis cases;
# /usr/bin/python3 with Flask, redis-py and itsdangerous for the Flask
# interop tests. Missing packages are installed here (CI runs as root with
# Debian's packages reachable); without them those tests skip locally and
# fail in CI (CI=true).
echo "== Debian packages: redis-server, redis-tools, python3-flask, python3-redis, python3-itsdangerous"
missing=()
for pkg in redis-server redis-tools python3-flask python3-redis python3-itsdangerous; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	else
		echo "missing ${missing[*]} (install as root: apt-get install ${missing[*]}); their tests will skip, or fail in CI"
	fi
fi
command -v redis-server >/dev/null && redis-server --version

echo "== gofmt"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
	echo "gofmt needed on:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
go vet ./...

# Apps are developed on macOS and Windows and deployed on Linux: nothing
# Linux-only may leak into shared code, tests included.
for goos in darwin windows; do
	echo "== GOOS=$goos: go vet, build the commands and examples"
	GOOS=$goos go vet ./...
	GOOS=$goos go build -o /dev/null ./cmd/... ./examples/...
done

# Stores are leaves: they import pkg/session, never pkg/admin (the
# application serves the admin socket, not the store).
echo "== layering: stores do not import pkg/admin"
for pkg in ./pkg/*store; do
	if go list -deps "$pkg" | grep -qx 'github.com/sesbolt/sesbolt/pkg/admin'; then
		echo "$pkg imports pkg/admin"; exit 1
	fi
done

# Only pkg/metrics imports Prometheus: the core packages report through
# pkg/session's observer seams and know no metrics library.
echo "== layering: only pkg/metrics imports Prometheus"
core="./pkg/session ./pkg/boltstore ./pkg/memstore ./pkg/redisstore ./pkg/middleware ./pkg/admin ./pkg/flasksession"
if go list -deps $core | grep -q '^github.com/prometheus/'; then
	echo "a core package imports Prometheus:"
	for pkg in $core; do
		go list -deps "$pkg" | grep '^github.com/prometheus/' | sed "s|^|$pkg -> |"
	done
	exit 1
fi

echo "== shell scripts parse"
for script in scripts/*.sh; do
	bash -n "$script"
done

# bench/ is its own module (the peers it measures are its dependencies, not
# ours): vet it and run every benchmark once on small data so it never rots.
echo "== bench smoke (bench/: go vet, tests, each benchmark once, -short)"
(cd bench && go vet ./... && go test -short -count=1 -run . -bench . -benchtime 1x ./...)

echo "== go test -race"
go test -race -count=1 ./...

# Every fuzz target, 5 s each: the seeds and testdata/fuzz regression inputs
# replay, and a short fuzzing run (scripts/fuzz.sh runs them longer).
echo "== fuzz smoke (scripts/fuzz.sh, 5 s per target)"
FUZZTIME=5s FUZZ_MINIMIZE=5s FUZZ_TARGETS= scripts/fuzz.sh

# SIGKILL during concurrent writes, 3 rounds (the full 20: docs/RELIABILITY.md).
echo "== crash test (scripts/crash.sh, 3 rounds)"
ROUNDS=3 WORKERS=32 scripts/crash.sh

# The same with the sessions in Redis: SIGKILL redis-server (appendfsync
# always), 3 rounds (the full 10: docs/RELIABILITY.md). It needs
# redis-server, installed above; without it, it fails in CI and skips here.
echo "== crash test on Redis (scripts/crash.sh --redis, 3 rounds)"
if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
	ROUNDS=3 WORKERS=32 scripts/crash.sh --redis
elif [ "${CI:-}" = true ]; then
	echo "redis-server and redis-cli are required in CI"; exit 1
else
	echo "skipped: redis-server or redis-cli not installed"
fi
