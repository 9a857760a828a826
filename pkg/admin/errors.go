package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// Errors returned by Client besides the session sentinels it maps the
// server's error codes to (see Error).
var (
	// ErrUnavailable is returned by Client when it cannot reach the admin
	// server at all: no socket file at the path, nothing listening on it (the
	// application is not running, or a crash left a stale socket), or the
	// dial timed out. Nothing was sent, so nothing changed.
	ErrUnavailable = errors.New("admin: server unavailable")

	// ErrForbidden is returned by Client when the server refuses this
	// process: the socket file's permissions deny it (it is mode 0600, so
	// only its owner and root may connect), or the server's peer-credential
	// check rejected this process's uid (code "forbidden").
	ErrForbidden = errors.New("admin: permission denied")

	// ErrProtocol is returned by Client when the answer is not this API: an
	// unknown route or method (a server of another version, or a base URL
	// that points elsewhere), an unknown error code, or a malformed response.
	ErrProtocol = errors.New("admin: protocol error")

	// ErrTruncated is returned by Client.Backup when the copy is incomplete:
	// the server reported a failure after the first byte (the
	// Sesbolt-Backup-Error trailer), the byte count differs from the
	// Sesbolt-Backup-Bytes trailer, or the trailer is missing. The bytes
	// already written to the destination are not a usable backup.
	ErrTruncated = errors.New("admin: backup truncated")
)

// Errors returned by ListenSocket and ServeSocket. Each is wrapped with
// the path.
var (
	// ErrSocketInUse is returned by ListenSocket when a live server already
	// answers on the path (another instance of the application holds it).
	// The socket is left alone.
	ErrSocketInUse = errors.New("admin: admin socket in use")

	// ErrNotSocket is returned by ListenSocket when something other than a
	// Unix socket (a regular file, a directory, a symbolic link) exists at
	// the path. It is never removed.
	ErrNotSocket = errors.New("admin: not a socket")

	// ErrSocketPath is returned by ListenSocket for a path no Unix socket
	// can be bound to: an empty path, a Linux abstract name (starting with
	// "@"), or a path longer than the operating system allows (107 bytes on
	// Linux: sun_path holds 108 bytes including the terminating NUL).
	ErrSocketPath = errors.New("admin: invalid socket path")

	// ErrSocketUnsupported is returned by ListenSocket and ServeSocket on
	// systems where the admin socket cannot be offered safely: on Windows a
	// Unix socket carries no peer credentials, so its peers cannot be
	// checked. Administer the store with sesctl while the application is
	// stopped there, or mount NewHandler behind the application's own
	// authentication.
	ErrSocketUnsupported = errors.New("admin: the admin socket is not supported on this system")
)

// Error is an error reported by the admin API: the body of a non-2xx
// response, {"error":{"code":...,"message":...}}. Client returns it for
// every answer the server gave; errors.Is sees through it to the sentinel
// of its Code:
//
//	not_found          404  session.ErrNotFound
//	invalid            400  session.ErrInvalid
//	invalid_id         400  session.ErrInvalidID and session.ErrInvalid
//	exists             409  session.ErrExists
//	too_large          413  session.ErrTooLarge
//	not_supported      501  session.ErrNotSupported
//	closed             503  session.ErrClosed
//	forbidden          403  ErrForbidden
//	canceled           503  context.Canceled
//	timeout            504  context.DeadlineExceeded
//	no_route           404  ErrProtocol
//	method_not_allowed 405  ErrProtocol
//	unsupported_media_type 415 ErrProtocol
//	internal           500  (none)
//
// Any other code unwraps to ErrProtocol.
type Error struct {
	// Status is the HTTP status code of the response.
	Status int `json:"-"`
	// Code is the stable, machine-readable error code.
	Code string `json:"code"`
	// Message is a human-readable description from the server.
	Message string `json:"message"`
}

// Error returns the server's message, or the code and status when the
// message is empty.
func (e *Error) Error() string {
	if e.Message != "" {
		return e.Message
	}
	return fmt.Sprintf("admin: %s (HTTP %d)", e.Code, e.Status)
}

// Unwrap returns the sentinels e.Code stands for (see Error), so that
// errors.Is(err, session.ErrNotFound) works through a Client.
func (e *Error) Unwrap() []error {
	for _, c := range codes {
		if c.code == e.Code {
			return c.errs
		}
	}
	if e.Code == codeInternal {
		return nil
	}
	return []error{ErrProtocol}
}

// Error codes of the wire format (see docs/admin-api.md).
const (
	codeNotFound         = "not_found"
	codeInvalid          = "invalid"
	codeInvalidID        = "invalid_id"
	codeExists           = "exists"
	codeTooLarge         = "too_large"
	codeNotSupported     = "not_supported"
	codeClosed           = "closed"
	codeForbidden        = "forbidden"
	codeCanceled         = "canceled"
	codeTimeout          = "timeout"
	codeNoRoute          = "no_route"
	codeMethodNotAllowed = "method_not_allowed"
	codeUnsupportedMedia = "unsupported_media_type"
	codeInternal         = "internal"
)

// codes maps error codes to HTTP statuses and sentinels, in the order the
// handler tests a Service error against them: the first sentinel of the
// first entry that matches names the code.
var codes = []struct {
	code   string
	status int
	errs   []error
}{
	{codeNotFound, http.StatusNotFound, []error{session.ErrNotFound}},
	{codeInvalid, http.StatusBadRequest, []error{session.ErrInvalid}},
	{codeInvalidID, http.StatusBadRequest, []error{session.ErrInvalidID, session.ErrInvalid}},
	{codeExists, http.StatusConflict, []error{session.ErrExists}},
	{codeTooLarge, http.StatusRequestEntityTooLarge, []error{session.ErrTooLarge}},
	{codeNotSupported, http.StatusNotImplemented, []error{session.ErrNotSupported}},
	{codeClosed, http.StatusServiceUnavailable, []error{session.ErrClosed}},
	{codeForbidden, http.StatusForbidden, []error{ErrForbidden}},
	{codeCanceled, http.StatusServiceUnavailable, []error{context.Canceled}},
	{codeTimeout, http.StatusGatewayTimeout, []error{context.DeadlineExceeded}},
}

// apiError returns an *Error with the given status, code and message.
func apiError(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// classify returns the status and code the handler answers err with.
func classify(err error) (int, string) {
	var ae *Error
	if errors.As(err, &ae) && ae.Code != "" && ae.Status >= 400 && ae.Status <= 599 {
		return ae.Status, ae.Code // also passes on the errors of a proxied Client
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge, codeTooLarge
	}
	for _, c := range codes {
		if errors.Is(err, c.errs[0]) {
			return c.status, c.code
		}
	}
	return http.StatusInternalServerError, codeInternal
}
