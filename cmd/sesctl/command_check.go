package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

func newCheckCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Verify the file's structure, its indexes and (with --keys) every seal",
		Long: `Verify the database: the bbolt page structure, that every record and its
index entries agree, and, when --keys is given (or through the app's admin
socket, where the app has its keys), every record's seal. Prints a report and
exits with 1 when anything is wrong.`,
		Example: `  sesctl check
  sesctl --keys app.keys check`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runCheck(cmd.Context())
		},
	}
}

func (a *app) runCheck(ctx context.Context) (err error) {
	svc, release, err := a.service(ctx, readAccess)
	if err != nil {
		return err
	}
	defer func() { err = joinErr(err, release()) }()
	rep, err := svc.Check(ctx)
	if err != nil {
		return err
	}
	if err := a.printer().Check(rep); err != nil {
		return err
	}
	if !rep.OK() {
		return fmt.Errorf("check found %s", plural(len(rep.Problems), "problem"))
	}
	return nil
}
