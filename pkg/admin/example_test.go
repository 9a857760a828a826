package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/sesbolt/sesbolt/pkg/admin"
	"github.com/sesbolt/sesbolt/pkg/memstore"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// An application mounts the admin API behind its own authentication, and
// an operator's tool drives it with a Client: the same Service as a Local
// one in process.
func ExampleNewHandler() {
	store := memstore.New(nil)
	defer store.Close()
	clock := func() time.Time { return time.Date(2030, 1, 2, 15, 4, 5, 0, time.UTC) }
	ctx := context.Background()

	for _, user := range []string{"alice", "alice", "bob"} {
		id := session.NewID()
		t := clock()
		_, err := store.Apply(ctx, &session.Change{ID: id, Now: t, Create: &session.Record{
			ID: id, UserID: user, Created: t, LastSeen: t,
			IdleExpires: t.Add(30 * time.Minute), Deadline: t.Add(12 * time.Hour),
			Data: map[string]json.RawMessage{},
		}})
		if err != nil {
			fmt.Println(err)
			return
		}
	}

	api := admin.NewHandler(admin.NewLocal(store, clock), &admin.HandlerOptions{
		Logger: slog.New(slog.DiscardHandler),
	})
	mux := http.NewServeMux()
	mux.Handle("/admin/", requireOperator(http.StripPrefix("/admin", api)))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	client := admin.NewClient(srv.URL+"/admin", &http.Client{Transport: operatorToken{}})
	st, err := client.Stats(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("live sessions:", st.Live, "users:", st.Users)

	n, err := client.ExpireUser(ctx, "alice")
	fmt.Println("alice logged out everywhere:", n, err)

	_, err = client.Get(ctx, session.NewID())
	fmt.Println("unknown session:", errors.Is(err, session.ErrNotFound))
	// Output:
	// live sessions: 3 users: 2
	// alice logged out everywhere: 2 <nil>
	// unknown session: true
}

// requireOperator stands for the application's own authentication.
func requireOperator(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer operator" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// operatorToken adds the operator's credentials to each request.
type operatorToken struct{}

func (operatorToken) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer operator")
	return http.DefaultTransport.RoundTrip(r)
}
