//go:build unix

package admin

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
)

// listenPrivate binds a Unix socket at path without the file ever being
// reachable with a wider mode than SocketMode, on systems that refuse
// fchmod on a socket (macOS, the BSDs): it binds the socket inside a new
// directory of mode 0700 beside path, sets the socket's mode there, and
// links it to path. link fails if path exists, as bind would. Only then
// can a client reach the socket, by path; the directory is removed.
func listenPrivate(path string) (*net.UnixListener, error) {
	dir, err := os.MkdirTemp(filepath.Dir(path), ".s")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir) // empty once the socket is linked and unlinked
	tmp := filepath.Join(dir, "s")
	if len(tmp) > maxSocketPath {
		return nil, fmt.Errorf("%w: the temporary socket %q is longer than the %d bytes a Unix socket path may have on this system; choose a shorter socket path",
			ErrSocketPath, tmp, maxSocketPath)
	}
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, err
	}
	ul.SetUnlinkOnClose(false)
	if err := os.Chmod(tmp, SocketMode); err != nil {
		_ = ul.Close()
		return nil, err
	}
	if err := os.Link(tmp, path); err != nil {
		_ = ul.Close()
		return nil, err
	}
	return ul, nil
}
