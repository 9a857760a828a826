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
	s.failed(what, err)
	return err
}

// update runs fn in a write transaction under guard. An error from fn rolls
// the transaction back and is returned as is; a system error is reported
// to the observer (Failed) under what.
func (s *Store) update(what string, fn func(*bolt.Tx) error) error {
	err := s.guard(what, func() error { return boltErr(what, s.db.Update(fn)) })
	s.failed(what, err)
	return err
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
