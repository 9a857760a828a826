package boltstore

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// randomRecord returns a record with awkward contents: escapes, control
// characters, invalid UTF-8, empty and missing fields, nested data.
func randomRecord(rng *rand.Rand) *session.Record {
	strs := []string{"", "alice", `quo"te`, `back\\slash`, "tab\tnew\nline", "\x00\x1f", "ünïcödé ✓", "bad\xffutf8",
		"<script>&amp;", "\u2028\u2029", strings.Repeat("long", 100)}
	s := func() string { return strs[rng.IntN(len(strs))] }
	vals := []string{`1`, `-2.5e10`, `"str"`, `"with \"escape\" and \\u00e9 \u00e9"`, `true`, `null`, `[]`, `{}`,
		`[1,{"a":[2,"}"]},"]"]`, `{"nested":{"deep":[null,false,"x,y"]}}`, `"{not an object}"`, ` { "spaced" : [ 1 , 2 ] } `}
	t := func() time.Time {
		return time.Unix(rng.Int64N(1<<34), rng.Int64N(1e9)).In(time.FixedZone("x", 3600*rng.IntN(5)))
	}
	r := &session.Record{
		ID: session.NewID(), UserID: s(), Created: t(), LastSeen: t(), IdleExpires: t(), Deadline: t(),
		Client:     session.ClientInfo{IP: s(), UserAgent: s()},
		LastClient: session.ClientInfo{IP: s(), UserAgent: s()},
		Persistent: rng.IntN(2) == 0,
		Version:    rng.Uint64N(1 << 40),
	}
	if rng.IntN(4) > 0 {
		r.Data = map[string]json.RawMessage{}
		for range rng.IntN(6) {
			r.Data[s()] = json.RawMessage(vals[rng.IntN(len(vals))])
		}
	}
	return r
}

// TestRecordJSON checks the hand-written decoder against encoding/json, on
// the store's own spelling and on encoding/json's default one.
func TestRecordJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 5000 {
		r := randomRecord(rng)
		u := *r
		u.Created, u.LastSeen, u.IdleExpires, u.Deadline = r.Created.UTC(), r.LastSeen.UTC(), r.IdleExpires.UTC(), r.Deadline.UTC()
		mine, err := appendRecord(nil, &u)
		if err != nil {
			t.Fatal(err)
		}
		// encoding/json reads ours as the same record.
		var std session.Record
		if err := json.Unmarshal(mine, &std); err != nil {
			t.Fatalf("%d: encoding/json rejects %s: %v", i, mine, err)
		}
		if std.Data == nil {
			std.Data = map[string]json.RawMessage{}
		}
		fast, err := parseRecord(mine, false)
		if err != nil {
			t.Fatalf("%d: parseRecord(%s): %v", i, mine, err)
		}
		// What the codec wrote reads the same when sealed (values unchecked).
		if sealed, err := parseRecord(mine, true); err != nil || !sealed.Equal(fast) {
			t.Fatalf("%d: sealed parseRecord(%s) = %+v, %v; want %+v", i, mine, sealed, err, fast)
		}
		if !fast.Equal(&std) {
			t.Fatalf("%d: parseRecord and encoding/json disagree on %s:\n%+v\n%+v", i, mine, fast, &std)
		}
		// And ours reads encoding/json's spelling as it does.
		theirs, err := json.Marshal(&u)
		if err != nil {
			t.Fatal(err)
		}
		var std2 session.Record
		json.Unmarshal(theirs, &std2)
		if std2.Data == nil {
			std2.Data = map[string]json.RawMessage{}
		}
		got, err := parseRecord(theirs, false)
		if err != nil || !got.Equal(&std2) {
			t.Fatalf("%d: parseRecord(%s) = %+v, %v; want %+v", i, theirs, got, err, &std2)
		}
		// The round trip keeps the record, up to what JSON cannot carry:
		// invalid UTF-8 becomes U+FFFD and values are compacted.
		want := u
		valid := func(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
		want.UserID, want.Client.IP, want.Client.UserAgent = valid(u.UserID), valid(u.Client.IP), valid(u.Client.UserAgent)
		want.LastClient.IP, want.LastClient.UserAgent = valid(u.LastClient.IP), valid(u.LastClient.UserAgent)
		want.Data = map[string]json.RawMessage{}
		for k, v := range u.Data {
			var c bytes.Buffer
			json.Compact(&c, v)
			want.Data[valid(k)] = c.Bytes()
		}
		if !fast.Equal(&want) {
			t.Fatalf("%d: round trip changed the record:\n%+v\n%+v", i, fast, &want)
		}
	}
}

// TestRecordJSONExact holds appendRecordExact's exact flag to the truth:
// it is true exactly when decoding what was written gives back the record.
func TestRecordJSONExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	seen := map[bool]int{}
	for i := range 5000 {
		r := randomRecord(rng)
		r.Created, r.LastSeen, r.IdleExpires, r.Deadline = r.Created.UTC(), r.LastSeen.UTC(), r.IdleExpires.UTC(), r.Deadline.UTC()
		if r.Data == nil {
			r.Data = map[string]json.RawMessage{}
		}
		b, exact, err := appendRecordExact(nil, r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := parseRecord(b, true)
		if err != nil {
			t.Fatalf("%d: parseRecord(%s): %v", i, b, err)
		}
		if same := got.Equal(r); exact != same {
			t.Fatalf("%d: exact = %v, but decoding gives back the record: %v\n%s", i, exact, same, b)
		}
		seen[exact]++
	}
	if seen[true] == 0 || seen[false] == 0 {
		t.Fatalf("exact records: %d, inexact: %d; want both", seen[true], seen[false])
	}
}

func TestRecordJSONFastPathTaken(t *testing.T) {
	r := &session.Record{ID: session.NewID(), UserID: "alice", Created: time.Unix(1, 5).UTC(),
		LastSeen: time.Unix(2, 0).UTC(), IdleExpires: time.Unix(3, 0).UTC(), Deadline: time.Unix(4, 0).UTC(),
		Client: session.ClientInfo{IP: "192.0.2.1"}, Version: 7, Persistent: true,
		LastClient: session.ClientInfo{UserAgent: "curl/8"},
		Data:       map[string]json.RawMessage{"a": json.RawMessage(`{"x":[1,"]"]}`), "b": json.RawMessage(`"s"`)}}
	b, err := appendRecord(nil, r)
	if err != nil {
		t.Fatal(err)
	}
	got, err := parseFast(b, false)
	if err != nil || !got.Equal(r) {
		t.Fatalf("parseFast(%s) = %+v, %v", b, got, err)
	}
}

// TestRecordJSONOldSpelling: records stored before "persistent" and
// "last_client" existed still take the fast path, with those fields zero,
// as encoding/json reads them.
func TestRecordJSONOldSpelling(t *testing.T) {
	old := []byte(`{"id":"10000000-0000-4000-8000-000000000001","user":"alice","created":"2030-01-02T14:04:05Z",` +
		`"last_seen":"2030-01-02T14:04:05Z","idle_expires":"2030-01-02T15:34:05Z","deadline":"2030-01-03T02:04:05Z",` +
		`"client":{"ip":"203.0.113.7","user_agent":"Firefox"},"data":{"theme":"dark"},"version":3}`)
	got, err := parseFast(old, false)
	if err != nil {
		t.Fatalf("parseFast of an old record: %v", err)
	}
	var std session.Record
	if err := json.Unmarshal(old, &std); err != nil {
		t.Fatal(err)
	}
	if !got.Equal(&std) || got.Persistent || !got.LastClient.IsZero() || got.Latest() != got.Client {
		t.Fatalf("old record read as %+v; encoding/json reads %+v", got, &std)
	}
}

// spelledRecord returns record JSON in the store's own spelling with the
// given created time and data object contents.
func spelledRecord(created, data string) []byte {
	return []byte(`{"id":"10000000-0000-4000-8000-000000000001","user":"alice","created":"` + created + `",` +
		`"last_seen":"2030-01-02T14:04:05Z","idle_expires":"2030-01-02T15:34:05Z","deadline":"2030-01-03T02:04:05Z",` +
		`"client":{},"data":{` + data + `},"version":3}`)
}

// readsAsEncodingJSON fails t unless parseRecord reads b, unsealed, as
// encoding/json does.
func readsAsEncodingJSON(t *testing.T, b []byte) {
	t.Helper()
	var std session.Record
	if err := json.Unmarshal(b, &std); err != nil {
		if got, err := parseRecord(b, false); err == nil {
			t.Errorf("parseRecord(%s) = %+v; encoding/json fails: %v", b, got, err)
		}
		return
	}
	got, err := parseRecord(b, false)
	if err != nil || !got.Equal(&std) || got.Created.Location().String() != std.Created.Location().String() {
		t.Errorf("parseRecord(%s) = %+v, %v; encoding/json reads %+v", b, got, err, &std)
	}
}

// TestRecordJSONSpacedValues: data values with whitespace around them,
// which json.Valid accepts but encoding/json leaves out of a
// json.RawMessage, read as encoding/json reads them.
func TestRecordJSONSpacedValues(t *testing.T) {
	for _, data := range []string{`"a": 1`, `"a":1 `, `"a":1 ,"b":2`, "\"a\":\t\"x\"", "\"a\":\n{\"b\": [1, 2]}", `"a":{"b": [1, 2]}`} {
		readsAsEncodingJSON(t, spelledRecord("2030-01-02T14:04:05Z", data))
	}
}

// TestRecordJSONOtherTimes: times the fast timestamp parser leaves to the
// general one (offsets, late days, odd spellings) read as encoding/json
// reads them, or fail as it does.
func TestRecordJSONOtherTimes(t *testing.T) {
	for _, created := range []string{"2030-01-02T14:04:05+01:00", "2030-01-30T14:04:05.5-07:30", "2030-01-31T23:59:59Z",
		"2030-01-30T4:04:05Z", "2030-01-30T14:04:05,5Z", "2030-01-30T14:04:05+24:00", "2030-01-30T14:04:05", "2030-02-30T14:04:05Z"} {
		readsAsEncodingJSON(t, spelledRecord(created, `"a":1`))
	}
}

// TestParseUTC holds the fast timestamp parser to time.Parse: the same time
// where it answers, and no answer where time.Parse fails.
func TestParseUTC(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	inputs := []string{"2026-11-26T04:43:36Z", "2026-02-28T23:59:59.999999999Z", "2026-02-29T00:00:00Z",
		"2024-02-29T12:00:00.5Z", "2026-04-31T00:00:00Z", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
		"2026-13-01T00:00:00Z", "2026-00-10T00:00:00Z", "2026-01-10T24:00:00Z", "2026-01-10T23:60:00Z",
		"2026-01-10T23:59:60Z", "2026-01-10T23:59:59.Z", "2026-01-10T23:59:59.1234567891Z",
		"2026-01-10T23:59:59.12345678Z", "2026-01-10T23:59:59+01:00", "2026-01-10 23:59:59Z",
		"2026-01-1xT23:59:59Z", "-026-01-10T23:59:59Z", "2026-01-10T23:59:59.1x3Z", ""}
	for range 20000 {
		tm := time.Unix(rng.Int64N(253402300800), 0).UTC()
		if rng.IntN(2) == 0 {
			tm = tm.Add(time.Duration(rng.Int64N(1e9)))
		}
		inputs = append(inputs, tm.Format(time.RFC3339Nano))
	}
	fast := 0
	for _, in := range inputs {
		got, ok := parseUTC([]byte(in))
		want, err := time.Parse(time.RFC3339Nano, in)
		if !ok {
			continue
		}
		fast++
		if err != nil {
			t.Fatalf("parseUTC(%q) = %v; time.Parse fails: %v", in, got, err)
		}
		if got != want {
			t.Fatalf("parseUTC(%q) = %#v; time.Parse = %#v", in, got, want)
		}
	}
	if fast < len(inputs)*3/4 {
		t.Fatalf("the fast path took %d of %d inputs", fast, len(inputs))
	}
}

func FuzzParseRecord(f *testing.F) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 20 {
		u := randomRecord(rng)
		u.Created, u.LastSeen, u.IdleExpires, u.Deadline = u.Created.UTC(), u.LastSeen.UTC(), u.IdleExpires.UTC(), u.Deadline.UTC()
		b, _ := appendRecord(nil, u)
		f.Add(b)
		// A value spaced out, which the fast path must not keep so.
		f.Add(bytes.Replace(b, []byte(`"data":{`), []byte(`"data":{"k": 1 ,`), 1))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fast, ferr := parseFast(b, false)
		if ferr != nil {
			return
		}
		var std session.Record
		if err := json.Unmarshal(b, &std); err != nil {
			t.Fatalf("fast path accepted what encoding/json rejects: %q: %v", b, err)
		}
		if std.Data == nil {
			std.Data = map[string]json.RawMessage{}
		}
		if !fast.Equal(&std) {
			t.Fatalf("fast path and encoding/json disagree on %q", b)
		}
	})
}

func BenchmarkRecordCodec(b *testing.B) {
	r := &session.Record{ID: session.NewID(), UserID: "user42", Created: time.Now().UTC(), LastSeen: time.Now().UTC(),
		IdleExpires: time.Now().UTC(), Deadline: time.Now().UTC(),
		Client: session.ClientInfo{IP: "192.0.2.1", UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"},
		Data: map[string]json.RawMessage{"csrf": json.RawMessage(`"b3f1c2d4e5f60718293a4b5c6d7e8f90"`),
			"flash": json.RawMessage(`"Your changes were saved."`), "cart": json.RawMessage(`[{"qty":2,"sku":"A-1001"},{"qty":1,"sku":"B-2002"}]`)}}
	enc, _ := appendRecord(nil, r)
	b.Run("encode", func(b *testing.B) {
		for range b.N {
			appendRecord(nil, r)
		}
	})
	b.Run("decode/fast", func(b *testing.B) {
		for range b.N {
			parseRecord(enc, true)
		}
	})
	b.Run("decode/encoding-json", func(b *testing.B) {
		for range b.N {
			var x session.Record
			json.Unmarshal(enc, &x)
		}
	})
}
