package redisstore_test

import (
	"os"
	"testing"

	"github.com/sesbolt/sesbolt/internal/redistest"
)

// TestMain stops the redis-server processes the tests shared.
func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }
