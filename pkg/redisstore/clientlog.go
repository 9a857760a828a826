package redisstore

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/redis/go-redis/v9"
)

// SetClientLogger sends the log lines go-redis writes by itself (a
// connection pool that cannot dial, a Cluster node that fails), which by
// default go to the process's stderr, to l at level Warn instead; nil
// discards them. go-redis has one logger per process, so this applies to
// every go-redis client in it: call it once, at startup. The store's own
// logs go to Options.Logger either way.
func SetClientLogger(l *slog.Logger) {
	redis.SetLogger(clientLogger{l})
}

// clientLogger adapts a *slog.Logger (nil: discard) to go-redis's logger.
type clientLogger struct{ l *slog.Logger }

func (c clientLogger) Printf(ctx context.Context, format string, v ...any) {
	if c.l == nil {
		return
	}
	msg := strings.TrimPrefix(fmt.Sprintf(format, v...), "redis: ")
	c.l.WarnContext(ctx, "go-redis: "+msg)
}
