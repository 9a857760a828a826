package flasksession_test

import (
	"testing"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// FuzzCodecDecode: no cookie value panics the codec, and only the exact
// value Encode made (under either secret) decodes.
func FuzzCodecDecode(f *testing.F) {
	codec := mustCodec(f, "older secret", recipeSecret)
	id := session.ID{0x63, 0x0d, 0x33, 0xfa, 0x27, 0xdc, 0x47, 0x45, 0x89, 0x19, 0x48, 0x39, 0xb8, 0x5d, 0x0f, 0xfb}
	good := codec.Encode(id)
	old := mustCodec(f, "older secret").Encode(id)
	f.Add(good)
	f.Add(old)
	f.Add("")
	f.Add(good[:len(good)-1])
	f.Add(good + "=")
	f.Add(good[:36])
	f.Fuzz(func(t *testing.T, value string) {
		got, keyIndex, ok := codec.Decode(value)
		switch {
		case !ok:
			if !got.IsZero() || keyIndex != 0 {
				t.Fatalf("refused %q but returned %s, %d", value, got, keyIndex)
			}
		case value == good && got == id && keyIndex == 0:
		case value == old && got == id && keyIndex == 1:
		default:
			t.Fatalf("forged value %q decoded as %s, %d", value, got, keyIndex)
		}
	})
}
