package admin

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
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
	// ExpireUserExcept ends every session of user but keep ("sign out the
	// other devices"; see session.UserIndex.DeleteUserExcept) and returns
	// how many it ended. A keep that is not one of user's sessions spares
	// nothing.
	ExpireUserExcept(ctx context.Context, user string, keep session.ID) (int, error)
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
	// Info says what the service serves: the store's database file, if
	// it has one. sesctl uses it to refuse a backup over that file.
	Info(ctx context.Context) (Info, error)
}

// Info describes what a Service serves.
type Info struct {
	// Path is the absolute path of the database file the store keeps its
	// sessions in, as the serving process sees it; "" when the store has
	// no file (it does not implement FileBacked: memstore, Redis).
	Path string `json:"path"`
	// File identifies that file by device and inode numbers; nil when
	// there is no file or the system has no such numbers (Windows).
	File *FileID `json:"file,omitempty"`
}

// FileID identifies a file on one machine by the device and inode numbers
// stat(2) reports: two paths name the same file (through a hard link, a
// symbolic link or another relative path) exactly when their FileIDs are
// equal.
type FileID struct {
	Dev uint64 `json:"dev"`
	Ino uint64 `json:"ino"`
}

// FileIDOf returns the FileID of the file fi describes (from os.Stat or
// os.Lstat); ok is false on systems without device and inode numbers
// (Windows) and for a FileInfo that did not come from the file system.
func FileIDOf(fi fs.FileInfo) (id FileID, ok bool) { return fileIDOf(fi) }

// FileBacked is implemented by stores kept in one file (boltstore.Store).
// Path returns the file's path as given to open it; "" means the store has
// no file, as if it did not implement FileBacked. ServeSocket puts its
// socket beside that file by default, where sesctl --db FILE looks for it,
// and Local.Info reports the file.
type FileBacked interface {
	Path() string
}

// ListQuery selects a page of sessions; see session.ListQuery, whose Now the
// service fills from its own clock. After is the previous page's Next, a
// cursor the store defines (session.Cursor), passed on unchanged.
type ListQuery struct {
	After  session.Cursor `json:"after"`
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

// Get implements Service. It loads the record at the zero time, at which
// session.Store's contract makes Load return every stored record, live or
// expired but not yet removed; integrity checks still apply.
func (l *Local) Get(ctx context.Context, id session.ID) (*session.Record, error) {
	return l.store.Load(ctx, id, time.Time{})
}

// Expire implements Service. The store reports the sessions it ends as
// revoked by an operator (session.EndRevoked; see
// session.StoreObserver.Ended), as ExpireUser, ExpireUserExcept and
// ExpireAll do.
func (l *Local) Expire(ctx context.Context, ids ...session.ID) (int, error) {
	return l.store.Delete(session.WithEndReason(ctx, session.EndRevoked), ids...)
}

// ExpireUser implements Service.
func (l *Local) ExpireUser(ctx context.Context, user string) (int, error) {
	ui, err := ability[session.UserIndex](l, "per-user index")
	if err != nil {
		return 0, err
	}
	return ui.DeleteUser(session.WithEndReason(ctx, session.EndRevoked), user)
}

// ExpireUserExcept implements Service.
func (l *Local) ExpireUserExcept(ctx context.Context, user string, keep session.ID) (int, error) {
	ui, err := ability[session.UserIndex](l, "per-user index")
	if err != nil {
		return 0, err
	}
	return ui.DeleteUserExcept(session.WithEndReason(ctx, session.EndRevoked), user, keep)
}

// ExpireAll implements Service. It deletes page by page (session.MaxPageSize
// records per store operation), so a large store is never held for long.
func (l *Local) ExpireAll(ctx context.Context) (int, error) {
	ctx = session.WithEndReason(ctx, session.EndRevoked)
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

// Info implements Service: for a FileBacked store, the absolute path of
// its file and the file's identity as stat reports it now; an empty Info
// for any other store. It fails when the file cannot be stat'ed (removed
// or renamed behind the store's back).
func (l *Local) Info(ctx context.Context) (Info, error) {
	if err := ctx.Err(); err != nil {
		return Info{}, err
	}
	fb, ok := l.store.(FileBacked)
	if !ok || fb.Path() == "" {
		return Info{}, nil
	}
	abs, err := filepath.Abs(fb.Path())
	if err != nil {
		return Info{}, fmt.Errorf("admin: info: %w", err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return Info{}, fmt.Errorf("admin: info: the store's file: %w", err)
	}
	info := Info{Path: abs}
	if id, ok := FileIDOf(fi); ok {
		info.File = &id
	}
	return info, nil
}

var _ Service = (*Local)(nil)
