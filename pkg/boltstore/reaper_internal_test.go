package boltstore

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/pkg/session"
	"github.com/sesbolt/sesbolt/pkg/session/sessiontest"
)

func TestNextBatch(t *testing.T) {
	tests := []struct {
		n      int
		d      time.Duration
		target time.Duration
		max    int
		want   int
	}{
		{0, 0, reapRoundTarget, 1000, reapFirstBatch},                    // first round
		{0, 0, reapRoundTarget, 10, 10},                                  // first round, capped
		{128, 30 * time.Millisecond, reapRoundTarget, 1000, 42},          // overshoot: scaled down
		{128, 10 * time.Millisecond, reapRoundTarget, 1000, 128},         // on target: kept
		{128, 1 * time.Millisecond, reapRoundTarget, 1000, 2*128 + 16},   // fast: at most about doubled
		{100, 5 * time.Millisecond, reapRoundTarget, 1000, 200},          // half the target: doubled
		{100, 5 * time.Millisecond, reapIdleTarget, 8000, 2*100 + 16},    // idle target, growth capped
		{900, 1 * time.Millisecond, reapRoundTarget, 1000, 1000},         // capped at the limit
		{20, 50 * time.Millisecond, reapRoundTarget, 1000, reapMinBatch}, // floor
		{5, 50 * time.Millisecond, reapRoundTarget, 5, 5},                // floor never above the limit
		{1000, 0, reapRoundTarget, 1000, 1000},                           // an instant round (coarse clock)
		{4000, 20 * time.Millisecond, reapIdleTarget, 8000, 8000},        // idle: up to the idle limit
		{4000, 100 * time.Millisecond, reapIdleTarget, 8000, 2000},       // idle overshoot
	}
	for _, tt := range tests {
		if got := nextBatch(tt.n, tt.d, tt.target, tt.max); got != tt.want {
			t.Errorf("nextBatch(%d, %v, %v, %d) = %d, want %d", tt.n, tt.d, tt.target, tt.max, got, tt.want)
		}
	}
}

// TestReapRoundsKnowWhoWaits: with no write waiting, a pass's rounds grow
// past ReapBatch (up to reapIdleFactor times it); with a write waiting,
// every round stays within ReapBatch, and a large round that a write
// arrives at stops at that bound. Round times come from a fake clock, so
// the rounds' sizes depend on the policy only.
func TestReapRoundsKnowWhoWaits(t *testing.T) {
	const reapBatch, expired = 10, 400
	for _, tt := range []struct {
		name     string
		writerAt int // the round (from 1) at which a write starts waiting; 0: none
	}{
		{"idle", 0},
		{"writer from the start", 1},
		{"writer arrives mid-pass", 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := openInternal(t, filepath.Join(t.TempDir(), "s.db"), false)
			s.opts.ReapBatch = reapBatch
			var fake time.Time
			s.reapClock = func() time.Time { fake = fake.Add(time.Microsecond); return fake } // every round is fast
			ctx, now := context.Background(), sessiontest.Base()
			recs := make([]*session.Record, expired)
			for i := range recs {
				recs[i] = sessiontest.NewRecord(session.NewID(), "u", now.Add(-2*time.Hour))
				recs[i].IdleExpires = now.Add(-time.Hour)
			}
			if n, err := s.Import(ctx, recs, now.Add(-90*time.Minute)); err != nil || n != expired {
				t.Fatalf("import: %d, %v", n, err)
			}

			var scanned []int // keys each round was given
			var handledWaiting []int
			txs := s.reapTxs.Load()
			s.reapHook = func(keys [][]byte) {
				scanned = append(scanned, len(keys))
				if len(scanned) == tt.writerAt {
					s.waiting.Add(1) // a write is queued behind the reaper from now on
				}
			}
			defer func() {
				if tt.writerAt > 0 {
					s.waiting.Add(-1)
				}
			}()
			removed, err := s.Purge(ctx, now)
			if err != nil || removed != expired {
				t.Fatalf("Purge = %d, %v; want %d", removed, err, expired)
			}
			rounds := int(s.reapTxs.Load() - txs)
			largest := 0
			for i, n := range scanned {
				largest = max(largest, n)
				if tt.writerAt > 0 && i+1 > tt.writerAt && n > reapBatch {
					handledWaiting = append(handledWaiting, n)
				}
			}
			switch {
			case tt.writerAt == 0:
				if largest <= reapBatch {
					t.Errorf("idle rounds of at most %d entries (%v); want larger than ReapBatch %d", largest, scanned, reapBatch)
				}
				if largest > reapBatch*reapIdleFactor {
					t.Errorf("an idle round of %d entries; want at most %d", largest, reapBatch*reapIdleFactor)
				}
				if rounds > expired/reapBatch/2 {
					t.Errorf("%d rounds for %d entries; want fewer than %d", rounds, expired, expired/reapBatch/2)
				}
			default:
				if len(handledWaiting) > 0 {
					t.Errorf("rounds started with a write waiting scanned %v entries; want at most %d", handledWaiting, reapBatch)
				}
				// The round the write arrived at stops at ReapBatch too:
				// every round deletes at most ReapBatch after the writer
				// came, so the pass takes at least that many rounds.
				before := 0
				for _, n := range scanned[:tt.writerAt-1] {
					before += n
				}
				if min := tt.writerAt - 1 + (expired-before+reapBatch-1)/reapBatch; rounds < min {
					t.Errorf("%d rounds (scanned %v); want at least %d with a write waiting", rounds, scanned, min)
				}
			}
			if got := len(expiryKeys(t, s)); got != 0 {
				t.Errorf("%d expiry entries left", got)
			}
		})
	}
}
