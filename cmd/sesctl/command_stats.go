package main

import (
	"context"

	"github.com/spf13/cobra"
)

func newStatsCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "stats",
		Short: "Show counters: sessions, users, file size, reaper, commit latency",
		Long: `Show the store's counters: sessions stored, live and expired (not yet
purged), distinct users, the file's size and its free space (bbolt files
never shrink: see compact), the latest reaper pass (how long it made writers
wait), the records that failed their seal, and the store's commits with
their latency percentiles. Its cost tracks the number of expired sessions,
not the total.

On a file, the reaper, seal and commit counters start when sesctl opens it,
so they are meaningful through the app's admin socket.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runStats(cmd.Context())
		},
	}
}

func (a *app) runStats(ctx context.Context) (err error) {
	svc, release, err := a.service(ctx, readAccess)
	if err != nil {
		return err
	}
	defer func() { err = joinErr(err, release()) }()
	st, err := svc.Stats(ctx)
	if err != nil {
		return err
	}
	return a.printer().Stats(st)
}
