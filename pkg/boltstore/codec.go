package boltstore

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// envelopeVersion is the "v" of the stored envelope.
const envelopeVersion = 1

// sealLabel is the first part of every seal: it names the format, so a seal
// over this layout can never be mistaken for one over another.
var sealLabel = []byte("sesbolt/boltstore/record/v1\x00")

// The stored value of a session is a small JSON envelope around the
// record's JSON (session.Record's encoding), readable by any JSON tool:
//
//	{"v":1,"seal":"<base64 HMAC-SHA256>","record":{...}}
//
// The seal is Keyring.Seal(sealLabel, the 16-byte id, the record JSON
// exactly as stored), so a record that is corrupted, edited offline, or
// copied under another id fails verification. The codec writes the envelope
// with a fixed prefix and reads it back without a second JSON parse; other
// spellings of the same JSON are accepted through encoding/json.
var (
	envPrefix = []byte(`{"v":1,"seal":"`)
	envMiddle = []byte(`","record":`)
	sealB64   = base64.StdEncoding.EncodedLen(session.SealSize)
)

// errBadRecord marks a stored value that fails its integrity check: a seal
// that does not verify, or a value that is not a valid envelope. Callers
// treat such a record as absent.
var errBadRecord = errors.New("boltstore: stored record fails its integrity check")

// The kinds of errBadRecord. Their messages never quote the stored bytes,
// so they may be logged and shown by Check.
var (
	// errSeal: a well-formed record whose seal does not verify: it was
	// changed after it was sealed, or sealed with keys the store lacks.
	errSeal = fmt.Errorf("%w: seal does not verify", errBadRecord)
	// errEnvelope: the value is not a valid envelope.
	errEnvelope = fmt.Errorf("%w: not a valid envelope", errBadRecord)
	// errRecordJSON: the record inside the envelope does not decode.
	errRecordJSON = fmt.Errorf("%w: record JSON does not decode", errBadRecord)
	// errWrongID: the record names another id than the key it is stored under.
	errWrongID = fmt.Errorf("%w: record names another id than its key", errBadRecord)
)

// codec encodes and decodes stored records.
type codec struct {
	keys    *session.Keyring // nil: read-only without keys, seals unchecked
	maxSize int              // bound on the record JSON
	cache   *recordCache     // decoded records of recent reads; nil: none
}

// encoded is a record ready to store: the envelope (the bbolt value) and the
// record JSON inside it.
type encoded struct {
	value  []byte
	record []byte // a sub-slice of value
	exact  bool   // decoding record gives back exactly the encoded record
}

// encode marshals r and seals it. It fails with an error wrapping
// session.ErrTooLarge when the record JSON exceeds the size bound or the
// user id exceeds MaxUserIDSize. Times are stored in UTC.
func (c *codec) encode(r *session.Record) (encoded, error) {
	if len(r.UserID) > MaxUserIDSize {
		return encoded{}, fmt.Errorf("%w: user id of %d bytes exceeds %d", session.ErrTooLarge, len(r.UserID), MaxUserIDSize)
	}
	n := *r
	n.Created, n.LastSeen = n.Created.UTC(), n.LastSeen.UTC()
	n.IdleExpires, n.Deadline = n.IdleExpires.UTC(), n.Deadline.UTC()
	// The envelope is built in place: prefix, room for the seal, the record,
	// then the seal over the record is written into its room.
	v := make([]byte, 0, len(envPrefix)+sealB64+len(envMiddle)+512+recordSizeHint(&n))
	v = append(v, envPrefix...)
	sealAt := len(v)
	v = append(v, make([]byte, sealB64)...)
	v = append(v, envMiddle...)
	start := len(v)
	v, exact, err := appendRecordExact(v, &n)
	if err != nil {
		return encoded{}, fmt.Errorf("boltstore: encoding record %s: %w", r.ID, err)
	}
	rec := v[start:]
	if len(rec) > c.maxSize {
		return encoded{}, fmt.Errorf("%w: record %s encodes to %d bytes, limit %d", session.ErrTooLarge, r.ID, len(rec), c.maxSize)
	}
	base64.StdEncoding.Encode(v[sealAt:sealAt+sealB64], c.keys.Seal(sealLabel, r.ID[:], rec))
	v = append(v, '}')
	return encoded{value: v, record: v[start : start+len(rec)], exact: exact}, nil
}

// prepared is a change computed against one version of its record: the
// result and its encoding, the costly part of applying it. Store.Apply
// prepares a change before it queues it, so the committer, which applies a
// group's changes one after another, only checks that the record is still
// the one the change was computed from.
type prepared struct {
	base   []byte          // the stored value it was computed from; nil for an insert
	latest *session.Record // base decoded, read only; nil for an insert
	next   *session.Record // the result
	enc    encoded         // next, encoded
	err    error           // from encoding next (too large, invalid)
}

// prepare computes change c applied to latest (nil for an insert), which it
// only reads.
func (c *codec) prepare(ch *session.Change, latest *session.Record) *prepared {
	next := ch.ApplyTo(latest)
	enc, err := c.encode(next)
	return &prepared{latest: latest, next: next, enc: enc, err: err}
}

// recordSizeHint estimates the JSON size of r's variable parts.
func recordSizeHint(r *session.Record) int {
	n := len(r.UserID) + len(r.Client.IP) + len(r.Client.UserAgent) + len(r.LastClient.IP) + len(r.LastClient.UserAgent)
	for k, v := range r.Data {
		n += len(k) + len(v) + 4
	}
	return n
}

// sealBuf has room for what a seal's base64 text decodes to, not only for
// a seal: a damaged padding byte makes it decode to one byte more.
type sealBuf [session.SealSize + 3]byte

// openEnvelope splits an envelope into seal and record JSON: the seal in
// buf (or a fresh slice for the slow path), the record a sub-slice of value
// (or of a fresh one). err wraps errBadRecord.
func openEnvelope(value []byte, buf *sealBuf) (seal, rec []byte, err error) {
	// Fast path: the exact spelling encode writes.
	if bytes.HasPrefix(value, envPrefix) && len(value) > len(envPrefix)+sealB64+len(envMiddle)+1 &&
		value[len(value)-1] == '}' {
		s := value[len(envPrefix) : len(envPrefix)+sealB64]
		rest := value[len(envPrefix)+sealB64:]
		if bytes.HasPrefix(rest, envMiddle) {
			if n, err := base64.StdEncoding.Decode(buf[:], s); err == nil && n == session.SealSize {
				return buf[:n:n], rest[len(envMiddle) : len(rest)-1], nil
			}
		}
	}
	var env struct {
		V      int             `json:"v"`
		Seal   []byte          `json:"seal"`
		Record json.RawMessage `json:"record"`
	}
	if json.Unmarshal(value, &env) != nil {
		return nil, nil, errEnvelope
	}
	if env.V != envelopeVersion {
		return nil, nil, fmt.Errorf("%w (version %d)", errEnvelope, env.V)
	}
	if len(env.Record) == 0 {
		return nil, nil, errEnvelope
	}
	return env.Seal, env.Record, nil
}

// decode verifies and decodes the stored value of id. With keys, a seal
// that does not verify fails with errBadRecord; without keys (read-only
// inspection) seals are not checked. The returned record shares no memory
// with value; Data is never nil.
func (c *codec) decode(id session.ID, value []byte) (*session.Record, error) {
	var buf sealBuf
	seal, rec, err := openEnvelope(value, &buf)
	if err != nil {
		return nil, err
	}
	if c.keys != nil && !c.keys.VerifySeal(seal, sealLabel, id[:], rec) {
		return nil, errSeal
	}
	return decodeRecord(id, rec, c.keys != nil)
}

// decodeShared is decode through the cache, for a caller that only reads
// the record: it may be the cached one, which must not be modified. A record
// decoded before from exactly these bytes is returned without decoding
// again; with remember, a fresh decode is offered to the cache.
func (c *codec) decodeShared(id session.ID, value []byte, remember bool) (*session.Record, error) {
	if r := c.cache.lookup(id, value); r != nil {
		return r, nil
	}
	r, err := c.decode(id, value)
	if err == nil && remember {
		c.cache.offer(id, value, r)
	}
	return r, err
}

// decodeUnverified decodes the stored value of id without checking its seal.
// Writers use it to find the index entries of a record they delete, even
// one that fails its seal.
func decodeUnverified(id session.ID, value []byte) (*session.Record, error) {
	var buf sealBuf
	_, rec, err := openEnvelope(value, &buf)
	if err != nil {
		return nil, err
	}
	return decodeRecord(id, rec, false)
}

// decodeRecord decodes record JSON stored under id; sealed as for
// parseRecord.
func decodeRecord(id session.ID, rec []byte, sealed bool) (*session.Record, error) {
	r, err := parseRecord(rec, sealed)
	if err != nil {
		return nil, errRecordJSON
	}
	if r.ID != id {
		return nil, errWrongID
	}
	return r, nil
}
