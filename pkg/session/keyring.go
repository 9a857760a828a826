package session

import (
	"bufio"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// MinKeySize is the shortest key a Keyring accepts, in bytes.
const MinKeySize = 32

// KeySize is the size of keys made by GenerateKey.
const KeySize = 32

// Domain-separation labels. Each purpose gets its own key derived from the
// configured key, so a cookie tag can never be replayed as a record seal.
const (
	cookieKeyLabel = "sesbolt/v1/cookie-key"
	sealKeyLabel   = "sesbolt/v1/record-seal-key"
	cookieMsgLabel = "sesbolt/v1/cookie\x00"
)

// cookieTagSize is the HMAC-SHA256 tag length in a cookie: 128 bits.
const cookieTagSize = 16

// cookieValueLen is the length of a cookie value: base64url (no padding) of
// the 16-byte id and the 16-byte tag.
var cookieValueLen = base64.RawURLEncoding.EncodedLen(16 + cookieTagSize)

// Keyring holds the keys that sign cookies and seal stored records. The first
// key signs and seals; every key verifies, so keys can be rotated by putting a
// new key first and dropping the oldest later. The configured keys are never
// used directly: a separate key is derived for each purpose. A Keyring is
// safe for concurrent use and never logs or prints its keys.
type Keyring struct {
	cookie []*macKey
	seal   []*macKey
}

// macKey is one derived key with a pool of HMAC states and scratch space,
// which keeps signing and verifying free of allocations.
type macKey struct {
	pool sync.Pool // of *macState
}

type macState struct {
	h   hash.Hash
	msg []byte // message scratch
	buf []byte // output scratch
}

func newMACKey(master []byte, label string) *macKey {
	m := hmac.New(sha256.New, master)
	m.Write([]byte(label))
	derived := m.Sum(nil)
	k := &macKey{}
	k.pool.New = func() any {
		return &macState{h: hmac.New(sha256.New, derived), msg: make([]byte, 0, 128), buf: make([]byte, 0, 64)}
	}
	return k
}

// sum returns HMAC over the parts appended to dst. Each part is preceded by
// its length (8 bytes, big-endian), so no two different part lists produce
// the same message. The message is assembled in the state's scratch and
// written at once: handing the parts to the hash.Hash interface would move
// every caller's buffers to the heap.
func (k *macKey) sum(dst []byte, parts ...[]byte) []byte {
	st := k.pool.Get().(*macState)
	msg := st.msg[:0]
	for _, p := range parts {
		msg = binary.BigEndian.AppendUint64(msg, uint64(len(p)))
		msg = append(msg, p...)
	}
	st.h.Reset()
	st.h.Write(msg)
	out := st.h.Sum(st.buf[:0])
	dst = append(dst, out...)
	st.buf = out[:0]
	if cap(msg) <= maxPooledMsg { // a huge record's scratch is not kept
		st.msg = msg[:0]
	}
	k.pool.Put(st)
	return dst
}

// maxPooledMsg bounds the message scratch a pooled HMAC state keeps.
const maxPooledMsg = 64 << 10

// checkCookieTag reports, in constant time, whether tag is the (truncated)
// cookie tag for (name, id).
func (k *macKey) checkCookieTag(name string, id *ID, tag []byte) bool {
	st := k.pool.Get().(*macState)
	defer k.pool.Put(st)
	n := len(st.buf)
	st.buf = k.cookieTagState(st, st.buf, name, id)
	ok := hmac.Equal(st.buf[n:n+cookieTagSize], tag)
	st.buf = st.buf[:n]
	return ok
}

// cookieTag appends the cookie tag for (name, id) to dst: HMAC over the
// label, the name, a zero byte and the id, in one Write.
func (k *macKey) cookieTag(dst []byte, name string, id *ID) []byte {
	st := k.pool.Get().(*macState)
	defer k.pool.Put(st)
	return k.cookieTagState(st, dst, name, id)
}

// cookieTagState computes the cookie tag with st, using st.msg as scratch
// for the message, and appends it to dst.
func (k *macKey) cookieTagState(st *macState, dst []byte, name string, id *ID) []byte {
	msg := append(st.msg[:0], cookieMsgLabel...)
	msg = append(msg, name...)
	msg = append(msg, 0)
	msg = append(msg, id[:]...)
	st.h.Reset()
	st.h.Write(msg)
	st.msg = msg[:0]
	return st.h.Sum(dst)
}

// NewKeyring returns a keyring of keys, newest first. It returns ErrNoKeys
// when keys is empty and ErrShortKey when a key has fewer than MinKeySize
// bytes. The keys are copied.
func NewKeyring(keys ...[]byte) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, ErrNoKeys
	}
	kr := &Keyring{}
	for i, k := range keys {
		if len(k) < MinKeySize {
			return nil, fmt.Errorf("%w: key %d has %d bytes, need at least %d", ErrShortKey, i+1, len(k), MinKeySize)
		}
		kr.cookie = append(kr.cookie, newMACKey(k, cookieKeyLabel))
		kr.seal = append(kr.seal, newMACKey(k, sealKeyLabel))
	}
	return kr, nil
}

// Len returns the number of keys.
func (k *Keyring) Len() int { return len(k.cookie) }

// GenerateKey returns KeySize random bytes from crypto/rand.
func GenerateKey() []byte {
	b := make([]byte, KeySize)
	rand.Read(b) // never returns an error since Go 1.24; it crashes instead.
	return b
}

// EncodeKey returns the key file form of key: standard base64 with padding.
func EncodeKey(key []byte) string { return base64.StdEncoding.EncodeToString(key) }

// ParseKeys reads a key file: one base64 key per line, newest first. Blank
// lines and lines starting with '#' are ignored. Errors name the line but
// never show its content.
func ParseKeys(r io.Reader) (*Keyring, error) {
	var keys [][]byte
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, err := base64.StdEncoding.DecodeString(line)
		if err != nil {
			if k, err = base64.RawStdEncoding.DecodeString(line); err != nil {
				return nil, fmt.Errorf("session: key file line %d: not base64", n)
			}
		}
		if len(k) < MinKeySize {
			return nil, fmt.Errorf("%w: key file line %d has %d bytes, need at least %d", ErrShortKey, n, len(k), MinKeySize)
		}
		keys = append(keys, k)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("session: reading key file: %w", err)
	}
	return NewKeyring(keys...)
}

// LoadKeyFile reads the key file at path (see ParseKeys).
func LoadKeyFile(path string) (*Keyring, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("session: key file: %w", err)
	}
	defer f.Close()
	kr, err := ParseKeys(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return kr, nil
}

// LoadOrCreateKeyFile loads the key file at path, or, when it does not exist,
// creates it with one new key and mode 0600 (the directory must exist). It
// reports whether it created the file. An existing file is never rewritten;
// when its mode lets the group or others in (any bit of 0077), it is used
// and a warning is logged with slog.Default.
func LoadOrCreateKeyFile(path string) (kr *Keyring, created bool, err error) {
	kr, err = LoadKeyFile(path)
	if err == nil {
		warnIfShared(path)
	}
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return kr, false, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) { // created concurrently: use that one
		kr, err = LoadKeyFile(path)
		return kr, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("session: creating key file: %w", err)
	}
	key := GenerateKey()
	_, werr := fmt.Fprintf(f, "# sesbolt keys: one base64 key per line, newest first. Keep secret.\n%s\n", EncodeKey(key))
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(path)
		return nil, false, fmt.Errorf("session: writing key file %s: %w", filepath.Base(path), werr)
	}
	kr, err = NewKeyring(key)
	return kr, true, err
}

// warnIfShared logs a warning when the key file at path is open to the
// group or others.
func warnIfShared(path string) {
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm()&0o077 == 0 {
		return
	}
	slog.Warn("session: key file is readable by other users; chmod 600 it",
		"path", path, "mode", fi.Mode().Perm().String())
}

// SignCookie returns the cookie value for id under cookie name: base64url of
// the id and a 128-bit HMAC-SHA256 tag over a domain-separated message that
// binds the name and the id, made with the newest key.
func (k *Keyring) SignCookie(name string, id ID) string {
	var buf [16 + 32]byte
	copy(buf[:16], id[:])
	k.cookie[0].cookieTag(buf[16:16], name, &id) // fills buf[16:]
	return base64.RawURLEncoding.EncodeToString(buf[:16+cookieTagSize])
}

// VerifyCookie checks a cookie value made by SignCookie for cookie name. It
// returns the id and the index of the key that verified it (0 is the newest;
// a larger index means the cookie should be re-issued). A value of the wrong
// length, not base64url, or whose tag no key verifies yields ok == false.
// Tags are compared in constant time.
func (k *Keyring) VerifyCookie(name, value string) (id ID, keyIndex int, ok bool) {
	id, keyIndex, reason := k.verifyCookie(name, value)
	return id, keyIndex, reason == ""
}

// verifyCookie is VerifyCookie that says why it refused a value:
// CookieMalformed for a wrong length or encoding, CookieBadSignature for a
// tag no key verifies; "" when the value verified.
func (k *Keyring) verifyCookie(name, value string) (id ID, keyIndex int, reason CookieReason) {
	if len(value) != cookieValueLen {
		return ID{}, 0, CookieMalformed
	}
	var raw [16 + cookieTagSize]byte
	if !decodeCookie(&raw, value) {
		return ID{}, 0, CookieMalformed
	}
	copy(id[:], raw[:16])
	for i, key := range k.cookie {
		if key.checkCookieTag(name, &id, raw[16:]) {
			return id, i, ""
		}
	}
	return ID{}, 0, CookieBadSignature
}

// decodeCookie decodes a cookieValueLen-long base64url value into raw
// without allocating; it reports false for anything that is not exactly
// canonical unpadded base64url.
func decodeCookie(raw *[16 + cookieTagSize]byte, value string) bool {
	var src [64]byte // cookieValueLen (43) fits
	n := copy(src[:], value)
	m, err := base64.RawURLEncoding.Strict().Decode(raw[:], src[:n])
	return err == nil && m == len(raw)
}

// SealSize is the length of a seal made by Seal.
const SealSize = sha256.Size

// Seal returns an HMAC-SHA256 tag over the parts with the newest key's seal
// key (derived separately from the cookie key). Parts are length-framed, so
// ("ab", "c") and ("a", "bc") seal differently. Stores seal each record with
// everything that must not be swapped (e.g. its database key and contents),
// so corruption and offline tampering are visible.
func (k *Keyring) Seal(parts ...[]byte) []byte {
	return k.seal[0].sum(make([]byte, 0, SealSize), parts...)
}

// VerifySeal reports whether tag is the seal of parts under any key, in
// constant time per key.
func (k *Keyring) VerifySeal(tag []byte, parts ...[]byte) bool {
	var buf [SealSize]byte
	for _, key := range k.seal {
		if hmac.Equal(key.sum(buf[:0], parts...), tag) {
			return true
		}
	}
	return false
}
