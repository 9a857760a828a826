package redisstore

import "errors"

// Errors returned by New.
var (
	// ErrConfig is returned by New for options or a client it cannot work
	// with: a prefix containing a brace, or a go-redis client without
	// ContextTimeoutEnabled (go-redis then ignores the deadlines of the
	// contexts it is given, and a request could wait on a hung Redis for
	// the client's read timeout times its retries); and by NewClient for
	// a malformed URL.
	ErrConfig = errors.New("redisstore: invalid configuration")

	// ErrSchema is returned by New when the keys under the prefix are not
	// a sesbolt store this version understands: another application's
	// data, or a newer schema. Choose another prefix, or upgrade sesbolt.
	ErrSchema = errors.New("redisstore: unsupported data under the prefix")

	// ErrNoStore is returned by New with Options.MustExist when no store
	// was ever opened for writing under the prefix: the prefix (or the
	// Redis) is probably not the application's.
	ErrNoStore = errors.New("redisstore: no session store under the prefix")
)

// Errors returned by a store's methods.
var (
	// ErrConflict is returned when a change of one session met a
	// concurrent change in every one of its Options.MaxAttempts attempts.
	// Nothing was written; the caller may retry later.
	ErrConflict = errors.New("redisstore: too many concurrent changes of one session")

	// ErrReadOnly is returned by every method that writes (Apply, Delete,
	// DeleteUser, Purge, Import) when the store was made with
	// Options.ReadOnly.
	ErrReadOnly = errors.New("redisstore: store is read-only")

	// ErrRedis wraps every failure to talk to Redis (a connection refused
	// or lost, a timeout, an error reply): the operation may or may not
	// have taken effect. The underlying error is wrapped too, so
	// errors.Is(err, context.DeadlineExceeded) holds for a deadline that
	// passed.
	ErrRedis = errors.New("redisstore: redis")
)
