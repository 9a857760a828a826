// Command sesctl administers sesbolt session databases: it lists, shows,
// expires and purges sessions, reports statistics, checks, backs up,
// compacts, exports and imports, on a database file or, while the
// application holds the file, through the application's admin socket.
//
// See docs/sesctl.md for every command, flag, exit code and JSON field.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], defaultEnv())
	stop()
	os.Exit(code)
}
