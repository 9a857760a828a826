// Command basic is a web app with sesbolt sessions in one bbolt file, which
// sesctl administers while it runs. README.md shows this whole file.
//
//	go run ./examples/basic -insecure   # plain HTTP on 127.0.0.1:8080, for development
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/sesbolt/sesbolt/pkg/admin"
	"github.com/sesbolt/sesbolt/pkg/boltstore"
	"github.com/sesbolt/sesbolt/pkg/middleware"
	"github.com/sesbolt/sesbolt/pkg/session"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	// The session cookie is Secure by default: the browser sends it over
	// HTTPS only, so nobody on the network can copy it and ride the session.
	// Over plain HTTP browsers drop it (some spare localhost), and nobody
	// stays logged in. So serve HTTPS (or run behind a proxy that does),
	// and use -insecure for plain-HTTP development only.
	insecure := flag.Bool("insecure", false, "send the session cookie over plain HTTP too (development only)")
	flag.Parse()
	if err := run(*addr, *insecure); err != nil {
		slog.Error("stopped", "error", err)
		os.Exit(1)
	}
}

func run(addr string, insecure bool) (err error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", addr) // first: a taken port creates no file
	if err != nil {
		return err
	}
	defer ln.Close() // for the early returns; Serve closes it too

	keys, _, err := session.LoadOrCreateKeyFile("app.keys") // one base64 key per line, newest first
	if err != nil {
		return err
	}
	store, err := boltstore.Open("sessions.db", &boltstore.Options{Keys: keys})
	if err != nil {
		return err // e.g. the file is held by another process
	}
	defer func() { err = errors.Join(err, store.Close()) }()
	// sessions.db.sock: sesctl --db sessions.db reaches the running app.
	adm, err := admin.ServeSocket(store, "", nil)
	if err != nil && !errors.Is(err, admin.ErrSocketUnsupported) { // Windows has none
		return err
	}
	defer func() { err = errors.Join(err, adm.Close()) }() // before store.Close; nil closes nothing
	mgr, err := session.New(session.Config{
		Store:  store,
		Keys:   keys,
		Cookie: session.CookieOptions{Insecure: insecure}, // Secure unless -insecure
	})
	if err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s, _ := session.FromContext(r.Context()) // always there behind LoadAndSave
		// A real app checks the user's password here.
		if err := s.Login(r.FormValue("user")); err != nil { // new id, fresh absolute lifetime
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := s.Set("flash", "welcome back"); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		s, _ := session.FromContext(r.Context())
		if s.UserID() == "" {
			fmt.Fprintln(w, "not logged in")
			return
		}
		flash := s.PopString("flash") // before writing: the first write saves the session
		fmt.Fprintln(w, "hello", s.UserID())
		if flash != "" {
			fmt.Fprintln(w, flash)
		}
	})
	srv := &http.Server{
		// Cross-site form posts get 403 before a session is loaded.
		Handler:           http.NewCrossOriginProtection().Handler(middleware.LoadAndSave(mgr)(mux)),
		ReadHeaderTimeout: 10 * time.Second,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	slog.Info("listening", "url", "http://"+ln.Addr().String(), "insecure", insecure)

	select {
	case err := <-served:
		return err
	case <-ctx.Done(): // SIGINT or SIGTERM
	}
	stop() // a second Ctrl-C kills at once
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx) // waits for requests in flight; then the defers close adm and store
}
