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
		"persistent lifetime < idle": {Store: store, Keys: keys, PersistentIdleTimeout: 48 * time.Hour,
			PersistentLifetime: 24 * time.Hour},
		"negative persistent": {Store: store, Keys: keys, PersistentIdleTimeout: -time.Hour},
		"touch >= persistent idle": {Store: store, Keys: keys, IdleTimeout: time.Hour, TouchInterval: 30 * time.Minute,
			PersistentIdleTimeout: 20 * time.Minute},
		"negative session limit": {Store: store, Keys: keys, MaxUserSessions: -1},
		"bad token header":       {Store: store, Keys: keys, Token: session.TokenOptions{Enabled: true, Header: "a b"}},
		"token header Cookie":    {Store: store, Keys: keys, Token: session.TokenOptions{Enabled: true, Header: "cookie"}},
		"token in Set-Cookie":    {Store: store, Keys: keys, Token: session.TokenOptions{Enabled: true, ResponseHeader: "Set-Cookie"}},
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
	if c.PersistentIdleTimeout != 30*24*time.Hour || c.PersistentLifetime != 90*24*time.Hour || c.MaxUserSessions != 0 {
		t.Errorf("persistent timeouts %v %v, session limit %d; want 720h 2160h 0", c.PersistentIdleTimeout, c.PersistentLifetime, c.MaxUserSessions)
	}
	if c.Token.Enabled || c.Token.Header != "" {
		t.Errorf("token transport %+v, want off", c.Token)
	}
	m, err = session.New(session.Config{Store: store, Keys: mustKeyring(t, keyA), IdleTimeout: 60 * 24 * time.Hour,
		Lifetime: 100 * 24 * time.Hour, Token: session.TokenOptions{Enabled: true, ResponseHeader: "x-new-token"}})
	if err != nil {
		t.Fatal(err)
	}
	c = m.Config()
	if c.PersistentIdleTimeout != 60*24*time.Hour || c.PersistentLifetime != 100*24*time.Hour {
		t.Errorf("persistent timeouts %v %v; want no shorter than the ordinary ones (1440h 2400h)", c.PersistentIdleTimeout, c.PersistentLifetime)
	}
	if c.Token.Header != "Authorization" || c.Token.ResponseHeader != "X-New-Token" {
		t.Errorf("token headers %+v; want Authorization and X-New-Token", c.Token)
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
