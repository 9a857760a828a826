// Command scsgen writes a database with github.com/alexedwards/scs's real
// boltstore and SessionManager, for sesctl's "import --from scs-bolt" test.
// It is a separate module so that sesbolt does not depend on scs.
//
//	go run . FILE          # sessions sesctl can import
//	go run . FILE custom   # plus one holding a value of an app-registered type
//
// Deadlines are fixed (scs uses them as the expiry when there is no idle
// timeout); tokens are random, as in scs.
package main

import (
	"context"
	"encoding/gob"
	"fmt"
	"os"
	"time"

	"github.com/alexedwards/scs/boltstore"
	"github.com/alexedwards/scs/v2"
	"go.etcd.io/bbolt"
)

// appType stands for a type only the application knows.
type appType struct{ Plan string }

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "scsgen:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) < 1 {
		return fmt.Errorf("usage: scsgen FILE [custom]")
	}
	custom := len(args) > 1 && args[1] == "custom"
	gob.Register(time.Time{})
	gob.Register([]interface{}{})
	gob.Register(appType{})

	db, err := bbolt.Open(args[0], 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		return err
	}
	defer db.Close()
	sm := scs.New()
	sm.Store = boltstore.NewWithCleanupInterval(db, 0)
	sm.IdleTimeout = 0

	day := func(d string) time.Time {
		t, err := time.Parse(time.RFC3339, d)
		if err != nil {
			panic(err)
		}
		return t
	}
	sessions := []struct {
		deadline time.Time
		values   map[string]interface{}
	}{
		{day("2025-03-15T12:00:00Z"), map[string]interface{}{
			"userID": "alice", "theme": "dark", "visits": 3, "admin": false, "ratio": 0.5,
			"seen": day("2025-03-14T09:30:00Z"), "raw": []byte("hi"), "cart": []interface{}{"apple", 2},
		}},
		{day("2025-03-16T08:00:00Z"), map[string]interface{}{"userID": 42, "flash": "hello"}},
		{day("2025-03-15T00:00:00Z"), map[string]interface{}{"lang": "fr"}},
		{day("2025-03-14T10:00:00Z"), map[string]interface{}{"userID": "old", "expired": true}},
	}
	if custom {
		sessions = append(sessions, struct {
			deadline time.Time
			values   map[string]interface{}
		}{day("2025-03-15T12:00:00Z"), map[string]interface{}{"userID": "bob", "plan": appType{"pro"}}})
	}
	for _, s := range sessions {
		ctx, err := sm.Load(context.Background(), "")
		if err != nil {
			return err
		}
		for k, v := range s.values {
			sm.Put(ctx, k, v)
		}
		sm.SetDeadline(ctx, s.deadline)
		if _, _, err := sm.Commit(ctx); err != nil {
			return err
		}
	}
	return nil
}
