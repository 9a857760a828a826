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
	first, again := c.Add(extra), c.Add(extra)
	if !first || !again {
		t.Fatal("an id beyond MaxRemembered counts every time")
	}
	if want := int64(2 + sealcount.MaxRemembered + 2); c.Count() != want {
		t.Fatalf("Count = %d, want %d", c.Count(), want)
	}
}

func TestQueue(t *testing.T) {
	var q sealcount.Queue
	var got []session.ID
	q.Drain(func(id session.ID) { got = append(got, id) })
	if len(got) != 0 {
		t.Fatalf("an empty queue delivered %v", got)
	}
	a, b := session.NewID(), session.NewID()
	q.Push(a)
	q.Push(b)
	q.Drain(func(id session.ID) { got = append(got, id) })
	if len(got) != 2 || got[0] != a || got[1] != b {
		t.Fatalf("Drain delivered %v, want [%v %v] in push order", got, a, b)
	}
	q.Drain(func(id session.ID) { got = append(got, id) })
	if len(got) != 2 {
		t.Fatalf("a drained queue delivered again: %v", got)
	}
	q.Push(a)
	q.Drain(nil) // empties without delivering
	q.Drain(func(id session.ID) { got = append(got, id) })
	if len(got) != 2 {
		t.Fatalf("Drain(nil) left %v queued", got[2:])
	}
}

func TestFailures(t *testing.T) {
	var got []session.ID
	f := sealcount.Failures{Report: func(id session.ID) { got = append(got, id) }}
	a, b := session.NewID(), session.NewID()
	if !f.Add(a) || f.Add(a) || !f.Add(b) {
		t.Fatal("Add: each id counts once")
	}
	if len(got) != 0 {
		t.Fatalf("Add reported %v before Deliver", got)
	}
	f.Deliver()
	if len(got) != 2 || got[0] != a || got[1] != b {
		t.Fatalf("Deliver reported %v, want [%v %v] once each, in order", got, a, b)
	}
	f.Deliver()
	if len(got) != 2 {
		t.Fatalf("a second Deliver reported again: %v", got)
	}
	if f.Count() != 2 {
		t.Fatalf("Count = %d, want 2", f.Count())
	}

	// Without Report, failures are counted and nothing is queued.
	var quiet sealcount.Failures
	if !quiet.Add(a) || quiet.Count() != 1 {
		t.Fatal("a Failures without Report counts")
	}
	quiet.Report = func(id session.ID) { t.Errorf("reported %v, counted while no one listened", id) }
	quiet.Deliver()
}
