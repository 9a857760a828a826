package session_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"

	"github.com/sesbolt/sesbolt/pkg/memstore"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// Rotating keys: put the new key first and keep the old one while cookies
// signed by it are still around. Old cookies verify and get re-issued under
// the new key.
func ExampleKeyring_rotation() {
	oldKey, newKey := session.GenerateKey(), session.GenerateKey()
	keyFile := "# newest first\n" + session.EncodeKey(newKey) + "\n" + session.EncodeKey(oldKey) + "\n"

	keys, err := session.ParseKeys(strings.NewReader(keyFile))
	if err != nil {
		panic(err)
	}
	old, _ := session.NewKeyring(oldKey)
	id := session.NewID()
	cookie := old.SignCookie("__Host-session", id)

	got, keyIndex, ok := keys.VerifyCookie("__Host-session", cookie)
	fmt.Println(ok, got == id, "re-issue:", keyIndex > 0)
	// Output: true true re-issue: true
}

// An application hook that runs when a session ends, whoever ends it: a
// logout, a logout everywhere, an operator (sesctl expire), the reaper.
// It hangs on the store (every store of sesbolt takes a
// session.StoreObserver in its options), since the store is what sees
// every end, and it sees each session end once. Here it writes an audit
// line and releases what the application kept per session.
func ExampleStoreObserver_ended() {
	uploads := map[session.ID]string{} // per-session resources of the application
	var mu sync.Mutex
	onEnd := session.StoreObserver{
		Ended: func(ctx context.Context, e session.Ended) {
			fmt.Printf("audit: a session of %q ended (%s)\n", e.User, e.Reason)
			mu.Lock()
			defer mu.Unlock()
			delete(uploads, e.ID) // a real hook hands slow work to a goroutine
		},
	}
	// With metrics too: session.JoinStoreObservers(onEnd, collector.StoreObserver()).
	store := memstore.New(&memstore.Options{Observer: onEnd})
	defer store.Close()
	keys, _ := session.NewKeyring(bytes.Repeat([]byte{1}, session.KeySize))
	mgr, _ := session.New(session.Config{Store: store, Keys: keys})

	login := func(user string) *session.Session {
		r := httptest.NewRequest("POST", "/login", nil)
		s, _ := mgr.Load(r)
		s.Login(user)
		mgr.Save(r.Context(), http.Header{}, s)
		return s
	}
	phone, laptop := login("alice"), login("alice")
	uploads[phone.ID()], uploads[laptop.ID()] = "/tmp/a", "/tmp/b"

	// Logging out twice (two tabs) ends the session once.
	mgr.DestroyUserSession(context.Background(), "alice", phone.ID())
	mgr.DestroyUserSession(context.Background(), "alice", phone.ID())
	mgr.DestroyUser(context.Background(), "alice")
	fmt.Println("uploads left:", len(uploads))
	// Output:
	// audit: a session of "alice" ended (logout)
	// audit: a session of "alice" ended (logout_everywhere)
	// uploads left: 0
}
