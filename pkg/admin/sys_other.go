//go:build unix && !linux && !darwin

package admin

import (
	"fmt"
	"net"
	"runtime"
)

// socketsSupported: the socket is offered, but every peer is refused
// (peerCred).
const socketsSupported = true

// maxSocketPath is the longest socket path accepted: 103 bytes, what the
// BSDs allow (sun_path holds 104 bytes including the NUL), the smallest
// limit among the Unix systems Go supports.
const maxSocketPath = 103

// listenUnix binds the socket at path through a private directory: the
// BSDs refuse fchmod on a socket (see listenPrivate).
func listenUnix(path string) (*net.UnixListener, error) { return listenPrivate(path) }

// peerCred fails: this build does not read peer credentials, so Serve
// refuses every peer (fail closed) rather than serve one it cannot check.
func peerCred(net.Conn) (peer, error) {
	return peer{}, fmt.Errorf("admin: peer credentials are not checked on %s; the admin socket refuses every connection there", runtime.GOOS)
}
