package session

import (
	"fmt"

	"github.com/google/uuid"
)

// ID identifies a session: the 16 bytes of a random (version 4) UUID. The raw
// bytes are the database key; String gives the canonical form that sesctl and
// the admin API show. The zero ID is never issued and means "no session".
type ID [16]byte

// NewID returns a fresh random ID from crypto/rand. It panics only if the
// operating system's random source fails, which Go treats as fatal anyway.
func NewID() ID {
	return ID(uuid.New())
}

// ParseID parses the canonical 36-character UUID form (as printed by String).
// It returns an error wrapping ErrInvalidID for anything else, including the
// zero UUID.
func ParseID(s string) (ID, error) {
	if len(s) != 36 {
		return ID{}, fmt.Errorf("%w: %q is not a 36-character UUID", ErrInvalidID, s)
	}
	u, err := uuid.Parse(s)
	if err != nil {
		return ID{}, fmt.Errorf("%w: %q: %w", ErrInvalidID, s, err)
	}
	if u == uuid.Nil {
		return ID{}, fmt.Errorf("%w: the zero UUID is not a session id", ErrInvalidID)
	}
	return ID(u), nil
}

// String returns the canonical lower-case UUID form,
// e.g. "0f8e4d2c-5b1a-4c3e-9d7f-2a6b8c0e1f34".
func (id ID) String() string { return uuid.UUID(id).String() }

// IsZero reports whether id is the zero ID.
func (id ID) IsZero() bool { return id == ID{} }

// MarshalText encodes the ID in its canonical form.
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText parses the canonical form; see ParseID.
func (id *ID) UnmarshalText(b []byte) error {
	v, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}
