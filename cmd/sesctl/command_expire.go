package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// expireOptions are the flags of expire.
type expireOptions struct {
	user   string
	except string
	all    bool
	yes    bool
}

func (o *expireOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.user, "user", "", "end every session of `USER` (log out everywhere)")
	fs.StringVar(&o.except, "except", "", "with --user: spare the session `ID` (an id or unique prefix): sign the user out of every other device")
	fs.BoolVar(&o.all, "all", false, "end every session")
	fs.BoolVarP(&o.yes, "yes", "y", false, "do not ask for confirmation (needed for --all when stdin is not a terminal)")
}

func (o *expireOptions) validate(args []string) error {
	if o.except != "" && o.user == "" {
		return usageErrorf("expire --except ID goes with --user USER")
	}
	given := 0
	for _, b := range []bool{len(args) > 0, o.user != "", o.all} {
		if b {
			given++
		}
	}
	if given != 1 {
		return usageErrorf("expire needs exactly one of: session ids, --user USER, --all")
	}
	return nil
}

func newExpireCommand(a *app) *cobra.Command {
	var o expireOptions
	cmd := &cobra.Command{
		Use:   "expire {ID... | --user USER [--except ID] | --all}",
		Short: "End sessions now",
		Long: `End sessions now: the given ones (ids or unique id prefixes of at least 8 hex
digits), every session of a user (--user, "log out everywhere"), or every
session (--all). --except ID with --user spares that session of the user
("sign out my other devices"). Their records are removed; the next request
carrying one of their cookies gets a fresh session. Prints how many sessions were ended; ids
that name no stored session are not an error.

--all asks for confirmation on a terminal unless --yes is given, and refuses
to run without --yes when stdin is not a terminal.`,
		Example: `  sesctl expire 0f8e4d2c 7a1b2c3d
  sesctl expire --user alice
  sesctl expire --user alice --except 0f8e4d2c
  sesctl expire --all --yes`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.validate(args); err != nil {
				return err
			}
			return a.runExpire(cmd.Context(), &o, args)
		},
	}
	o.AddFlags(cmd.Flags())
	cmd.ValidArgsFunction = a.completeIDs(-1)
	mustComplete(cmd.RegisterFlagCompletionFunc("user", a.completeUsers))
	mustComplete(cmd.RegisterFlagCompletionFunc("except", a.completeIDs(1)))
	return cmd
}

func (a *app) runExpire(ctx context.Context, o *expireOptions, args []string) (err error) {
	refs := make([]idRef, len(args))
	for i, arg := range args {
		if refs[i], err = parseIDRef(arg); err != nil {
			return err
		}
	}
	var except idRef
	if o.except != "" {
		if except, err = parseIDRef(o.except); err != nil {
			return err
		}
	}
	if o.all && !o.yes && !a.terminal(a.stdin) {
		return usageErrorf("expire --all ends every session: add --yes to confirm (stdin is not a terminal to ask)")
	}
	svc, release, err := a.service(ctx, writeAccess)
	if err != nil {
		return err
	}
	defer func() { err = joinErr(err, release()) }()

	var n int
	switch {
	case o.all:
		if !o.yes {
			what := "every session"
			if st, err := svc.Stats(ctx); err == nil {
				what = fmt.Sprintf("all %s", plural(int(st.Sessions), "session"))
			}
			ok, err := a.confirm(fmt.Sprintf("End %s in %s?", what, a.target()))
			if err != nil {
				return err
			}
			if !ok {
				return errors.New("aborted; nothing expired")
			}
		}
		bar := a.progress(-1, "expiring", false)
		stop := bar.Spin()
		n, err = svc.ExpireAll(ctx)
		stop()
	case o.user != "" && o.except != "":
		keep, rerr := except.resolve(ctx, svc)
		if rerr != nil {
			return rerr
		}
		n, err = svc.ExpireUserExcept(ctx, o.user, keep)
	case o.user != "":
		n, err = svc.ExpireUser(ctx, o.user)
	default:
		ids := make([]session.ID, 0, len(refs))
		for _, ref := range refs {
			id, err := ref.resolve(ctx, svc)
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		n, err = svc.Expire(ctx, ids...)
	}
	if err != nil {
		if n > 0 {
			return fmt.Errorf("%w (after expiring %s)", err, plural(n, "session"))
		}
		return err
	}
	return a.printer().Expired(expireResult{Expired: n})
}

// target names what the command works on, for messages.
func (a *app) target() string {
	switch {
	case a.redis != "":
		return fmt.Sprintf("the Redis at %s (prefix %q)", a.redisName(), a.prefix)
	case a.socket != "":
		return "the app behind " + a.socket
	}
	return a.db
}
