package admin_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/pkg/admin"
)

// dialEnv, when set, makes the test binary act as a client of the admin
// socket it names instead of running tests (see TestSocketRefusesOtherUID,
// which runs it as another user).
const dialEnv = "SESBOLT_ADMIN_TEST_DIAL"

func TestMain(m *testing.M) {
	if path := os.Getenv(dialEnv); path != "" {
		os.Exit(dialAsClient(path))
	}
	os.Exit(m.Run())
}

// dialAsClient asks the socket at path for stats and prints one line:
// "ok", "forbidden: ...", "unavailable: ..." or "error: ...".
func dialAsClient(path string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c := admin.DialSocket(path)
	defer c.Close()
	_, err := c.Stats(ctx)
	switch {
	case err == nil:
		fmt.Println("ok")
	case errors.Is(err, admin.ErrForbidden):
		fmt.Println("forbidden:", err)
	case errors.Is(err, admin.ErrUnavailable):
		fmt.Println("unavailable:", err)
	default:
		fmt.Println("error:", err)
	}
	return 0
}
