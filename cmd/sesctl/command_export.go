package main

import (
	"bufio"
	"context"
	"encoding/json"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/sesbolt/sesbolt/pkg/admin"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// exportOptions are the flags of export.
type exportOptions struct {
	user string
	live bool
}

func (o *exportOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.user, "user", "", "only the sessions of `USER`")
	fs.BoolVar(&o.live, "live", false, "only live sessions (default: every stored record)")
}

func newExportCommand(a *app) *cobra.Command {
	var o exportOptions
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write every session record to stdout as JSON lines",
		Long: `Write the full records of the stored sessions (live and expired but not yet
purged) to stdout, one JSON object per line, in id order: the format import
reads. The output is JSON whatever --output says. Records carry the session
data but no seals and no keys; treat the output as secret as the database.`,
		Example: `  sesctl export > sessions.jsonl
  sesctl export | sesctl --db other.db --keys other.keys import`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runExport(cmd.Context(), &o)
		},
	}
	o.AddFlags(cmd.Flags())
	mustComplete(cmd.RegisterFlagCompletionFunc("user", a.completeUsers))
	return cmd
}

func (a *app) runExport(ctx context.Context, o *exportOptions) (err error) {
	svc, release, err := a.service(ctx, readAccess)
	if err != nil {
		return err
	}
	defer func() { err = joinErr(err, release()) }()

	bw := bufio.NewWriterSize(a.stdout, 64<<10)
	enc := newJSONEncoder(bw)
	q := admin.ListQuery{Filter: session.All, User: o.user}
	if o.live {
		q.Filter = session.Live
	}
	err = eachRecord(ctx, svc, q, func(r *session.Record) (bool, error) {
		return true, enc.Encode(exportRecord(r))
	})
	return joinErr(err, bw.Flush())
}

// exportRecord returns r with its times in UTC, as export writes it.
func exportRecord(r *session.Record) *session.Record {
	c := *r
	c.Created, c.LastSeen = r.Created.UTC(), r.LastSeen.UTC()
	c.IdleExpires, c.Deadline = r.IdleExpires.UTC(), r.Deadline.UTC()
	if c.Data == nil {
		c.Data = map[string]json.RawMessage{}
	}
	return &c
}
