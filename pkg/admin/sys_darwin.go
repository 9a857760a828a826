//go:build darwin

package admin

import (
	"errors"
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// socketsSupported: macOS reads peer credentials (LOCAL_PEERCRED).
const socketsSupported = true

// maxSocketPath is the longest socket path bind accepts: sun_path holds 104
// bytes on macOS, including the terminating NUL.
const maxSocketPath = len(unix.RawSockaddrUnix{}.Path) - 1

// xucredVersion is XUCRED_VERSION of <sys/ucred.h>, the only layout of
// struct xucred there is.
const xucredVersion = 0

// listenUnix binds the socket at path through a private directory:
// macOS refuses fchmod on a socket (see listenPrivate).
func listenUnix(path string) (*net.UnixListener, error) { return listenPrivate(path) }

// peerCred returns the uid of the process at the other end of c, from
// LOCAL_PEERCRED (the credentials it had when it connected), and its pid
// from LOCAL_PEERPID (0 when that fails: the pid is only logged).
func peerCred(c net.Conn) (peer, error) {
	var cred *unix.Xucred
	pid := 0
	err := controlUnixConn(c, func(fd int) (err error) {
		cred, err = unix.GetsockoptXucred(fd, unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
		if err != nil {
			return fmt.Errorf("LOCAL_PEERCRED: %w", err)
		}
		if p, err := unix.GetsockoptInt(fd, unix.SOL_LOCAL, unix.LOCAL_PEERPID); err == nil {
			pid = p
		}
		return nil
	})
	if err != nil {
		return peer{}, err
	}
	if cred == nil || cred.Version != xucredVersion {
		return peer{}, errors.New("admin: peer credentials: none, or of an unknown version")
	}
	return peer{uid: int(cred.Uid), pid: pid, known: true}, nil
}
