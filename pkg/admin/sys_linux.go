//go:build linux

package admin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// socketsSupported: Linux reads peer credentials (SO_PEERCRED).
const socketsSupported = true

// maxSocketPath is the longest socket path bind accepts: sun_path holds 108
// bytes on Linux, including the terminating NUL.
const maxSocketPath = len(unix.RawSockaddrUnix{}.Path) - 1

// listenUnix binds the socket at path. Its inode gets mode SocketMode
// before bind: the mode of a socket's inode, less the umask, becomes the
// mode of the file bind creates, so the file is never wider, not even
// before ListenSocket's chmod.
func listenUnix(path string) (*net.UnixListener, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var ferr error
		if err := c.Control(func(fd uintptr) {
			ferr = unix.Fchmod(int(fd), uint32(SocketMode))
		}); err != nil {
			return err
		}
		if ferr != nil {
			return fmt.Errorf("admin: fchmod on the unbound socket: %w", ferr)
		}
		return nil
	}}
	l, err := lc.Listen(context.Background(), "unix", path)
	if err != nil {
		return nil, err
	}
	return l.(*net.UnixListener), nil
}

// peerCred returns the uid and pid of the process at the other end of c,
// from SO_PEERCRED (the credentials it had when it connected).
func peerCred(c net.Conn) (peer, error) {
	var cred *unix.Ucred
	err := controlUnixConn(c, func(fd int) (err error) {
		cred, err = unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
		if err != nil {
			return fmt.Errorf("SO_PEERCRED: %w", err)
		}
		return nil
	})
	if err != nil {
		return peer{}, err
	}
	if cred == nil {
		return peer{}, errors.New("admin: peer credentials: none")
	}
	return peer{uid: int(cred.Uid), pid: int(cred.Pid), known: true}, nil
}
