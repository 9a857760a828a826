package main

import (
	"bytes"
	"errors"
	"flag"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/pkg/session"
)

func TestParseFlagsDefaults(t *testing.T) {
	var stderr bytes.Buffer
	o, err := parseFlags(nil, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	want := options{
		addr:     "127.0.0.1:8080",
		db:       "./sesdemo.db",
		keys:     "./sesdemo.keys",
		idle:     30 * time.Minute,
		lifetime: 12 * time.Hour,

		flaskUserKey: "user_id",
	}
	if o != want {
		t.Errorf("defaults %+v, want %+v", o, want)
	}
	if want.idle != session.DefaultIdleTimeout || want.lifetime != session.DefaultLifetime {
		t.Error("flag defaults drifted from the session package's")
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr %q", stderr.String())
	}
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"-addr", "127.0.0.1:0", "-db", "x.db", "-keys", "x.keys", "-idle", "1m", "-lifetime", "1h", "-max-sessions", "3", "-secure", "-debug"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	want := options{addr: "127.0.0.1:0", db: "x.db", keys: "x.keys", idle: time.Minute, lifetime: time.Hour, maxSessions: 3, secure: true, debug: true, flaskUserKey: "user_id"}
	if o != want {
		t.Errorf("got %+v, want %+v", o, want)
	}
	o, err = parseFlags([]string{"-redis", "redis://c1:7000,c2:7001", "-admin-socket", "/run/demo.sock"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if o.redis != "redis://c1:7000,c2:7001" || o.adminSocket != "/run/demo.sock" {
		t.Errorf("-redis and -admin-socket: %+v", o)
	}

	// The Flask mode: -redis and -flask-secret-file together.
	o, err = parseFlags([]string{"-redis", "unix:///run/redis.sock", "-flask-secret-file", "flask-secret", "-flask-user-key", "uid", "-idle", "31h"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if o.redis != "unix:///run/redis.sock" || o.flaskSecret != "flask-secret" || o.flaskUserKey != "uid" || o.idle != 31*time.Hour {
		t.Errorf("Flask mode: got %+v", o)
	}
}

func TestBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"-idle", "soon"}, `invalid value "soon" for flag -idle`},
		{[]string{"-idle", "0s"}, "-idle must be positive"},
		{[]string{"-idle", "2h", "-lifetime", "1h"}, "-lifetime (1h0m0s) must not be shorter than -idle (2h0m0s)"},
		{[]string{"-db", ""}, "-db and -keys must not be empty"},
		{[]string{"-max-sessions", "-1"}, "-max-sessions must not be negative"},
		{[]string{"-max-sessions", "many"}, `invalid value "many" for flag -max-sessions`},
		{[]string{"serve"}, `unexpected argument "serve"`},
		{[]string{"-redis", " "}, "-redis must not be empty"},
		{[]string{"-db", "x.db", "-redis", "redis://localhost"}, "-db and -redis exclude each other"},
		{[]string{"-redis", "ftp://app:s3cret@localhost"}, `-redis: Redis URL ftp://app:xxxxx@localhost: scheme "ftp"`},
		{[]string{"-flask-user-key", "uid"}, "-flask-user-key needs -flask-secret-file"},
		{[]string{"-flask-secret-file", "s"}, "-flask-secret-file needs -redis URL"},
		{[]string{"-flask-secret-file", "s", "-redis", "redis://x", "-flask-user-key", ""}, "-flask-user-key must not be empty"},
		{[]string{"-flask-secret-file", "s", "-redis", "redis://x", "-lifetime", "48h"}, "-lifetime does not apply with -flask-secret-file"},
		{[]string{"-flask-secret-file", "s", "-redis", "redis://x", "-max-sessions", "2"}, "-max-sessions does not apply with -flask-secret-file"},
		{[]string{"-flask-secret-file", "s", "-redis", "redis://x", "-keys", "k"}, "-keys does not apply with -flask-secret-file"},
		{[]string{"-flask-secret-file", "s", "-redis", "redis://x", "-db", "x.db"}, "-db and -redis exclude each other"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stderr bytes.Buffer
			if code := mainCode(tc.args, &stderr); code != 2 {
				t.Errorf("exit code %d, want 2", code)
			}
			out := stderr.String()
			if !strings.Contains(out, tc.want) || !strings.Contains(out, "Usage: sesdemo [flags]") {
				t.Errorf("stderr lacks %q and the usage:\n%s", tc.want, out)
			}
		})
	}
}

func TestHelpFlag(t *testing.T) {
	var stderr bytes.Buffer
	if _, err := parseFlags([]string{"-h"}, &stderr); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v, want flag.ErrHelp", err)
	}
	if code := mainCode([]string{"-h"}, &stderr); code != 0 {
		t.Errorf("-h: exit code %d, want 0", code)
	}
	for _, f := range []string{"-addr", "-db", "-redis", "-admin-socket", "-keys", "-idle", "-lifetime", "-secure", "-debug", "-flask-secret-file", "-flask-user-key", "docs/demo.md"} {
		if !strings.Contains(stderr.String(), f) {
			t.Errorf("usage lacks %s", f)
		}
	}
	for _, rt := range demoRoutes() {
		if !regexp.MustCompile(`(?m)^  ` + rt.Method + ` +` + regexp.QuoteMeta(rt.Path) + `$`).MatchString(stderr.String()) {
			t.Errorf("usage does not list %s %s:\n%s", rt.Method, rt.Path, stderr.String())
		}
	}
}
