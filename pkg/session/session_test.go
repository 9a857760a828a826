package session_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/pkg/memstore"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// env is a manager on a memstore with a fixed clock.
type env struct {
	t     *testing.T
	mgr   *session.Manager
	store *memstore.Store
	now   time.Time
}

func newEnv(t *testing.T) *env {
	e := &env{t: t, now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	e.store = memstore.New(&memstore.Options{Now: func() time.Time { return e.now }, CleanupInterval: -1})
	t.Cleanup(func() { e.store.Close() })
	var err error
	e.mgr, err = session.New(session.Config{Store: e.store, Keys: mustKeyring(t, keyA), Now: func() time.Time { return e.now }})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// request runs f on the session of a request carrying cookie (may be "") and
// returns the cookie the response sets ("" when none) and the headers.
func (e *env) request(cookie string, f func(s *session.Session)) (string, http.Header) {
	e.t.Helper()
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("User-Agent", "test-agent")
	if cookie != "" {
		r.AddCookie(&http.Cookie{Name: e.mgr.CookieName(), Value: cookie})
	}
	s, err := e.mgr.Load(r)
	if err != nil {
		e.t.Fatal(err)
	}
	f(s)
	h := http.Header{}
	if err := e.mgr.Save(r.Context(), h, s); err != nil {
		e.t.Fatal(err)
	}
	resp := http.Response{Header: h}
	for _, c := range resp.Cookies() {
		if c.Name == e.mgr.CookieName() {
			return c.Value, h
		}
	}
	return "", h
}

func TestSessionValues(t *testing.T) {
	e := newEnv(t)
	when := time.Date(2026, 5, 4, 3, 2, 1, 0, time.UTC)
	cookie, _ := e.request("", func(s *session.Session) {
		for k, v := range map[string]any{"s": "text", "i": 42, "b": true, "t": when, "obj": map[string]int{"x": 1}} {
			if err := s.Set(k, v); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.SetRaw("raw", json.RawMessage(` { "a" : [1, 2] } `)); err != nil {
			t.Fatal(err)
		}
		s.Set("flash", "saved!")
	})
	e.request(cookie, func(s *session.Session) {
		if s.GetString("s") != "text" || s.GetInt("i") != 42 || !s.GetBool("b") || !s.GetTime("t").Equal(when) {
			t.Errorf("typed getters: %q %d %v %v", s.GetString("s"), s.GetInt("i"), s.GetBool("b"), s.GetTime("t"))
		}
		if s.GetInt("s") != 0 || s.GetString("i") != "" || s.GetBool("missing") {
			t.Error("wrong-typed or missing values must give the zero value")
		}
		var obj map[string]int
		if ok, err := s.Decode("obj", &obj); !ok || err != nil || obj["x"] != 1 {
			t.Errorf("Decode = %v, %v, %v", obj, ok, err)
		}
		if ok, err := s.Decode("s", &obj); !ok || err == nil {
			t.Error("Decode of a string into a map did not fail")
		}
		if raw, _ := s.Get("raw"); string(raw) != `{"a":[1,2]}` {
			t.Errorf("SetRaw stored %s, want compacted JSON", raw)
		}
		if got := s.PopString("flash"); got != "saved!" {
			t.Errorf("PopString = %q", got)
		}
		if got := s.PopString("flash"); got != "" {
			t.Errorf("second PopString = %q, want empty", got)
		}
		want := []string{"b", "i", "obj", "raw", "s", "t"}
		if keys := s.Keys(); !slices.Equal(keys, want) {
			t.Errorf("Keys = %v, want %v", keys, want)
		}
	})
	e.request(cookie, func(s *session.Session) {
		if _, ok := s.Get("flash"); ok {
			t.Error("popped value came back in the next request")
		}
	})
}

func TestSetRejectsUnencodable(t *testing.T) {
	e := newEnv(t)
	e.request("", func(s *session.Session) {
		s.Set("keep", 1)
		for name, v := range map[string]any{"chan": make(chan int), "func": func() {}, "nan": math.NaN()} {
			if err := s.Set(name, v); !errors.Is(err, session.ErrEncode) {
				t.Errorf("Set(%s) err = %v, want ErrEncode", name, err)
			}
		}
		if err := s.SetRaw("bad", json.RawMessage(`{"a":`)); !errors.Is(err, session.ErrEncode) {
			t.Errorf("SetRaw(invalid) err = %v, want ErrEncode", err)
		}
		if err := s.Set("", 1); !errors.Is(err, session.ErrInvalidKey) {
			t.Errorf("Set(\"\") err = %v, want ErrInvalidKey", err)
		}
		if keys := s.Keys(); !slices.Equal(keys, []string{"keep"}) {
			t.Errorf("failed Sets changed the session: %v", keys)
		}
	})
}

func TestDeleteAndClear(t *testing.T) {
	e := newEnv(t)
	cookie, _ := e.request("", func(s *session.Session) {
		s.Set("a", 1)
		s.Set("b", 2)
		s.Set("c", 3)
	})
	e.request(cookie, func(s *session.Session) { s.Delete("a") })
	e.request(cookie, func(s *session.Session) {
		if !slices.Equal(s.Keys(), []string{"b", "c"}) {
			t.Errorf("after Delete: %v", s.Keys())
		}
		s.Clear()
		s.Set("d", 4)
	})
	e.request(cookie, func(s *session.Session) {
		if !slices.Equal(s.Keys(), []string{"d"}) {
			t.Errorf("after Clear and Set: %v", s.Keys())
		}
	})
}

func TestDestroyRejectsLaterChanges(t *testing.T) {
	e := newEnv(t)
	cookie, _ := e.request("", func(s *session.Session) { s.Set("a", 1) })
	cleared, _ := e.request(cookie, func(s *session.Session) {
		s.Destroy()
		if err := s.Set("b", 2); !errors.Is(err, session.ErrDestroyed) {
			t.Errorf("Set after Destroy: %v", err)
		}
		if err := s.Login("x"); !errors.Is(err, session.ErrDestroyed) {
			t.Errorf("Login after Destroy: %v", err)
		}
	})
	if cleared != "" {
		t.Errorf("destroy set cookie value %q, want an empty, expired cookie", cleared)
	}
	e.request(cookie, func(s *session.Session) {
		if !s.IsNew() {
			t.Error("destroyed session still loads")
		}
	})
}

func TestLoginRequiresUser(t *testing.T) {
	e := newEnv(t)
	e.request("", func(s *session.Session) {
		if err := s.Login(""); err == nil {
			t.Error("Login(\"\") accepted")
		}
	})
}

func TestClientInfoAndTimes(t *testing.T) {
	e := newEnv(t)
	cookie, _ := e.request("", func(s *session.Session) { s.Set("a", 1) })
	e.now = e.now.Add(time.Minute)
	e.request(cookie, func(s *session.Session) {
		if c := s.Client(); c.IP != "192.0.2.1" || c.UserAgent != "test-agent" {
			t.Errorf("client %+v", c)
		}
		created := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
		if !s.Created().Equal(created) || !s.Expires().Equal(created.Add(30*time.Minute)) {
			t.Errorf("created %v expires %v", s.Created(), s.Expires())
		}
	})
}

func TestDestroyUserAndDestroyUserSession(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	login := func(user string) string {
		c, _ := e.request("", func(s *session.Session) { s.Login(user) })
		return c
	}
	a1, a2, b1 := login("alice"), login("alice"), login("bob")
	recs, err := e.mgr.UserSessions(ctx, "alice")
	if err != nil || len(recs) != 2 {
		t.Fatalf("UserSessions(alice) = %d records, %v", len(recs), err)
	}
	// bob cannot revoke alice's session; alice can.
	if ok, err := e.mgr.DestroyUserSession(ctx, "bob", recs[0].ID); ok || err != nil {
		t.Errorf("bob revoked alice's session: %v %v", ok, err)
	}
	if ok, err := e.mgr.DestroyUserSession(ctx, "alice", recs[0].ID); !ok || err != nil {
		t.Errorf("alice could not revoke her session: %v %v", ok, err)
	}
	n, err := e.mgr.DestroyUser(ctx, "alice")
	if err != nil || n != 1 {
		t.Errorf("DestroyUser = %d, %v; want 1", n, err)
	}
	for _, c := range []string{a1, a2} {
		e.request(c, func(s *session.Session) {
			if !s.IsNew() {
				t.Error("alice's session survived DestroyUser")
			}
		})
	}
	e.request(b1, func(s *session.Session) {
		if s.UserID() != "bob" {
			t.Error("bob's session ended by DestroyUser(alice)")
		}
	})
}

func TestSaveIsIdempotentAndVaries(t *testing.T) {
	e := newEnv(t)
	r := httptest.NewRequest("GET", "/", nil)
	s, err := e.mgr.Load(r)
	if err != nil {
		t.Fatal(err)
	}
	s.Set("a", 1)
	s.GetInt("a") // reading makes the response depend on the cookie
	h := http.Header{}
	if err := e.mgr.Save(r.Context(), h, s); err != nil {
		t.Fatal(err)
	}
	if err := e.mgr.Save(r.Context(), h, s); err != nil {
		t.Fatal(err)
	}
	if n := len(h.Values("Set-Cookie")); n != 1 {
		t.Errorf("%d Set-Cookie headers, want 1", n)
	}
	if h.Get("Vary") != "Cookie" || h.Get("Cache-Control") != "no-store" {
		t.Errorf("headers %v", h)
	}
	if strings.Contains(h.Get("Set-Cookie"), "Max-Age") {
		t.Error("browser-session cookie has Max-Age")
	}
}

func TestUserIndexNotSupported(t *testing.T) {
	m, err := session.New(session.Config{Store: minimalStore{}, Keys: mustKeyring(t, keyA)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.DestroyUser(context.Background(), "u"); !errors.Is(err, session.ErrNotSupported) {
		t.Errorf("DestroyUser err = %v, want ErrNotSupported", err)
	}
	if _, err := m.UserSessions(context.Background(), "u"); !errors.Is(err, session.ErrNotSupported) {
		t.Errorf("UserSessions err = %v, want ErrNotSupported", err)
	}
}

// minimalStore implements only session.Store.
type minimalStore struct{}

func (minimalStore) Load(context.Context, session.ID, time.Time) (*session.Record, error) {
	return nil, session.ErrNotFound
}
func (minimalStore) Apply(context.Context, *session.Change) (*session.Record, error) {
	return nil, session.ErrNotFound
}
func (minimalStore) Delete(context.Context, ...session.ID) (int, error) { return 0, nil }

func TestLoginAsAnotherUserClearsData(t *testing.T) {
	e := newEnv(t)
	cookie, _ := e.request("", func(s *session.Session) {
		s.Set("cart", "book")
		s.Login("alice")
	})
	cookie, _ = e.request(cookie, func(s *session.Session) {
		if s.GetString("cart") != "book" {
			t.Error("anonymous data lost at login")
		}
		s.Set("alice-secret", "x")
		s.Login("alice") // same user again: data kept
	})
	cookie, _ = e.request(cookie, func(s *session.Session) {
		if s.GetString("alice-secret") != "x" {
			t.Error("re-login of the same user lost data")
		}
		s.Login("bob")
	})
	e.request(cookie, func(s *session.Session) {
		if d := s.Data(); len(d) != 0 || s.UserID() != "bob" {
			t.Errorf("bob sees %v (user %q); want alice's data gone", d, s.UserID())
		}
	})
}

func TestData(t *testing.T) {
	e := newEnv(t)
	cookie, _ := e.request("", func(s *session.Session) {
		s.Set("a", 1)
		s.Set("b", "x")
	})
	e.request(cookie, func(s *session.Session) {
		s.Delete("a")
		s.Set("c", true)
		d := s.Data()
		if len(d) != 2 || string(d["b"]) != `"x"` || string(d["c"]) != `true` {
			t.Errorf("Data = %v", d)
		}
		d["b"][1] = 'y' // a copy: the session is unchanged
		if s.GetString("b") != "x" {
			t.Error("Data shares memory with the session")
		}
	})
}

// lendingStore is a memstore that records every record it lends and a copy
// of it as lent.
type lendingStore struct {
	*memstore.Store
	lent   []*session.Record
	copies []*session.Record
}

func (l *lendingStore) LoadShared(ctx context.Context, id session.ID, now time.Time) (*session.Record, error) {
	r, err := l.Store.LoadShared(ctx, id, now)
	if err == nil {
		l.lent, l.copies = append(l.lent, r), append(l.copies, r.Clone())
	}
	return r, err
}

// TestLentRecordUntouched: with a store that lends records, nothing a
// handler does to the session or to what its getters return reaches the
// lent record.
func TestLentRecordUntouched(t *testing.T) {
	e := newEnv(t)
	ls := &lendingStore{Store: e.store}
	mgr, err := session.New(session.Config{Store: ls, Keys: mustKeyring(t, keyA), Now: func() time.Time { return e.now }})
	if err != nil {
		t.Fatal(err)
	}
	e.mgr = mgr
	cookie, _ := e.request("", func(s *session.Session) {
		s.Set("raw", map[string]any{"a": []int{1, 2}})
		s.Set("str", "text")
		s.Set("flash", "saved")
		s.Set("gone", 1)
	})
	scribble := func(v []byte) {
		for i := range v {
			v[i] = 'X'
		}
	}
	e.request(cookie, func(s *session.Session) {
		if v, ok := s.Get("raw"); ok {
			scribble(v)
		}
		for _, v := range s.Data() {
			scribble(v)
		}
		var raw json.RawMessage
		if ok, err := s.Decode("str", &raw); !ok || err != nil {
			t.Fatalf("Decode = %v, %v", ok, err)
		}
		scribble(raw)
		s.PopString("flash")
		s.Delete("gone")
		s.Set("new", 2)
		s.Renew()
	})
	if len(ls.lent) == 0 {
		t.Fatal("the manager never called LoadShared")
	}
	for i, r := range ls.lent {
		if !r.Equal(ls.copies[i]) {
			t.Errorf("lent record %d changed:\n got %+v\nwant %+v", i, r, ls.copies[i])
		}
	}
}

// failingApply is a memstore whose Apply fails: a store that cannot write.
type failingApply struct{ *memstore.Store }

func (failingApply) Apply(context.Context, *session.Change) (*session.Record, error) {
	return nil, errors.New("disk full (injected)")
}

// TestDestroyAfterAFailedSaveEndsTheSession: when the save failed (here a
// renew the store refused), a Destroy after it still deletes the session
// the request loaded: a logout is never lost.
func TestDestroyAfterAFailedSaveEndsTheSession(t *testing.T) {
	e := newEnv(t)
	cookie, _ := e.request("", func(s *session.Session) { s.Set("a", 1) })
	mgr, err := session.New(session.Config{Store: failingApply{e.store}, Keys: mustKeyring(t, keyA), Now: func() time.Time { return e.now }})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: mgr.CookieName(), Value: cookie})
	s, err := mgr.Load(r)
	if err != nil || s.IsNew() {
		t.Fatalf("Load = new %v, %v; want the stored session", s.IsNew(), err)
	}
	id := s.ID()
	s.Renew()
	if err := mgr.Save(r.Context(), http.Header{}, s); err == nil {
		t.Fatal("Save with a failing store succeeded")
	}
	s.Destroy()
	if _, err := e.store.Load(context.Background(), id, e.now); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("the session survived a Destroy after a failed save: %v", err)
	}
	if n := mgr.Counters().LateChanges; n != 1 {
		t.Errorf("Counters().LateChanges = %d, want 1", n)
	}
}
