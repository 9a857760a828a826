package boltfile

import "errors"

// Errors of a file this package refuses, wrapped by an *Error.
var (
	// ErrNotBolt is returned when the file is not a bbolt database: no
	// valid meta page, not a regular file, or another bbolt format version.
	ErrNotBolt = errors.New("boltfile: not a bbolt file")

	// ErrDamaged is returned when the file is a bbolt database with damage
	// bbolt would trip over: both meta pages failing their checksum, pages
	// beyond the end of the file, a broken freelist.
	ErrDamaged = errors.New("boltfile: damaged bbolt file")
)

// Error is a problem found in a file. Its Error is Kind's message and the
// Reason; errors.Is(err, Kind) holds.
type Error struct {
	Kind   error  // ErrNotBolt or ErrDamaged
	Reason string // what is wrong, for people, without Kind's message
}

// Error returns Kind's message, a colon and the Reason.
func (e *Error) Error() string { return e.Kind.Error() + ": " + e.Reason }

// Unwrap returns Kind.
func (e *Error) Unwrap() error { return e.Kind }

func notBolt(reason string) error { return &Error{ErrNotBolt, reason} }

func damaged(reason string) error { return &Error{ErrDamaged, reason} }
