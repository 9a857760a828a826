package sealcount_test

import (
	"testing"

	"github.com/sesbolt/sesbolt/internal/sealcount"
	"github.com/sesbolt/sesbolt/pkg/session"
)

func TestCounter(t *testing.T) {
	var c sealcount.Counter
	a, b := session.NewID(), session.NewID()
	if !c.Add(a) || c.Add(a) || !c.Add(b) || c.Add(b) {
		t.Fatal("Add: each id counts once")
	}
	if c.Count() != 2 {
		t.Fatalf("Count = %d, want 2", c.Count())
	}
	// Beyond MaxRemembered ids, repeated failures of a forgotten id count.
	for range sealcount.MaxRemembered {
		c.Add(session.NewID())
	}
	extra := session.NewID()
	if !c.Add(extra) || !c.Add(extra) {
		t.Fatal("an id beyond MaxRemembered counts every time")
	}
	if want := int64(2 + sealcount.MaxRemembered + 2); c.Count() != want {
		t.Fatalf("Count = %d, want %d", c.Count(), want)
	}
}
