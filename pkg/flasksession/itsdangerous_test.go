package flasksession_test

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"hash"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/internal/flasktest"
	"github.com/sesbolt/sesbolt/pkg/flasksession"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// oracleSecret is a secret as the oracle script takes it.
type oracleSecret struct {
	B64 string `json:"b64"`
	Str bool   `json:"str"` // pass it to Python as a str
}

type oracleCase struct {
	Secrets []oracleSecret `json:"secrets"`
	Salt    string         `json:"salt"`
	Digest  string         `json:"digest"`
	Sign    []string       `json:"sign"`
	Unsign  []string       `json:"unsign"`
}

type oracleResult struct {
	Signed   []string  `json:"signed"`
	Unsigned []*string `json:"unsigned"`
}

// interopCase is one configuration checked both ways.
type interopCase struct {
	secrets [][]byte
	str     []bool
	salt    string
	digest  string
	ids     []string // values Python signs and Go signs
	unsign  []string // values Python unsigns
	want    []string // what Python must return for each ("" for refused)
}

var digests = map[string]func() hash.Hash{"sha1": sha1.New, "sha256": sha256.New}

// randomSecret returns a secret: half the time text with non-ASCII runes
// (passed to Python as a str), otherwise random bytes (often not UTF-8).
func randomSecret(r *rand.Rand) ([]byte, bool) {
	if r.IntN(2) == 0 {
		runes := []rune("abcXYZ019 !#/.,?~-_=ключсекрет✓€日本語🔑")
		var b strings.Builder
		for range 1 + r.IntN(40) {
			b.WriteRune(runes[r.IntN(len(runes))])
		}
		return []byte(b.String()), true
	}
	b := make([]byte, 1+r.IntN(64))
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	return b, false
}

// TestItsdangerousInterop signs and verifies, both ways, with Debian's
// python3-itsdangerous: for random secrets (str with non-ASCII text, and
// bytes; one to three for rotation), salts and digests, Go's signature of
// each session id is byte for byte Python's, Python accepts Go's
// signatures and refuses edited ones and those of other secrets, and Go
// accepts Python's (rotated-out secrets with their index) and refuses
// those of other secrets.
func TestItsdangerousInterop(t *testing.T) {
	flasktest.RequirePython(t, "itsdangerous")
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 0x5e5b017))

	var cases []interopCase
	for i := range 48 {
		c := interopCase{salt: flasksession.DefaultSalt, digest: "sha1"}
		switch i % 8 {
		case 5:
			c.digest = "sha256"
		case 6:
			c.salt = "cookie-session"
		}
		for range 1 + r.IntN(3) {
			s, str := randomSecret(r)
			c.secrets, c.str = append(c.secrets, s), append(c.str, str)
		}
		for range 3 {
			c.ids = append(c.ids, session.NewID().String())
		}
		cases = append(cases, c)
	}
	cases[0].secrets, cases[0].str = [][]byte{[]byte(recipeSecret)}, []bool{true}

	// What Go signs, Python must unsign; edited values and other secrets'
	// signatures it must refuse.
	signers := make([]*flasksession.Signer, len(cases))
	for i := range cases {
		c := &cases[i]
		var err error
		signers[i], err = flasksession.NewSigner(c.secrets, &flasksession.Options{Salt: c.salt, Digest: digests[c.digest]})
		if err != nil {
			t.Fatal(err)
		}
		stranger, err := flasksession.NewSigner([][]byte{append([]byte("not "), c.secrets[0]...)}, &flasksession.Options{Salt: c.salt, Digest: digests[c.digest]})
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range c.ids {
			good := signers[i].Sign(id)
			edited := id[:35] + otherHex(id[35]) + good[36:] // another valid id, same signature
			c.unsign = append(c.unsign, good, edited, stranger.Sign(id))
			c.want = append(c.want, id, "", "")
		}
		if len(c.secrets) > 1 { // an old secret's signature
			oldest, err := flasksession.NewSigner(c.secrets[:1], &flasksession.Options{Salt: c.salt, Digest: digests[c.digest]})
			if err != nil {
				t.Fatal(err)
			}
			c.unsign = append(c.unsign, oldest.Sign(c.ids[0]))
			c.want = append(c.want, c.ids[0])
		}
	}

	// Python's view: the cases as given, then each case's oldest secret
	// alone and a stranger's secret alone, whose signatures Go checks.
	var in struct {
		Cases []oracleCase `json:"cases"`
	}
	secretsOf := func(c interopCase, idx ...int) []oracleSecret {
		var out []oracleSecret
		for _, i := range idx {
			out = append(out, oracleSecret{B64: base64.StdEncoding.EncodeToString(c.secrets[i]), Str: c.str[i]})
		}
		return out
	}
	for _, c := range cases {
		all := make([]int, len(c.secrets))
		for i := range all {
			all[i] = i
		}
		in.Cases = append(in.Cases,
			oracleCase{Secrets: secretsOf(c, all...), Salt: c.salt, Digest: c.digest, Sign: c.ids, Unsign: c.unsign},
			oracleCase{Secrets: secretsOf(c, 0), Salt: c.salt, Digest: c.digest, Sign: c.ids, Unsign: []string{}},
			oracleCase{Secrets: []oracleSecret{{B64: base64.StdEncoding.EncodeToString([]byte("a stranger's secret")), Str: true}},
				Salt: c.salt, Digest: c.digest, Sign: c.ids, Unsign: []string{}},
		)
	}
	input, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Results []oracleResult `json:"results"`
	}
	if err := json.Unmarshal(flasktest.RunPython(t, input, filepath.Join("testdata", "itsdangerous_oracle.py")), &out); err != nil {
		t.Fatalf("oracle output: %v", err)
	}
	if len(out.Results) != 3*len(cases) {
		t.Fatalf("oracle gave %d results for %d cases", len(out.Results), 3*len(cases))
	}

	checked := 0
	for i, c := range cases {
		full, oldest, stranger := out.Results[3*i], out.Results[3*i+1], out.Results[3*i+2]
		codec, err := flasksession.NewCodec(c.secrets, &flasksession.Options{Salt: c.salt, Digest: digests[c.digest]})
		if err != nil {
			t.Fatal(err)
		}
		for j, id := range c.ids {
			// Byte for byte, and Go reads what Python signed.
			if got := signers[i].Sign(id); full.Signed[j] != got {
				t.Errorf("case %d: Go signed %q, Python %q", i, got, full.Signed[j])
			}
			if got, keyIndex, ok := codec.Decode(full.Signed[j]); !ok || got.String() != id || keyIndex != 0 {
				t.Errorf("case %d: Python's %q decoded as %s, %d, %v", i, full.Signed[j], got, keyIndex, ok)
			}
			wantIndex := len(c.secrets) - 1
			if got, keyIndex, ok := codec.Decode(oldest.Signed[j]); !ok || got.String() != id || keyIndex != wantIndex {
				t.Errorf("case %d: Python's oldest-secret %q decoded as %s, %d, %v; want index %d", i, oldest.Signed[j], got, keyIndex, ok, wantIndex)
			}
			if got, _, ok := codec.Decode(stranger.Signed[j]); ok {
				t.Errorf("case %d: a stranger's %q decoded as %s", i, stranger.Signed[j], got)
			}
			checked += 3
		}
		// Python reads what Go signed, and refuses edits and strangers.
		for j, want := range c.want {
			got := full.Unsigned[j]
			switch {
			case want == "" && got != nil:
				t.Errorf("case %d: Python accepted %q as %q", i, c.unsign[j], *got)
			case want != "" && (got == nil || *got != want):
				t.Errorf("case %d: Python unsigned Go's %q as %v, want %q", i, c.unsign[j], got, want)
			}
			checked++
		}
	}
	t.Logf("%d cases, %d checks against itsdangerous", len(cases), checked)
}

// otherHex returns a lower-case hex digit other than c.
func otherHex(c byte) string {
	if c == '0' {
		return "1"
	}
	return "0"
}
