// Package bench measures sesbolt side by side with the session libraries
// people would pick instead, in one process on one machine:
//
//   - sesbolt: pkg/middleware.LoadAndSave with pkg/boltstore (and, for
//     reference, pkg/memstore);
//   - scs: github.com/alexedwards/scs/v2's LoadAndSave with its bbolt store
//     (github.com/alexedwards/scs/boltstore) and its memstore;
//   - gorilla: github.com/gorilla/sessions with its CookieStore and
//     FilesystemStore (gorilla has no middleware: the handler calls
//     store.Get and Session.Save, as its README does);
//   - on Redis: sesbolt with pkg/redisstore (go-redis) against scs with
//     github.com/alexedwards/scs/redisstore (redigo), as it ships and with
//     sesbolt's idle timeout (scs-redis-idle), both with pools of go-redis's
//     default size (10 connections per CPU), on redis-server processes
//     started through the main module's internal/redistest (persistence
//     off): for BenchmarkRedis one listening on a Unix socket and on a
//     free TCP port of 127.0.0.1, so both transports reach the same
//     server. Without redis-server and redis-cli those cases skip, except
//     in CI (CI=true), where they fail;
//   - bare: the same handler without sessions, the floor.
//
// It is a separate module so that the main module never depends on the
// peers. Everything lives in _test.go files; scripts/bench.sh runs it and
// cmd/report turns the `go test -bench` output into the "Side by side"
// section of BENCHMARKS.md.
//
// Any failed sesbolt request fails a benchmark; a peer's failures are
// counted and reported (failed/op, failed-writes). HTTP benchmarks also
// report wB/op, the bytes the process wrote to files per request.
//
// Benchmarks:
//
//   - BenchmarkHTTP: every contender's middleware around the same handler,
//     driven in-process with httptest requests (no network), at 1 and 64
//     goroutines: read an existing session (no change), set one key of an
//     existing session, create a new session with one key.
//   - BenchmarkRedis: the same cases on the Redis stores, over the Unix
//     socket and over TCP loopback, the contenders of each case one after
//     another; besides the time it reports the round trips, Redis commands
//     and CPU time (server's and process's) per request.
//   - BenchmarkLostUpdates (and TestLostUpdates): bursts of 50 concurrent
//     requests of one session each setting its own key, on the memory
//     stores and on Redis (two application instances sharing the server):
//     the keys lost per burst, none for sesbolt.
//   - BenchmarkReadSize: read latency with 1k and with 1M sessions stored.
//   - BenchmarkCleanup: one expiry pass with 10% of 100k and of 1M sessions
//     expired (scs's cleanup goroutine against sesbolt's Purge), alone and
//     while a writer measures the longest wait it sees, and a pass with
//     nothing expired on 1M.
//   - BenchmarkFootprint: bytes on disk per session; file size after 1M
//     sessions, 90% of them expired and purged, and after bbolt.Compact.
//   - BenchmarkFsync: the disk's fdatasync latency, which bounds every
//     durable write.
//
// The large files are built once per process (in a directory removed when
// the process exits) with bulk writes: sesbolt's Import in batches, and
// scs's bucket written directly with bbolt in its own value format (8-byte
// big-endian expiry, then scs.GobCodec's encoding). SIDEBYSIDE_N scales the
// 1M sessions down for quick runs; -short shrinks every large case to a
// few thousand sessions so the CI smoke stays fast.
package bench
