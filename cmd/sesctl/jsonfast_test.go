package main

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"
)

// TestAppendSessionView holds the hand-written encoder to encoding/json.
func TestAppendSessionView(t *testing.T) {
	strs := []string{
		"", "alice", `quo"te\back`, "tab\tnl\ncr\rbs\bff\f", "\x00\x01\x1f\x7f", "<b>&amp;</b>",
		"héllo wörld ✓ 日本", "bad \xff\xfe utf8", "line\u2028para\u2029", "\xed\xa0\x80", "émoji 🎉",
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		b := make([]byte, rng.IntN(24))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		strs = append(strs, string(b))
	}
	times := []time.Time{
		testNow, testNow.Add(123456789 * time.Nanosecond), testNow.Add(time.Millisecond),
		time.Date(1999, 12, 31, 23, 59, 59, 1, time.UTC), {},
	}
	for i, s := range strs {
		v := sessionView{
			ID: idAlice1.String(), User: s, UserAgent: strs[(i+1)%len(strs)], IP: s,
			Created: times[i%len(times)], LastSeen: times[(i+1)%len(times)], Expires: times[(i+2)%len(times)],
			IdleExpires: times[(i+3)%len(times)], Deadline: times[(i+4)%len(times)],
			Expired: i%2 == 0, Size: i * 7, Version: uint64(i), Persistent: i%3 == 0,
			LastIP: strs[(i+2)%len(strs)], LastUserAgent: strs[(i+3)%len(strs)],
		}
		var want bytes.Buffer
		if err := newJSONEncoder(&want).Encode(v); err != nil {
			t.Fatal(err)
		}
		got := append(appendSessionView(nil, &v), '\n')
		if !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("string %q:\ngot  %s\nwant %s", s, got, want.Bytes())
		}
	}
}
