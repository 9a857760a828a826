//go:build !linux

package admin

import (
	"fmt"
	"net"
	"runtime"
	"syscall"
)

// maxSocketPath is the longest socket path accepted: 103 bytes, what the
// BSDs and macOS allow (sun_path holds 104 bytes including the NUL), the
// smallest limit among the systems Go supports Unix sockets on.
const maxSocketPath = 103

// listenControl is nil: the pre-bind fchmod is a Linux behaviour, so other
// systems rely on ListenSocket's chmod after bind.
var listenControl func(network, address string, c syscall.RawConn) error

// peerCred fails: this build does not read peer credentials, so Serve
// refuses every peer (fail closed) rather than serve one it cannot check.
func peerCred(net.Conn) (peer, error) {
	return peer{}, fmt.Errorf("admin: peer credentials are not checked on %s; the admin socket refuses every connection there", runtime.GOOS)
}
