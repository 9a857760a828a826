package bench

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	scsbolt "github.com/alexedwards/scs/boltstore"
	scs "github.com/alexedwards/scs/v2"
	scsmem "github.com/alexedwards/scs/v2/memstore"
	"github.com/gorilla/sessions"
	bolt "go.etcd.io/bbolt"

	"github.com/sesbolt/sesbolt/pkg/boltstore"
	"github.com/sesbolt/sesbolt/pkg/memstore"
	"github.com/sesbolt/sesbolt/pkg/middleware"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// A contender is one session library with one store, configured as it
// ships (defaults) unless noted.
type contender struct {
	name string
	// open makes a fresh instance with files under dir and n existing
	// sessions holding the typical data.
	open func(tb testing.TB, dir string, n int) *instance
}

// instance is an opened contender.
type instance struct {
	handler func(caseKind) http.Handler // the contender's middleware around the case's handler
	cookies []*http.Cookie              // the n existing sessions
	close   func()
	// writesOnRead is set for a contender whose reads rewrite the session
	// (scs with an idle timeout): a read then sets the cookie.
	writesOnRead bool
}

var contenders = []contender{
	{"sesbolt", openSesbolt},
	{"sesbolt-mem", openSesboltMem},
	{"scs-bolt", openSCSBolt},
	{"scs-mem", openSCSMem},
	{"gorilla-cookie", openGorillaCookie},
	{"gorilla-fs", openGorillaFS},
}

// bareHandler is the floor: the read handler's work without sessions.
var bareHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	io.WriteString(w, typicalUser(0))
})

// benchKey is the key every contender signs (and sesbolt seals) with.
var benchKey = []byte("sidebyside-benchmark-key-0123456789abcdef")

func benchKeys(tb testing.TB) *session.Keyring {
	kr, err := session.NewKeyring(benchKey)
	if err != nil {
		tb.Fatal(err)
	}
	return kr
}

// ---- sesbolt ----

// sesboltHandlers wraps the case handlers in middleware.LoadAndSave(mgr).
func sesboltHandlers(mgr *session.Manager) func(caseKind) http.Handler {
	mw := middleware.LoadAndSave(mgr)
	return func(k caseKind) http.Handler {
		var h http.HandlerFunc
		switch k {
		case caseRead:
			h = func(w http.ResponseWriter, r *http.Request) {
				s, _ := session.FromContext(r.Context())
				_ = s.GetString("csrf")
				io.WriteString(w, s.UserID())
			}
		case caseSet:
			h = func(w http.ResponseWriter, r *http.Request) {
				s, _ := session.FromContext(r.Context())
				if err := s.Set("n", counter.Add(1)); err != nil {
					http.Error(w, err.Error(), http.StatusInternalServerError)
					return
				}
				io.WriteString(w, "ok")
			}
		case caseNew:
			h = func(w http.ResponseWriter, r *http.Request) {
				s, _ := session.FromContext(r.Context())
				s.Set("theme", "dark")
				io.WriteString(w, "ok")
			}
		case caseGet:
			h = func(w http.ResponseWriter, r *http.Request) {
				s, _ := session.FromContext(r.Context())
				k := r.URL.Query().Get("k")
				if k == "user" {
					io.WriteString(w, s.UserID())
					return
				}
				raw, _ := s.Get(k)
				var str string
				if json.Unmarshal(raw, &str) == nil {
					io.WriteString(w, str)
					return
				}
				w.Write(raw)
			}
		case caseTypical:
			h = func(w http.ResponseWriter, r *http.Request) {
				i := int(counter.Add(1))
				s, _ := session.FromContext(r.Context())
				s.Login(typicalUser(i))
				s.Set("csrf", typicalCSRF(i))
				s.Set("flash", typicalFlash)
				s.SetRaw("cart", json.RawMessage(typicalCart))
				io.WriteString(w, "ok")
			}
		}
		return mw(h)
	}
}

// sesboltRecord is the i-th typical session, bound to its user, last seen
// at seen and idle-expiring at idleExpires.
func sesboltRecord(i int, id session.ID, seen, idleExpires time.Time) *session.Record {
	cart, _ := json.Marshal(json.RawMessage(typicalCart))
	str := func(s string) json.RawMessage { b, _ := json.Marshal(s); return b }
	return &session.Record{
		ID:          id,
		UserID:      typicalUser(i),
		Created:     seen,
		LastSeen:    seen,
		IdleExpires: idleExpires,
		Deadline:    seen.Add(session.DefaultLifetime),
		Client:      session.ClientInfo{IP: typicalIP, UserAgent: typicalUA},
		Data: map[string]json.RawMessage{
			"csrf":  str(typicalCSRF(i)),
			"flash": str(typicalFlash),
			"cart":  cart,
		},
	}
}

// seedSesbolt imports n typical live sessions into imp and returns their
// cookies for mgr.
func seedSesbolt(tb testing.TB, imp session.Importer, mgr *session.Manager, keys *session.Keyring, n int) []*http.Cookie {
	now := time.Now()
	recs := make([]*session.Record, n)
	cookies := make([]*http.Cookie, n)
	for i := range n {
		id := session.NewID()
		recs[i] = sesboltRecord(i, id, now, now.Add(session.DefaultIdleTimeout))
		cookies[i] = &http.Cookie{Name: mgr.CookieName(), Value: keys.SignCookie(mgr.CookieName(), id)}
	}
	if _, err := imp.Import(context.Background(), recs, now); err != nil {
		tb.Fatal(err)
	}
	return cookies
}

func openSesbolt(tb testing.TB, dir string, n int) *instance {
	keys := benchKeys(tb)
	store, err := boltstore.Open(filepath.Join(dir, "sessions.db"), &boltstore.Options{Keys: keys})
	if err != nil {
		tb.Fatal(err)
	}
	mgr, err := session.New(session.Config{Store: store, Keys: keys})
	if err != nil {
		tb.Fatal(err)
	}
	return &instance{
		handler: sesboltHandlers(mgr),
		cookies: seedSesbolt(tb, store, mgr, keys, n),
		close:   func() { store.Close() },
	}
}

func openSesboltMem(tb testing.TB, dir string, n int) *instance {
	keys := benchKeys(tb)
	store := memstore.New(nil)
	mgr, err := session.New(session.Config{Store: store, Keys: keys})
	if err != nil {
		tb.Fatal(err)
	}
	return &instance{
		handler: sesboltHandlers(mgr),
		cookies: seedSesbolt(tb, store, mgr, keys, n),
		close:   func() { store.Close() },
	}
}

// ---- scs ----

// scsBucket is the bucket scs's bbolt store keeps sessions in (its
// unexported bucketName); the bulk loaders write it directly.
const scsBucket = "scs:session"

func scsHandlers(sm *scs.SessionManager) func(caseKind) http.Handler {
	return func(k caseKind) http.Handler {
		var h http.HandlerFunc
		switch k {
		case caseRead:
			h = func(w http.ResponseWriter, r *http.Request) {
				_ = sm.GetString(r.Context(), "csrf")
				io.WriteString(w, sm.GetString(r.Context(), "user"))
			}
		case caseSet:
			h = func(w http.ResponseWriter, r *http.Request) {
				sm.Put(r.Context(), "n", int(counter.Add(1)))
				io.WriteString(w, "ok")
			}
		case caseNew:
			h = func(w http.ResponseWriter, r *http.Request) {
				sm.Put(r.Context(), "theme", "dark")
				io.WriteString(w, "ok")
			}
		case caseGet:
			h = func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, sm.Get(r.Context(), r.URL.Query().Get("k")))
			}
		case caseTypical:
			h = func(w http.ResponseWriter, r *http.Request) {
				i := int(counter.Add(1))
				if err := sm.RenewToken(r.Context()); err != nil {
					http.Error(w, err.Error(), http.StatusInternalServerError)
					return
				}
				sm.Put(r.Context(), "user", typicalUser(i))
				sm.Put(r.Context(), "csrf", typicalCSRF(i))
				sm.Put(r.Context(), "flash", typicalFlash)
				sm.Put(r.Context(), "cart", typicalCart)
				io.WriteString(w, "ok")
			}
		}
		return sm.LoadAndSave(h)
	}
}

// scsToken makes a session token as scs does: 32 random bytes, base64url.
func scsToken() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// scsValue is the stored value of the i-th typical session in scs's
// format: the expiry (8 bytes, big-endian unix nanoseconds), then the
// session encoded by scs's own codec.
func scsValue(tb testing.TB, i int, expiry time.Time) []byte {
	enc, err := scs.GobCodec{}.Encode(expiry, map[string]any{
		"user":  typicalUser(i),
		"csrf":  typicalCSRF(i),
		"flash": typicalFlash,
		"cart":  typicalCart,
	})
	if err != nil {
		tb.Fatal(err)
	}
	v := make([]byte, 8, 8+len(enc))
	binary.BigEndian.PutUint64(v, uint64(expiry.UnixNano()))
	return append(v, enc...)
}

func scsCookies(sm *scs.SessionManager, tokens []string) []*http.Cookie {
	cookies := make([]*http.Cookie, len(tokens))
	for i, t := range tokens {
		cookies[i] = &http.Cookie{Name: sm.Cookie.Name, Value: t}
	}
	return cookies
}

func openSCSBolt(tb testing.TB, dir string, n int) *instance {
	db, err := bolt.Open(filepath.Join(dir, "scs.db"), 0o600, nil) // bbolt defaults, as scs's README
	if err != nil {
		tb.Fatal(err)
	}
	expiry := time.Now().Add(24 * time.Hour) // scs's default Lifetime
	tokens := make([]string, n)
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(scsBucket))
		if err != nil {
			return err
		}
		for i := range tokens {
			tokens[i] = scsToken()
			if err := b.Put([]byte(tokens[i]), scsValue(tb, i, expiry)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	store := scsbolt.New(db) // cleanup goroutine every minute
	sm := scs.New()
	sm.Store = store
	return &instance{
		handler: scsHandlers(sm),
		cookies: scsCookies(sm, tokens),
		close:   func() { store.StopCleanup(); db.Close() },
	}
}

func openSCSMem(tb testing.TB, dir string, n int) *instance {
	store := scsmem.New()
	sm := scs.New()
	sm.Store = store
	expiry := time.Now().Add(24 * time.Hour)
	tokens := make([]string, n)
	for i := range tokens {
		tokens[i] = scsToken()
		if err := store.Commit(tokens[i], scsValue(tb, i, expiry)[8:], expiry); err != nil {
			tb.Fatal(err)
		}
	}
	return &instance{
		handler: scsHandlers(sm),
		cookies: scsCookies(sm, tokens),
		close:   func() { store.StopCleanup() },
	}
}

// ---- gorilla/sessions ----

const gorillaCookie = "session"

func gorillaHandlers(store sessions.Store) func(caseKind) http.Handler {
	return func(k caseKind) http.Handler {
		get := func(w http.ResponseWriter, r *http.Request) *sessions.Session {
			s, err := store.Get(r, gorillaCookie)
			if err != nil && !s.IsNew {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return nil
			}
			return s
		}
		save := func(w http.ResponseWriter, r *http.Request, s *sessions.Session) bool {
			if err := s.Save(r, w); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return false
			}
			return true
		}
		switch k {
		case caseRead:
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if s := get(w, r); s != nil {
					_, _ = s.Values["csrf"].(string)
					user, _ := s.Values["user"].(string)
					io.WriteString(w, user)
				}
			})
		case caseSet:
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if s := get(w, r); s != nil {
					s.Values["n"] = int(counter.Add(1))
					if save(w, r, s) {
						io.WriteString(w, "ok")
					}
				}
			})
		case caseNew:
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if s := get(w, r); s != nil {
					s.Values["theme"] = "dark"
					if save(w, r, s) {
						io.WriteString(w, "ok")
					}
				}
			})
		case caseGet:
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if s := get(w, r); s != nil {
					fmt.Fprint(w, s.Values[r.URL.Query().Get("k")])
				}
			})
		case caseTypical:
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if s := get(w, r); s != nil {
					i := int(counter.Add(1))
					s.Values["user"] = typicalUser(i)
					s.Values["csrf"] = typicalCSRF(i)
					s.Values["flash"] = typicalFlash
					s.Values["cart"] = typicalCart
					if save(w, r, s) {
						io.WriteString(w, "ok")
					}
				}
			})
		}
		return nil
	}
}

// seedGorilla creates n typical sessions through the store's own Save.
func seedGorilla(tb testing.TB, store sessions.Store, n int) []*http.Cookie {
	rq := newRequester("/", nil)
	cookies := make([]*http.Cookie, n)
	for i := range n {
		r := rq.request(i)
		w := &sink{h: make(http.Header)}
		s, _ := store.New(r, gorillaCookie)
		s.Values["user"] = typicalUser(i)
		s.Values["csrf"] = typicalCSRF(i)
		s.Values["flash"] = typicalFlash
		s.Values["cart"] = typicalCart
		if err := s.Save(r, w); err != nil {
			tb.Fatal(err)
		}
		got := (&http.Response{Header: w.h}).Cookies()
		if len(got) != 1 {
			tb.Fatalf("gorilla seed: %d cookies", len(got))
		}
		cookies[i] = got[0]
	}
	return cookies
}

func openGorillaCookie(tb testing.TB, dir string, n int) *instance {
	store := sessions.NewCookieStore(benchKey) // authenticated, not encrypted, as its README's example
	return &instance{handler: gorillaHandlers(store), cookies: seedGorilla(tb, store, n), close: func() {}}
}

func openGorillaFS(tb testing.TB, dir string, n int) *instance {
	store := sessions.NewFilesystemStore(dir, benchKey)
	return &instance{handler: gorillaHandlers(store), cookies: seedGorilla(tb, store, n), close: func() {}}
}

// TestContenders checks that every contender does what the benchmarks
// claim: a read sees the seeded data and changes nothing, a set persists,
// and a new session is created and readable.
func TestContenders(t *testing.T) {
	for _, c := range contenders {
		t.Run(c.name, func(t *testing.T) {
			in := c.open(t, t.TempDir(), 3)
			defer in.close()
			checkContender(t, in)
		})
	}
}

// checkContender checks an instance opened with 3 sessions: a read sees
// the seeded data and changes nothing, a set persists, and a new session
// is created and readable.
func checkContender(t *testing.T, in *instance) {
	t.Helper()
	get := func(cookie *http.Cookie, key string) string {
		t.Helper()
		rq := newRequester("/?k="+key, []*http.Cookie{cookie})
		w := serve(in.handler(caseGet), rq.request(0))
		if w.status() != http.StatusOK {
			t.Fatalf("get %s: status %d: %s", key, w.status(), w.body)
		}
		return string(w.body)
	}

	rq := newRequester("/", in.cookies[1:2])
	w := serve(in.handler(caseRead), rq.request(0))
	if w.status() != http.StatusOK || string(w.body) != typicalUser(1) {
		t.Fatalf("read: status %d, body %q, want %q", w.status(), w.body, typicalUser(1))
	}
	if sc := w.h.Values("Set-Cookie"); len(sc) != 0 && !in.writesOnRead {
		t.Fatalf("read changed the session: Set-Cookie %q", sc)
	}
	if got := get(in.cookies[1], "csrf"); got != typicalCSRF(1) {
		t.Fatalf("csrf = %q, want %q", got, typicalCSRF(1))
	}

	w = serve(in.handler(caseSet), rq.request(0))
	if w.status() != http.StatusOK {
		t.Fatalf("set: status %d: %s", w.status(), w.body)
	}
	want := fmt.Sprint(counter.Load())
	cookie := in.cookies[1]
	if cs := (&http.Response{Header: w.h}).Cookies(); len(cs) == 1 {
		cookie = cs[0] // re-issued (a gorilla CookieStore session lives in it)
	}
	if got := get(cookie, "n"); got != want {
		t.Fatalf("after set, n = %q, want %q", got, want)
	}
	if got := get(cookie, "user"); got != typicalUser(1) {
		t.Fatalf("after set, user = %q, want %q", got, typicalUser(1))
	}

	w = serve(in.handler(caseNew), newRequester("/", nil).request(0))
	cs := (&http.Response{Header: w.h}).Cookies()
	if w.status() != http.StatusOK || len(cs) != 1 {
		t.Fatalf("new: status %d, %d cookies", w.status(), len(cs))
	}
	if got := get(cs[0], "theme"); got != "dark" {
		t.Fatalf("new session: theme = %q, want dark", got)
	}
}
