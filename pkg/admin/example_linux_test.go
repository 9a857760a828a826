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

// An application serves its store's admin API on a Unix socket with one
// line; sesctl, or any program, reaches it with DialSocket. For a store
// with a file (boltstore) the path may be "": the socket then goes beside
// the file, where sesctl --db FILE looks for it.
func ExampleServeSocket() {
	dir, err := os.MkdirTemp("", "sb")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	store := memstore.New(nil)
	defer store.Close()

	path := filepath.Join(dir, "app.sock")
	adm, err := admin.ServeSocket(store, path, &admin.SocketOptions{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Println(err)
		return
	}

	client := admin.DialSocket(path)
	defer client.Close()
	st, err := client.Stats(context.Background())
	fmt.Println("sessions:", st.Sessions, err)

	if err := adm.Close(); err != nil { // stops serving, removes the socket; before store.Close
		fmt.Println(err)
	}
	_, err = client.Stats(context.Background())
	fmt.Println("after Close, unavailable:", errors.Is(err, admin.ErrUnavailable))
	// Output:
	// sessions: 0 <nil>
	// after Close, unavailable: true
}
