package admin

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// Service is the set of administrative operations on one session store. The
// HTTP handler serves it, Client speaks it over HTTP, and sesctl drives it,
// so every command works the same on a file (a Local service) and on a
// running app (a Client of its admin socket).
//
// Errors: session.ErrNotFound for an unknown session, session.ErrNotSupported
// when the store lacks the ability, session.ErrInvalid for bad input.
type Service interface {
	// List returns one page of sessions, judged live or expired at the
	// service's clock.
	List(ctx context.Context, q ListQuery) (session.Page, error)
	// Get returns the stored record with id whether it is live or expired
	// but not yet removed.
	Get(ctx context.Context, id session.ID) (*session.Record, error)
	// Expire ends the sessions with ids now and returns how many existed.
	Expire(ctx context.Context, ids ...session.ID) (int, error)
	// ExpireUser ends every session of user and returns how many it ended.
	ExpireUser(ctx context.Context, user string) (int, error)
	// ExpireAll ends every session and returns how many it ended.
	ExpireAll(ctx context.Context) (int, error)
	// Purge removes the records expired now and returns how many; with
	// dryRun it removes nothing and returns how many it would remove.
	Purge(ctx context.Context, dryRun bool) (int, error)
	// Stats returns the store's counters.
	Stats(ctx context.Context) (session.Stats, error)
	// Check verifies the store; problems are in the report.
	Check(ctx context.Context) (session.CheckReport, error)
	// Backup streams a consistent copy of the store to w.
	Backup(ctx context.Context, w io.Writer) (int64, error)
	// Import inserts recs atomically, skipping IDs already stored and
	// records already expired; it returns how many it inserted.
	Import(ctx context.Context, recs []*session.Record) (int, error)
}

// ListQuery selects a page of sessions; see session.ListQuery, whose Now the
// service fills from its own clock.
type ListQuery struct {
	After  session.ID     `json:"after"`
	Limit  int            `json:"limit"`
	Filter session.Filter `json:"filter"`
	User   string         `json:"user"`
}

// Local is a Service on a store in this process. It is safe for concurrent
// use when the store is.
type Local struct {
	store session.Store
	now   func() time.Time
}

// NewLocal returns a Service on store. now is the clock that decides what
// is expired; nil means time.Now.
func NewLocal(store session.Store, now func() time.Time) *Local {
	if now == nil {
		now = time.Now
	}
	return &Local{store: store, now: now}
}

func (l *Local) clock() time.Time { return l.now().UTC() }

// ability returns the store as T, or ErrNotSupported naming what is missing.
func ability[T any](l *Local, what string) (T, error) {
	v, ok := l.store.(T)
	if !ok {
		return v, fmt.Errorf("%w: %s", session.ErrNotSupported, what)
	}
	return v, nil
}

// List implements Service.
func (l *Local) List(ctx context.Context, q ListQuery) (session.Page, error) {
	lister, err := ability[session.Lister](l, "listing")
	if err != nil {
		return session.Page{}, err
	}
	return lister.List(ctx, session.ListQuery{After: q.After, Limit: q.Limit, Filter: q.Filter, User: q.User, Now: l.clock()})
}

// Get implements Service.
func (l *Local) Get(ctx context.Context, id session.ID) (*session.Record, error) {
	// Every record is live at the zero time, so Load at it returns any
	// stored record, expired or not; integrity checks still apply.
	return l.store.Load(ctx, id, time.Time{})
}

// Expire implements Service.
func (l *Local) Expire(ctx context.Context, ids ...session.ID) (int, error) {
	return l.store.Delete(ctx, ids...)
}

// ExpireUser implements Service.
func (l *Local) ExpireUser(ctx context.Context, user string) (int, error) {
	ui, err := ability[session.UserIndex](l, "per-user index")
	if err != nil {
		return 0, err
	}
	return ui.DeleteUser(ctx, user)
}

// ExpireAll implements Service. It deletes page by page (session.MaxPageSize
// records per store operation), so a large store is never held for long.
func (l *Local) ExpireAll(ctx context.Context) (int, error) {
	lister, err := ability[session.Lister](l, "listing")
	if err != nil {
		return 0, err
	}
	total := 0
	q := session.ListQuery{Filter: session.All, Limit: session.MaxPageSize}
	for {
		q.Now = l.clock()
		page, err := lister.List(ctx, q)
		if err != nil {
			return total, err
		}
		ids := make([]session.ID, len(page.Records))
		for i, r := range page.Records {
			ids[i] = r.ID
		}
		n, err := l.store.Delete(ctx, ids...)
		total += n
		if err != nil {
			return total, err
		}
		if page.Next.IsZero() {
			return total, nil
		}
		q.After = page.Next
	}
}

// Purge implements Service.
func (l *Local) Purge(ctx context.Context, dryRun bool) (int, error) {
	if dryRun {
		st, err := l.Stats(ctx)
		if err != nil {
			return 0, err
		}
		return int(st.Expired), nil
	}
	p, err := ability[session.Purger](l, "purge")
	if err != nil {
		return 0, err
	}
	return p.Purge(ctx, l.clock())
}

// Stats implements Service.
func (l *Local) Stats(ctx context.Context) (session.Stats, error) {
	sr, err := ability[session.StatsReporter](l, "stats")
	if err != nil {
		return session.Stats{}, err
	}
	return sr.Stats(ctx, l.clock())
}

// Check implements Service.
func (l *Local) Check(ctx context.Context) (session.CheckReport, error) {
	c, err := ability[session.Checker](l, "check")
	if err != nil {
		return session.CheckReport{}, err
	}
	return c.Check(ctx)
}

// Backup implements Service.
func (l *Local) Backup(ctx context.Context, w io.Writer) (int64, error) {
	b, err := ability[session.Backuper](l, "backup")
	if err != nil {
		return 0, err
	}
	return b.Backup(ctx, w)
}

// Import implements Service. Every record is validated first; one invalid
// record fails the whole batch before anything is written.
func (l *Local) Import(ctx context.Context, recs []*session.Record) (int, error) {
	im, err := ability[session.Importer](l, "import")
	if err != nil {
		return 0, err
	}
	for i, r := range recs {
		if err := r.Validate(); err != nil {
			return 0, fmt.Errorf("record %d: %w", i+1, err)
		}
	}
	return im.Import(ctx, recs, l.clock())
}

var _ Service = (*Local)(nil)
