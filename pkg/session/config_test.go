package session_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/pkg/memstore"
	"github.com/sesbolt/sesbolt/pkg/session"
)

func TestNewRejectsBadConfig(t *testing.T) {
	store := memstore.New(nil)
	t.Cleanup(func() { store.Close() })
	keys := mustKeyring(t, keyA)
	for name, cfg := range map[string]session.Config{
		"no store":             {Keys: keys},
		"no keys":              {Store: store},
		"empty keyring":        {Store: store, Keys: &session.Keyring{}},
		"lifetime < idle":      {Store: store, Keys: keys, IdleTimeout: time.Hour, Lifetime: time.Minute},
		"negative idle":        {Store: store, Keys: keys, IdleTimeout: -time.Minute},
		"touch >= idle":        {Store: store, Keys: keys, IdleTimeout: time.Minute, TouchInterval: time.Minute},
		"host prefix insecure": {Store: store, Keys: keys, Cookie: session.CookieOptions{Name: "__Host-s", Insecure: true}},
		"host prefix domain":   {Store: store, Keys: keys, Cookie: session.CookieOptions{Name: "__Host-s", Domain: "example.com"}},
		"host prefix path":     {Store: store, Keys: keys, Cookie: session.CookieOptions{Name: "__Host-s", Path: "/app"}},
		"secure prefix":        {Store: store, Keys: keys, Cookie: session.CookieOptions{Name: "__Secure-s", Insecure: true}},
		"bad name":             {Store: store, Keys: keys, Cookie: session.CookieOptions{Name: "a b"}},
		"samesite none http":   {Store: store, Keys: keys, Cookie: session.CookieOptions{SameSite: http.SameSiteNoneMode, Insecure: true}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := session.New(cfg); !errors.Is(err, session.ErrConfig) {
				t.Errorf("err = %v, want ErrConfig", err)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	store := memstore.New(nil)
	t.Cleanup(func() { store.Close() })
	m, err := session.New(session.Config{Store: store, Keys: mustKeyring(t, keyA)})
	if err != nil {
		t.Fatal(err)
	}
	c := m.Config()
	if c.IdleTimeout != 30*time.Minute || c.Lifetime != 12*time.Hour || c.TouchInterval != 3*time.Minute {
		t.Errorf("timeouts %v %v %v, want 30m 12h 3m", c.IdleTimeout, c.Lifetime, c.TouchInterval)
	}
	if c.Cookie.Name != "__Host-session" || c.Cookie.Path != "/" || c.Cookie.SameSite != http.SameSiteLaxMode || c.Cookie.Insecure {
		t.Errorf("cookie defaults %+v", c.Cookie)
	}
	m, err = session.New(session.Config{Store: store, Keys: mustKeyring(t, keyA), Cookie: session.CookieOptions{Insecure: true}})
	if err != nil {
		t.Fatal(err)
	}
	if m.CookieName() != "session" {
		t.Errorf("insecure cookie name %q, want session", m.CookieName())
	}
	// A Codec makes Keys optional: the Manager signs no cookie itself.
	m, err = session.New(session.Config{Store: store, Codec: mustKeyring(t, keyA).CookieCodec("x")})
	if err != nil {
		t.Fatalf("Codec without Keys: %v", err)
	}
	if m.Config().Codec == nil {
		t.Error("Config() lost the Codec")
	}
}
