package main

import (
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
	h.fails(exitUsage, []string{"unknown command"}, "keygen", "extra")
}
