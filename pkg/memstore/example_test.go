package memstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sesbolt/sesbolt/pkg/memstore"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// A store used directly, as a session.Manager uses it: insert a session,
// merge a change from another request, log the user out everywhere.
func Example() {
	store := memstore.New(nil) // cleanup every minute, 64 KiB per record
	defer store.Close()

	ctx := context.Background()
	now := time.Date(2030, time.January, 2, 15, 4, 5, 0, time.UTC)
	id, err := session.ParseID("0f8e4d2c-5b1a-4c3e-9d7f-2a6b8c0e1f34")
	if err != nil {
		fmt.Println(err)
		return
	}

	// A login request creates the session.
	_, err = store.Apply(ctx, &session.Change{ID: id, Now: now, Create: &session.Record{
		ID: id, UserID: "alice", Created: now, LastSeen: now,
		IdleExpires: now.Add(30 * time.Minute), Deadline: now.Add(12 * time.Hour),
		Data: map[string]json.RawMessage{"theme": json.RawMessage(`"dark"`)},
	}})
	if err != nil {
		fmt.Println(err)
		return
	}

	// A later request changes one key; the other keys are kept.
	_, err = store.Apply(ctx, &session.Change{ID: id, Now: now.Add(time.Minute),
		Set: map[string]json.RawMessage{"cart": json.RawMessage(`3`)}})
	if err != nil {
		fmt.Println(err)
		return
	}

	rec, err := store.Load(ctx, id, now.Add(2*time.Minute))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rec.ID, rec.UserID, string(rec.Data["theme"]), string(rec.Data["cart"]), "version", rec.Version)

	// Idle for an hour: expired, whether or not cleanup has run.
	_, err = store.Load(ctx, id, now.Add(time.Hour))
	fmt.Println("an hour later:", err)

	// "Log out everywhere".
	n, err := store.DeleteUser(ctx, "alice")
	fmt.Println("removed", n, err)
	_, err = store.Apply(ctx, &session.Change{ID: id, Now: now.Add(3 * time.Minute),
		Set: map[string]json.RawMessage{"cart": json.RawMessage(`4`)}})
	fmt.Println("a late write:", errors.Is(err, session.ErrNotFound))

	// Output:
	// 0f8e4d2c-5b1a-4c3e-9d7f-2a6b8c0e1f34 alice "dark" 3 version 2
	// an hour later: session: not found
	// removed 1 <nil>
	// a late write: true
}

// Without the cleanup goroutine, expired records stay stored (never returned
// by Load) until Purge removes them: handy in tests, which then decide when
// cleanup happens and at which time.
func ExampleOptions() {
	now := time.Date(2030, time.January, 2, 15, 4, 5, 0, time.UTC)
	store := memstore.New(&memstore.Options{
		CleanupInterval: -1,       // no goroutine: call Purge instead
		MaxRecordSize:   16 << 10, // 16 KiB per record
	})
	defer store.Close()

	ctx := context.Background()
	id := session.NewID()
	_, err := store.Apply(ctx, &session.Change{ID: id, Now: now, Create: &session.Record{
		ID: id, Created: now, LastSeen: now,
		IdleExpires: now.Add(30 * time.Minute), Deadline: now.Add(12 * time.Hour),
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	n, err := store.Purge(ctx, now.Add(time.Hour))
	fmt.Println("purged", n, err)
	// Output:
	// purged 1 <nil>
}
