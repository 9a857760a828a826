package main

import (
	"bytes"
	"container/heap"
	"context"
	"slices"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/sesbolt/sesbolt/pkg/admin"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// listOptions are the flags of list.
type listOptions struct {
	user    string
	expired bool
	all     bool
	limit   int
	sort    string
	reverse bool
}

func (o *listOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.user, "user", "", "only the sessions of `USER`")
	fs.BoolVar(&o.expired, "expired", false, "only sessions expired but not yet purged")
	fs.BoolVar(&o.all, "all", false, "live and expired sessions")
	fs.IntVar(&o.limit, "limit", 0, "print at most `N` sessions (0: all)")
	fs.StringVar(&o.sort, "sort", "", "order by `FIELD`: created, last-seen or expires, instead of id (holds the rows in memory unless --limit bounds them)")
	fs.BoolVar(&o.reverse, "reverse", false, "reverse the order (newest or latest first with --sort)")
}

func (o *listOptions) validate() error {
	if o.expired && o.all {
		return usageErrorf("--expired and --all exclude each other")
	}
	if o.limit < 0 {
		return usageErrorf("--limit must not be negative")
	}
	if o.sort != "" && sortKeys[o.sort] == nil {
		return usageErrorf("--sort must be created, last-seen or expires, not %q", o.sort)
	}
	if o.reverse && o.sort == "" {
		return usageErrorf("--reverse needs --sort")
	}
	return nil
}

func (o *listOptions) filter() session.Filter {
	switch {
	case o.expired:
		return session.Expired
	case o.all:
		return session.All
	}
	return session.Live
}

func newListCommand(a *app) *cobra.Command {
	var o listOptions
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List sessions (live ones by default)",
		Long: `List sessions: live ones by default, --expired for those expired but not yet
purged, --all for both. Rows come as they are read, so a listing of millions
of sessions runs in constant memory: in id order, except that --expired lists
in the store's order (a database file: expired longest ago first). --sort
orders them by a time instead, which holds the rows in memory unless
--limit N keeps only the first N.`,
		Example: `  sesctl list
  sesctl list --user alice
  sesctl list --sort last-seen --reverse --limit 20
  sesctl -o json list --all | jq -r 'select(.user == "") | .id'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			return a.runList(cmd.Context(), &o)
		},
	}
	o.AddFlags(cmd.Flags())
	mustComplete(cmd.RegisterFlagCompletionFunc("user", a.completeUsers))
	mustComplete(cmd.RegisterFlagCompletionFunc("sort", fixedValues(
		"created\twhen the session was first stored", "last-seen\twhen a request last refreshed it", "expires\twhen it ends")))
	return cmd
}

func (a *app) runList(ctx context.Context, o *listOptions) (err error) {
	svc, release, err := a.service(ctx, readAccess)
	if err != nil {
		return err
	}
	defer func() { err = joinErr(err, release()) }()

	out := a.printer().List()
	n := 0 // rows written
	defer func() {
		// A listing that failed before its first row prints nothing (the
		// table printer would say "no sessions").
		if err == nil || n > 0 {
			err = joinErr(err, out.Close())
		}
	}()

	q := admin.ListQuery{Filter: o.filter(), User: o.user}
	if o.sort == "" {
		if o.limit > 0 {
			q.Limit = min(o.limit, session.MaxPageSize) // read no more than needed
		}
		return eachRecord(ctx, svc, q, func(r *session.Record) (bool, error) {
			n++
			return o.limit == 0 || n < o.limit, out.Write(r)
		})
	}
	rows := newTopN(sortKeys[o.sort], o.reverse, o.limit)
	if err := eachRecord(ctx, svc, q, func(r *session.Record) (bool, error) {
		rows.add(r)
		return true, nil
	}); err != nil {
		return err
	}
	for _, r := range rows.sorted() {
		n++
		if err := out.Write(r); err != nil {
			return err
		}
	}
	return nil
}

// eachRecord pages through svc's records matching q in the listing's order
// (id order, except for expired sessions, which come in the store's order)
// and calls fn for each until fn returns false or an error. Pages are as large as
// the API allows; each is a short read of the store.
func eachRecord(ctx context.Context, svc admin.Service, q admin.ListQuery, fn func(*session.Record) (bool, error)) error {
	if q.Limit == 0 {
		q.Limit = session.MaxPageSize
	}
	for {
		page, err := svc.List(ctx, q)
		if err != nil {
			return err
		}
		for _, r := range page.Records {
			more, err := fn(r)
			if err != nil || !more {
				return err
			}
		}
		if page.Next.IsZero() {
			return nil
		}
		q.After = page.Next
	}
}

// sortKeys are the times --sort orders by.
var sortKeys = map[string]func(*session.Record) time.Time{
	"created":   func(r *session.Record) time.Time { return r.Created },
	"last-seen": func(r *session.Record) time.Time { return r.LastSeen },
	"expires":   func(r *session.Record) time.Time { return r.Expires() },
}

// topN keeps the first n records in an order (all of them when n is 0),
// with a heap whose root is the last record kept.
type topN struct {
	key     func(*session.Record) time.Time
	reverse bool
	n       int
	recs    []*session.Record
}

func newTopN(key func(*session.Record) time.Time, reverse bool, n int) *topN {
	return &topN{key: key, reverse: reverse, n: n}
}

// before is the order: by key (descending if reverse), then by id.
func (t *topN) before(a, b *session.Record) bool {
	c := t.key(a).Compare(t.key(b))
	if t.reverse {
		c = -c
	}
	if c == 0 {
		c = bytes.Compare(a.ID[:], b.ID[:])
	}
	return c < 0
}

func (t *topN) add(r *session.Record) {
	if t.n == 0 {
		t.recs = append(t.recs, r)
		return
	}
	if len(t.recs) < t.n {
		heap.Push(t, r)
		return
	}
	if t.before(r, t.recs[0]) {
		t.recs[0] = r
		heap.Fix(t, 0)
	}
}

// sorted returns the records kept, in order.
func (t *topN) sorted() []*session.Record {
	slices.SortFunc(t.recs, func(a, b *session.Record) int {
		if t.before(a, b) {
			return -1
		}
		if t.before(b, a) {
			return 1
		}
		return 0
	})
	return t.recs
}

// heap.Interface with the latest record at the root.
func (t *topN) Len() int           { return len(t.recs) }
func (t *topN) Less(i, j int) bool { return t.before(t.recs[j], t.recs[i]) }
func (t *topN) Swap(i, j int)      { t.recs[i], t.recs[j] = t.recs[j], t.recs[i] }
func (t *topN) Push(x any)         { t.recs = append(t.recs, x.(*session.Record)) }
func (t *topN) Pop() any {
	r := t.recs[len(t.recs)-1]
	t.recs = t.recs[:len(t.recs)-1]
	return r
}

// joinErr returns the first non-nil error.
func joinErr(err, later error) error {
	if err != nil {
		return err
	}
	return later
}
