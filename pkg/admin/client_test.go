package admin_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/pkg/admin"
	"github.com/sesbolt/sesbolt/pkg/memstore"
	"github.com/sesbolt/sesbolt/pkg/session"
	"github.com/sesbolt/sesbolt/pkg/session/sessiontest"
)

var ctx = context.Background()

func ids(recs []*session.Record) []session.ID {
	out := make([]session.ID, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
}

// cursorStore lists through a cursor of its own, as a store may for
// expired sessions: one record per page, the cursor full of characters
// that need escaping in a URL.
type cursorStore struct {
	*fullStore
	seen []session.Cursor // the cursors List was given
}

func (s *cursorStore) List(ctx context.Context, q session.ListQuery) (session.Page, error) {
	s.seen = append(s.seen, q.After)
	all := seed()
	i := slices.Index(cursorsAt(len(all)), q.After)
	if i < 0 {
		return session.Page{}, fmt.Errorf("%w: cursor %q", session.ErrInvalid, q.After)
	}
	p := session.Page{Records: all[i : i+1]}
	if i+1 < len(all) {
		p.Next = cursorsAt(len(all))[i+1]
	}
	return p, nil
}

// cursorsAt returns cursorStore's cursors of a listing of n records, the
// zero one first.
func cursorsAt(n int) []session.Cursor {
	c := []session.Cursor{""}
	for i := 1; i < n; i++ {
		c = append(c, session.Cursor(fmt.Sprintf("pos %d &=?/#%%é+ü", i)))
	}
	return c
}

// TestClientPassesCursorsOn pages through a store whose cursors are not
// ids: they reach the store over HTTP exactly as it returned them.
func TestClientPassesCursorsOn(t *testing.T) {
	store := &cursorStore{fullStore: newFullStore(t)}
	client, _, _ := serve(t, store, nil)
	var got []session.ID
	q := admin.ListQuery{Filter: session.Expired}
	for pages := 0; ; pages++ {
		if pages > len(seed()) {
			t.Fatal("listing does not end")
		}
		page, err := client.List(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ids(page.Records)...)
		if page.Next.IsZero() {
			break
		}
		q.After = page.Next
	}
	if want := ids(seed()); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if want := cursorsAt(len(seed())); !reflect.DeepEqual(store.seen, want) {
		t.Errorf("the store was given cursors %q, want %q", store.seen, want)
	}
}

// TestClientList compares every listing through HTTP with the same listing
// in process, page by page.
func TestClientList(t *testing.T) {
	client, local, _ := serve(t, newFullStore(t), nil)
	tests := []struct {
		name string
		q    admin.ListQuery
		want []session.ID
	}{
		{"live", admin.ListQuery{}, []session.ID{idAlice1, idAlice2, idBob, idAnon}},
		{"expired", admin.ListQuery{Filter: session.Expired}, []session.ID{idOld}},
		{"all", admin.ListQuery{Filter: session.All}, []session.ID{idAlice1, idAlice2, idBob, idAnon, idOld}},
		{"user", admin.ListQuery{User: "alice"}, []session.ID{idAlice1, idAlice2}},
		{"user all", admin.ListQuery{User: "alice", Filter: session.All}, []session.ID{idAlice1, idAlice2, idOld}},
		{"after", admin.ListQuery{After: session.IDCursor(idAlice2)}, []session.ID{idBob, idAnon}},
		{"paged", admin.ListQuery{Limit: 2, Filter: session.All}, []session.ID{idAlice1, idAlice2, idBob, idAnon, idOld}},
		{"negative limit is the default", admin.ListQuery{Limit: -3}, []session.ID{idAlice1, idAlice2, idBob, idAnon}},
		{"nobody", admin.ListQuery{User: "nobody"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []session.ID
			q := tt.q
			for pages := 0; ; pages++ {
				if pages > 10 {
					t.Fatal("listing does not end")
				}
				page, err := client.List(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				want, err := local.List(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				if len(page.Records) != len(want.Records) || page.Next != want.Next {
					t.Fatalf("page %d: client %v next %v, local %v next %v", pages, ids(page.Records), page.Next, ids(want.Records), want.Next)
				}
				for i := range page.Records {
					if !page.Records[i].Equal(want.Records[i]) {
						t.Fatalf("record %d differs:\nclient %+v\nlocal  %+v", i, page.Records[i], want.Records[i])
					}
				}
				got = append(got, ids(page.Records)...)
				if page.Next.IsZero() {
					break
				}
				q.After = page.Next
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}

	t.Run("unknown filter", func(t *testing.T) {
		_, err := client.List(ctx, admin.ListQuery{Filter: session.Filter(42)})
		if !errors.Is(err, session.ErrInvalid) {
			t.Fatalf("err = %v, want ErrInvalid", err)
		}
	})
}

func TestClientGet(t *testing.T) {
	client, _, _ := serve(t, newFullStore(t), nil)
	for _, id := range []session.ID{idAlice1, idOld} { // live and expired
		got, err := client.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		want := record(id, "alice", id == idOld)
		want.Version = 1
		if !got.Equal(want) {
			t.Errorf("Get(%s) = %+v, want %+v", id, got, want)
		}
	}
	if _, err := client.Get(ctx, idAbsent); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("Get(absent): %v, want ErrNotFound", err)
	}
	var apiErr *admin.Error
	_, err := client.Get(ctx, session.ID{})
	if !errors.Is(err, session.ErrInvalidID) || !errors.Is(err, session.ErrInvalid) || !errors.As(err, &apiErr) {
		t.Fatalf("Get(zero): %v, want ErrInvalidID and ErrInvalid", err)
	}
	if apiErr.Status != http.StatusBadRequest || apiErr.Code != "invalid_id" {
		t.Errorf("Get(zero): %+v", apiErr)
	}
}

func TestClientExpire(t *testing.T) {
	client, local, _ := serve(t, newFullStore(t), nil)
	count := func() int64 {
		t.Helper()
		st, err := local.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st.Sessions
	}
	if n, err := client.Expire(ctx); n != 0 || err != nil {
		t.Errorf("Expire() = %d, %v", n, err)
	}
	if n, err := client.Expire(ctx, idAnon); n != 1 || err != nil {
		t.Errorf("Expire(anon) = %d, %v", n, err)
	}
	if n, err := client.Expire(ctx, idAnon); n != 0 || err != nil {
		t.Errorf("Expire(anon) again = %d, %v", n, err)
	}
	if n, err := client.Expire(ctx, idBob, idAbsent, idBob); n != 1 || err != nil {
		t.Errorf("Expire(bob, absent, bob) = %d, %v", n, err)
	}
	if c := count(); c != 3 {
		t.Fatalf("%d sessions left, want 3", c)
	}
	if n, err := client.ExpireUser(ctx, "alice"); n != 3 || err != nil {
		t.Errorf("ExpireUser(alice) = %d, %v", n, err)
	}
	if _, err := client.ExpireUser(ctx, ""); !errors.Is(err, session.ErrInvalid) {
		t.Errorf("ExpireUser(\"\"): %v, want ErrInvalid", err)
	}
	if _, err := local.Import(ctx, seed()[:3]); err != nil {
		t.Fatal(err)
	}
	if n, err := client.ExpireAll(ctx); n != 3 || err != nil {
		t.Errorf("ExpireAll = %d, %v", n, err)
	}
	if c := count(); c != 0 {
		t.Fatalf("%d sessions left, want 0", c)
	}

	t.Run("batches", func(t *testing.T) {
		many := make([]session.ID, admin.MaxExpireIDs+5)
		for i := range many {
			many[i] = session.NewID()
		}
		many[len(many)-1] = idAlice1
		if _, err := local.Import(ctx, seed()[:1]); err != nil {
			t.Fatal(err)
		}
		if n, err := client.Expire(ctx, many...); n != 1 || err != nil {
			t.Errorf("Expire(%d ids) = %d, %v", len(many), n, err)
		}
	})
}

// TestClientInfo: the served file is named by its absolute path and its
// identity, the same through HTTP as in process, whatever path the store
// was given; a store without a file serves an empty Info.
func TestClientInfo(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	store := newFileStore(t, "app.db") // relative, as an application may give it
	client, local, _ := serve(t, store, nil)
	info, err := client.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want, err := local.Info(ctx)
	if err != nil || !reflect.DeepEqual(info, want) {
		t.Fatalf("Info through HTTP = %+v, in process %+v, %v", info, want, err)
	}
	if info.Path != filepath.Join(dir, "app.db") {
		t.Errorf("Info.Path = %q, want the absolute path %q", info.Path, filepath.Join(dir, "app.db"))
	}
	fi, err := os.Stat(filepath.Join(dir, "app.db"))
	if err != nil {
		t.Fatal(err)
	}
	id, ok := admin.FileIDOf(fi)
	if !ok || info.File == nil || *info.File != id {
		t.Fatalf("Info.File = %+v, want %+v (%v)", info.File, id, ok)
	}
	// A hard link is the same file, another file is not.
	if err := os.Link("app.db", "link.db"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("other.db", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, same := range map[string]bool{"link.db": true, "other.db": false} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := admin.FileIDOf(fi); (got == *info.File) != same {
			t.Errorf("%s: FileID %+v, served %+v; same file: %v", name, got, *info.File, same)
		}
	}

	// The file gone behind the store's back: an error, not a wrong answer.
	if err := os.Rename("app.db", "moved.db"); err != nil {
		t.Fatal(err)
	}
	if info, err := client.Info(ctx); err == nil {
		t.Errorf("Info of a moved file = %+v; want an error", info)
	}

	// No file: an empty answer.
	plain, _, _ := serve(t, newMemstore(t), nil)
	if info, err := plain.Info(ctx); err != nil || info != (admin.Info{}) {
		t.Errorf("Info of a memstore = %+v, %v; want an empty Info", info, err)
	}
}

func TestClientPurgeStatsCheck(t *testing.T) {
	store := newFullStore(t)
	client, local, _ := serve(t, store, nil)
	st, err := client.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want, err := local.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st != want || st.Sessions != 5 || st.Expired != 1 {
		t.Errorf("Stats = %+v, want %+v", st, want)
	}
	if n, err := client.Purge(ctx, true); n != 1 || err != nil {
		t.Errorf("Purge(dry) = %d, %v", n, err)
	}
	if n, err := client.Purge(ctx, false); n != 1 || err != nil {
		t.Errorf("Purge = %d, %v", n, err)
	}
	if n, err := client.Purge(ctx, false); n != 0 || err != nil {
		t.Errorf("Purge again = %d, %v", n, err)
	}

	rep, err := client.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Records != 5 || !rep.SealsVerified || !rep.OK() {
		t.Errorf("Check = %+v", rep)
	}
	store.report.Problems = []string{"expiry index: 1 entry without a record"}
	rep, err = client.Check(ctx)
	if err != nil || rep.OK() || !reflect.DeepEqual(rep.Problems, store.report.Problems) {
		t.Errorf("Check = %+v, %v", rep, err)
	}
}

func TestClientBackup(t *testing.T) {
	store := newFullStore(t)
	client, _, _ := serve(t, store, nil)

	var buf bytes.Buffer
	n, err := client.Backup(ctx, &buf)
	if err != nil || n != int64(len(store.backup)) || !bytes.Equal(buf.Bytes(), store.backup) {
		t.Fatalf("Backup = %d, %v; %d bytes match: %v", n, err, buf.Len(), bytes.Equal(buf.Bytes(), store.backup))
	}

	t.Run("fails mid-stream", func(t *testing.T) {
		store.failAfter, store.failErr = 100<<10, fmt.Errorf("boltstore: %w", session.ErrClosed)
		t.Cleanup(func() { store.failAfter = -1 })
		var buf bytes.Buffer
		n, err := client.Backup(ctx, &buf)
		if !errors.Is(err, admin.ErrTruncated) || !errors.Is(err, session.ErrClosed) {
			t.Fatalf("Backup: %v, want ErrTruncated and ErrClosed", err)
		}
		if n != 100<<10 || buf.Len() != 100<<10 {
			t.Errorf("n = %d, %d bytes written", n, buf.Len())
		}
	})

	t.Run("fails before the first byte", func(t *testing.T) {
		store.failAfter, store.failErr = 0, session.ErrClosed
		t.Cleanup(func() { store.failAfter = -1 })
		n, err := client.Backup(ctx, &bytes.Buffer{})
		if !errors.Is(err, session.ErrClosed) || errors.Is(err, admin.ErrTruncated) || n != 0 {
			t.Fatalf("Backup = %d, %v; want ErrClosed, not truncated", n, err)
		}
	})

	t.Run("empty", func(t *testing.T) {
		store.failAfter, store.failErr = 0, nil
		t.Cleanup(func() { store.failAfter = -1 })
		n, err := client.Backup(ctx, &bytes.Buffer{})
		if n != 0 || err != nil {
			t.Fatalf("Backup = %d, %v", n, err)
		}
	})

	t.Run("destination fails", func(t *testing.T) {
		errDest := errors.New("disk full")
		n, err := client.Backup(ctx, failWriter{errDest})
		if !errors.Is(err, errDest) || errors.Is(err, admin.ErrTruncated) || n != 0 {
			t.Fatalf("Backup = %d, %v; want the writer's error", n, err)
		}
	})

	t.Run("not supported", func(t *testing.T) {
		client, _, _ := serve(t, newMemstore(t), nil)
		if _, err := client.Backup(ctx, &bytes.Buffer{}); !errors.Is(err, session.ErrNotSupported) {
			t.Fatalf("Backup: %v, want ErrNotSupported", err)
		}
	})
}

type failWriter struct{ err error }

func (w failWriter) Write([]byte) (int, error) { return 0, w.err }

// TestClientBackupBrokenServer checks that the client notices every way a
// stream can end short, against servers that misbehave on purpose.
func TestClientBackupBrokenServer(t *testing.T) {
	body := bytes.Repeat([]byte("x"), 10000)
	tests := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"no trailer", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/octet-stream")
			_, _ = w.Write(body)
		}},
		{"short count", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Trailer", admin.TrailerBackupBytes)
			_, _ = w.Write(body)
			w.Header().Set(admin.TrailerBackupBytes, "20000")
		}},
		{"connection cut", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Trailer", admin.TrailerBackupBytes)
			_, _ = w.Write(body)
			_ = http.NewResponseController(w).Flush()
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = conn.Close()
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			t.Cleanup(srv.Close)
			client := admin.NewClient(srv.URL, srv.Client())
			var buf bytes.Buffer
			if _, err := client.Backup(ctx, &buf); !errors.Is(err, admin.ErrTruncated) {
				t.Fatalf("Backup: %v, want ErrTruncated", err)
			}
		})
	}
}

func TestClientImport(t *testing.T) {
	store := newFullStore(t)
	client, local, _ := serve(t, store, nil)
	fresh := []*session.Record{record(session.NewID(), "carol", false), record(session.NewID(), "carol", false)}
	expired := record(session.NewID(), "carol", true)
	n, err := client.Import(ctx, append([]*session.Record{fresh[0], fresh[1], expired}, seed()[0]))
	if n != 2 || err != nil {
		t.Fatalf("Import = %d, %v; want 2 (expired and existing skipped)", n, err)
	}
	for _, r := range fresh {
		got, err := local.Get(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		r.Version = 1
		if !got.Equal(r) {
			t.Errorf("imported %+v, stored %+v", r, got)
		}
	}

	bad := record(session.NewID(), "dave", false)
	bad.Data = nil
	good := record(session.NewID(), "dave", false)
	_, err = client.Import(ctx, []*session.Record{good, bad})
	if !errors.Is(err, session.ErrInvalid) || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("Import(bad second record): %v, want ErrInvalid naming line 2", err)
	}
	if _, err := local.Get(ctx, good.ID); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("the valid record was imported with an invalid one: %v", err)
	}

	_, err = client.Import(ctx, []*session.Record{nil})
	if !errors.Is(err, session.ErrInvalid) {
		t.Errorf("Import(nil record): %v, want ErrInvalid", err)
	}

	t.Run("too large", func(t *testing.T) {
		client, _, _ := serve(t, newFullStore(t), &admin.HandlerOptions{MaxImportBytes: 500})
		_, err := client.Import(ctx, fresh)
		if !errors.Is(err, session.ErrTooLarge) {
			t.Fatalf("Import: %v, want ErrTooLarge", err)
		}
	})
}

// TestClientNotSupported runs every operation against a store with no
// optional ability.
func TestClientNotSupported(t *testing.T) {
	client, _, _ := serve(t, coreStore{newMemstore(t)}, nil)
	calls := map[string]func() error{
		"List":       func() error { _, err := client.List(ctx, admin.ListQuery{}); return err },
		"ExpireUser": func() error { _, err := client.ExpireUser(ctx, "alice"); return err },
		"ExpireAll":  func() error { _, err := client.ExpireAll(ctx); return err },
		"Purge":      func() error { _, err := client.Purge(ctx, false); return err },
		"Purge dry":  func() error { _, err := client.Purge(ctx, true); return err },
		"Stats":      func() error { _, err := client.Stats(ctx); return err },
		"Check":      func() error { _, err := client.Check(ctx); return err },
		"Backup":     func() error { _, err := client.Backup(ctx, &bytes.Buffer{}); return err },
		"Import":     func() error { _, err := client.Import(ctx, seed()); return err },
	}
	for name, call := range calls {
		var apiErr *admin.Error
		if err := call(); !errors.Is(err, session.ErrNotSupported) || !errors.As(err, &apiErr) || apiErr.Status != http.StatusNotImplemented {
			t.Errorf("%s: %v, want ErrNotSupported with 501", name, err)
		}
	}
	// The core operations work.
	if _, err := client.Get(ctx, idBob); err != nil {
		t.Errorf("Get: %v", err)
	}
	if n, err := client.Expire(ctx, idBob); n != 1 || err != nil {
		t.Errorf("Expire = %d, %v", n, err)
	}
}

func TestClientServerErrors(t *testing.T) {
	t.Run("internal", func(t *testing.T) {
		client, _, logs := serve(t, failingStore{newMemstore(t)}, nil)
		_, err := client.Expire(ctx, idBob)
		var apiErr *admin.Error
		if !errors.As(err, &apiErr) || apiErr.Code != "internal" || apiErr.Status != 500 || !strings.Contains(err.Error(), errDisk.Error()) {
			t.Fatalf("Expire: %v, want internal 500", err)
		}
		if errors.Is(err, admin.ErrProtocol) {
			t.Error("an internal error is not a protocol error")
		}
		if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), errDisk.Error()) {
			t.Errorf("internal error not logged: %s", logs)
		}
	})
	t.Run("closed", func(t *testing.T) {
		ms := newMemstore(t)
		client, _, _ := serve(t, ms, nil)
		_ = ms.Close()
		if _, err := client.Stats(ctx); !errors.Is(err, session.ErrClosed) {
			t.Fatalf("Stats: %v, want ErrClosed", err)
		}
	})
	t.Run("not this API", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		t.Cleanup(srv.Close)
		client := admin.NewClient(srv.URL, nil)
		if _, err := client.Stats(ctx); !errors.Is(err, admin.ErrProtocol) {
			t.Fatalf("Stats: %v, want ErrProtocol", err)
		}
	})
	t.Run("unknown route", func(t *testing.T) {
		srv := httptest.NewServer(admin.NewHandler(admin.NewLocal(newMemstore(t), fixedClock), &admin.HandlerOptions{Logger: discard()}))
		t.Cleanup(srv.Close)
		// A client given a mount prefix the server does not have.
		_, err := admin.NewClient(srv.URL+"/admin", nil).Stats(ctx)
		var apiErr *admin.Error
		if !errors.Is(err, admin.ErrProtocol) || !errors.As(err, &apiErr) || apiErr.Code != "no_route" || apiErr.Status != 404 {
			t.Fatalf("Stats: %v, want no_route / ErrProtocol", err)
		}
		if errors.Is(err, session.ErrNotFound) {
			t.Error("an unknown route must not read as an unknown session")
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		client, _, _ := serve(t, newMemstore(t), nil)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := client.Stats(cctx); !errors.Is(err, context.Canceled) || errors.Is(err, admin.ErrUnavailable) {
			t.Fatalf("Stats: %v, want context.Canceled", err)
		}
	})
}

func TestClientUnavailable(t *testing.T) {
	dir := shortTempDir(t)
	t.Run("no socket", func(t *testing.T) {
		path := filepath.Join(dir, "none.sock")
		_, err := admin.DialSocket(path).Stats(ctx)
		if !errors.Is(err, admin.ErrUnavailable) || !strings.Contains(err.Error(), path) {
			t.Fatalf("Stats: %v, want ErrUnavailable naming %s", err, path)
		}
	})
	t.Run("stale socket", func(t *testing.T) {
		path := filepath.Join(dir, "stale.sock")
		l, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		l.(*net.UnixListener).SetUnlinkOnClose(false)
		_ = l.Close()
		_, err = admin.DialSocket(path).Stats(ctx)
		if !errors.Is(err, admin.ErrUnavailable) {
			t.Fatalf("Stats: %v, want ErrUnavailable", err)
		}
	})
	t.Run("tcp refused", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		_ = l.Close()
		_, err = admin.NewClient("http://"+addr, nil).Stats(ctx)
		if !errors.Is(err, admin.ErrUnavailable) {
			t.Fatalf("Stats: %v, want ErrUnavailable", err)
		}
	})
}

// errService fails Stats with err; its other methods are never called.
type errService struct {
	admin.Service
	err error
}

func (s errService) Stats(context.Context) (session.Stats, error) { return session.Stats{}, s.err }

// TestErrorCodes checks every mapping from a Service error to a status and
// code, and back to a sentinel through the client.
func TestErrorCodes(t *testing.T) {
	tests := []struct {
		err    error
		status int
		code   string
		is     []error
	}{
		{fmt.Errorf("store: %w", session.ErrNotFound), 404, "not_found", []error{session.ErrNotFound}},
		{fmt.Errorf("store: %w", session.ErrInvalid), 400, "invalid", []error{session.ErrInvalid}},
		{fmt.Errorf("store: %w", session.ErrInvalidID), 400, "invalid_id", []error{session.ErrInvalidID, session.ErrInvalid}},
		{fmt.Errorf("store: %w", session.ErrExists), 409, "exists", []error{session.ErrExists}},
		{fmt.Errorf("store: %w", session.ErrTooLarge), 413, "too_large", []error{session.ErrTooLarge}},
		{fmt.Errorf("store: %w", session.ErrNotSupported), 501, "not_supported", []error{session.ErrNotSupported}},
		{fmt.Errorf("store: %w", session.ErrClosed), 503, "closed", []error{session.ErrClosed}},
		{fmt.Errorf("store: %w", context.Canceled), 503, "canceled", []error{context.Canceled}},
		{fmt.Errorf("store: %w", context.DeadlineExceeded), 504, "timeout", []error{context.DeadlineExceeded}},
		{fmt.Errorf("proxy: %w", admin.ErrForbidden), 403, "forbidden", []error{admin.ErrForbidden}},
		{errDisk, 500, "internal", nil},
		// A handler in front of a Client passes the remote error on.
		{&admin.Error{Status: 418, Code: "teapot", Message: "short and stout"}, 418, "teapot", []error{admin.ErrProtocol}},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			h := admin.NewHandler(errService{err: tt.err}, &admin.HandlerOptions{Logger: discard()})
			res := doRaw(t, h, "GET", "/v1/stats", "", nil)
			if res.status != tt.status || res.code != tt.code || res.msg != tt.err.Error() {
				t.Fatalf("%d %q %q, want %d %q %q", res.status, res.code, res.msg, tt.status, tt.code, tt.err)
			}

			srv := httptest.NewServer(h)
			defer srv.Close()
			_, err := admin.NewClient(srv.URL, srv.Client()).Stats(ctx)
			var apiErr *admin.Error
			if !errors.As(err, &apiErr) || apiErr.Status != tt.status || apiErr.Code != tt.code || err.Error() != tt.err.Error() {
				t.Fatalf("client: %#v", err)
			}
			for _, target := range tt.is {
				if !errors.Is(err, target) {
					t.Errorf("client error %v is not %v", err, target)
				}
			}
			if tt.is == nil && errors.Is(err, admin.ErrProtocol) {
				t.Errorf("internal error reads as a protocol error")
			}
		})
	}
}

func TestClientExpireUserExcept(t *testing.T) {
	client, local, _ := serve(t, newFullStore(t), nil)
	if _, err := local.Import(ctx, seed()); err != nil {
		t.Fatal(err)
	}
	alice, err := local.List(ctx, admin.ListQuery{User: "alice", Filter: session.All})
	if err != nil || len(alice.Records) < 2 {
		t.Fatalf("alice's sessions: %v, %v", alice.Records, err)
	}
	keep := alice.Records[0].ID
	if n, err := client.ExpireUserExcept(ctx, "alice", keep); n != len(alice.Records)-1 || err != nil {
		t.Errorf("ExpireUserExcept(alice, %s) = %d, %v; want %d", keep, n, err, len(alice.Records)-1)
	}
	left, err := local.List(ctx, admin.ListQuery{User: "alice", Filter: session.All})
	if err != nil || len(left.Records) != 1 || left.Records[0].ID != keep {
		t.Fatalf("alice's sessions afterwards: %v, %v; want only %s", left.Records, err, keep)
	}
	if n, err := client.ExpireUserExcept(ctx, "alice", keep); n != 0 || err != nil {
		t.Errorf("again = %d, %v; want 0", n, err)
	}
	for name, call := range map[string]func() error{
		"empty user": func() error { _, err := client.ExpireUserExcept(ctx, "", keep); return err },
		"zero keep":  func() error { _, err := client.ExpireUserExcept(ctx, "alice", session.ID{}); return err },
	} {
		if err := call(); !errors.Is(err, session.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if _, err := local.Get(ctx, keep); err != nil {
		t.Errorf("the kept session: %v", err)
	}
}

// TestExpireReportsRevoked: sessions an operator ends, over the socket's
// HTTP API or in process, are reported by the store as revoked, once
// each; a purge reports what it removes as expired.
func TestExpireReportsRevoked(t *testing.T) {
	rec := &sessiontest.Recorder{}
	ms := memstore.New(&memstore.Options{CleanupInterval: -1, Observer: rec.StoreObserver()})
	t.Cleanup(func() { _ = ms.Close() })
	if n, err := ms.Import(ctx, seed(), now.Add(-2*time.Minute)); err != nil || n != len(seed()) {
		t.Fatalf("seeding: %d, %v", n, err)
	}
	client, local, _ := serve(t, ms, nil)
	if _, err := client.Expire(ctx, idAnon, idAnon, idAbsent); err != nil {
		t.Fatal(err)
	}
	if _, err := client.ExpireUser(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Purge(ctx, false); err != nil { // idOld, expired
		t.Fatal(err)
	}
	if _, err := local.ExpireAll(ctx); err != nil { // alice's two
		t.Fatal(err)
	}
	want := map[session.ID]session.Ended{
		idAnon:   {ID: idAnon, Reason: session.EndRevoked},
		idBob:    {ID: idBob, User: "bob", Reason: session.EndRevoked},
		idOld:    {ID: idOld, User: "alice", Reason: session.EndExpired},
		idAlice1: {ID: idAlice1, User: "alice", Reason: session.EndRevoked},
		idAlice2: {ID: idAlice2, User: "alice", Reason: session.EndRevoked},
	}
	got := rec.Ended()
	for _, e := range got {
		if want[e.ID] != e {
			t.Errorf("reported %+v, want %+v", e, want[e.ID])
		}
		delete(want, e.ID)
	}
	if len(got) != 5 || len(want) != 0 {
		t.Errorf("reported %d ends (%+v); %d sessions missing", len(got), got, len(want))
	}
}

// TestClientTransportErrorsNameNoIDs: a connection that breaks after the
// dial is an error naming the route, not the URL, so neither a session id
// in the path nor a user name in the query reaches the message.
func TestClientTransportErrorsNameNoIDs(t *testing.T) {
	// A server that hangs up on every request without answering.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		c, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = c.Close()
		}
	}))
	t.Cleanup(srv.Close)
	client := admin.NewClient(srv.URL, srv.Client())
	calls := map[string]func() error{
		"List":   func() error { _, err := client.List(ctx, admin.ListQuery{User: secret}); return err },
		"Get":    func() error { _, err := client.Get(ctx, idBob); return err },
		"Expire": func() error { _, err := client.Expire(ctx, idBob); return err },
	}
	for name, call := range calls {
		err := call()
		if err == nil {
			t.Fatalf("%s through a server that hangs up succeeded", name)
		}
		if msg := err.Error(); strings.Contains(msg, secret) || strings.Contains(msg, idBob.String()) || !strings.Contains(msg, "/v1/sessions") {
			t.Errorf("%s: %q; want the route, without the id or user name", name, msg)
		}
		if errors.Is(err, admin.ErrUnavailable) {
			t.Errorf("%s: %v: the dial succeeded, the server is not unavailable", name, err)
		}
	}
}
