package boltstore

import (
	"errors"
	"fmt"
	"runtime/debug"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// bbolt has no page checksums and trusts the file: a damaged page makes it
// panic (assertions, index out of range) or fault (a page id beyond the
// memory map). guard turns both into errors wrapping ErrCorrupt for code
// running on the calling goroutine, so a damaged file never takes the
// process down through the store's own calls.

// guard runs fn with memory faults turned into panics (debug.SetPanicOnFault)
// and any panic turned into an error wrapping ErrCorrupt.
func (s *Store) guard(what string, fn func() error) (err error) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %s: %v", ErrCorrupt, what, r)
			if s != nil && s.log != nil {
				s.log.Error("boltstore: recovered from a panic reading the database; the file may be damaged",
					"op", what, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			}
		}
		debug.SetPanicOnFault(old)
	}()
	return fn()
}

// view runs fn in a read transaction under guard. A system error is
// reported to the observer (Failed) under what.
func (s *Store) view(what string, fn func(*bolt.Tx) error) error {
	err := s.guard(what, func() error { return boltErr(what, s.db.View(fn)) })
	s.metDamage(err)
	s.failed(what, err)
	return err
}

// update runs fn in a write transaction under guard. An error from fn rolls
// the transaction back and is returned as is; a system error is reported
// to the observer (Failed) under what.
func (s *Store) update(what string, fn func(*bolt.Tx) error) error {
	err := s.guard(what, func() error { return boltErr(what, s.write(fn)) })
	s.metDamage(err)
	s.failed(what, err)
	return err
}

// metDamage makes later write transactions store the freelist again when
// err says a damaged page was met (see write).
func (s *Store) metDamage(err error) {
	if errors.Is(err, ErrCorrupt) {
		s.freelistSync.Store(true)
	}
}

// write runs fn in a write transaction it begins, commits and rolls back
// itself, and panics on if fn or the commit panicked (guard recovers).
//
// Not bbolt's DB.Update: that rolls a panicking transaction back with
// Tx.rollback, which reloads the freelist, and without a stored one
// (NoFreelistSync, see openDB) rebuilds it by checking every page on a
// goroutine of its own, where a damaged page (the likely cause of the
// panic) crashes the process. Tx.Rollback only forgets the transaction's
// pending frees; pages are allocated in Commit only, so a transaction
// that panics before Commit loses none. Commit's own failures (I/O errors)
// still reload the freelist by a scan, on a file Open walked when it had
// no stored freelist (see doc.go, # Damaged files).
//
// Once s.freelistSync is set (Close, or a damaged page met) the
// transaction writes the freelist again, so that a later failed commit
// reloads it from its page instead of scanning the file.
func (s *Store) write(fn func(*bolt.Tx) error) error {
	tx, err := s.db.Begin(true)
	if err != nil {
		return err
	}
	defer func() {
		if r := recover(); r != nil {
			_ = tx.Rollback() // ErrTxClosed when Commit got that far
			panic(r)
		}
	}()
	if s.freelistSync.Load() {
		s.db.NoFreelistSync = false // read by Commit, under the write lock this tx holds
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// boltErr maps bbolt's errors to the store's: a closed database is
// session.ErrClosed, a read-only one ErrReadOnly; others are wrapped with the
// operation. Errors of the store's own (already prefixed) pass through.
func boltErr(what string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, berrors.ErrDatabaseNotOpen), errors.Is(err, berrors.ErrTxClosed):
		return session.ErrClosed
	case errors.Is(err, berrors.ErrDatabaseReadOnly), errors.Is(err, berrors.ErrTxNotWritable):
		return ErrReadOnly
	case isOwnError(err):
		return err
	}
	return fmt.Errorf("boltstore: %s: %w", what, err)
}

// isOwnError reports whether err already carries a store or session sentinel.
func isOwnError(err error) bool {
	for _, e := range []error{session.ErrNotFound, session.ErrExists, session.ErrTooLarge,
		session.ErrClosed, ErrCorrupt, ErrReadOnly, ErrSchema, errAbort} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
