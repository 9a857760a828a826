package boltstore_test

import (
	"os"
	"testing"
)

// benchDir holds the benchmark files built once per process.
var benchDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}
