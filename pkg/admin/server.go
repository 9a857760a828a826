package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// ShutdownTimeout is how long SocketServer.Close waits for requests in
// flight to finish before it cuts their connections and cancels their
// contexts, and then again for their handlers to return.
const ShutdownTimeout = 2 * time.Second

// SocketOptions configures ServeSocket. A nil *SocketOptions, and zero
// fields, mean defaults.
type SocketOptions struct {
	// Logger receives the server's logs: refused peers, shutdown problems,
	// and the handler's one line per request (see HandlerOptions.Logger).
	// Nil means slog.Default().
	Logger *slog.Logger

	// Now is the clock that decides what is expired for the API's list,
	// purge and stats; nil means time.Now. Give it the application's clock
	// when the session manager has one.
	Now func() time.Time

	// MaxImportBytes caps the body of one import (see
	// HandlerOptions.MaxImportBytes). Zero or negative means
	// DefaultMaxImportBytes.
	MaxImportBytes int64
}

// ServeSocket serves the admin API of store on a Unix socket at path, so
// that sesctl, and any other Client, can administer the store while the
// application holds it. It is the one line an application adds to be
// administrable while it runs:
//
//	adm, err := admin.ServeSocket(store, "", nil) // sessions.db.sock beside sessions.db
//	if err != nil { ... }
//	defer adm.Close() // deferred after store.Close, so it runs before it
//
// An empty path means the store's file path plus SocketSuffix when the
// store is FileBacked (boltstore.Store: FILE.sock, where sesctl --db FILE
// looks); for any other store an empty path fails with ErrSocketPath. The
// socket is made by ListenSocket: mode 0600 from its creation, a stale
// socket replaced, and ErrSocketInUse, ErrNotSocket or ErrSocketPath for a
// path that cannot be used; on Windows it fails with ErrSocketUnsupported.
// It is served by Serve, which admits only peers of the process's uid and
// root. The API is NewHandler on NewLocal(store, opts.Now). A nil store
// fails with an error.
//
// Close the returned server before the store: Close waits for the admin
// requests in flight and removes the socket file.
func ServeSocket(store session.Store, path string, opts *SocketOptions) (*SocketServer, error) {
	if store == nil {
		return nil, errors.New("admin: ServeSocket: nil store")
	}
	var o SocketOptions
	if opts != nil {
		o = *opts
	}
	if path == "" {
		fb, ok := store.(FileBacked)
		if !ok || fb.Path() == "" {
			return nil, fmt.Errorf("%w: the store has no file to put the socket beside (a %T); pass a socket path", ErrSocketPath, store)
		}
		path = fb.Path() + SocketSuffix
	}
	l, err := ListenSocket(path)
	if err != nil {
		return nil, err
	}
	h := NewHandler(NewLocal(store, o.Now), &HandlerOptions{Logger: o.Logger, MaxImportBytes: o.MaxImportBytes})
	return Serve(l, h, o.Logger), nil
}

// SocketServer serves an admin handler on a listener, normally the admin
// socket from ListenSocket, and admits only peers of the server's own uid or
// root. Create it with ServeSocket, or Serve, and stop it with Close.
type SocketServer struct {
	srv    *http.Server
	l      net.Listener
	log    *slog.Logger
	uid    int
	cancel context.CancelFunc // cancels every request's context
	done   chan struct{}      // closed when srv.Serve returns

	mu       sync.Mutex
	closing  bool
	inflight sync.WaitGroup // handlers running; Add only under mu while !closing

	closeOnce sync.Once
	closeErr  error
}

// peer is the identity of a connection's other end.
type peer struct {
	uid, pid int
	known    bool  // credentials were read
	err      error // why they could not be
}

type peerKey struct{}

// Serve serves h on l in a new goroutine and returns at once. Each
// connection's peer credentials are read when it is accepted (SO_PEERCRED
// on Linux, LOCAL_PEERCRED on macOS): a peer whose uid is the server's
// effective uid, or root, is served; any other peer, or one whose
// credentials cannot be read (every peer on other systems, and
// connections that are not Unix sockets), is refused: each of its requests is answered 403 with code
// "forbidden" and no handler runs, the connection is closed, and the
// refusal is logged with the peer's uid and pid. A nil logger means
// slog.Default().
//
// The server has no write timeout (a backup streams for as long as it
// takes), a 10 s header timeout and a 64 KiB header limit. Serve errors
// other than a clean Close are logged.
//
// Serve panics if l or h is nil, at the call rather than in the serving
// goroutine, where a nil listener would bring the whole process down.
func Serve(l net.Listener, h http.Handler, logger *slog.Logger) *SocketServer {
	if l == nil || h == nil {
		panic("admin: Serve: nil net.Listener or http.Handler")
	}
	if logger == nil {
		logger = slog.Default()
	}
	base, cancel := context.WithCancel(context.Background())
	s := &SocketServer{l: l, log: logger, uid: os.Geteuid(), cancel: cancel, done: make(chan struct{})}
	s.srv = &http.Server{
		Handler:           s.guard(h),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return base },
		ConnContext:       s.connContext,
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("admin socket: serving stopped", "addr", l.Addr().String(), "error", err.Error())
		}
	}()
	return s
}

// Addr returns the listener's address (the socket path).
func (s *SocketServer) Addr() net.Addr { return s.l.Addr() }

// Close stops accepting connections and waits up to ShutdownTimeout for
// requests in flight; then it cancels their contexts, closes their
// connections (a client sees a backup cut short as ErrTruncated), and
// waits up to ShutdownTimeout more for their handlers to return, so that
// the store can be closed after it. Closing the listener removes the socket
// file (see ListenSocket). Close returns an error if a handler was still
// running at the end; calling it again returns the same result.
//
// Close on a nil *SocketServer does nothing and returns nil, so that an
// application that serves no socket (ServeSocket failed with
// ErrSocketUnsupported, say) may still defer it.
func (s *SocketServer) Close() error {
	if s == nil {
		return nil
	}
	s.closeOnce.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *SocketServer) close() error {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	s.cancel()
	if err != nil {
		_ = s.srv.Close() // cut what is still open
		s.log.Warn("admin socket: requests still running at shutdown were cut off", "addr", s.l.Addr().String())
	}
	<-s.done

	idle := make(chan struct{})
	go func() { s.inflight.Wait(); close(idle) }()
	select {
	case <-idle:
		return nil
	case <-time.After(ShutdownTimeout):
		return fmt.Errorf("admin: socket server: handlers still running %v after shutdown: %w", ShutdownTimeout, context.DeadlineExceeded)
	}
}

// connContext reads the peer's credentials once per connection, logs a
// refusal, and keeps the verdict in the connection's context.
func (s *SocketServer) connContext(ctx context.Context, c net.Conn) context.Context {
	p, err := peerCred(c)
	if err != nil {
		p.err = err
	}
	if !s.allowed(p) {
		attrs := []any{"addr", s.l.Addr().String()}
		if p.known {
			attrs = append(attrs, "uid", p.uid, "pid", p.pid)
		} else if p.err != nil {
			attrs = append(attrs, "error", p.err.Error())
		}
		s.log.Warn("admin socket: refused peer", attrs...)
	}
	return context.WithValue(ctx, peerKey{}, p)
}

// controlUnixConn runs fn on the file descriptor of c, which must be a
// Unix socket connection: only those carry peer credentials (SO_PEERCRED
// on a TCP socket reports the overflow uid, 65534, which must not pass for
// a peer).
func controlUnixConn(c net.Conn, fn func(fd int) error) error {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return fmt.Errorf("admin: a %T connection has no peer credentials (not a Unix socket)", c)
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return fmt.Errorf("admin: peer credentials: %w", err)
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return fmt.Errorf("admin: peer credentials: %w", err)
	}
	if ferr != nil {
		return fmt.Errorf("admin: peer credentials: %w", ferr)
	}
	return nil
}

// allowed reports whether p may use the admin API: the server's uid or root.
func (s *SocketServer) allowed(p peer) bool {
	return p.known && (p.uid == s.uid || p.uid == 0)
}

// guard answers refused peers with 403 and counts the handlers in flight.
func (s *SocketServer) guard(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// refuse answers without running h, and closes the connection.
		refuse := func(err *Error) {
			hdr := w.Header()
			hdr.Set("Connection", "close")
			setAnswerHeaders(hdr)
			writeError(&responseWriter{ResponseWriter: w}, err)
		}
		p, _ := r.Context().Value(peerKey{}).(peer)
		if !s.allowed(p) {
			msg := "admin: this admin socket serves only its owner's uid and root"
			if p.known {
				msg = fmt.Sprintf("admin: peer uid %d is not allowed on this admin socket: run as the application's user or root", p.uid)
			}
			refuse(&Error{Status: http.StatusForbidden, Code: codeForbidden, Message: msg})
			return
		}
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			refuse(&Error{Status: http.StatusServiceUnavailable, Code: codeClosed, Message: "admin: the admin socket is shutting down"})
			return
		}
		s.inflight.Add(1)
		s.mu.Unlock()
		defer s.inflight.Done()
		h.ServeHTTP(w, r)
	})
}
