package boltstore

import (
	"errors"
	"fmt"

	"github.com/sesbolt/sesbolt/pkg/boltstore/internal/boltfile"
)

// Errors returned by Open.
var (
	// ErrLocked is returned by Open when another process holds the database
	// file and the lock was not released within Options.LockTimeout. bbolt
	// locks the file exclusively while a store has it open, so while the
	// application runs, administer it through the admin socket the
	// application serves (admin.ServeSocket) instead of the file.
	ErrLocked = errors.New("boltstore: database is in use by another process")

	// ErrNotBolt is returned by Open when the file is not a bbolt database
	// at all (no valid bbolt meta page, or an unsupported bbolt format).
	ErrNotBolt = errors.New("boltstore: not a bbolt database file")

	// ErrCorrupt is returned when the file is a damaged bbolt database:
	// truncated, with invalid pages, or with a structure bbolt cannot read.
	// Open returns it for damage it can see cheaply; reads and writes return
	// it (instead of crashing) when they run into damage later. Restore
	// from a backup, or inspect the file with "sesctl check".
	ErrCorrupt = errors.New("boltstore: database file is corrupt")

	// ErrSchema is returned by Open when the file is a bbolt database but
	// not one this version of sesbolt understands: its meta bucket records a
	// newer schema version, or it has no sesbolt meta bucket at all (a bbolt
	// file of another application).
	ErrSchema = errors.New("boltstore: unsupported database schema")
)

// Errors returned by a store's methods.
var (
	// ErrReadOnly is returned by every method that writes (Apply, Delete,
	// DeleteUser, Purge, Import) when the store was opened with
	// Options.ReadOnly.
	ErrReadOnly = errors.New("boltstore: store is read-only")
)

// fileErr maps an error of package boltfile about the file at path to the
// store's: boltfile.ErrNotBolt to ErrNotBolt, boltfile.ErrDamaged to
// ErrCorrupt, with boltfile's reason; an I/O error is wrapped as it is.
func fileErr(path string, err error) error {
	fe, ok := errors.AsType[*boltfile.Error](err)
	switch {
	case !ok:
		return fmt.Errorf("boltstore: %s: %w", path, err)
	case errors.Is(fe.Kind, boltfile.ErrNotBolt):
		return fmt.Errorf("%w: %s: %s", ErrNotBolt, path, fe.Reason)
	}
	return fmt.Errorf("%w: %s: %s", ErrCorrupt, path, fe.Reason)
}
