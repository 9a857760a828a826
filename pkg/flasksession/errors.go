package flasksession

import "errors"

// Errors about signed values.
var (
	// ErrBadSignature is returned by Signer.Unsign for a value that no
	// secret of the signer signed: no separator, a signature of the wrong
	// length or encoding, or one that does not match. It never says which.
	ErrBadSignature = errors.New("flasksession: bad signature")
)

// Errors about secrets.
var (
	// ErrNoSecret is returned when a signer would have no secret, or a
	// secret is empty (Flask refuses to sign sessions without one).
	ErrNoSecret = errors.New("flasksession: no secret")
)
