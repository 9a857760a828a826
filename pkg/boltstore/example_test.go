package boltstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/sesbolt/sesbolt/pkg/boltstore"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// Open a store, insert a session, apply a request's change and load it back.
func Example() {
	dir, err := os.MkdirTemp("", "boltstore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	keys, _, err := session.LoadOrCreateKeyFile(filepath.Join(dir, "sessions.keys"))
	if err != nil {
		log.Fatal(err)
	}
	store, err := boltstore.Open(filepath.Join(dir, "sessions.db"), &boltstore.Options{Keys: keys})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	ctx := context.Background()
	now := time.Date(2030, 1, 2, 15, 4, 5, 0, time.UTC)
	rec := &session.Record{
		ID: session.NewID(), UserID: "alice",
		Created: now, LastSeen: now, IdleExpires: now.Add(30 * time.Minute), Deadline: now.Add(12 * time.Hour),
		Data: map[string]json.RawMessage{"theme": json.RawMessage(`"dark"`)},
	}
	if _, err := store.Apply(ctx, &session.Change{ID: rec.ID, Now: now, Create: rec}); err != nil {
		log.Fatal(err)
	}
	// A later request sets one key; the store merges it into the latest record.
	later := now.Add(time.Minute)
	if _, err := store.Apply(ctx, &session.Change{ID: rec.ID, Now: later,
		Set: map[string]json.RawMessage{"cart": json.RawMessage(`[42]`)}}); err != nil {
		log.Fatal(err)
	}

	got, err := store.Load(ctx, rec.ID, later)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(got.UserID, got.Version, string(got.Data["theme"]), string(got.Data["cart"]))

	// After its idle timeout the session is gone, reaped or not.
	_, err = store.Load(ctx, rec.ID, now.Add(time.Hour))
	fmt.Println(err)
	// Output:
	// alice 2 "dark" [42]
	// session: not found
}

// Check a store file offline, read-only and without keys, as sesctl does
// when the application is not running.
func ExampleStore_Check() {
	dir, _ := os.MkdirTemp("", "boltstore-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "sessions.db")
	keys, _ := session.NewKeyring(session.GenerateKey())
	s, err := boltstore.Open(path, &boltstore.Options{Keys: keys})
	if err != nil {
		log.Fatal(err)
	}
	s.Close()

	ro, err := boltstore.Open(path, &boltstore.Options{ReadOnly: true})
	if err != nil {
		log.Fatal(err)
	}
	defer ro.Close()
	rep, err := ro.Check(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(rep.OK(), rep.Records, rep.SealsVerified)
	// Output: true 0 false
}
