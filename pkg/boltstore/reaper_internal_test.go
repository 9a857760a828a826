package boltstore

import (
	"testing"
	"time"
)

func TestNextBatch(t *testing.T) {
	const busy = reapRoundTarget / 2
	tests := []struct {
		batch  int
		d      time.Duration
		target time.Duration
		max    int
		want   int
	}{
		{128, 30 * time.Millisecond, reapRoundTarget, 1000, 64},  // overshoot: halve
		{128, 7 * time.Millisecond, reapRoundTarget, 1000, 128},  // near target: keep
		{128, 7 * time.Millisecond, busy, 1000, 64},              // over the busy target: halve
		{128, 1 * time.Millisecond, reapRoundTarget, 1000, 193},  // fast: grow by half
		{900, 1 * time.Millisecond, reapRoundTarget, 1000, 1000}, // capped at ReapBatch
		{20, 50 * time.Millisecond, reapRoundTarget, 1000, 16},   // floor
		{5, 50 * time.Millisecond, reapRoundTarget, 5, 5},        // floor never above ReapBatch
	}
	for _, tt := range tests {
		if got := nextBatch(tt.batch, tt.d, tt.target, tt.max); got != tt.want {
			t.Errorf("nextBatch(%d, %v, %v, %d) = %d, want %d", tt.batch, tt.d, tt.target, tt.max, got, tt.want)
		}
	}
}

// TestRoundTargetFollowsWrites: rounds aim at half the target after
// request writes committed, at the full target otherwise.
func TestRoundTargetFollowsWrites(t *testing.T) {
	s := &Store{}
	p := &reapPass{s: s}
	if got := p.roundTarget(); got != reapRoundTarget {
		t.Fatalf("no writes: target %v, want %v", got, reapRoundTarget)
	}
	s.commits.Add(3)
	if got := p.roundTarget(); got != reapRoundTarget/2 {
		t.Fatalf("after commits: target %v, want %v", got, reapRoundTarget/2)
	}
	if got := p.roundTarget(); got != reapRoundTarget {
		t.Fatalf("no commits since: target %v, want %v", got, reapRoundTarget)
	}
}
