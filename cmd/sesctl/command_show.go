package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sesbolt/sesbolt/pkg/admin"
	"github.com/sesbolt/sesbolt/pkg/session"
)

func newShowCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show every field of a session and its data",
		Long: `Show every field of one session, live or expired but not yet purged, and its
data as indented JSON. ID is the session id as list prints it, or a unique
prefix of at least 8 hex digits.`,
		Example: `  sesctl show 0f8e4d2c-5b1a-4c3e-9d7f-2a6b8c0e1f34
  sesctl show 0f8e4d2c
  sesctl -o json show 0f8e4d2c | jq .data`,
		Args: needArgs(1, 1, "one session ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runShow(cmd.Context(), args[0])
		},
	}
	cmd.ValidArgsFunction = a.completeIDs(1)
	return cmd
}

func (a *app) runShow(ctx context.Context, arg string) (err error) {
	ref, err := parseIDRef(arg)
	if err != nil {
		return err
	}
	svc, release, err := a.service(ctx, readAccess)
	if err != nil {
		return err
	}
	defer func() { err = joinErr(err, release()) }()

	id, err := ref.resolve(ctx, svc)
	if err != nil {
		return err
	}
	r, err := svc.Get(ctx, id)
	if errors.Is(err, session.ErrNotFound) {
		return fmt.Errorf("session %s: not found", id)
	}
	if err != nil {
		return err
	}
	return a.printer().Session(r)
}

// MinIDPrefix is the shortest id prefix, in hex digits, that sesctl
// accepts for a session id.
const MinIDPrefix = 8

// idRef is a session named on the command line: a full id, or a prefix of
// its hex digits.
type idRef struct {
	arg    string
	id     session.ID // the full id, when given
	prefix string     // lower-case hex digits, when a prefix was given
}

// parseIDRef accepts a canonical id, its 32 hex digits, or a prefix of at
// least MinIDPrefix hex digits (dashes are ignored, case too). Anything
// else is a usage error.
func parseIDRef(arg string) (idRef, error) {
	if id, err := session.ParseID(arg); err == nil {
		return idRef{arg: arg, id: id}, nil
	}
	digits := strings.ToLower(strings.ReplaceAll(arg, "-", ""))
	for _, c := range digits {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return idRef{}, usageErrorf("%q is not a session id or id prefix (hex digits)", arg)
		}
	}
	switch {
	case len(digits) > 32:
		return idRef{}, usageErrorf("%q is too long for a session id", arg)
	case len(digits) == 32:
		var id session.ID
		hex.Decode(id[:], []byte(digits))
		if id.IsZero() {
			return idRef{}, usageErrorf("the zero id names no session")
		}
		return idRef{arg: arg, id: id}, nil
	case len(digits) < MinIDPrefix:
		return idRef{}, usageErrorf("id prefix %q is too short: give at least %d hex digits", arg, MinIDPrefix)
	}
	return idRef{arg: arg, prefix: digits}, nil
}

// maxCandidates bounds the sessions an ambiguous prefix error lists.
const maxCandidates = 10

// resolve returns the id ref names: a full id as is, a prefix as the one
// stored session (live or expired) whose id starts with it. It pages the
// listing from the lowest id with that prefix, so it reads only the
// matching sessions.
func (ref idRef) resolve(ctx context.Context, svc admin.Service) (session.ID, error) {
	if ref.prefix == "" {
		return ref.id, nil
	}
	q := admin.ListQuery{After: prefixCursor(ref.prefix), Filter: session.All, Limit: maxCandidates + 1}
	var found []session.ID
	err := eachRecord(ctx, svc, q, func(r *session.Record) (bool, error) {
		if !strings.HasPrefix(hex.EncodeToString(r.ID[:]), ref.prefix) {
			return false, nil
		}
		found = append(found, r.ID)
		return len(found) <= maxCandidates, nil
	})
	switch {
	case err != nil:
		return session.ID{}, err
	case len(found) == 0:
		return session.ID{}, fmt.Errorf("no session id starts with %s", ref.arg)
	case len(found) > 1:
		list := make([]string, 0, len(found))
		for _, id := range found[:min(len(found), maxCandidates)] {
			list = append(list, id.String())
		}
		more := ""
		if len(found) > maxCandidates {
			more = ", ..."
		}
		return session.ID{}, fmt.Errorf("id prefix %s is ambiguous; it matches %s%s", ref.arg, strings.Join(list, ", "), more)
	}
	return found[0], nil
}

// prefixCursor returns the cursor of an id-ordered listing just below the
// lowest id that starts with the hex digits prefix (ListQuery.After is
// exclusive).
func prefixCursor(prefix string) session.Cursor {
	var low session.ID
	digits := prefix + strings.Repeat("0", 32-len(prefix))
	hex.Decode(low[:], []byte(digits))
	// low - 1, big-endian; the zero id (from an all-zero prefix) already
	// means "from the start".
	for i := len(low) - 1; i >= 0 && !low.IsZero(); i-- {
		low[i]--
		if low[i] != 0xff {
			break
		}
	}
	return session.IDCursor(low)
}
