package boltstore

import (
	"bytes"
	"encoding/base64"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// FuzzDecodeEnvelope feeds arbitrary stored values (the bytes a damaged or
// edited file could hold under a session id) to the codec that reads them:
//
//   - nothing panics, with keys (the store) or without (read-only
//     inspection), verified or not;
//   - every failure is errBadRecord, which the store treats as "no
//     session", never another kind of error;
//   - with keys, only a value whose record JSON is exactly one the store
//     sealed under this id decodes, and to that record: the fuzzer, short
//     of forging HMAC-SHA256, cannot edit a record, move it to another id,
//     or make the codec skip the seal;
//   - what decodes verified decodes the same unverified.
//
// The seeds are envelopes the codec wrote (awkward records from
// randomRecord) and other spellings of them that encoding/json reads.
func FuzzDecodeEnvelope(f *testing.F) {
	kr, err := session.NewKeyring(bytes.Repeat([]byte{7}, session.KeySize))
	if err != nil {
		f.Fatal(err)
	}
	c := &codec{keys: kr, maxSize: DefaultMaxRecordSize}
	keyless := &codec{maxSize: DefaultMaxRecordSize}
	id := session.ID{0x0f, 0x8e, 0x4d, 0x2c, 0x5b, 0x1a, 0x4c, 0x3e, 0x9d, 0x7f, 0x2a, 0x6b, 0x8c, 0x0e, 0x1f, 0x34}
	other := session.ID{0x7a, 0x1b, 0x2c, 0x3d, 0, 0, 0x40, 0, 0x80, 0, 0, 0, 0, 0, 0, 1}

	// sealed maps the record JSON of every value the codec sealed under id
	// to the record it decodes to.
	sealed := map[string]*session.Record{}
	rng := rand.New(rand.NewPCG(11, 12))
	for i := range 12 {
		r := randomRecord(rng)
		r.ID = id
		enc, err := c.encode(r)
		if err != nil {
			f.Fatal(err)
		}
		got, err := c.decode(id, enc.value)
		if err != nil {
			f.Fatalf("a value the codec wrote does not decode: %v", err)
		}
		sealed[string(enc.record)] = got
		f.Add(enc.value)
		if i < 3 {
			// The same envelope spelled otherwise: fields reordered,
			// spaces; the seal still covers the record bytes.
			seal := enc.value[len(envPrefix) : len(envPrefix)+sealB64]
			f.Add([]byte(`{"record":` + string(enc.record) + `, "seal" : "` + string(seal) + `","v":1}`))
			f.Add([]byte(`{"v":2,"seal":"` + string(seal) + `","record":` + string(enc.record) + `}`))
			f.Add(append(bytes.Clone(enc.value[:len(enc.value)-1]), ` }`...))
		}
	}
	f.Add([]byte(`{"v":1,"seal":"` + base64.StdEncoding.EncodeToString(make([]byte, session.SealSize)) + `","record":{}}`))
	f.Add([]byte(`{"v":1,"seal":"","record":null}`))
	f.Add([]byte(`{"v":1}`))
	f.Add([]byte(`null`))
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, value []byte) {
		in := bytes.Clone(value)
		r, err := c.decode(id, value)
		ru, erru := decodeUnverified(id, value)
		keyless.decode(id, value)
		c.decode(other, value)
		if !bytes.Equal(in, value) {
			t.Fatal("decoding changed its input")
		}
		if erru != nil && !errors.Is(erru, errBadRecord) {
			t.Fatalf("unverified decode failed with %v, not errBadRecord", erru)
		}
		if err != nil {
			if r != nil || !errors.Is(err, errBadRecord) {
				t.Fatalf("decode = %v, %v; want nil, errBadRecord", r, err)
			}
			return
		}
		_, rec, oerr := openEnvelope(value, new(sealBuf))
		if oerr != nil {
			t.Fatalf("decoded, but the envelope does not open: %v", oerr)
		}
		want, ok := sealed[string(rec)]
		if !ok {
			t.Fatalf("a record the store never sealed decoded as %+v", r)
		}
		if !r.Equal(want) || r.Data == nil {
			t.Fatalf("decoded %+v, want the sealed %+v", r, want)
		}
		if erru != nil || !ru.Equal(r) {
			t.Fatalf("verified decode gives %+v, unverified %+v, %v", r, ru, erru)
		}
		if _, err := c.decode(other, value); err == nil {
			t.Fatal("a record sealed under one id decodes under another")
		}
		// What decodes is the stored record, not a view of the value.
		if len(value) > 0 {
			value[0] ^= 0xff
			if !r.Equal(want) {
				t.Fatal("the decoded record shares memory with the stored value")
			}
		}
	})
}
