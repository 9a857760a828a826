//go:build linux

package admin_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/sesbolt/sesbolt/pkg/admin"
	"github.com/sesbolt/sesbolt/pkg/memstore"
)

// A store serves its admin socket beside its file; sesctl, or any program,
// reaches it with DialSocket. (boltstore.Open does this for you.)
func ExampleListenSocket() {
	dir, err := os.MkdirTemp("", "sb")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	store := memstore.New(nil)
	defer store.Close()

	path := filepath.Join(dir, "app.db.sock")
	l, err := admin.ListenSocket(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	logger := slog.New(slog.DiscardHandler)
	srv := admin.Serve(l, admin.NewHandler(admin.NewLocal(store, nil), &admin.HandlerOptions{Logger: logger}), logger)

	client := admin.DialSocket(path)
	defer client.Close()
	st, err := client.Stats(context.Background())
	fmt.Println("sessions:", st.Sessions, err)

	if err := srv.Close(); err != nil { // stops serving, removes the socket
		fmt.Println(err)
	}
	_, err = client.Stats(context.Background())
	fmt.Println("after Close, unavailable:", errors.Is(err, admin.ErrUnavailable))
	// Output:
	// sessions: 0 <nil>
	// after Close, unavailable: true
}
