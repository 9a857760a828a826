package bench

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	scs "github.com/alexedwards/scs/v2"
	scsmem "github.com/alexedwards/scs/v2/memstore"

	"github.com/sesbolt/sesbolt/pkg/memstore"
	"github.com/sesbolt/sesbolt/pkg/middleware"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// TestLostUpdates backs the README's "no lost updates": concurrent requests
// of one session, each setting a different key while its handler works for
// a few milliseconds, against sesbolt and scs (both on their memory stores,
// so only the session logic differs). sesbolt keeps every key; scs saves
// each request's whole snapshot, so overlapping requests overwrite each
// other's keys.
//
//	cd bench && go test -run TestLostUpdates -v
func TestLostUpdates(t *testing.T) {
	const requests = 50
	work := 5 * time.Millisecond // the handler's own work between load and save

	sesStore := memstore.New(nil)
	defer sesStore.Close()
	mgr, err := session.New(session.Config{Store: sesStore, Keys: benchKeys(t), Cookie: session.CookieOptions{Insecure: true}})
	if err != nil {
		t.Fatal(err)
	}
	ses := middleware.LoadAndSave(mgr)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := session.FromContext(r.Context())
		if k := r.URL.Query().Get("k"); k != "" {
			time.Sleep(work)
			s.Set(k, true)
		}
		fmt.Fprint(w, len(s.Keys()))
	}))

	sm := scs.New()
	sm.Store = scsmem.New()
	sm.Cookie.Secure = false
	scsH := sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if k := r.URL.Query().Get("k"); k != "" {
			time.Sleep(work)
			sm.Put(r.Context(), k, true)
		}
		fmt.Fprint(w, len(sm.Keys(r.Context())))
	}))

	for _, c := range []struct {
		name string
		h    http.Handler
	}{{"sesbolt", ses}, {"scs", scsH}} {
		// Create the session with one key, then send the concurrent writes
		// with its cookie and count the keys that survived.
		first := httptest.NewRecorder()
		c.h.ServeHTTP(first, httptest.NewRequest("GET", "/?k=init", nil))
		cookies := first.Result().Cookies()
		if len(cookies) != 1 {
			t.Fatalf("%s: %d cookies after the first request", c.name, len(cookies))
		}
		var wg sync.WaitGroup
		for i := range requests {
			wg.Go(func() {
				r := httptest.NewRequest("GET", fmt.Sprintf("/?k=k%d", i), nil)
				r.AddCookie(cookies[0])
				c.h.ServeHTTP(httptest.NewRecorder(), r)
			})
		}
		wg.Wait()
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(cookies[0])
		count := httptest.NewRecorder()
		c.h.ServeHTTP(count, r)
		t.Logf("%-8s %s of %d keys survived %d concurrent writes", c.name, count.Body, requests+1, requests)
		switch want := fmt.Sprint(requests + 1); {
		case c.name == "sesbolt" && count.Body.String() != want:
			t.Errorf("sesbolt kept %s keys, want %s: an update was lost", count.Body, want)
		case c.name == "scs" && count.Body.String() == want:
			t.Errorf("scs kept every key: the README's claim that snapshots overwrite each other no longer holds")
		}
	}
}
