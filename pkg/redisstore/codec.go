package redisstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// envelopeVersion is the "v" of the stored envelope.
const envelopeVersion = 1

// sealLabel is the first part of every seal. It names this format, so a
// seal made for another store's records never verifies here.
var sealLabel = []byte("sesbolt/redisstore/record/v1\x00")

// envelope is the stored value of a session, readable by any JSON tool:
//
//	{"v":1,"seal":"<base64 HMAC-SHA256>","record":{...}}
//
// Record is session.Record's JSON encoding; Seal is
// Keyring.Seal(sealLabel, the 16-byte id, Record exactly as stored).
type envelope struct {
	V      int             `json:"v"`
	Seal   []byte          `json:"seal"`
	Record json.RawMessage `json:"record"`
}

// errBadRecord marks a stored value that fails its integrity check; the
// store treats such a record as absent. The messages of its kinds never
// quote stored bytes, so they may be logged and reported by Check.
var errBadRecord = errors.New("redisstore: stored record fails its integrity check")

var (
	errSeal     = fmt.Errorf("%w: seal does not verify", errBadRecord)
	errEnvelope = fmt.Errorf("%w: not a valid envelope", errBadRecord)
	errRecord   = fmt.Errorf("%w: record JSON does not decode", errBadRecord)
	errWrongID  = fmt.Errorf("%w: record names another id than its key", errBadRecord)
)

// codec seals and encodes records, and verifies and decodes them.
type codec struct {
	keys    *session.Keyring // nil: a read-only store that checks no seals
	maxSize int
}

// encode returns the stored value of r and the record as Load will return
// it (the JSON encoding compacts Data values, so the stored record may
// differ from r byte for byte; it does not escape HTML characters, so a
// value such as "<b>" reads back, and exports, as the bbolt store keeps
// it). It fails with an error wrapping
// session.ErrTooLarge when the record JSON exceeds the size limit or the
// user id MaxUserIDSize, and session.ErrInvalid when the record has no
// JSON encoding (a data value that is not JSON, a time after the year
// 9999). Its errors name no session id: they may reach request logs.
func (c *codec) encode(r *session.Record) (value []byte, stored *session.Record, err error) {
	if len(r.UserID) > MaxUserIDSize {
		return nil, nil, fmt.Errorf("%w: user id of %d bytes exceeds %d", session.ErrTooLarge, len(r.UserID), MaxUserIDSize)
	}
	n := *r
	n.Created, n.LastSeen = n.Created.UTC(), n.LastSeen.UTC()
	n.IdleExpires, n.Deadline = n.IdleExpires.UTC(), n.Deadline.UTC()
	if n.Data == nil {
		n.Data = map[string]json.RawMessage{}
	}
	rec, err := marshal(&n)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: redisstore: encoding a record: %w", session.ErrInvalid, err)
	}
	if len(rec) > c.maxSize {
		return nil, nil, fmt.Errorf("%w: the record encodes to %d bytes, limit %d", session.ErrTooLarge, len(rec), c.maxSize)
	}
	value, err = marshal(envelope{V: envelopeVersion, Seal: c.keys.Seal(sealLabel, r.ID[:], rec), Record: rec})
	if err != nil {
		return nil, nil, fmt.Errorf("redisstore: encoding a record: %w", err)
	}
	stored, ok := storedForm(&n)
	if !ok {
		if stored, err = decodeRecord(r.ID, rec); err != nil {
			return nil, nil, fmt.Errorf("redisstore: a record does not decode after encoding: %w", err)
		}
	}
	return value, stored, nil
}

// storedForm returns the record that n, with UTC times and a non-nil Data,
// decodes to once marshalled, without decoding: a copy of n whose Data
// values are compacted, as encoding/json writes a json.RawMessage (it
// escapes nothing else with HTML escaping off). It saves encode a decode,
// 11% of an update's CPU in the profile BENCHMARKS.md gives ("Redis
// writes", with its command). ok is false when a string is not valid
// UTF-8 (encoding/json replaces the bad bytes) or a value does not compact;
// the caller then decodes. TestStoredFormIsDecoded holds the two equal.
func storedForm(n *session.Record) (_ *session.Record, ok bool) {
	for _, s := range []string{n.UserID, n.Client.IP, n.Client.UserAgent, n.LastClient.IP, n.LastClient.UserAgent} {
		if !utf8.ValidString(s) {
			return nil, false
		}
	}
	r := *n
	r.Data = make(map[string]json.RawMessage, len(n.Data))
	var b bytes.Buffer
	for k, v := range n.Data {
		if !utf8.ValidString(k) {
			return nil, false
		}
		if v == nil {
			r.Data[k] = json.RawMessage("null")
			continue
		}
		b.Reset()
		if json.Compact(&b, v) != nil {
			return nil, false
		}
		r.Data[k] = bytes.Clone(b.Bytes())
	}
	return &r, true
}

// marshal is json.Marshal without HTML escaping.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// decode verifies and decodes the stored value of id. A value that fails
// its seal, or is not a record of id, fails with an error wrapping
// errBadRecord. Without keys the seal is not checked. The record shares no
// memory with value; Data is never nil.
func (c *codec) decode(id session.ID, value []byte) (*session.Record, error) {
	var env envelope
	if json.Unmarshal(value, &env) != nil || env.V != envelopeVersion || len(env.Record) == 0 {
		return nil, errEnvelope
	}
	if c.keys != nil && !c.keys.VerifySeal(env.Seal, sealLabel, id[:], env.Record) {
		return nil, errSeal
	}
	return decodeRecord(id, env.Record)
}

// decodeUnverified decodes the stored value of id without checking its
// seal: writers use it to find the index entries of a record they remove,
// even one whose seal fails.
func decodeUnverified(id session.ID, value []byte) (*session.Record, error) {
	return (&codec{}).decode(id, value)
}

// decodeRecord decodes record JSON stored under id.
func decodeRecord(id session.ID, rec []byte) (*session.Record, error) {
	var r session.Record
	if json.Unmarshal(rec, &r) != nil {
		return nil, errRecord
	}
	if r.ID != id {
		return nil, errWrongID
	}
	if r.Data == nil {
		r.Data = map[string]json.RawMessage{}
	}
	return &r, nil
}

// badReason describes an errBadRecord without quoting stored bytes.
func badReason(err error) string {
	for _, e := range []error{errSeal, errWrongID, errRecord, errEnvelope} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return err.Error()
}
