package session_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/pkg/memstore"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// textCodec is a CookieCodec for tests: "<prefix><id>", where each prefix
// stands for one key, newest first. It records the values it was asked to
// decode.
type textCodec struct {
	prefixes []string
	decoded  []string
}

func (c *textCodec) Encode(id session.ID) string { return c.prefixes[0] + id.String() }

func (c *textCodec) Decode(value string) (session.ID, int, bool) {
	c.decoded = append(c.decoded, value)
	for i, p := range c.prefixes {
		if rest, ok := strings.CutPrefix(value, p); ok {
			id, err := session.ParseID(rest)
			return id, i, err == nil
		}
	}
	return session.ID{}, 0, false
}

// countingStore counts Load calls (and hides LoadShared, so every load of
// the Manager goes through Load).
type countingStore struct {
	session.Store
	loads atomic.Int64
}

func (c *countingStore) Load(ctx context.Context, id session.ID, now time.Time) (*session.Record, error) {
	c.loads.Add(1)
	return c.Store.Load(ctx, id, now)
}

// codecEnv is a Manager with codec and no Keys on a counting memstore.
func codecEnv(t *testing.T, codec session.CookieCodec) (*env, *countingStore) {
	t.Helper()
	e := &env{t: t, now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	e.store = memstore.New(&memstore.Options{Now: func() time.Time { return e.now }, CleanupInterval: -1})
	t.Cleanup(func() { e.store.Close() })
	counting := &countingStore{Store: e.store}
	var err error
	e.mgr, err = session.New(session.Config{
		Store:  counting,
		Codec:  codec,
		Cookie: session.CookieOptions{Name: "session", Insecure: true},
		Now:    func() time.Time { return e.now },
	})
	if err != nil {
		t.Fatal(err)
	}
	return e, counting
}

// TestCodecCarriesCookies: with Config.Codec set (and no Keys), the Manager
// writes cookies with the codec's Encode and reads them with its Decode.
func TestCodecCarriesCookies(t *testing.T) {
	codec := &textCodec{prefixes: []string{"new:"}}
	e, _ := codecEnv(t, codec)
	var id session.ID
	cookie, _ := e.request("", func(s *session.Session) {
		s.Set("color", "blue")
		id = s.ID()
	})
	if cookie != "new:"+id.String() {
		t.Fatalf("cookie %q, want the codec's encoding of %s", cookie, id)
	}
	e.request(cookie, func(s *session.Session) {
		if s.IsNew() || s.ID() != id || s.GetString("color") != "blue" {
			t.Errorf("session not loaded through the codec: new=%v id=%s color=%q", s.IsNew(), s.ID(), s.GetString("color"))
		}
	})
	if len(codec.decoded) != 1 || codec.decoded[0] != cookie {
		t.Errorf("Decode saw %q, want [%q]", codec.decoded, cookie)
	}
}

// TestCodecRejectionSkipsStore: a value the codec rejects never reaches
// the store, and an oversized value never reaches the codec.
func TestCodecRejectionSkipsStore(t *testing.T) {
	codec := &textCodec{prefixes: []string{"new:"}}
	e, store := codecEnv(t, codec)
	var stored session.ID
	e.request("", func(s *session.Session) { s.Set("k", 1); stored = s.ID() })

	for name, value := range map[string]string{
		"unknown signature": "forged:" + stored.String(),
		"bad id":            "new:" + strings.ToUpper(stored.String()) + "x",
	} {
		t.Run(name, func(t *testing.T) {
			before := store.loads.Load()
			e.request(value, func(s *session.Session) {
				if !s.IsNew() || s.ID() == stored {
					t.Errorf("rejected cookie loaded session %s", s.ID())
				}
			})
			if n := store.loads.Load() - before; n != 0 {
				t.Errorf("store asked %d times about a rejected cookie", n)
			}
		})
	}

	codec.decoded = nil
	before := store.loads.Load()
	e.request("new:"+strings.Repeat("a", session.MaxCookieSize), func(s *session.Session) {
		if !s.IsNew() {
			t.Error("oversized cookie loaded a session")
		}
	})
	if len(codec.decoded) != 0 || store.loads.Load() != before {
		t.Errorf("oversized cookie reached the codec (%d) or the store (%d)", len(codec.decoded), store.loads.Load()-before)
	}
}

// zeroCodec is a broken CookieCodec: it decodes every value to the zero ID.
type zeroCodec struct{ textCodec }

func (zeroCodec) Decode(string) (session.ID, int, bool) { return session.ID{}, 0, true }

// TestCodecZeroIDRefused: a zero ID from a codec that breaks its contract
// is refused as a bad cookie; the store is never asked about it.
func TestCodecZeroIDRefused(t *testing.T) {
	e, store := codecEnv(t, &zeroCodec{textCodec{prefixes: []string{"new:"}}})
	e.request("anything", func(s *session.Session) {
		if !s.IsNew() || s.ID().IsZero() {
			t.Errorf("a zero ID from the codec gave session %s (new: %v)", s.ID(), s.IsNew())
		}
	})
	if n := store.loads.Load(); n != 0 {
		t.Errorf("store asked %d times about a zero ID", n)
	}
}

// TestCodecOlderKeyReissues: a value an older key of the codec verified
// (keyIndex > 0) is re-issued under the newest, even when nothing changed.
func TestCodecOlderKeyReissues(t *testing.T) {
	codec := &textCodec{prefixes: []string{"new:", "old:"}}
	e, _ := codecEnv(t, codec)
	var id session.ID
	e.request("", func(s *session.Session) { s.Set("k", 1); id = s.ID() })

	cookie, _ := e.request("old:"+id.String(), func(s *session.Session) {
		if s.IsNew() {
			t.Error("old-key cookie rejected")
		}
	})
	if cookie != "new:"+id.String() {
		t.Errorf("re-issued cookie %q, want %q", cookie, "new:"+id.String())
	}
	cookie, _ = e.request("new:"+id.String(), func(*session.Session) {})
	if cookie != "" {
		t.Errorf("current-key cookie re-issued as %q", cookie)
	}
}

// TestKeyringCookieCodec: the keyring's codec is exactly SignCookie and
// VerifyCookie under its cookie name, rotation included, and a Manager
// configured with it sets the same cookies as the default (nil Codec).
func TestKeyringCookieCodec(t *testing.T) {
	oldKeys, rotated := mustKeyring(t, keyB), mustKeyring(t, keyA, keyB)
	codec := rotated.CookieCodec("__Host-session")
	id := session.NewID()
	if got, want := codec.Encode(id), rotated.SignCookie("__Host-session", id); got != want {
		t.Fatalf("Encode %q, SignCookie %q", got, want)
	}
	for _, value := range []string{
		rotated.SignCookie("__Host-session", id),
		oldKeys.SignCookie("__Host-session", id),
		rotated.SignCookie("other", id),
		"",
	} {
		gotID, gotIndex, gotOK := codec.Decode(value)
		wantID, wantIndex, wantOK := rotated.VerifyCookie("__Host-session", value)
		if gotID != wantID || gotIndex != wantIndex || gotOK != wantOK {
			t.Errorf("Decode(%q) = %s %d %v, VerifyCookie = %s %d %v", value, gotID, gotIndex, gotOK, wantID, wantIndex, wantOK)
		}
	}

	store := memstore.New(&memstore.Options{CleanupInterval: -1})
	t.Cleanup(func() { store.Close() })
	cookieOf := func(codec session.CookieCodec) (session.ID, string) {
		m, err := session.New(session.Config{Store: store, Keys: rotated, Codec: codec})
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest("GET", "/", nil)
		s, err := m.Load(r)
		if err != nil {
			t.Fatal(err)
		}
		s.Set("k", 1)
		h := http.Header{}
		if err := m.Save(r.Context(), h, s); err != nil {
			t.Fatal(err)
		}
		return s.ID(), (&http.Response{Header: h}).Cookies()[0].Value
	}
	for _, codec := range []session.CookieCodec{nil, rotated.CookieCodec("__Host-session")} {
		id, value := cookieOf(codec)
		if want := rotated.SignCookie("__Host-session", id); value != want {
			t.Errorf("codec %T: cookie %q, want %q", codec, value, want)
		}
	}
}
