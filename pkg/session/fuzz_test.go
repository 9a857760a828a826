package session_test

import (
	"encoding/json"
	"testing"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// FuzzVerifyCookie: no cookie value panics the verifier, and only the exact
// value SignCookie made verifies.
func FuzzVerifyCookie(f *testing.F) {
	kr := mustKeyring(f, keyA)
	id := session.ID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	good := kr.SignCookie("__Host-session", id)
	f.Add(good)
	f.Add("")
	f.Add(good[:42])
	f.Add(good + "=")
	f.Add("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, value string) {
		got, _, ok := kr.VerifyCookie("__Host-session", value)
		if ok && (value != good || got != id) {
			t.Fatalf("forged value %q verified as %v", value, got)
		}
	})
}

// FuzzRecordJSON: decoding arbitrary bytes as a Record never panics, and a
// record that validates survives an encode/decode round trip unchanged.
func FuzzRecordJSON(f *testing.F) {
	f.Add([]byte(`{"id":"0f8e4d2c-5b1a-4c3e-9d7f-2a6b8c0e1f34","user":"alice","created":"2026-01-01T00:00:00Z","last_seen":"2026-01-01T00:00:00Z","idle_expires":"2026-01-01T00:30:00Z","deadline":"2026-01-01T12:00:00Z","client":{"ip":"::1"},"data":{"a":1,"b":"x"},"version":3}`))
	f.Add([]byte(`{"id":"00000000-0000-0000-0000-000000000000"}`))
	f.Add([]byte(`{"data":{"":null}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r session.Record
		if err := json.Unmarshal(b, &r); err != nil {
			return
		}
		if r.Validate() != nil {
			return
		}
		out, err := json.Marshal(&r)
		if err != nil {
			t.Fatalf("valid record does not encode: %v", err)
		}
		var back session.Record
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("re-decoding %s: %v", out, err)
		}
		if back.Validate() != nil || back.ID != r.ID || back.UserID != r.UserID || len(back.Data) != len(r.Data) {
			t.Fatalf("round trip changed the record:\n%s", out)
		}
	})
}
