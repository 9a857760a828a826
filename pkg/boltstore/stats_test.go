package boltstore_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/pkg/boltstore"
	"github.com/sesbolt/sesbolt/pkg/session/sessiontest"
)

func TestStatsFile(t *testing.T) {
	s, path := openTemp(t)
	ctx := context.Background()
	now := sessiontest.Base()
	recs := insert(t, s, 300, now, func(i int) string { return []string{"", "alice", "bob"}[i%3] })
	for _, r := range recs[:200] {
		if _, err := s.Delete(ctx, r.ID); err != nil {
			t.Fatal(err)
		}
	}
	st, err := s.Stats(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Sessions != 100 || st.Live != 100 || st.Expired != 0 || st.Users != 2 {
		t.Fatalf("counts: %+v", st)
	}
	if st.SizeBytes != fi.Size() {
		t.Fatalf("SizeBytes = %d, file has %d", st.SizeBytes, fi.Size())
	}
	if st.FreeBytes <= 0 || st.FreeBytes >= st.SizeBytes {
		t.Fatalf("FreeBytes = %d of %d after deleting two thirds", st.FreeBytes, st.SizeBytes)
	}
	// Expired is judged at the time given, from the expiry index.
	later := recs[0].Expires().Add(time.Second)
	if st, err = s.Stats(ctx, later); err != nil || st.Expired != 100 || st.Live != 0 {
		t.Fatalf("Stats after expiry = %+v, %v", st, err)
	}
}

// TestStatsPassStoppedBetweenPhases: records an expiry pass removed while
// their index entries wait for its second phase (a pass in progress, or
// one stopped by Close or a crash) are gone: Stats counts them neither as
// stored, nor as expired, so Live stays right.
func TestStatsPassStoppedBetweenPhases(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	now := sessiontest.Base()
	expired := insert(t, s, 6, now, func(int) string { return "alice" })
	insert(t, s, 2, now.Add(time.Hour), func(int) string { return "carol" })
	at := expired[0].Expires().Add(2 * time.Minute) // the expired ones' minute has ended
	if n, err := boltstore.PurgeRecords(s, at); err != nil || n != len(expired) {
		t.Fatalf("PurgeRecords = %d, %v; want %d", n, err, len(expired))
	}
	st, err := s.Stats(ctx, at)
	if err != nil || st.Sessions != 2 || st.Live != 2 || st.Expired != 0 {
		t.Fatalf("Stats between the phases = sessions %d, live %d, expired %d, %v; want 2, 2, 0",
			st.Sessions, st.Live, st.Expired, err)
	}
}
