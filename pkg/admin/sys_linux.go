//go:build linux

package admin

import (
	"errors"
	"fmt"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// maxSocketPath is the longest socket path bind accepts: sun_path holds 108
// bytes on Linux, including the terminating NUL.
const maxSocketPath = len(unix.RawSockaddrUnix{}.Path) - 1

// listenControl runs on the unbound socket: the mode of a socket's inode,
// less the umask, becomes the mode of the file bind creates, so the file is
// never wider than SocketMode, not even before ListenSocket's chmod.
func listenControl(_, _ string, c syscall.RawConn) error {
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
}

// peerCred returns the uid and pid of the process at the other end of c,
// from SO_PEERCRED (the credentials it had when it connected).
func peerCred(c net.Conn) (peer, error) {
	// Only Unix sockets carry credentials: SO_PEERCRED on a TCP socket
	// reports the overflow uid (65534), which must not pass for a peer.
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return peer{}, fmt.Errorf("admin: a %T connection has no peer credentials (not a Unix socket)", c)
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return peer{}, fmt.Errorf("admin: peer credentials: %w", err)
	}
	var cred *unix.Ucred
	var cerr error
	if err := rc.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return peer{}, fmt.Errorf("admin: peer credentials: %w", err)
	}
	if cerr != nil {
		return peer{}, fmt.Errorf("admin: peer credentials: SO_PEERCRED: %w", cerr)
	}
	if cred == nil {
		return peer{}, errors.New("admin: peer credentials: none")
	}
	return peer{uid: int(cred.Uid), pid: int(cred.Pid), known: true}, nil
}
