package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/pkg/session"
)

func TestStatsOutput(t *testing.T) {
	h := seeded(t)
	h.useService(&fakeService{stats: session.Stats{
		Sessions: 1200, Live: 1000, Expired: 200, Users: 310, SealFailures: 3,
		SizeBytes: 8 << 20, FreeBytes: 3 << 20,
		LastReap: session.ReapStats{At: testNow.Add(-42 * time.Second), Removed: 57, Duration: 12345 * time.Microsecond, LongestStep: 4321 * time.Microsecond},
		Commits: session.CommitStats{Count: 1042, Changes: 3310, Failed: 1, P50: 262144 * time.Nanosecond, P90: 655360 * time.Nanosecond,
			P99: 16384 * time.Microsecond, Max: 1234567 * time.Microsecond},
	}})
	h.golden("stats.golden", h.ok("stats"))
	h.golden("stats_json.golden", h.ok("-o", "json", "stats"))

	h.useService(&fakeService{stats: session.Stats{Sessions: 2, Live: 2, SizeBytes: 32 << 10}})
	h.golden("stats_noreap.golden", h.ok("stats"))
	h.golden("stats_noreap_json.golden", h.ok("-o", "json", "stats"))
}

func TestStatsFile(t *testing.T) {
	h := seeded(t)
	var st statsView
	h.unchanged(func() {
		if err := json.Unmarshal([]byte(h.ok("-o", "json", "stats")), &st); err != nil {
			t.Fatal(err)
		}
	})
	if st.Sessions != 6 || st.Live != 4 || st.Expired != 2 || st.Users != 3 {
		t.Errorf("counters %+v, want 6 sessions, 4 live, 2 expired, 3 users", st)
	}
	if st.SizeBytes <= 0 || st.FreeBytes < 0 || st.FreeBytes > st.SizeBytes {
		t.Errorf("sizes %+v", st)
	}
	if st.LastReap != nil {
		t.Errorf("last reap %+v: sesctl runs no reaper", st.LastReap)
	}
	if st.Commits != nil {
		t.Errorf("commits %+v: a read-only store commits nothing", st.Commits)
	}
}
