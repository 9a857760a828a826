package session

// CookieCodec turns a session ID into the session cookie's value and back.
// The Manager uses one for every cookie it reads and writes (Config.Codec);
// the default is the Keyring's own format (Keyring.CookieCodec). Another
// codec lets sesbolt share cookies with an application that signs them
// differently, such as a Flask app (pkg/flasksession).
//
// The Manager rejects values longer than MaxCookieSize before calling
// Decode, and asks the store about an ID only after Decode accepted its
// value, so a codec is where forged cookies stop. Implementations must be
// safe for concurrent use, compare signatures in constant time, and keep
// secrets and cookie values out of errors and logs.
type CookieCodec interface {
	// Encode returns the cookie value for id, signed with the codec's
	// current key. The value must be a valid cookie value (RFC 6265
	// cookie-octets) that Decode accepts.
	Encode(id ID) string

	// Decode verifies value and returns the ID it carries. ok is false for
	// anything Encode (under any of the codec's keys) did not make: a wrong
	// length or encoding, an unknown signature, an ID that is not canonical
	// or is zero; id is then the zero ID. keyIndex tells which of the
	// codec's keys verified the value, newest first: 0 is the key Encode
	// uses, and a larger index makes the Manager re-issue the cookie under
	// it. A codec without key rotation always returns 0.
	Decode(value string) (id ID, keyIndex int, ok bool)
}

// CookieCodec returns sesbolt's own cookie codec for cookie name, the
// default when Config.Codec is nil: SignCookie and VerifyCookie with this
// keyring. The cookie name is part of the signed message, so a value made
// for one cookie name does not verify under another.
func (k *Keyring) CookieCodec(name string) CookieCodec {
	return &keyringCodec{keys: k, name: name}
}

// keyringCodec is the default CookieCodec.
type keyringCodec struct {
	keys *Keyring
	name string
}

func (c *keyringCodec) Encode(id ID) string { return c.keys.SignCookie(c.name, id) }

func (c *keyringCodec) Decode(value string) (ID, int, bool) {
	return c.keys.VerifyCookie(c.name, value)
}

// encodeCookie returns the cookie value for id with the configured codec.
// The default calls the keyring directly: no interface call, no allocation
// beyond the value itself, and a Config copied from Manager.Config with
// other Keys or another cookie name gets a codec that follows them.
func (m *Manager) encodeCookie(id ID) string {
	if m.cfg.Codec != nil {
		return m.cfg.Codec.Encode(id)
	}
	return m.cfg.Keys.SignCookie(m.cfg.Cookie.Name, id)
}

// decodeCookie verifies a cookie value with the configured codec (see
// CookieCodec.Decode); reason is "" when it verified, else why not
// (Observer.CookieRejected). A codec says only yes or no, so its refusals
// are CookieBadSignature; the default codec tells malformed values apart.
func (m *Manager) decodeCookie(value string) (id ID, keyIndex int, reason CookieReason) {
	if m.cfg.Codec != nil {
		id, keyIndex, ok := m.cfg.Codec.Decode(value)
		if !ok || id.IsZero() { // Decode promises no zero ID; a codec may break that
			return ID{}, 0, CookieBadSignature
		}
		return id, keyIndex, ""
	}
	return m.cfg.Keys.verifyCookie(m.cfg.Cookie.Name, value)
}
