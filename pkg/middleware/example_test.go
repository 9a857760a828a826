package middleware_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/sesbolt/sesbolt/pkg/memstore"
	"github.com/sesbolt/sesbolt/pkg/middleware"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// A login flow: the handler logs a user in (which renews the session id),
// stores a value, and reads both back on the next request.
func Example() {
	store := memstore.New(nil) // boltstore.Open(path, opts) in production
	defer store.Close()
	keys, _ := session.NewKeyring(session.GenerateKey()) // session.LoadKeyFile in production
	mgr, err := session.New(session.Config{Store: store, Keys: keys})
	if err != nil {
		panic(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s, _ := session.FromContext(r.Context())
		if err := s.Login(r.FormValue("user")); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.Set("theme", "dark")
	})
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		s, _ := session.FromContext(r.Context())
		fmt.Fprintf(w, "user=%s theme=%s", s.UserID(), s.GetString("theme"))
	})
	srv := httptest.NewTLSServer(middleware.LoadAndSave(mgr)(mux))
	defer srv.Close()

	client := srv.Client()
	client.Jar, _ = cookiejar.New(nil)
	client.PostForm(srv.URL+"/login", url.Values{"user": {"alice"}})
	resp, _ := client.Get(srv.URL + "/me")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(string(body))

	u, _ := url.Parse(srv.URL)
	fmt.Println(strings.HasPrefix(client.Jar.Cookies(u)[0].String(), "__Host-session="))
	// Output:
	// user=alice theme=dark
	// true
}
