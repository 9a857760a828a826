package flasksession

import (
	"strings"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// CookieName is the recipe's cookie name: Flask's default
// SESSION_COOKIE_NAME.
const CookieName = "session"

// idLen is the length of a session ID in canonical form, the value the
// recipe signs: str(uuid.uuid4()).
const idLen = 36

// Codec is the recipe's session cookie as a session.CookieCodec: the
// session ID in canonical form (36 characters, lower case, as Python's
// str(uuid.uuid4()) and session.ID.String write it) signed by a Signer.
// A Flask app following the recipe and a session.Manager with this codec
// (Config.Codec) accept each other's cookies. It is safe for concurrent use.
type Codec struct {
	signer *Signer
}

// NewCodec returns a Codec signing with secrets, oldest first and newest
// last as in itsdangerous (see NewSigner), and opts (nil for the recipe's
// salt and digest). It returns ErrNoSecret when secrets is empty or holds
// an empty secret.
func NewCodec(secrets [][]byte, opts *Options) (*Codec, error) {
	s, err := NewSigner(secrets, opts)
	if err != nil {
		return nil, err
	}
	return &Codec{signer: s}, nil
}

// Encode returns the cookie value for id: what the recipe's save_session
// sets, signer.sign(want_bytes(session.sid)).
func (c *Codec) Encode(id session.ID) string { return c.signer.Sign(id.String()) }

// Decode verifies a cookie value and returns its session ID and the index
// of the secret that verified it (0 for the newest; more means the Manager
// should re-issue the cookie). Values of the wrong length, with a signature
// no secret made, or whose signed value is not a canonical lower-case UUID
// (or is the zero UUID) give ok == false; the signature is checked in
// constant time before the value is parsed.
func (c *Codec) Decode(value string) (id session.ID, keyIndex int, ok bool) {
	if len(value) != idLen+1+c.signer.sigLen || value[idLen] != Separator {
		return session.ID{}, 0, false
	}
	raw := value[:idLen]
	keyIndex, ok = c.signer.verify(raw, value[idLen+1:])
	if !ok || strings.ContainsAny(raw, "ABCDEF") {
		return session.ID{}, 0, false
	}
	id, err := session.ParseID(raw)
	if err != nil {
		return session.ID{}, 0, false
	}
	return id, keyIndex, true
}
