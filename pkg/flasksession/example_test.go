package flasksession_test

import (
	"fmt"
	"strings"

	"github.com/sesbolt/sesbolt/pkg/flasksession"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// A cookie set by the Flask recipe (secret_key 'A0Zr98j/3yX R~XHH!jmN]LWX/,?RT')
// decodes to its session id; a Manager with this codec (Config.Codec) reads
// and writes such cookies.
func ExampleCodec() {
	secrets, err := flasksession.ParseSecrets(strings.NewReader("A0Zr98j/3yX R~XHH!jmN]LWX/,?RT\n"))
	if err != nil {
		panic(err)
	}
	codec, err := flasksession.NewCodec(secrets, nil)
	if err != nil {
		panic(err)
	}
	id, keyIndex, ok := codec.Decode("630d33fa-27dc-4745-8919-4839b85d0ffb.Jx-TfaO7oL3SxVe1mVJZ2plUHjo")
	fmt.Println(id, keyIndex, ok)
	fmt.Println(codec.Encode(id))

	var _ session.CookieCodec = codec
	// Output:
	// 630d33fa-27dc-4745-8919-4839b85d0ffb 0 true
	// 630d33fa-27dc-4745-8919-4839b85d0ffb.Jx-TfaO7oL3SxVe1mVJZ2plUHjo
}
