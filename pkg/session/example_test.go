package session_test

import (
	"fmt"
	"strings"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// Rotating keys: put the new key first and keep the old one while cookies
// signed by it are still around. Old cookies verify and get re-issued under
// the new key.
func ExampleKeyring_rotation() {
	oldKey, newKey := session.GenerateKey(), session.GenerateKey()
	keyFile := "# newest first\n" + session.EncodeKey(newKey) + "\n" + session.EncodeKey(oldKey) + "\n"

	keys, err := session.ParseKeys(strings.NewReader(keyFile))
	if err != nil {
		panic(err)
	}
	old, _ := session.NewKeyring(oldKey)
	id := session.NewID()
	cookie := old.SignCookie("__Host-session", id)

	got, keyIndex, ok := keys.VerifyCookie("__Host-session", cookie)
	fmt.Println(ok, got == id, "re-issue:", keyIndex > 0)
	// Output: true true re-issue: true
}
