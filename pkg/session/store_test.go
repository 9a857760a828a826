package session_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// TestStatsJSONLastReap: before the first reaper pass, last_reap is null,
// not a pass at the zero time, and commits is null before a measured
// commit; both round-trip.
func TestStatsJSONLastReap(t *testing.T) {
	b, err := json.Marshal(session.Stats{Sessions: 3})
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"sessions":3,"live":0,"expired":0,"users":0,"seal_failures":0,"last_reap":null,"size_bytes":0,"free_bytes":0,"commits":null}`
	if string(b) != want {
		t.Errorf("no pass:\n got %s\nwant %s", b, want)
	}
	var back session.Stats
	if err := json.Unmarshal(b, &back); err != nil || back != (session.Stats{Sessions: 3}) {
		t.Errorf("decoding null: %+v, %v", back, err)
	}

	st := session.Stats{LastReap: session.ReapStats{
		At: time.Date(2030, 1, 2, 15, 0, 0, 0, time.UTC), Removed: 3, Duration: 120 * time.Microsecond, LongestStep: 40 * time.Microsecond,
	}, Commits: session.CommitStats{Count: 10, Changes: 25, Failed: 1, P50: time.Millisecond, P90: 2 * time.Millisecond, P99: 5 * time.Millisecond, Max: 6 * time.Millisecond}}
	b, err = json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	const wantReap = `"last_reap":{"at":"2030-01-02T15:00:00Z","removed":3,"duration_ns":120000,"longest_step_ns":40000}`
	const wantCommits = `"commits":{"count":10,"changes":25,"failed":1,"p50_ns":1000000,"p90_ns":2000000,"p99_ns":5000000,"max_ns":6000000}`
	if !json.Valid(b) || !strings.Contains(string(b), wantReap) || !strings.Contains(string(b), wantCommits) {
		t.Errorf("a pass:\n got %s\nwant it to contain %s and %s", b, wantReap, wantCommits)
	}
	back = session.Stats{}
	if err := json.Unmarshal(b, &back); err != nil || back != st {
		t.Errorf("round trip: %+v, %v; want %+v", back, err, st)
	}
}
