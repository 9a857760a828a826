package main

import (
	"flag"
	"os"
	"testing"

	"github.com/sesbolt/sesbolt/internal/redistest"
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := redistest.Main(m) // stops the Redis servers the tests shared
	removeBenchFile()
	os.Exit(code)
}
