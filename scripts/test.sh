#!/usr/bin/env bash
# Runs every check and test of the project. CI calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== gofmt"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
	echo "gofmt needed on:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
go vet ./...

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
