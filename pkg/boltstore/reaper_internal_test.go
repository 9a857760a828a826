package boltstore

import (
	"testing"
	"time"
)

func TestNextBatch(t *testing.T) {
	tests := []struct {
		batch int
		d     time.Duration
		max   int
		want  int
	}{
		{128, 30 * time.Millisecond, 1000, 64},  // overshoot: halve
		{128, 7 * time.Millisecond, 1000, 128},  // near target: keep
		{128, 1 * time.Millisecond, 1000, 193},  // fast: grow by half
		{900, 1 * time.Millisecond, 1000, 1000}, // capped at ReapBatch
		{20, 50 * time.Millisecond, 1000, 16},   // floor
		{5, 50 * time.Millisecond, 5, 5},        // floor never above ReapBatch
	}
	for _, tt := range tests {
		if got := nextBatch(tt.batch, tt.d, tt.max); got != tt.want {
			t.Errorf("nextBatch(%d, %v, %d) = %d, want %d", tt.batch, tt.d, tt.max, got, tt.want)
		}
	}
}
