package redisstore

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// TestStoredFormIsDecoded holds encode's returned record, built without
// decoding (storedForm), to what decoding the stored value gives, which is
// what Load returns: over random records with values in every layout
// encoding/json accepts, HTML and line-separator characters, null and
// nested values, times in other zones with monotonic readings, and strings
// that are not valid UTF-8.
func TestStoredFormIsDecoded(t *testing.T) {
	keys, err := session.NewKeyring(session.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	c := codec{keys: keys, maxSize: 1 << 20}
	rng := rand.New(rand.NewPCG(1, 2))
	zones := []*time.Location{time.UTC, time.Local, time.FixedZone("X", -7*3600+1800)}
	when := func() time.Time {
		t := time.Now().Add(time.Duration(rng.Int64N(int64(48 * time.Hour))))
		if rng.IntN(4) == 0 {
			t = t.Round(0) // no monotonic reading
		}
		return t.In(zones[rng.IntN(len(zones))])
	}
	for i := range 2000 {
		r := &session.Record{
			ID:          session.NewID(),
			UserID:      randomText(rng),
			Created:     when(),
			LastSeen:    when(),
			IdleExpires: when(),
			Deadline:    when(),
			Persistent:  rng.IntN(2) == 0,
			Client:      session.ClientInfo{IP: randomText(rng), UserAgent: randomText(rng)},
			LastClient:  session.ClientInfo{IP: randomText(rng), UserAgent: randomText(rng)},
			Version:     rng.Uint64(),
		}
		if rng.IntN(10) > 0 {
			r.Data = map[string]json.RawMessage{}
			for range rng.IntN(6) {
				r.Data[randomText(rng)] = randomJSON(rng, 3)
			}
		}
		value, stored, err := c.encode(r)
		if err != nil {
			t.Fatalf("record %d: encode: %v", i, err)
		}
		decoded, err := c.decode(r.ID, value)
		if err != nil {
			t.Fatalf("record %d: decode: %v", i, err)
		}
		if !reflect.DeepEqual(stored, decoded) {
			t.Fatalf("record %d: encode returned\n%#v\ndecoding gives\n%#v\nstored: %s", i, stored, decoded, value)
		}
	}
}

// randomText returns a short string mixing ASCII, HTML characters, escapes,
// U+2028 and, now and then, bytes that are not UTF-8.
func randomText(rng *rand.Rand) string {
	parts := []string{"a", "Z", "<", ">", "&", `"`, `\`, "\u2028", "é", "😀", " ", "\t", "\x00", "\xff", "\xe2\x80"}
	var b strings.Builder
	for range rng.IntN(8) {
		p := parts[rng.IntN(len(parts))]
		if (p == "\xff" || p == "\xe2\x80") && rng.IntN(4) > 0 {
			continue
		}
		b.WriteString(p)
	}
	return b.String()
}

// randomJSON returns a valid JSON document with random whitespace between
// tokens, nil now and then (a value encoding/json writes as null).
func randomJSON(rng *rand.Rand, depth int) json.RawMessage {
	if rng.IntN(20) == 0 {
		return nil
	}
	ws := func() string { return []string{"", "", " ", "\n\t ", "\r\n"}[rng.IntN(5)] }
	var doc func(d int) string
	doc = func(d int) string {
		switch k := rng.IntN(8); {
		case k == 0 && d > 0:
			var items []string
			for range rng.IntN(4) {
				items = append(items, ws()+doc(d-1)+ws())
			}
			return "[" + strings.Join(items, ",") + "]"
		case k == 1 && d > 0:
			var items []string
			for range rng.IntN(4) {
				key, _ := json.Marshal(randomText(rng))
				items = append(items, ws()+string(key)+ws()+":"+ws()+doc(d-1)+ws())
			}
			return "{" + strings.Join(items, ",") + "}"
		case k == 2:
			return []string{"null", "true", "false", "0", "-1.5e10", "12345678901234567890"}[rng.IntN(6)]
		case k == 3:
			return `"\u003cb\u003e \u2028 \ud83d\ude00 \/ \n"`
		default:
			s, _ := json.Marshal(randomText(rng))
			return string(s)
		}
	}
	return json.RawMessage(ws() + doc(depth) + ws())
}
