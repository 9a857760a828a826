package main

import (
	"context"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// purgeOptions are the flags of purge.
type purgeOptions struct {
	dryRun bool
}

func (o *purgeOptions) AddFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&o.dryRun, "dry-run", false, "only count what would be removed (opens the file read-only)")
}

func newPurgeCommand(a *app) *cobra.Command {
	var o purgeOptions
	cmd := &cobra.Command{
		Use:   "purge",
		Short: "Remove expired session records now",
		Long: `Remove the records of expired sessions now, instead of waiting for the app's
reaper. Live sessions are never touched. With --dry-run, only count them.`,
		Example: `  sesctl purge --dry-run
  sesctl purge`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runPurge(cmd.Context(), &o)
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

func (a *app) runPurge(ctx context.Context, o *purgeOptions) (err error) {
	acc := writeAccess
	if o.dryRun {
		acc = readAccess
	}
	svc, release, err := a.service(ctx, acc)
	if err != nil {
		return err
	}
	// Purge removes expired records whatever their seals (a record failing
	// its seal is removed all the same), so seal failures, which sesctl
	// reports, do not make it fail.
	defer func() { err = joinErr(err, forgiveSeals(release())) }()

	var stop func()
	if !o.dryRun {
		stop = a.progress(-1, "purging", false).Spin()
	}
	n, err := svc.Purge(ctx, o.dryRun)
	if stop != nil {
		stop()
	}
	if err != nil {
		return err
	}
	return a.printer().Purged(purgeResult{Removed: n, DryRun: o.dryRun})
}
