package boltstore

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/sesbolt/sesbolt/pkg/session"
	"github.com/sesbolt/sesbolt/pkg/session/sessiontest"
)

// TestCommitIsolatesOps commits one group of operations of every outcome:
// applied, rejected (failed before writing), failed halfway through its
// writes, and panicking. Each gets its own outcome; the halfway failures
// leave nothing behind, and only they cost the group a rerun.
func TestCommitIsolatesOps(t *testing.T) {
	s := openInternal(t, filepath.Join(t.TempDir(), "s.db"), false)
	ctx, now := context.Background(), sessiontest.Base()
	create := func(r *session.Record) func(*txn) error {
		return func(t *txn) error {
			_, err := t.apply(sessiontest.CreateChange(r), nil)
			return err
		}
	}
	recs := make([]*session.Record, 4)
	for i := range recs {
		recs[i] = sessiontest.NewRecord(session.NewID(), "", now)
	}
	errHalfway, errOwn := errors.New("failed halfway"), errors.New("failed before writing")
	runs := 0
	ops := []*op{
		newOp(func(t *txn) error { runs++; return create(recs[0])(t) }),
		newOp(func(t *txn) error { // writes, then fails
			if err := create(recs[1])(t); err != nil {
				return err
			}
			return errHalfway
		}),
		newOp(func(*txn) error { return reject(errOwn) }),
		newOp(func(t *txn) error { // writes, then panics
			if err := create(recs[2])(t); err != nil {
				return err
			}
			panic("a damaged page")
		}),
		newOp(create(recs[3])),
	}
	before := s.commits.Load()
	s.commit(ops)
	if got := s.commits.Load() - before; got != 3 {
		t.Errorf("the group took %d transactions; want 3 (one, then one more per halfway failure)", got)
	}
	if runs != 3 {
		t.Errorf("the first operation ran %d times; want 3 (once per transaction)", runs)
	}
	for i, want := range []error{nil, errHalfway, errOwn, ErrCorrupt, nil} {
		select {
		case <-ops[i].done:
		default:
			t.Fatalf("op %d: done is not closed", i)
		}
		if err := ops[i].err; want == nil && err != nil || want != nil && !errors.Is(err, want) {
			t.Errorf("op %d: err = %v; want %v", i, err, want)
		}
	}
	for i, stored := range []bool{true, false, false, true} {
		_, err := s.Load(ctx, recs[i].ID, now)
		if stored && err != nil || !stored && !errors.Is(err, session.ErrNotFound) {
			t.Errorf("record %d: Load = %v; want it stored: %v", i, err, stored)
		}
	}

	// A rejection alone costs no rerun.
	r := sessiontest.NewRecord(session.NewID(), "", now)
	before = s.commits.Load()
	ops = []*op{newOp(func(*txn) error { return reject(errOwn) }), newOp(create(r))}
	s.commit(ops)
	if got := s.commits.Load() - before; got != 1 {
		t.Errorf("a group with a rejected operation took %d transactions; want 1", got)
	}
	if !errors.Is(ops[0].err, errOwn) || ops[1].err != nil {
		t.Errorf("errors %v, %v; want %v, nil", ops[0].err, ops[1].err, errOwn)
	}
	if _, err := s.Load(ctx, r.ID, now); err != nil {
		t.Errorf("the record committed with a rejected operation: %v", err)
	}
}
