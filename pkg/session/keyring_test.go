package session_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sesbolt/sesbolt/pkg/session"
)

var (
	keyA = bytes.Repeat([]byte{0xA}, 32)
	keyB = bytes.Repeat([]byte{0xB}, 32)
)

func mustKeyring(t testing.TB, keys ...[]byte) *session.Keyring {
	t.Helper()
	kr, err := session.NewKeyring(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func TestNewKeyringRejectsBadKeys(t *testing.T) {
	if _, err := session.NewKeyring(); !errors.Is(err, session.ErrNoKeys) {
		t.Errorf("no keys: err = %v, want ErrNoKeys", err)
	}
	if _, err := session.NewKeyring(keyA, make([]byte, 31)); !errors.Is(err, session.ErrShortKey) {
		t.Errorf("31-byte key: err = %v, want ErrShortKey", err)
	}
}

func TestCookieSignVerify(t *testing.T) {
	kr := mustKeyring(t, keyA)
	id := session.NewID()
	v := kr.SignCookie("sid", id)
	got, idx, ok := kr.VerifyCookie("sid", v)
	if !ok || got != id || idx != 0 {
		t.Fatalf("VerifyCookie = %v, %d, %v; want %v, 0, true", got, idx, ok, id)
	}
	if _, _, ok := kr.VerifyCookie("other", v); ok {
		t.Error("cookie verified under another cookie name")
	}
	raw, _ := base64.RawURLEncoding.DecodeString(v)
	for bit := range len(raw) * 8 {
		b := bytes.Clone(raw)
		b[bit/8] ^= 1 << (bit % 8)
		if _, _, ok := kr.VerifyCookie("sid", base64.RawURLEncoding.EncodeToString(b)); ok {
			t.Fatalf("cookie with bit %d flipped verified", bit)
		}
	}
	for _, bad := range []string{"", v[:42], v + "A", v + "=", strings.Repeat("*", len(v))} {
		if _, _, ok := kr.VerifyCookie("sid", bad); ok {
			t.Errorf("malformed value %q verified", bad)
		}
	}
}

func TestCookieKeyRotation(t *testing.T) {
	id := session.NewID()
	oldCookie := mustKeyring(t, keyA).SignCookie("sid", id)
	rotated := mustKeyring(t, keyB, keyA)
	got, idx, ok := rotated.VerifyCookie("sid", oldCookie)
	if !ok || got != id || idx != 1 {
		t.Errorf("old-key cookie: %v, %d, %v; want verified by key 1", got, idx, ok)
	}
	if _, _, ok := mustKeyring(t, keyB).VerifyCookie("sid", oldCookie); ok {
		t.Error("cookie of a removed key verified")
	}
}

func TestSealIsSeparateFromCookie(t *testing.T) {
	kr := mustKeyring(t, keyA)
	msg := []byte("record")
	tag := kr.Seal(msg)
	if len(tag) != session.SealSize || !kr.VerifySeal(tag, msg) {
		t.Fatal("seal does not verify")
	}
	if kr.VerifySeal(tag, []byte("recorD")) {
		t.Error("seal verified other data")
	}
	if !mustKeyring(t, keyB, keyA).VerifySeal(tag, msg) {
		t.Error("older key's seal not verified after rotation")
	}
	if mustKeyring(t, keyB).VerifySeal(tag, msg) {
		t.Error("seal verified by an unrelated key")
	}
	if kr.VerifySeal(kr.Seal([]byte("ab"), []byte("c")), []byte("a"), []byte("bc")) {
		t.Error("parts are not framed: (ab, c) and (a, bc) share a seal")
	}
	// The configured key is never used directly: a cookie tag is not an
	// HMAC of the cookie message under it.
	id := session.NewID()
	cookie, _ := base64.RawURLEncoding.DecodeString(kr.SignCookie("sid", id))
	raw := hmac.New(sha256.New, keyA)
	raw.Write([]byte("sesbolt/v1/cookie\x00sid\x00"))
	raw.Write(id[:])
	if bytes.Equal(raw.Sum(nil)[:16], cookie[16:]) {
		t.Error("cookie tag made with the configured key itself, not a derived one")
	}
}

func TestParseKeys(t *testing.T) {
	file := "# comment\n\n" + session.EncodeKey(keyB) + "\n  " + session.EncodeKey(keyA) + "  \n"
	kr, err := session.ParseKeys(strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if kr.Len() != 2 {
		t.Fatalf("Len = %d, want 2", kr.Len())
	}
	id := session.NewID()
	if kr.SignCookie("s", id) != mustKeyring(t, keyB).SignCookie("s", id) {
		t.Error("the first line does not sign")
	}

	secret := "bm90IGEga2V5!!!"
	_, err = session.ParseKeys(strings.NewReader(session.EncodeKey(keyA) + "\n" + secret + "\n"))
	if err == nil || !strings.Contains(err.Error(), "line 2") || strings.Contains(err.Error(), secret) {
		t.Errorf("bad line: err = %v; want line 2 named and content hidden", err)
	}
	_, err = session.ParseKeys(strings.NewReader(base64.StdEncoding.EncodeToString(make([]byte, 16))))
	if !errors.Is(err, session.ErrShortKey) {
		t.Errorf("short key: err = %v, want ErrShortKey", err)
	}
	if _, err = session.ParseKeys(strings.NewReader("# only a comment\n")); !errors.Is(err, session.ErrNoKeys) {
		t.Errorf("empty file: err = %v, want ErrNoKeys", err)
	}
}

func TestLoadOrCreateKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys")
	kr1, created, err := session.LoadOrCreateKeyFile(path)
	if err != nil || !created {
		t.Fatalf("first call: created=%v err=%v", created, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	kr2, created, err := session.LoadOrCreateKeyFile(path)
	if err != nil || created {
		t.Fatalf("second call: created=%v err=%v", created, err)
	}
	id := session.NewID()
	if kr1.SignCookie("s", id) != kr2.SignCookie("s", id) {
		t.Error("reloaded key file signs differently")
	}
	if _, err := session.LoadKeyFile(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("missing key file loaded")
	}
}

// TestLoadOrCreateKeyFileWarnsWhenShared: a key file the group or others
// may read is used, with a warning through slog.Default; a private one is
// not warned about. Not parallel: it swaps the process's default logger.
func TestLoadOrCreateKeyFileWarnsWhenShared(t *testing.T) {
	var logs bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })

	path := filepath.Join(t.TempDir(), "keys")
	if _, _, err := session.LoadOrCreateKeyFile(path); err != nil {
		t.Fatal(err)
	}
	if _, _, err := session.LoadOrCreateKeyFile(path); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "key file") {
		t.Errorf("a private key file was warned about:\n%s", logs.String())
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o620} {
		logs.Reset()
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		if _, _, err := session.LoadOrCreateKeyFile(path); err != nil {
			t.Fatalf("mode %v: %v", mode, err)
		}
		out := logs.String()
		if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "key file is readable by other users; chmod 600 it") ||
			!strings.Contains(out, "mode="+mode.String()) || !strings.Contains(out, path) {
			t.Errorf("mode %v: no warning naming the file and its mode:\n%s", mode, out)
		}
	}
}

func TestGenerateKey(t *testing.T) {
	a, b := session.GenerateKey(), session.GenerateKey()
	if len(a) != session.KeySize || bytes.Equal(a, b) {
		t.Errorf("GenerateKey: len %d, equal %v", len(a), bytes.Equal(a, b))
	}
}

func TestParseID(t *testing.T) {
	id := session.NewID()
	got, err := session.ParseID(id.String())
	if err != nil || got != id {
		t.Fatalf("round trip: %v, %v", got, err)
	}
	for _, bad := range []string{"", "abc", "00000000-0000-0000-0000-000000000000",
		"{" + id.String()[:34] + "}", "urn:uuid:" + id.String(), strings.Repeat("g", 36)} {
		if _, err := session.ParseID(bad); !errors.Is(err, session.ErrInvalidID) {
			t.Errorf("ParseID(%q) err = %v, want ErrInvalidID", bad, err)
		}
	}
}
