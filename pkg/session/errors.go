package session

import (
	"errors"
	"fmt"
)

// Errors returned by stores.
var (
	// ErrNotFound is returned by Store.Load, Store.Apply and admin lookups when
	// no live session has the ID: it never existed, it expired, it was deleted,
	// or its stored record failed an integrity check.
	ErrNotFound = errors.New("session: not found")

	// ErrRenewed is returned (wrapped) by Store.Load and Store.Apply for an
	// ID that a renew (Change.NewID, Session.Login, Session.Renew) moved
	// away from less than RenewGrace ago. It wraps ErrNotFound, so
	// errors.Is(err, ErrNotFound) holds as well and callers that only know
	// ErrNotFound stay correct. It tells nothing about the new ID.
	ErrRenewed = fmt.Errorf("%w (renewed to another id)", ErrNotFound)

	// ErrExists is returned by Store.Apply when a change creates or renews a
	// session under an ID that is already stored. With random 128-bit IDs it
	// signals a bug, not bad luck.
	ErrExists = errors.New("session: id already exists")

	// ErrNotSupported is returned when a store lacks an optional ability
	// (per-user index, listing, stats, purge).
	ErrNotSupported = errors.New("session: not supported by this store")

	// ErrTooLarge is returned by Store.Apply when the resulting record would
	// exceed the store's size limit. The stored record is unchanged.
	ErrTooLarge = errors.New("session: record too large")

	// ErrClosed is returned by a store used after Close.
	ErrClosed = errors.New("session: store closed")

	// ErrInvalid is returned for a malformed Change, ListQuery or record
	// (a zero id, invalid JSON data, an unknown filter). Retrying the same
	// input fails the same way.
	ErrInvalid = errors.New("session: invalid input")
)

// Errors about identifiers and values.
var (
	// ErrInvalidID is returned when a string is not a canonical session ID.
	ErrInvalidID = errors.New("session: invalid session id")

	// ErrInvalidKey is returned by Set, Delete and Pop for an empty key.
	ErrInvalidKey = errors.New("session: invalid data key")

	// ErrEncode is returned by Session.Set when a value cannot be encoded as
	// JSON (a channel, a function, a NaN, a cyclic structure, ...).
	ErrEncode = errors.New("session: value cannot be encoded as JSON")

	// ErrDestroyed is returned by Session methods that change data after the
	// session was destroyed in this request.
	ErrDestroyed = errors.New("session: session destroyed")

	// ErrAlreadySaved is returned by Session methods that change the
	// session after the Manager saved it (the response had started): the
	// change cannot reach the store or the cookie and is dropped. Methods
	// without an error result log it instead; see Session.
	ErrAlreadySaved = errors.New("session: changed after the session was saved (the response had started)")
)

// Errors about configuration and keys.
var (
	// ErrConfig is wrapped by every error New returns for a bad Config.
	ErrConfig = errors.New("session: invalid config")

	// ErrNoKeys is returned when a keyring would have no key.
	ErrNoKeys = errors.New("session: keyring has no key")

	// ErrShortKey is returned for a key shorter than MinKeySize bytes.
	ErrShortKey = errors.New("session: key too short")
)
