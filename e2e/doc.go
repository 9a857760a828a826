// Package e2e holds sesbolt's end-to-end tests: they build the real sesdemo
// and sesctl binaries, start sesdemo on a free port with its database and
// admin socket in a temporary directory, create sessions over HTTP with
// cookie jars, and administer them with sesctl while the demo serves, and
// after it stopped. The package has no code besides its tests.
//
//	go test -race ./e2e/
//
// The binaries are built once per test binary (with -race when the tests
// run with -race, so a data race in the demo or in sesctl fails the test).
// The tests run on Linux only, where CI runs them (the demo's child
// processes die with the test there, and socket paths are sized for
// Linux), and are skipped with -short.
package e2e
