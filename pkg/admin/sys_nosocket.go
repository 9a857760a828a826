//go:build !unix

package admin

import (
	"fmt"
	"net"
	"runtime"
)

// socketsSupported: a Unix socket on Windows carries no peer credentials,
// so the admin socket is not offered (ListenSocket fails with
// ErrSocketUnsupported).
const socketsSupported = false

// maxSocketPath is the longest socket path Windows accepts (sun_path holds
// 108 bytes including the NUL); ListenSocket fails before it matters.
const maxSocketPath = 107

// listenUnix is never reached: ListenSocket fails first.
func listenUnix(string) (*net.UnixListener, error) {
	return nil, fmt.Errorf("%w (%s)", ErrSocketUnsupported, runtime.GOOS)
}

// peerCred fails: Serve refuses every peer on this system.
func peerCred(net.Conn) (peer, error) {
	return peer{}, fmt.Errorf("admin: peer credentials cannot be read on %s; every connection is refused", runtime.GOOS)
}
