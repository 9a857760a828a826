//go:build !race

package e2e

// raceEnabled reports whether the tests run with -race: the binaries
// under test are then built with -race too.
const raceEnabled = false
