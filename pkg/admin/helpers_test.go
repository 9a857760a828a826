package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/internal/testclient"
	"github.com/sesbolt/sesbolt/pkg/admin"
	"github.com/sesbolt/sesbolt/pkg/memstore"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// now is the fixed clock of every test service.
var now = time.Date(2030, time.January, 2, 15, 4, 5, 0, time.UTC)

func fixedClock() time.Time { return now }

// Well-known ids; the order of their bytes is the listing order.
var (
	idAlice1 = mustID("10000000-0000-4000-8000-000000000001")
	idAlice2 = mustID("20000000-0000-4000-8000-000000000002")
	idBob    = mustID("30000000-0000-4000-8000-000000000003")
	idAnon   = mustID("40000000-0000-4000-8000-000000000004")
	idOld    = mustID("50000000-0000-4000-8000-000000000005") // alice's, expired at now
	idAbsent = mustID("60000000-0000-4000-8000-000000000006") // never stored
)

func mustID(s string) session.ID {
	id, err := session.ParseID(s)
	if err != nil {
		panic(err)
	}
	return id
}

// secret is a data value and user name that must never reach a log.
const secret = "s3cr3t-value"

// record returns a record of user, live at now unless expired is set.
func record(id session.ID, user string, expired bool) *session.Record {
	created := now.Add(-time.Hour)
	idle := now.Add(30 * time.Minute)
	if expired {
		idle = now.Add(-time.Minute)
	}
	return &session.Record{
		ID: id, UserID: user, Created: created, LastSeen: created,
		IdleExpires: idle, Deadline: created.Add(12 * time.Hour),
		Client: session.ClientInfo{IP: "203.0.113.7", UserAgent: "test"},
		Data:   map[string]json.RawMessage{"theme": json.RawMessage(`"dark"`), "note": json.RawMessage(`"<` + secret + `>"`)},
	}
}

// seed returns the test records: four live, one expired.
func seed() []*session.Record {
	return []*session.Record{
		record(idAlice1, "alice", false),
		record(idAlice2, "alice", false),
		record(idBob, "bob", false),
		record(idAnon, "", false),
		record(idOld, "alice", true),
	}
}

// newMemstore returns a memstore holding seed(), closed at cleanup.
func newMemstore(t testing.TB) *memstore.Store {
	t.Helper()
	ms := memstore.New(&memstore.Options{CleanupInterval: -1})
	t.Cleanup(func() { _ = ms.Close() })
	// Import at an earlier instant, so the expired record is kept.
	n, err := ms.Import(context.Background(), seed(), now.Add(-2*time.Minute))
	if err != nil || n != len(seed()) {
		t.Fatalf("seeding memstore: %d, %v", n, err)
	}
	return ms
}

// fullStore is a test double of a store with every ability: memstore plus
// Check and Backup, which memstore lacks. The HTTP path in front of it is
// real.
type fullStore struct {
	*memstore.Store
	report session.CheckReport
	backup []byte

	// failAfter >= 0 makes Backup write that many bytes, then fail with
	// failErr. hold, when non-nil, makes Backup write the first byte and
	// then wait for the context to end.
	failAfter int
	failErr   error
	hold      chan struct{}
}

func newFullStore(t testing.TB) *fullStore {
	t.Helper()
	b := make([]byte, 300<<10) // larger than any buffer on the way
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return &fullStore{
		Store:     newMemstore(t),
		report:    session.CheckReport{Records: 5, SealsVerified: true},
		backup:    b,
		failAfter: -1,
	}
}

func (s *fullStore) Check(ctx context.Context) (session.CheckReport, error) {
	if err := ctx.Err(); err != nil {
		return session.CheckReport{}, err
	}
	return s.report, nil
}

func (s *fullStore) Backup(ctx context.Context, w io.Writer) (int64, error) {
	if s.hold != nil {
		n, err := w.Write(s.backup[:1])
		if err != nil {
			return int64(n), err
		}
		close(s.hold)
		<-ctx.Done()
		return int64(n), ctx.Err()
	}
	if s.failAfter >= 0 {
		n, err := w.Write(s.backup[:s.failAfter])
		if err != nil {
			return int64(n), err
		}
		return int64(n), s.failErr
	}
	n, err := w.Write(s.backup)
	return int64(n), err
}

var (
	_ session.Checker  = (*fullStore)(nil)
	_ session.Backuper = (*fullStore)(nil)
	_ session.Importer = (*fullStore)(nil)
)

// fileStore is a memstore that claims a database file, as boltstore does:
// an admin.FileBacked store.
type fileStore struct {
	*memstore.Store
	path string
}

func (s *fileStore) Path() string { return s.path }

// newFileStore returns a fileStore holding seed() whose file is path,
// created empty if missing.
func newFileStore(t testing.TB, path string) *fileStore {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	return &fileStore{Store: newMemstore(t), path: path}
}

var _ admin.FileBacked = (*fileStore)(nil)

// coreStore has only the session.Store methods: every optional ability is
// missing.
type coreStore struct{ session.Store }

// failingStore fails every Delete with a system error.
type failingStore struct{ *memstore.Store }

var errDisk = errors.New("disk on fire")

func (failingStore) Delete(context.Context, ...session.ID) (int, error) { return 0, errDisk }

// newLogger returns a logger that writes every level to a buffer, and the
// buffer.
func newLogger() (*slog.Logger, *testclient.SyncBuffer) {
	b := &testclient.SyncBuffer{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// serve starts an HTTP test server with the handler on store and returns a
// client of it, the local service on the same store, and the log.
func serve(t testing.TB, store session.Store, opts *admin.HandlerOptions) (*admin.Client, *admin.Local, *testclient.SyncBuffer) {
	t.Helper()
	logger, logs := newLogger()
	if opts == nil {
		opts = &admin.HandlerOptions{}
	}
	opts.Logger = logger
	local := admin.NewLocal(store, fixedClock)
	srv := httptest.NewServer(admin.NewHandler(local, opts))
	t.Cleanup(srv.Close)
	return admin.NewClient(srv.URL, srv.Client()), local, logs
}

// shortTempDir returns a new directory whose path is short enough for
// socket names (t.TempDir can exceed the 107 bytes a socket path may have).
func shortTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sb")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// apiResult is a raw answer of the handler.
type apiResult struct {
	status int
	header http.Header
	body   []byte
	code   string // error code, "" for success
	msg    string
}

// doRaw sends one request straight to h and decodes an error body.
func doRaw(t testing.TB, h http.Handler, method, target, ctype string, body []byte) apiResult {
	t.Helper()
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := apiResult{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
	if rec.Code >= 400 {
		var e struct {
			Error struct{ Code, Message string }
		}
		if err := json.Unmarshal(res.body, &e); err != nil {
			t.Fatalf("%s %s: error body is not JSON: %v: %q", method, target, err, res.body)
		}
		res.code, res.msg = e.Error.Code, e.Error.Message
	}
	return res
}

// discard returns a logger that drops everything.
func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
