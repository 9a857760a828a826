package flasksession_test

import (
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"github.com/sesbolt/sesbolt/pkg/flasksession"
)

// recipeSecret is the secret_key of the recipe in shared/seed/.
const recipeSecret = "A0Zr98j/3yX R~XHH!jmN]LWX/,?RT"

// secretBytes returns the secrets as NewSigner takes them.
func secretBytes(secrets []string) [][]byte {
	bs := make([][]byte, len(secrets))
	for i, s := range secrets {
		bs[i] = []byte(s)
	}
	return bs
}

func mustSigner(t testing.TB, opts *flasksession.Options, secrets ...string) *flasksession.Signer {
	t.Helper()
	s, err := flasksession.NewSigner(secretBytes(secrets), opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSignerKnownAnswers: values signed by Debian's python3-itsdangerous
// 2.1.2 (Signer(..., key_derivation='hmac')), so the format holds even where
// Python is not installed (itsdangerous_test.go checks many more live).
func TestSignerKnownAnswers(t *testing.T) {
	for _, tc := range []struct {
		name    string
		secrets []string
		opts    *flasksession.Options
		value   string
		signed  string
	}{
		{"the recipe's secret", []string{recipeSecret}, nil,
			"630d33fa-27dc-4745-8919-4839b85d0ffb", "630d33fa-27dc-4745-8919-4839b85d0ffb.Jx-TfaO7oL3SxVe1mVJZ2plUHjo"},
		{"rotation, non-ASCII str secret newest", []string{"old secret", "ключ ✓"}, nil,
			"00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000001.nJeHqBbdy1XcJW1lwfSkNwC1Fvw"},
		{"bytes secret, SHA-256, dotted value", []string{"\xff\x00secret"}, &flasksession.Options{Digest: sha256.New},
			"hello.world", "hello.world.KXjmy_tdZ2csPFFUzqtcowOfbWp2CU7FxwwLvLc-75E"},
		{"itsdangerous's default salt, empty value", []string{"k"}, &flasksession.Options{Salt: "itsdangerous.Signer"},
			"", ".svj2kfEwFwregaiQw3Iv78hVqCU"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustSigner(t, tc.opts, tc.secrets...)
			if got := s.Sign(tc.value); got != tc.signed {
				t.Errorf("Sign(%q) = %q, itsdangerous made %q", tc.value, got, tc.signed)
			}
			value, keyIndex, err := s.Unsign(tc.signed)
			if err != nil || value != tc.value || keyIndex != 0 {
				t.Errorf("Unsign = %q, %d, %v; want %q, 0, nil", value, keyIndex, err, tc.value)
			}
		})
	}
}

// TestSignerRotation: secrets are given oldest first; the newest (last)
// signs, every one verifies, and Unsign says which, newest first.
func TestSignerRotation(t *testing.T) {
	oldest, middle, newest := mustSigner(t, nil, "s1"), mustSigner(t, nil, "s2"), mustSigner(t, nil, "s3")
	ring := mustSigner(t, nil, "s1", "s2", "s3")
	if ring.Len() != 3 {
		t.Fatalf("Len = %d, want 3", ring.Len())
	}
	if got, want := ring.Sign("v"), newest.Sign("v"); got != want {
		t.Errorf("a ring signs %q, want the newest secret's %q", got, want)
	}
	for want, s := range []*flasksession.Signer{newest, middle, oldest} {
		value, keyIndex, err := ring.Unsign(s.Sign("v"))
		if err != nil || value != "v" || keyIndex != want {
			t.Errorf("secret %d: Unsign = %q, %d, %v; want v, %d, nil", want, value, keyIndex, err, want)
		}
	}
	if _, _, err := newest.Unsign(oldest.Sign("v")); !errors.Is(err, flasksession.ErrBadSignature) {
		t.Errorf("a dropped secret still verifies: %v", err)
	}
}

// TestSignerRejects: anything but an unaltered signed value is refused
// with ErrBadSignature.
func TestSignerRejects(t *testing.T) {
	s := mustSigner(t, nil, recipeSecret)
	good := s.Sign("630d33fa-27dc-4745-8919-4839b85d0ffb")
	sig := good[strings.LastIndexByte(good, '.')+1:]
	for name, value := range map[string]string{
		"other secret":        mustSigner(t, nil, recipeSecret+"x").Sign("630d33fa-27dc-4745-8919-4839b85d0ffb"),
		"other salt":          mustSigner(t, &flasksession.Options{Salt: "cookie-session"}, recipeSecret).Sign("630d33fa-27dc-4745-8919-4839b85d0ffb"),
		"other digest":        mustSigner(t, &flasksession.Options{Digest: sha256.New}, recipeSecret).Sign("630d33fa-27dc-4745-8919-4839b85d0ffb"),
		"edited value":        "630d33fa-27dc-4745-8919-4839b85d0ffc." + sig,
		"upper-cased value":   "630D33FA-27DC-4745-8919-4839B85D0FFB." + sig,
		"no separator":        strings.Replace(good, ".", "", 1),
		"empty":               "",
		"truncated signature": good[:len(good)-1],
		"padded signature":    good + "=",
		"standard base64":     strings.NewReplacer("-", "+", "_", "/").Replace(good),
		"flipped bit":         good[:len(good)-1] + string(good[len(good)-1]^1),
		"signature only":      sig,
		"doubled":             good + "." + sig,
	} {
		t.Run(name, func(t *testing.T) {
			if value == good {
				t.Skip("the edit left the value unchanged")
			}
			if got, _, err := s.Unsign(value); !errors.Is(err, flasksession.ErrBadSignature) {
				t.Errorf("Unsign(%q) = %q, %v; want ErrBadSignature", value, got, err)
			}
		})
	}
}

func TestNewSignerNeedsSecrets(t *testing.T) {
	for name, secrets := range map[string][][]byte{
		"none":         nil,
		"empty secret": {[]byte("ok"), {}},
	} {
		if _, err := flasksession.NewSigner(secrets, nil); !errors.Is(err, flasksession.ErrNoSecret) {
			t.Errorf("%s: err = %v, want ErrNoSecret", name, err)
		}
	}
	if _, err := flasksession.NewCodec(nil, nil); !errors.Is(err, flasksession.ErrNoSecret) {
		t.Errorf("NewCodec without secrets: err = %v, want ErrNoSecret", err)
	}
}

func TestSignatureLen(t *testing.T) {
	if n := mustSigner(t, nil, "k").SignatureLen(); n != 27 {
		t.Errorf("SHA-1 signature length %d, want 27", n)
	}
	if n := mustSigner(t, &flasksession.Options{Digest: sha256.New}, "k").SignatureLen(); n != 43 {
		t.Errorf("SHA-256 signature length %d, want 43", n)
	}
}
