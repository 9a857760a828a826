package flasksession_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/pkg/flasksession"
	"github.com/sesbolt/sesbolt/pkg/memstore"
	"github.com/sesbolt/sesbolt/pkg/session"
)

func mustCodec(t testing.TB, secrets ...string) *flasksession.Codec {
	t.Helper()
	c, err := flasksession.NewCodec(secretBytes(secrets), nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCodecIsTheRecipesCookie: the cookie value is the id's canonical form
// signed as the recipe signs it, and it decodes back to the id.
func TestCodecIsTheRecipesCookie(t *testing.T) {
	codec := mustCodec(t, recipeSecret)
	id, err := session.ParseID("630d33fa-27dc-4745-8919-4839b85d0ffb")
	if err != nil {
		t.Fatal(err)
	}
	const want = "630d33fa-27dc-4745-8919-4839b85d0ffb.Jx-TfaO7oL3SxVe1mVJZ2plUHjo" // itsdangerous 2.1.2
	if got := codec.Encode(id); got != want {
		t.Fatalf("Encode = %q, want %q", got, want)
	}
	got, keyIndex, ok := codec.Decode(want)
	if !ok || got != id || keyIndex != 0 {
		t.Fatalf("Decode = %s, %d, %v", got, keyIndex, ok)
	}
	for range 100 {
		id := session.NewID()
		if got, _, ok := codec.Decode(codec.Encode(id)); !ok || got != id {
			t.Fatalf("round trip of %s gave %s, %v", id, got, ok)
		}
	}
}

// TestCodecRejects: only canonical lower-case non-zero UUIDs signed by one
// of the secrets decode; validly signed other values do not.
func TestCodecRejects(t *testing.T) {
	codec := mustCodec(t, recipeSecret)
	signer := mustSigner(t, nil, recipeSecret)
	id := "630d33fa-27dc-4745-8919-4839b85d0ffb"
	good := signer.Sign(id)
	for name, value := range map[string]string{
		"other secret":         mustSigner(t, nil, "another secret").Sign(id),
		"edited id":            "630d33fa-27dc-4745-8919-4839b85d0ffa" + good[36:],
		"upper case, signed":   signer.Sign(strings.ToUpper(id)),
		"zero uuid, signed":    signer.Sign("00000000-0000-0000-0000-000000000000"),
		"no dashes, signed":    signer.Sign(strings.ReplaceAll(id, "-", "") + "----"),
		"braced, signed":       signer.Sign("{" + id + "}"),
		"other text, signed":   signer.Sign(strings.Repeat("x", 36)),
		"longer value, signed": signer.Sign(id + "0"),
		"sesbolt's format":     "YwvTOifcR0WJGUgrhdD_-xI0VniQq8vM7lJDkgHwY6A",
		"truncated":            good[:len(good)-1],
		"padded":               good + "=",
		"empty":                "",
	} {
		t.Run(name, func(t *testing.T) {
			if got, _, ok := codec.Decode(value); ok || !got.IsZero() {
				t.Errorf("Decode(%q) = %s, %v; want refused", value, got, ok)
			}
		})
	}
}

// TestCodecWithManager: a Manager with the codec sets the recipe's cookie,
// loads a session from a cookie the recipe's signer made, and re-issues a
// cookie an older secret signed under the newest.
func TestCodecWithManager(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	store := memstore.New(&memstore.Options{Now: func() time.Time { return now }, CleanupInterval: -1})
	t.Cleanup(func() { store.Close() })
	newManager := func(codec session.CookieCodec) *session.Manager {
		m, err := session.New(session.Config{
			Store:  store,
			Codec:  codec,
			Cookie: session.CookieOptions{Name: flasksession.CookieName, Insecure: true},
			Now:    func() time.Time { return now },
		})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	old := newManager(mustCodec(t, "old secret"))
	var id session.ID
	cookie := request(t, old, "", func(s *session.Session) { s.Set("color", "blue"); id = s.ID() })
	if want := mustSigner(t, nil, "old secret").Sign(id.String()); cookie != want {
		t.Fatalf("cookie %q, want the recipe's %q", cookie, want)
	}

	rotated := newManager(mustCodec(t, "old secret", "new secret"))
	reissued := request(t, rotated, cookie, func(s *session.Session) {
		if s.IsNew() || s.GetString("color") != "blue" {
			t.Errorf("old secret's cookie not accepted after rotation")
		}
	})
	if want := mustSigner(t, nil, "new secret").Sign(id.String()); reissued != want {
		t.Errorf("re-issued cookie %q, want %q (the newest secret's)", reissued, want)
	}

	dropped := newManager(mustCodec(t, "new secret"))
	request(t, dropped, cookie, func(s *session.Session) {
		if !s.IsNew() {
			t.Error("a dropped secret's cookie still loads the session")
		}
	})
}

// request runs f on the session of a request to m carrying cookie as the
// session cookie, and returns the session cookie the response sets (""
// for none).
func request(t *testing.T, m *session.Manager, cookie string, f func(*session.Session)) string {
	t.Helper()
	r := httptest.NewRequest("GET", "/", nil)
	if cookie != "" {
		r.AddCookie(&http.Cookie{Name: flasksession.CookieName, Value: cookie})
	}
	s, err := m.Load(r)
	if err != nil {
		t.Fatal(err)
	}
	f(s)
	h := http.Header{}
	if err := m.Save(r.Context(), h, s); err != nil {
		t.Fatal(err)
	}
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == flasksession.CookieName {
			return c.Value
		}
	}
	return ""
}

func BenchmarkCodecDecode(b *testing.B) {
	codec := mustCodec(b, "older", recipeSecret)
	value := codec.Encode(session.NewID())
	b.ReportAllocs()
	for b.Loop() {
		if _, _, ok := codec.Decode(value); !ok {
			b.Fatal("refused")
		}
	}
}

func BenchmarkCodecEncode(b *testing.B) {
	codec := mustCodec(b, recipeSecret)
	id := session.NewID()
	b.ReportAllocs()
	for b.Loop() {
		codec.Encode(id)
	}
}

// TestMigrateTo: a Manager with MigrateTo's codec loads the session of a
// cookie in the recipe's format and re-issues the cookie in the new
// format for the same session; the new cookie loads it without another
// re-issue; new sessions get the new format; cookies of neither format,
// and the recipe's under a secret the codec lacks, are refused.
func TestMigrateTo(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	store := memstore.New(&memstore.Options{Now: func() time.Time { return now }, CleanupInterval: -1})
	t.Cleanup(func() { store.Close() })
	flask := mustCodec(t, recipeSecret)
	keys := mustKeyring(t)
	sesbolt := keys.CookieCodec(flasksession.CookieName)
	manager := func(codec session.CookieCodec) *session.Manager {
		m, err := session.New(session.Config{Store: store, Codec: codec,
			Cookie: session.CookieOptions{Name: flasksession.CookieName, Insecure: true},
			Now:    func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	before, after := manager(flask), manager(flask.MigrateTo(sesbolt))

	var id session.ID
	flaskCookie := request(t, before, "", func(s *session.Session) { s.Set("cart", []int{1}); id = s.ID() })
	reissued := request(t, after, flaskCookie, func(s *session.Session) {
		if cart, _ := s.Get("cart"); s.IsNew() || s.ID() != id || string(cart) != `[1]` {
			t.Errorf("the recipe's cookie did not load its session: new %v, id %s", s.IsNew(), s.ID())
		}
	})
	if got, _, ok := keys.VerifyCookie(flasksession.CookieName, reissued); !ok || got != id {
		t.Fatalf("re-issued cookie %q is not sesbolt's for %s", reissued, id)
	}
	if again := request(t, after, reissued, func(s *session.Session) {
		if s.IsNew() || s.ID() != id {
			t.Error("the re-issued cookie does not load the session")
		}
	}); again != "" {
		t.Errorf("a cookie in the new format was re-issued again: %q", again)
	}
	fresh := request(t, after, "", func(s *session.Session) { s.Set("k", 1) })
	if _, _, ok := keys.VerifyCookie(flasksession.CookieName, fresh); !ok {
		t.Errorf("a new session's cookie %q is not in the new format", fresh)
	}

	codec := flask.MigrateTo(sesbolt)
	if _, i, ok := codec.Decode(flaskCookie); !ok || i < flasksession.MigratedKeyIndex {
		t.Errorf("Decode(recipe's cookie) = %d, %v", i, ok)
	}
	for name, value := range map[string]string{
		"another Flask secret":  mustCodec(t, "another secret").Encode(id),
		"another sesbolt key":   mustKeyring(t).CookieCodec(flasksession.CookieName).Encode(id),
		"sesbolt's, other name": keys.CookieCodec("__Host-session").Encode(id),
		"garbage":               "x",
	} {
		if got, i, ok := codec.Decode(value); ok || !got.IsZero() || i != 0 {
			t.Errorf("%s: Decode = %s, %d, %v; want refused", name, got, i, ok)
		}
	}
}

func mustKeyring(t *testing.T) *session.Keyring {
	t.Helper()
	k, err := session.NewKeyring(session.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	return k
}
