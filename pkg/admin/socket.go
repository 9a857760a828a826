package admin

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
)

// SocketMode is the permission of the admin socket file: only its owner
// (the application's user) may connect; root may anyway.
const SocketMode fs.FileMode = 0o600

// SocketSuffix is what ServeSocket appends to a store's file path to name
// its socket by default, and where sesctl --db FILE looks: FILE.sock.
const SocketSuffix = ".sock"

// ListenSocket creates the admin socket at path and returns its listener,
// for Serve. The socket file has mode SocketMode (0600) whatever the umask,
// and it is never wider at any instant. On Linux the socket's inode gets
// mode 0600 before bind creates the file (an fchmod on the unbound socket,
// which bind combines with the umask), and a chmod after bind makes the
// mode exactly 0600 even under a stricter umask. On macOS and the BSDs,
// which refuse fchmod on a socket, the socket is bound inside a new
// private directory (mode 0700) beside path, set to 0600 there, and then
// linked to path, which fails like bind if path exists meanwhile. Both
// beat the alternatives: changing the process-wide umask would race with
// every other goroutine creating files, and a chmod after bind alone
// leaves a window in which the file has the umask's mode (often 0755, or
// 0777 under umask 0).
//
// An existing file at path is handled as follows:
//   - a socket nobody answers on (connect fails with "connection refused",
//     as after a crash) is removed and replaced;
//   - a socket a live server answers on fails with ErrSocketInUse;
//   - anything else (a regular file, a directory, a symbolic link) fails
//     with ErrNotSocket and is left untouched.
//
// An empty path, a Linux abstract name ("@...") or a path longer than a
// Unix socket address holds (107 bytes on Linux, 103 on macOS) fails with
// ErrSocketPath. On Windows, where a Unix socket carries no peer
// credentials, ListenSocket fails with ErrSocketUnsupported. Closing the
// returned listener removes the socket file, unless another file has
// replaced it meanwhile. The listener's Addr is path.
func ListenSocket(path string) (net.Listener, error) {
	switch {
	case !socketsSupported:
		return nil, fmt.Errorf("%w (%s): administer the store with sesctl while the application is stopped, "+
			"or mount admin.NewHandler behind the application's own authentication", ErrSocketUnsupported, runtime.GOOS)
	case path == "":
		return nil, fmt.Errorf("%w: empty path", ErrSocketPath)
	case strings.HasPrefix(path, "@"):
		return nil, fmt.Errorf("%w: %q: abstract socket names are not supported (use ./%s for a file)", ErrSocketPath, path, path)
	case len(path) > maxSocketPath:
		return nil, fmt.Errorf("%w: %q is %d bytes, longer than the %d bytes a Unix socket path may have on this system; choose a shorter socket path",
			ErrSocketPath, path, len(path), maxSocketPath)
	}
	if err := clearStale(path); err != nil {
		return nil, err
	}
	ul, err := listenUnix(path)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) || errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("%w: %s: %w", ErrSocketInUse, path, err)
		}
		return nil, fmt.Errorf("admin: listening on %s: %w", path, err)
	}
	ul.SetUnlinkOnClose(false) // removed by socketListener.Close if still ours
	fi, err := os.Lstat(path)
	if err == nil {
		err = os.Chmod(path, SocketMode)
	}
	if err != nil {
		_ = ul.Close()
		_ = os.Remove(path)
		return nil, fmt.Errorf("admin: setting the mode of %s: %w", path, err)
	}
	return &socketListener{UnixListener: ul, path: path, fi: fi}, nil
}

// clearStale removes a stale socket at path and fails for a live one or a
// file that is not a socket. A missing path is fine.
func clearStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("admin: checking %s: %w", path, err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("%w: %s exists and is a %s, not a socket; it was left alone (remove it or choose another socket path)",
			ErrNotSocket, path, describeMode(fi.Mode()))
	}
	c, err := net.DialTimeout("unix", path, DefaultDialTimeout)
	if err == nil {
		_ = c.Close()
		return fmt.Errorf("%w: another process serves %s (is the application already running?)", ErrSocketInUse, path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed meanwhile
		}
		return fmt.Errorf("admin: cannot tell whether socket %s is in use, left alone: %w", path, err)
	}
	// Stale: left by a process that exited without removing it. Remove it
	// only if it is still the file we probed.
	if now, err := os.Lstat(path); err != nil || !os.SameFile(fi, now) {
		return nil // gone or replaced meanwhile; Listen will tell
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("admin: removing stale socket %s: %w", path, err)
	}
	return nil
}

// describeMode names a file type for error messages.
func describeMode(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "regular file"
	case m.IsDir():
		return "directory"
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "file of type " + m.Type().String()
}

// socketListener removes its socket file on Close if the file is still the
// one it created, so a stopping process never removes the socket of a
// process that replaced it.
type socketListener struct {
	*net.UnixListener
	path string
	fi   fs.FileInfo

	once sync.Once
	err  error
}

// Addr returns the socket's path, also where the socket was bound in a
// private directory first.
func (l *socketListener) Addr() net.Addr { return &net.UnixAddr{Name: l.path, Net: "unix"} }

// Close stops listening and removes the socket file. Calling it again
// returns the first call's result.
func (l *socketListener) Close() error {
	l.once.Do(func() {
		l.err = l.UnixListener.Close()
		if fi, err := os.Lstat(l.path); err == nil && os.SameFile(fi, l.fi) {
			if err := os.Remove(l.path); err != nil && !errors.Is(err, fs.ErrNotExist) && l.err == nil {
				l.err = fmt.Errorf("admin: removing %s: %w", l.path, err)
			}
		}
	})
	return l.err
}
