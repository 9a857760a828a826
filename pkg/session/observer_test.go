package session_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/pkg/memstore"
	"github.com/sesbolt/sesbolt/pkg/session"
	"github.com/sesbolt/sesbolt/pkg/session/sessiontest"
)

// newObservedEnv is newEnv with a Recorder observing both the manager and
// its memstore.
func newObservedEnv(t *testing.T) (*env, *sessiontest.Recorder) {
	rec := &sessiontest.Recorder{}
	e := &env{t: t, now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	e.store = memstore.New(&memstore.Options{Now: func() time.Time { return e.now }, CleanupInterval: -1, Observer: rec.StoreObserver()})
	t.Cleanup(func() { e.store.Close() })
	var err error
	e.mgr, err = session.New(session.Config{Store: e.store, Keys: mustKeyring(t, keyA), Now: func() time.Time { return e.now },
		Observer: rec.Observer()})
	if err != nil {
		t.Fatal(err)
	}
	return e, rec
}

// wantEvents fails unless got is want, in order.
func wantEvents[T comparable](t *testing.T, what string, got []T, want ...T) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}

func TestObserverCreatedLoggedInRenewed(t *testing.T) {
	e, rec := newObservedEnv(t)
	idOf := func(cookie string) session.ID {
		id, _, ok := mustKeyring(t, keyA).VerifyCookie(e.mgr.CookieName(), cookie)
		if !ok {
			t.Fatalf("cookie %q does not verify", cookie)
		}
		return id
	}

	// An anonymous visit that stores nothing creates nothing.
	e.request("", func(s *session.Session) { s.GetString("x") })
	wantEvents(t, "a visit", rec.Order())

	// Storing a value creates the session: once.
	anon, _ := e.request("", func(s *session.Session) { s.Set("cart", 1) })
	wantEvents(t, "created", rec.Created(), idOf(anon))
	wantEvents(t, "first store", rec.Order(), "created")

	// Reading and writing it again creates nothing more.
	rec.Reset()
	e.request(anon, func(s *session.Session) { s.Set("cart", 2) })
	e.now = e.now.Add(10 * time.Minute) // a touch
	e.request(anon, func(s *session.Session) { s.GetInt("cart") })
	wantEvents(t, "updates", rec.Order())

	// Logging the stored session in: logged in, not renewed, not created.
	user, _ := e.request(anon, func(s *session.Session) { s.Login("alice") })
	wantEvents(t, "login", rec.Order(), "logged_in")
	wantEvents(t, "logged in", rec.LoggedIn(), idOf(user))

	// Renew without a login.
	rec.Reset()
	renewed, _ := e.request(user, func(s *session.Session) { s.Renew() })
	wantEvents(t, "renew", rec.Order(), "renewed")
	wantEvents(t, "renewed", rec.Renewed(), idOf(renewed))

	// A login in the request that creates the session: created, then
	// logged in, one record.
	rec.Reset()
	fresh, _ := e.request("", func(s *session.Session) { s.Login("bob") })
	wantEvents(t, "login of a new session", rec.Order(), "created", "logged_in")
	wantEvents(t, "created", rec.Created(), idOf(fresh))
	wantEvents(t, "logged in", rec.LoggedIn(), idOf(fresh))
}

func TestObserverCookieRejected(t *testing.T) {
	e, rec := newObservedEnv(t)
	valid, _ := e.request("", func(s *session.Session) { s.Set("k", 1) })
	other, _ := session.NewKeyring(keyB)
	forged := other.SignCookie(e.mgr.CookieName(), session.NewID())
	unknown := mustKeyring(t, keyA).SignCookie(e.mgr.CookieName(), session.NewID())
	loggedIn, _ := e.request(valid, func(s *session.Session) { s.Login("alice") }) // renews valid's id away
	rec.Reset()

	for _, c := range []struct {
		cookie string
		want   []session.CookieReason
	}{
		{"", nil},
		{loggedIn, nil},
		{strings.Repeat("a", session.MaxCookieSize+1), []session.CookieReason{session.CookieOversized}},
		{"not-a-cookie", []session.CookieReason{session.CookieMalformed}},
		{forged[:len(forged)-1] + "!", []session.CookieReason{session.CookieMalformed}},
		{forged, []session.CookieReason{session.CookieBadSignature}},
		{unknown, []session.CookieReason{session.CookieUnknownID}},
		{valid, []session.CookieReason{session.CookieRenewed}},
	} {
		rec.Reset()
		e.request(c.cookie, func(s *session.Session) {})
		if got := rec.Rejected(); !slices.Equal(got, c.want) {
			t.Errorf("cookie %.20q: rejected %v, want %v", c.cookie, got, c.want)
		}
		if order := rec.Order(); len(order) != len(c.want) {
			t.Errorf("cookie %.20q: events %v, want only the rejection", c.cookie, order)
		}
	}

	// An expired session's cookie: its session is not live.
	e.now = e.now.Add(session.DefaultIdleTimeout + time.Minute)
	rec.Reset()
	e.request(loggedIn, func(s *session.Session) {})
	wantEvents(t, "expired session's cookie", rec.Rejected(), session.CookieUnknownID)

	// Every cookie of the name counts: a forged one before a valid one.
	e.now = e.now.Add(-session.DefaultIdleTimeout)
	good, _ := e.request("", func(s *session.Session) { s.Set("k", 1) })
	rec.Reset()
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: e.mgr.CookieName(), Value: forged})
	r.AddCookie(&http.Cookie{Name: e.mgr.CookieName(), Value: good})
	s, err := e.mgr.Load(r)
	if err != nil || s.IsNew() {
		t.Fatalf("Load with a forged and a good cookie: new %v, %v", s.IsNew(), err)
	}
	wantEvents(t, "two cookies", rec.Rejected(), session.CookieBadSignature)
}

func TestObserverSessionsEnded(t *testing.T) {
	e, rec := newObservedEnv(t)
	login := func(user string) string {
		c, _ := e.request("", func(s *session.Session) { s.Login(user) })
		return c
	}
	a1, a2, a3, b1 := login("alice"), login("alice"), login("alice"), login("bob")
	ids := func(cookies ...string) []session.ID {
		var out []session.ID
		for _, c := range cookies {
			id, _, _ := mustKeyring(t, keyA).VerifyCookie(e.mgr.CookieName(), c)
			out = append(out, id)
		}
		return out
	}
	ctx := context.Background()

	// Logout: once, even when two tabs log out.
	rec.Reset()
	e.request(b1, func(s *session.Session) { s.Destroy() })
	e.request(b1, func(s *session.Session) { s.Destroy() })
	wantEvents(t, "logout", rec.Ended(), session.Ended{ID: ids(b1)[0], User: "bob", Reason: session.EndLogout})

	// A user revoking one of their sessions from another.
	rec.Reset()
	if ok, err := e.mgr.DestroyUserSession(ctx, "alice", ids(a3)[0]); !ok || err != nil {
		t.Fatalf("DestroyUserSession = %v, %v", ok, err)
	}
	wantEvents(t, "revoke own", rec.Ended(), session.Ended{ID: ids(a3)[0], User: "alice", Reason: session.EndLogout})

	// Log out everywhere, from a1: a1 and a2 end once each; the request's
	// own Destroy finds its session gone and reports nothing more.
	rec.Reset()
	e.request(a1, func(s *session.Session) {
		if n, err := e.mgr.DestroyUser(ctx, "alice"); n != 2 || err != nil {
			t.Errorf("DestroyUser = %d, %v", n, err)
		}
		s.Destroy()
	})
	got := rec.Ended()
	slices.SortFunc(got, func(a, b session.Ended) int { return strings.Compare(a.ID.String(), b.ID.String()) })
	want := []session.Ended{
		{ID: ids(a1)[0], User: "alice", Reason: session.EndLogoutEverywhere},
		{ID: ids(a2)[0], User: "alice", Reason: session.EndLogoutEverywhere},
	}
	slices.SortFunc(want, func(a, b session.Ended) int { return strings.Compare(a.ID.String(), b.ID.String()) })
	wantEvents(t, "logout everywhere", got, want...)
}

func TestObserverDroppedAndLate(t *testing.T) {
	e, rec := newObservedEnv(t)
	c, _ := e.request("", func(s *session.Session) { s.Login("alice") })
	id, _, _ := mustKeyring(t, keyA).VerifyCookie(e.mgr.CookieName(), c)

	// A request whose session ended meanwhile: its change is dropped.
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: e.mgr.CookieName(), Value: c})
	s, err := e.mgr.Load(r)
	if err != nil {
		t.Fatal(err)
	}
	s.Set("k", 1)
	if _, err := e.store.Delete(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	rec.Reset()
	if err := e.mgr.Save(r.Context(), http.Header{}, s); err != nil {
		t.Fatal(err)
	}
	if rec.Dropped() != 1 || len(rec.Order()) != 1 {
		t.Errorf("events %v, want one dropped", rec.Order())
	}

	// Changes after the save: each reported once, with its method; a late
	// Destroy still ends the session, reported as a logout.
	c, _ = e.request("", func(s *session.Session) { s.Login("bob") })
	id, _, _ = mustKeyring(t, keyA).VerifyCookie(e.mgr.CookieName(), c)
	rec.Reset()
	e.request(c, func(s *session.Session) {
		e.mgr.Save(context.Background(), http.Header{}, s)
		s.Set("late", 1)
		s.Renew()
		s.Destroy()
	})
	wantEvents(t, "late changes", rec.LateChanges(), "Set", "Renew", "Destroy")
	wantEvents(t, "late destroy", rec.Ended(), session.Ended{ID: id, User: "bob", Reason: session.EndLogout})
	if n := e.mgr.Counters().LateChanges; n != 3 {
		t.Errorf("Counters().LateChanges = %d, want 3 as reported", n)
	}
}

// TestObserverMayUseTheSession: observers run without the session's lock,
// so one may use the request's session: LoggedIn reads the user through
// the context Save got, LateChange reads it directly.
func TestObserverMayUseTheSession(t *testing.T) {
	store := memstore.New(&memstore.Options{CleanupInterval: -1})
	t.Cleanup(func() { store.Close() })
	var s *session.Session
	var seen []string
	mgr, err := session.New(session.Config{Store: store, Keys: mustKeyring(t, keyA), Observer: session.Observer{
		LoggedIn: func(ctx context.Context, _ *session.Record) {
			if s, ok := session.FromContext(ctx); ok {
				seen = append(seen, s.UserID())
			}
		},
		LateChange: func(_ context.Context, method string) { seen = append(seen, method+" "+s.UserID()) },
	}})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("POST", "/login", nil)
	if s, err = mgr.Load(r); err != nil {
		t.Fatal(err)
	}
	s.Login("alice")
	done := make(chan struct{})
	go func() {
		defer close(done)
		mgr.Save(session.NewContext(r.Context(), s), http.Header{}, s)
		s.Set("late", 1)
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("an observer that uses the session deadlocked")
	}
	wantEvents(t, "observers saw", seen, "alice", "Set alice")
}

func TestJoinObservers(t *testing.T) {
	var calls []string
	a := session.Observer{Created: func(context.Context, *session.Record) { calls = append(calls, "a.created") }}
	b := session.Observer{
		Created: func(context.Context, *session.Record) { calls = append(calls, "b.created") },
		Dropped: func(context.Context) { calls = append(calls, "b.dropped") },
	}
	j := session.JoinObservers(a, session.Observer{}, b)
	if j.LoggedIn != nil || j.Renewed != nil || j.CookieRejected != nil || j.LateChange != nil {
		t.Error("a field no observer sets is not nil")
	}
	j.Created(context.Background(), &session.Record{})
	j.Dropped(context.Background())
	wantEvents(t, "joined", calls, "a.created", "b.created", "b.dropped")

	calls = nil
	sa := session.StoreObserver{Ended: func(_ context.Context, e session.Ended) { calls = append(calls, "a."+string(e.Reason)) }}
	sb := session.StoreObserver{
		Ended:  func(_ context.Context, e session.Ended) { calls = append(calls, "b."+string(e.Reason)) },
		Failed: func(op string, _ error) { calls = append(calls, "b.failed "+op) },
	}
	sj := session.JoinStoreObservers(sa, sb)
	if sj.Committed != nil || sj.Reaped != nil || sj.SealFailed != nil {
		t.Error("a store field no observer sets is not nil")
	}
	sj.Ended(context.Background(), session.Ended{Reason: session.EndLimit})
	sj.Failed("load", nil)
	wantEvents(t, "joined store", calls, "a.limit", "b.limit", "b.failed load")
}

// TestJoinObserversEveryField: every field of a joined Observer and
// StoreObserver calls that same field of each joined observer, in order,
// and hands it its arguments: each field's joining is written out on its
// own, so each is checked on its own.
func TestJoinObserversEveryField(t *testing.T) {
	var calls []string
	ctx := context.Background()
	rec := &session.Record{UserID: "alice"}
	id := session.NewID()
	observer := func(name string) session.Observer {
		add := func(s string) { calls = append(calls, name+"."+s) }
		return session.Observer{
			Created:        func(_ context.Context, r *session.Record) { add("Created " + r.UserID) },
			LoggedIn:       func(_ context.Context, r *session.Record) { add("LoggedIn " + r.UserID) },
			Renewed:        func(_ context.Context, r *session.Record) { add("Renewed " + r.UserID) },
			CookieRejected: func(_ context.Context, why session.CookieReason) { add("CookieRejected " + string(why)) },
			Dropped:        func(context.Context) { add("Dropped") },
			LateChange:     func(_ context.Context, method string) { add("LateChange " + method) },
		}
	}
	j := session.JoinObservers(observer("a"), observer("b"))
	j.Created(ctx, rec)
	j.LoggedIn(ctx, rec)
	j.Renewed(ctx, rec)
	j.CookieRejected(ctx, session.CookieRenewed)
	j.Dropped(ctx)
	j.LateChange(ctx, "Set")
	wantEvents(t, "joined", calls,
		"a.Created alice", "b.Created alice", "a.LoggedIn alice", "b.LoggedIn alice",
		"a.Renewed alice", "b.Renewed alice", "a.CookieRejected renewed", "b.CookieRejected renewed",
		"a.Dropped", "b.Dropped", "a.LateChange Set", "b.LateChange Set")

	calls = nil
	storeObserver := func(name string) session.StoreObserver {
		add := func(s string) { calls = append(calls, name+"."+s) }
		return session.StoreObserver{
			Ended:      func(_ context.Context, e session.Ended) { add("Ended " + e.User) },
			Committed:  func(c session.Commit) { add(fmt.Sprintf("Committed %d", c.Size)) },
			Reaped:     func(r session.ReapStats) { add(fmt.Sprintf("Reaped %d", r.Removed)) },
			SealFailed: func(got session.ID) { add(fmt.Sprintf("SealFailed %t", got == id)) },
			Failed:     func(op string, _ error) { add("Failed " + op) },
		}
	}
	sj := session.JoinStoreObservers(storeObserver("a"), storeObserver("b"))
	sj.Ended(ctx, session.Ended{User: "alice"})
	sj.Committed(session.Commit{Size: 3})
	sj.Reaped(session.ReapStats{Removed: 2})
	sj.SealFailed(id)
	sj.Failed("load", nil)
	wantEvents(t, "joined store", calls,
		"a.Ended alice", "b.Ended alice", "a.Committed 3", "b.Committed 3", "a.Reaped 2", "b.Reaped 2",
		"a.SealFailed true", "b.SealFailed true", "a.Failed load", "b.Failed load")
}

func TestStoreObserverReportEnded(t *testing.T) {
	session.StoreObserver{}.ReportEnded(context.Background(), session.EndExpired, []session.Ended{{ID: session.NewID()}}) // nil Ended: no call, no panic

	var got []session.Ended
	o := session.StoreObserver{Ended: func(_ context.Context, e session.Ended) { got = append(got, e) }}
	a, b := session.NewID(), session.NewID()
	ended := []session.Ended{{ID: a, User: "alice", Reason: session.EndOther}, {ID: b}}
	o.ReportEnded(context.Background(), session.EndLogoutEverywhere, ended)
	want := []session.Ended{
		{ID: a, User: "alice", Reason: session.EndLogoutEverywhere},
		{ID: b, Reason: session.EndLogoutEverywhere},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("ReportEnded reported %+v; want %+v", got, want)
	}
	if ended[0].Reason != session.EndOther || ended[1].Reason != "" {
		t.Errorf("ReportEnded modified its argument: %+v", ended)
	}
}

func TestEndReasonFromContext(t *testing.T) {
	ctx := context.Background()
	if r := session.EndReasonFrom(ctx); r != session.EndOther {
		t.Errorf("no reason: %q, want %q", r, session.EndOther)
	}
	if r := session.EndReasonFrom(session.WithEndReason(ctx, session.EndRevoked)); r != session.EndRevoked {
		t.Errorf("revoked: %q", r)
	}
	// The innermost reason wins.
	inner := session.WithEndReason(session.WithEndReason(ctx, session.EndRevoked), session.EndLimit)
	if r := session.EndReasonFrom(inner); r != session.EndLimit {
		t.Errorf("nested: %q, want %q", r, session.EndLimit)
	}
	for _, r := range session.EndReasons() {
		if r == "" || strings.ContainsAny(string(r), " -") {
			t.Errorf("end reason %q is not a label value of the documented form", r)
		}
	}
	for _, r := range session.CookieReasons() {
		if r == "" || strings.ContainsAny(string(r), " -") {
			t.Errorf("cookie reason %q is not a label value of the documented form", r)
		}
	}
}

// TestObserverCookieRejectedByCodec: with a codec of the application's,
// which only says yes or no, every refused value is a bad signature; an
// accepted one whose session is not stored is an unknown id.
func TestObserverCookieRejectedByCodec(t *testing.T) {
	rec := &sessiontest.Recorder{}
	store := memstore.New(&memstore.Options{CleanupInterval: -1})
	t.Cleanup(func() { store.Close() })
	mgr, err := session.New(session.Config{Store: store, Keys: mustKeyring(t, keyA), Codec: &textCodec{prefixes: []string{"v1:"}},
		Observer: rec.Observer()})
	if err != nil {
		t.Fatal(err)
	}
	for _, value := range []string{"garbage", "v1:not-an-id", "v1:" + session.NewID().String()} {
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(&http.Cookie{Name: mgr.CookieName(), Value: value})
		if _, err := mgr.Load(r); err != nil {
			t.Fatal(err)
		}
	}
	wantEvents(t, "codec rejections", rec.Rejected(),
		session.CookieBadSignature, session.CookieBadSignature, session.CookieUnknownID)
}

// TestObserverOthersAndLimit: signing out other devices reports those
// sessions as logout_others; a login over Config.MaxUserSessions reports
// the sessions it ends as limit.
func TestObserverOthersAndLimit(t *testing.T) {
	rec := &sessiontest.Recorder{}
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	store := memstore.New(&memstore.Options{CleanupInterval: -1, Observer: rec.StoreObserver(), Now: clock})
	t.Cleanup(func() { store.Close() })
	keys := mustKeyring(t, keyA)
	mgr, err := session.New(session.Config{Store: store, Keys: keys, Now: clock, MaxUserSessions: 2})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, mgr: mgr, store: store, now: now}
	idOf := func(cookie string) session.ID {
		id, _, _ := keys.VerifyCookie(mgr.CookieName(), cookie)
		return id
	}
	login := func(user string) string {
		now = now.Add(time.Minute)
		c, _ := e.request("", func(s *session.Session) { s.Login(user) })
		return c
	}
	a1, a2 := login("alice"), login("alice")
	a3 := login("alice") // ends a1, the least recently seen
	wantEvents(t, "limit", rec.Ended(), session.Ended{ID: idOf(a1), User: "alice", Reason: session.EndLimit})

	rec.Reset()
	e.request(a3, func(s *session.Session) {
		if n, err := s.DestroyOthers(); n != 1 || err != nil {
			t.Errorf("DestroyOthers = %d, %v; want 1", n, err)
		}
	})
	wantEvents(t, "logout others", rec.Ended(), session.Ended{ID: idOf(a2), User: "alice", Reason: session.EndLogoutOthers})
}
