package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sesbolt/sesbolt/pkg/session"
)

func TestKeygen(t *testing.T) {
	h := newHarness(t) // keygen needs no database
	out := h.ok("keygen")
	key := strings.TrimSuffix(out, "\n")
	b, err := base64.StdEncoding.DecodeString(key)
	if err != nil || len(b) != session.KeySize {
		t.Fatalf("keygen printed %q: %v (%d bytes)", out, err, len(b))
	}
	if again := h.ok("keygen"); again == out {
		t.Error("two keys are equal")
	}
	// The output is a key file.
	kf := filepath.Join(h.dir, "new.keys")
	if err := os.WriteFile(kf, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := session.LoadKeyFile(kf); err != nil {
		t.Errorf("not a key file: %v", err)
	}
	var j keyResult
	if err := json.Unmarshal([]byte(h.ok("-o", "json", "keygen")), &j); err != nil || len(j.Key) != len(key) {
		t.Errorf("json: %+v %v", j, err)
	}
	if _, err := os.Stat(h.db); err == nil {
		t.Error("keygen created a database")
	}
	h.fails(exitUsage, []string{`keygen takes no arguments, not "extra"`, "Run 'sesctl keygen --help' for usage."}, "keygen", "extra")
}

// sealOf returns a seal that only kr's first key makes, to tell which
// keys a key file holds without reading them.
func sealOf(kr *session.Keyring) []byte { return kr.Seal([]byte("sesctl test record")) }

func verifies(kr *session.Keyring, seal []byte) bool {
	return kr.VerifySeal(seal, []byte("sesctl test record"))
}

// loadKeys reads a key file the test expects to be valid.
func loadKeys(t *testing.T, path string) *session.Keyring {
	t.Helper()
	kr, err := session.LoadKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// TestKeygenRotateKeeps: each rotation puts a new key first, keeps the
// old ones that still verify (--keep of them), drops older ones, and keeps
// the file's comments.
func TestKeygenRotateKeeps(t *testing.T) {
	h := newHarness(t)
	var seals [][]byte // seals[i]: made by the key that signed after i rotations
	seals = append(seals, sealOf(h.keys))
	for i := 1; i <= 3; i++ {
		h.ok("keygen", "--rotate", h.keyFile)
		seals = append(seals, sealOf(loadKeys(t, h.keyFile)))
	}
	kr := loadKeys(t, h.keyFile)
	if kr.Len() != 1+defaultKeepKeys {
		t.Errorf("%d keys after 3 rotations, want %d", kr.Len(), 1+defaultKeepKeys)
	}
	for i, s := range seals {
		if want := i >= 3-defaultKeepKeys; verifies(kr, s) != want {
			t.Errorf("the key that signed after %d rotations verifies: %v, want %v", i, !want, want)
		}
	}
	if b, _ := os.ReadFile(h.keyFile); !strings.HasPrefix(string(b), "# test key\n") {
		t.Errorf("the comment was lost:\n%s", b)
	}

	// --keep 0: only the new key; JSON says what happened.
	var res rotateResult
	if err := json.Unmarshal([]byte(h.ok("-o", "json", "keygen", "--rotate", h.keyFile, "--keep", "0")), &res); err != nil {
		t.Fatal(err)
	}
	if res != (rotateResult{Path: h.keyFile, Keys: 1, Dropped: 3}) {
		t.Errorf("json: %+v", res)
	}
	if kr := loadKeys(t, h.keyFile); kr.Len() != 1 || verifies(kr, seals[3]) {
		t.Errorf("--keep 0 kept an old key (%d keys)", kr.Len())
	}
}

// TestKeygenRotateMessages: the table output, and every refusal, which
// leaves the file as it was.
func TestKeygenRotateMessages(t *testing.T) {
	h := newHarness(t)
	notKeys := filepath.Join(h.dir, "notes.txt")
	if err := os.WriteFile(notKeys, []byte("hello\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	comments := filepath.Join(h.dir, "empty.keys")
	if err := os.WriteFile(comments, []byte("# no keys yet\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	before := map[string]string{notKeys: hashFile(t, notKeys), comments: hashFile(t, comments)}
	got := h.transcript(
		[]string{"keygen", "--rotate", h.keyFile},
		[]string{"keygen", "--rotate", h.keyFile},
		[]string{"keygen", "--rotate", h.keyFile},
		[]string{"keygen", "--rotate", filepath.Join(h.dir, "missing.keys")},
		[]string{"keygen", "--rotate", notKeys},
		[]string{"keygen", "--rotate", comments},
		[]string{"keygen", "--rotate", h.dir},
		[]string{"keygen", "--rotate", ""},
		[]string{"keygen", "--keep", "1"},
		[]string{"keygen", "--rotate", h.keyFile, "--keep", "-1"},
	)
	h.golden("keygen_rotate.golden", got)
	for path, sum := range before {
		if hashFile(t, path) != sum {
			t.Errorf("%s changed", path)
		}
	}
	if strings.Contains(got, session.EncodeKey(testKey)) {
		t.Error("a key was printed")
	}
	if _, err := os.Stat(filepath.Join(h.dir, "missing.keys")); err == nil {
		t.Error("--rotate created a key file")
	}
	if entries, _ := os.ReadDir(h.dir); len(entries) != 3 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

// TestKeygenRotateSymlink: a key file reached through a symbolic link is
// rotated in place; the link stays a link.
func TestKeygenRotateSymlink(t *testing.T) {
	h := newHarness(t)
	link := filepath.Join(h.dir, "current.keys")
	if err := os.Symlink(h.keyFile, link); err != nil {
		t.Skip("no symbolic links:", err)
	}
	h.ok("keygen", "--rotate", link)
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link was replaced: %v %v", fi, err)
	}
	if kr := loadKeys(t, h.keyFile); kr.Len() != 2 || !verifies(kr, sealOf(h.keys)) {
		t.Errorf("the link's target was not rotated (%d keys)", kr.Len())
	}
}

func TestRotatedKeyFile(t *testing.T) {
	const k = "NEW"
	for _, tc := range []struct {
		name, old     string
		keep          int
		want          string
		kept, dropped int
	}{
		{"one key", "a\n", 2, "NEW\na\n", 1, 0},
		{"no final newline", "a", 2, "NEW\na\n", 1, 0},
		{"header and comments stay", "# keys\n\na\n# older\nb\n", 2, "# keys\n\nNEW\na\n# older\nb\n", 2, 0},
		{"older keys dropped", "a\nb\nc\n", 2, "NEW\na\nb\n", 2, 1},
		{"keep 0", "a\nb\n", 0, "NEW\n", 0, 2},
		{"indented key", "  a  \n", 1, "NEW\n  a  \n", 1, 0},
		{"CRLF", "# h\r\na\r\n", 2, "# h\r\nNEW\na\r\n", 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, kept, dropped := rotatedKeyFile([]byte(tc.old), k, tc.keep)
			if string(got) != tc.want || kept != tc.kept || dropped != tc.dropped {
				t.Errorf("got %q, kept %d, dropped %d; want %q, %d, %d", got, kept, dropped, tc.want, tc.kept, tc.dropped)
			}
		})
	}
	// A rotated real key file parses with the new key first.
	old := []byte("# k\n" + session.EncodeKey(testKey) + "\n")
	newKey := session.GenerateKey()
	got, _, _ := rotatedKeyFile(old, session.EncodeKey(newKey), 1)
	kr, err := session.ParseKeys(bytes.NewReader(got))
	if err != nil || kr.Len() != 2 {
		t.Fatalf("%d keys, %v", kr.Len(), err)
	}
	want, _ := session.NewKeyring(newKey)
	if !verifies(want, sealOf(kr)) {
		t.Error("the new key does not sign")
	}
}
