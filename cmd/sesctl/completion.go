package main

import (
	"context"
	"encoding/hex"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sesbolt/sesbolt/pkg/admin"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// Shell completion: cobra's completion command prints the scripts; the
// functions here give the values of flags and arguments. Session ids and
// user names come from the database or the admin socket when they can be
// read quickly; completion never fails and never prints an error.
const (
	// completionTimeout bounds how long one completion reads.
	completionTimeout = 500 * time.Millisecond
	// maxCompletions bounds the candidates offered.
	maxCompletions = 100
	// maxCompletionScan bounds the records read to find user names (there
	// is no index of users to read instead).
	maxCompletionScan = 10 * session.MaxPageSize
)

// shells are the shells cobra's completion command writes scripts for.
var shells = []string{"bash", "zsh", "fish", "powershell"}

// setupCompletion adds cobra's completion command to root, as a command
// that rejects a missing or unknown shell with a usage error, and the
// completion functions of the global flags.
func setupCompletion(a *app, root *cobra.Command) {
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			c.Args = needArgs(1, 1, "a shell: "+strings.Join(shells, ", "))
			c.RunE = func(cmd *cobra.Command, args []string) error {
				return usageErrorf("completion writes scripts for %s, not %q", strings.Join(shells, ", "), args[0])
			}
		}
	}
	mustComplete(root.RegisterFlagCompletionFunc("output", fixedValues("table\tfor people", "json\tfor scripts")))
}

// mustComplete panics on an error registering a completion function: it
// means a flag name is misspelled, which every test run finds.
func mustComplete(err error) {
	if err != nil {
		panic(err)
	}
}

// fixedValues completes a flag from a fixed list ("value\tdescription").
func fixedValues(values ...string) cobra.CompletionFunc {
	return cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp)
}

// completeUsers completes a user name from the stored sessions.
func (a *app) completeUsers(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return a.readCompletions(func(ctx context.Context, svc admin.Service) []cobra.Completion {
		return userCandidates(ctx, svc, toComplete)
	})
}

// completeIDs completes session ids, leaving out those already in args;
// max is how many ids the command takes (< 0: any number).
func (a *app) completeIDs(max int) cobra.CompletionFunc {
	return func(_ *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if max >= 0 && len(args) >= max {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return a.readCompletions(func(ctx context.Context, svc admin.Service) []cobra.Completion {
			return idCandidates(ctx, svc, toComplete, args, a.now())
		})
	}
}

// readCompletions returns what read finds in the database or through the
// socket within completionTimeout, or nothing: no database, a held file
// without a socket, an error, or too slow. Nothing is printed.
func (a *app) readCompletions(read func(context.Context, admin.Service) []cobra.Completion) ([]cobra.Completion, cobra.ShellCompDirective) {
	ctx, cancel := context.WithTimeout(context.Background(), completionTimeout)
	defer cancel()
	quiet := *a
	quiet.stderr = io.Discard
	found := make(chan []cobra.Completion, 1)
	go func() {
		svc, release, err := quiet.service(ctx, readAccess)
		if err != nil {
			found <- nil
			return
		}
		defer release()
		found <- read(ctx, svc)
	}()
	select {
	case c := <-found:
		return c, cobra.ShellCompDirectiveNoFileComp
	case <-ctx.Done():
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
}

// idCandidates returns up to maxCompletions stored session ids (live or
// expired) starting with toComplete, in the form it is typed in (canonical,
// or 32 hex digits), with the session's user as the description, leaving
// out the ids in given. Expiry is judged at now.
func idCandidates(ctx context.Context, svc admin.Service, toComplete string, given []string, now time.Time) []cobra.Completion {
	typed := strings.ToLower(toComplete)
	digits := strings.ReplaceAll(typed, "-", "")
	if len(digits) > 32 || strings.Trim(digits, "0123456789abcdef") != "" {
		return nil
	}
	q := admin.ListQuery{Filter: session.All, Limit: maxCompletions + len(given)}
	if digits != "" {
		q.After = prefixCursor(digits)
	}
	var out []cobra.Completion
	_ = eachRecord(ctx, svc, q, func(r *session.Record) (bool, error) {
		plain := hex.EncodeToString(r.ID[:])
		if !strings.HasPrefix(plain, digits) {
			return false, nil // ids come in order: no later one matches
		}
		id := r.ID.String()
		if !strings.HasPrefix(id, typed) {
			id = plain
		}
		if slices.Contains(given, id) || slices.Contains(given, r.ID.String()) {
			return true, nil
		}
		out = append(out, cobra.CompletionWithDesc(id, describe(r, now)))
		return len(out) < maxCompletions, nil
	})
	return out
}

// describe is the description of a session id candidate: its user, and
// whether it expired at now.
func describe(r *session.Record, now time.Time) string {
	d := printable(r.UserID)
	if d == "" {
		d = "anonymous"
	}
	if r.Expired(now) {
		d += ", expired"
	}
	return d
}

// userCandidates returns up to maxCompletions distinct user names starting
// with toComplete, sorted, from the first maxCompletionScan stored
// sessions. Names a shell could not take as one word of completion output
// (with a tab, a newline, or other unprintable characters) are left out.
func userCandidates(ctx context.Context, svc admin.Service, toComplete string) []cobra.Completion {
	seen := map[string]bool{}
	scanned := 0
	_ = eachRecord(ctx, svc, admin.ListQuery{Filter: session.All}, func(r *session.Record) (bool, error) {
		scanned++
		if r.UserID != "" && strings.HasPrefix(r.UserID, toComplete) && printable(r.UserID) == r.UserID {
			seen[r.UserID] = true
		}
		return len(seen) < maxCompletions && scanned < maxCompletionScan, nil
	})
	users := make([]cobra.Completion, 0, len(seen))
	for u := range seen {
		users = append(users, u)
	}
	slices.Sort(users)
	return users
}
