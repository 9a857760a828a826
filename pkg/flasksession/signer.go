package flasksession

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"hash"
	"strings"
	"sync"
)

// DefaultSalt is the salt of the recipe's signer (and of the Flask-Session
// extension): Signer(app.secret_key, salt='flask-session',
// key_derivation='hmac').
const DefaultSalt = "flask-session"

// Separator is the byte between a value and its signature: itsdangerous's
// default sep.
const Separator = '.'

// sigEncoding is itsdangerous's base64_encode: URL-safe, padding stripped.
// Decoding is strict: only the canonical form itsdangerous writes is read.
var sigEncoding = base64.RawURLEncoding.Strict()

// Options configure a Signer. The zero value (or nil) is the recipe's
// signer.
type Options struct {
	// Salt separates this signer's signatures from other uses of the same
	// secret. Default DefaultSalt ("flask-session"). itsdangerous's own
	// default, "itsdangerous.Signer", must be given explicitly; an empty
	// salt is not supported.
	Salt string
	// Digest is the hash of the key derivation and the HMAC, as
	// itsdangerous's digest_method. Default sha1.New, itsdangerous's
	// default.
	Digest func() hash.Hash
}

// Signer signs and verifies values exactly as itsdangerous's Signer does
// with key_derivation='hmac' and the default separator and algorithm:
//
//	key       = HMAC-Digest(secret, salt)
//	signature = base64url-unpadded(HMAC-Digest(key, value))
//	signed    = value + "." + signature
//
// It holds one or more secrets for rotation: the newest signs, every one
// verifies. A Signer is safe for concurrent use and never logs or prints
// its secrets.
type Signer struct {
	keys   []*signingKey // newest first
	sigLen int           // length of an encoded signature
}

// signingKey is one derived key with a pool of HMAC states and scratch
// space, so signing and verifying allocate no more than their results.
type signingKey struct {
	pool sync.Pool // of *macState
}

type macState struct {
	h   hash.Hash
	msg []byte // the value
	sum []byte // a computed signature
	enc []byte // an encoded signature
	dec []byte // a decoded signature
}

// NewSigner returns a Signer for secrets given in itsdangerous's order:
// oldest first, newest last (the newest signs). This is the order of a
// list in Flask's secret_key, and the reverse of a sesbolt key file. A str
// secret in Python is its UTF-8 bytes here. It returns ErrNoSecret when
// secrets is empty or holds an empty secret. The secrets are not retained
// (only keys derived from them are), and opts may be nil.
func NewSigner(secrets [][]byte, opts *Options) (*Signer, error) {
	if len(secrets) == 0 {
		return nil, ErrNoSecret
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Salt == "" {
		o.Salt = DefaultSalt
	}
	if o.Digest == nil {
		o.Digest = sha1.New
	}
	s := &Signer{sigLen: sigEncoding.EncodedLen(o.Digest().Size())}
	for i := len(secrets) - 1; i >= 0; i-- {
		if len(secrets[i]) == 0 {
			return nil, fmt.Errorf("%w: secret %d of %d is empty", ErrNoSecret, i+1, len(secrets))
		}
		s.keys = append(s.keys, newSigningKey(secrets[i], o.Salt, o.Digest))
	}
	return s, nil
}

// newSigningKey derives the signing key from secret as itsdangerous's
// derive_key does for key_derivation='hmac'.
func newSigningKey(secret []byte, salt string, digest func() hash.Hash) *signingKey {
	m := hmac.New(digest, secret)
	m.Write([]byte(salt))
	derived := m.Sum(nil)
	k := &signingKey{}
	k.pool.New = func() any { return &macState{h: hmac.New(digest, derived)} }
	return k
}

// signature computes the raw signature of value into st.sum.
func (k *signingKey) signature(st *macState, value string) []byte {
	st.msg = append(st.msg[:0], value...)
	st.h.Reset()
	st.h.Write(st.msg)
	st.sum = st.h.Sum(st.sum[:0])
	if cap(st.msg) > maxPooledMsg { // a huge value's scratch is not kept
		st.msg = nil
	}
	return st.sum
}

// maxPooledMsg bounds the value scratch a pooled HMAC state keeps.
const maxPooledMsg = 4 << 10

// Len returns the number of secrets.
func (s *Signer) Len() int { return len(s.keys) }

// SignatureLen returns the length of the signature part of a signed value:
// 27 for SHA-1, 43 for SHA-256.
func (s *Signer) SignatureLen() int { return s.sigLen }

// Sign returns value signed with the newest secret: value, Separator and
// the signature, byte for byte what itsdangerous's Signer.sign returns.
func (s *Signer) Sign(value string) string {
	k := s.keys[0]
	st := k.pool.Get().(*macState)
	defer k.pool.Put(st)
	sum := k.signature(st, value)
	var b strings.Builder
	b.Grow(len(value) + 1 + s.sigLen)
	b.WriteString(value)
	b.WriteByte(Separator)
	st.enc = sigEncoding.AppendEncode(st.enc[:0], sum)
	b.Write(st.enc)
	return b.String()
}

// Unsign verifies signed and returns the value it carries and the index of
// the secret that verified it, newest first: 0 is the secret Sign uses, a
// larger index an older one (so the value should be signed again). Like
// itsdangerous, it splits at the last Separator and tries every secret,
// newest first, comparing in constant time. Anything else returns
// ErrBadSignature. Unsign reads only the signatures itsdangerous writes
// (unpadded, canonical base64url); itsdangerous's lenient base64 decoding
// also takes padded or otherwise altered spellings of them, which Unsign
// refuses.
func (s *Signer) Unsign(signed string) (value string, keyIndex int, err error) {
	i := strings.LastIndexByte(signed, Separator)
	if i < 0 {
		return "", 0, fmt.Errorf("%w: no separator", ErrBadSignature)
	}
	value, sig := signed[:i], signed[i+1:]
	if keyIndex, ok := s.verify(value, sig); ok {
		return value, keyIndex, nil
	}
	return "", 0, ErrBadSignature
}

// verify reports whether sig (encoded) is value's signature under one of
// the secrets, and which, newest first.
func (s *Signer) verify(value, sig string) (keyIndex int, ok bool) {
	if len(sig) != s.sigLen {
		return 0, false
	}
	k0 := s.keys[0]
	st := k0.pool.Get().(*macState)
	defer k0.pool.Put(st)
	st.enc = append(st.enc[:0], sig...)
	dec, err := sigEncoding.AppendDecode(st.dec[:0], st.enc)
	st.dec = dec[:0]
	if err != nil {
		return 0, false
	}
	for i, k := range s.keys {
		kst := st
		if i > 0 {
			kst = k.pool.Get().(*macState)
		}
		ok := hmac.Equal(k.signature(kst, value), dec)
		if i > 0 {
			k.pool.Put(kst)
		}
		if ok {
			return i, true
		}
	}
	return 0, false
}
