//go:build linux

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/internal/demoproc"
	"github.com/sesbolt/sesbolt/internal/redistest"
	"github.com/sesbolt/sesbolt/internal/testclient"
	"github.com/sesbolt/sesbolt/pkg/boltstore"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// The sessions in Redis: sesdemo -redis, several of them on one Redis,
// sesctl --redis beside them, and the move from a file to Redis. Each test
// has a redis-server of its own (internal/redistest: a Unix socket in a
// temporary directory, no persistence, ended with the test).

// startRedisDemo starts sesdemo on a free port with its sessions in the
// Redis at url and its key file at keys (created by the first one).
func startRedisDemo(t *testing.T, url, keys string, extra ...string) *demoproc.Process {
	t.Helper()
	return demoproc.Start(t, bins.Path(t, "sesdemo"), append([]string{"-redis", url, "-keys", keys}, extra...)...)
}

// browserOf returns a browser of the demo at base, sharing jar (nil: a new
// one) and so the cookies of another browser of another demo.
func browserOf(t *testing.T, base string, jar http.CookieJar) *browser {
	t.Helper()
	b := &browser{Browser: testclient.NewBrowser(t, base, "curl/8.5.0"), t: t}
	if jar != nil {
		b.Client.Jar = jar
	}
	b.Client.Transport = &http.Transport{DisableKeepAlives: true}
	return b
}

// userSessions returns the ids GET /api/sessions lists for b's user.
func (b *browser) userSessions() []string {
	b.t.Helper()
	var list []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b.want(http.StatusOK, "GET", "/api/sessions", nil), &list); err != nil {
		b.t.Fatalf("GET /api/sessions: %v", err)
	}
	ids := make([]string, len(list))
	for i, s := range list {
		ids[i] = s.ID
	}
	slices.Sort(ids)
	return ids
}

// TestRedisTwoDemos: two sesdemo processes on different ports, sharing one
// Redis and one key file, act as one application: a session made on one
// is read and changed on the other; concurrent writes of different keys
// of one session through both all persist; "log out everywhere" on one
// ends the user's sessions on both; sesctl --redis sees and ends the same
// sessions meanwhile, and sesctl --socket reaches them through the admin
// socket one of them serves because -admin-socket asks it to.
func TestRedisTwoDemos(t *testing.T) {
	t.Parallel()
	build(t)
	srv := redistest.Start(t)
	dir := demoproc.ShortTempDir(t)
	keys := filepath.Join(dir, "demo.keys")
	a := startRedisDemo(t, srv.URL(), keys)
	sock := filepath.Join(dir, "b.sock")
	b := startRedisDemo(t, srv.URL(), keys, "-admin-socket", sock)
	if a.Socket != "" || b.Socket != sock {
		t.Errorf("admin sockets %q and %q, want none without -admin-socket and %s with it", a.Socket, b.Socket, sock)
	}

	// Made on A, read and changed on B, read again on A.
	laptopA := browserOf(t, a.Base, nil)
	laptopA.login("alice")
	laptopA.put("cart", `[1,2,3]`)
	made := laptopA.session()
	laptopB := browserOf(t, b.Base, laptopA.Client.Jar)
	if got := laptopB.session(); got.ID != made.ID || got.User != "alice" || compact(got.Data["cart"]) != "[1,2,3]" {
		t.Fatalf("B sees %+v, want A's session %s of alice with the cart", got, made.ID)
	}
	laptopB.put("theme", `"dark"`)
	if got := laptopA.session(); got.ID != made.ID || compact(got.Data["theme"]) != `"dark"` || compact(got.Data["cart"]) != "[1,2,3]" {
		t.Errorf("A sees %+v after B's change, want the theme and the cart", got)
	}

	// Concurrent writes of different keys through both: none is lost.
	const perDemo = 25
	var wg sync.WaitGroup
	errs := make(chan error, 2*perDemo)
	for _, br := range []*browser{laptopA, laptopB} {
		for i := range perDemo {
			wg.Go(func() {
				key := fmt.Sprintf("k-%s-%d", strings.TrimPrefix(br.Base, "http://127.0.0.1:"), i)
				code, body, err := br.send("PUT", "/api/session/"+key, strings.NewReader(fmt.Sprint(i)), "Content-Type", "application/json")
				if err == nil && code != http.StatusNoContent {
					err = fmt.Errorf("PUT %s: status %d: %s", key, code, body)
				}
				errs <- err
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	for _, br := range []*browser{laptopA, laptopB} {
		got := br.session()
		for _, other := range []*browser{laptopA, laptopB} {
			for i := range perDemo {
				key := fmt.Sprintf("k-%s-%d", strings.TrimPrefix(other.Base, "http://127.0.0.1:"), i)
				if compact(got.Data[key]) != fmt.Sprint(i) {
					t.Errorf("%s: %s = %s, want %d", br.Base, key, got.Data[key], i)
				}
			}
		}
	}

	// Alice's phone logs in on B; both demos list both sessions (the user
	// index), and so does sesctl.
	phoneB := browserOf(t, b.Base, nil)
	phoneB.login("alice")
	phone := phoneB.session().ID
	both := []string{made.ID, phone}
	slices.Sort(both)
	if got := laptopA.userSessions(); !slices.Equal(got, both) {
		t.Errorf("GET /api/sessions on A: %v, want %v", got, both)
	}
	if got := phoneB.userSessions(); !slices.Equal(got, both) {
		t.Errorf("GET /api/sessions on B: %v, want %v", got, both)
	}
	wantIDs(t, "sesctl --redis list --user alice", listJSON(t, "--redis", srv.URL(), "--user", "alice"),
		[]string{made.ID, phone}, []string{"alice", "alice"})
	wantIDs(t, "sesctl --socket list --user alice", listJSON(t, "--socket", sock, "--user", "alice"),
		[]string{made.ID, phone}, []string{"alice", "alice"})

	// Log out everywhere on A ends the phone's session on B too.
	var ended struct {
		Ended int `json:"ended"`
	}
	body := laptopA.want(http.StatusOK, "POST", "/logout-everywhere", nil, "Accept", "application/json")
	if err := json.Unmarshal(body, &ended); err != nil || ended.Ended != 2 {
		t.Errorf("logout-everywhere on A: %s, want {\"ended\": 2}", body)
	}
	if got := phoneB.session(); got.ID == phone || got.User != "" {
		t.Errorf("after logout-everywhere on A, the phone on B still has %+v", got)
	}
	phoneB.want(http.StatusUnauthorized, "GET", "/api/sessions", nil)
	wantIDs(t, "sesctl --redis list --user alice after logout-everywhere", listJSON(t, "--redis", srv.URL(), "--user", "alice"), nil, nil)

	// sesctl ends a session on Redis: both demos see it gone at once.
	bob := browserOf(t, a.Base, nil)
	bob.login("bob")
	bobID := bob.session().ID
	if out := ctlOK(t, "--redis", srv.URL(), "--keys", keys, "expire", "--user", "bob"); out != "expired 1 session\n" {
		t.Errorf("sesctl expire --user bob: %q", out)
	}
	for _, base := range []string{a.Base, b.Base} {
		bob.Base = base
		if got := bob.session(); got.ID == bobID || got.User != "" {
			t.Errorf("%s: bob's session after sesctl expired it: %+v", base, got)
		}
	}
	a.Stop()
	b.Stop()
}

// TestRedisMigration: `sesctl --db app.db --keys app.keys export | sesctl
// --redis URL --keys app.keys import` moves every live session of a file
// (10,000 of them, plus two made over HTTP) into Redis with its id, its
// data and its version: Redis then exports exactly what the file did, and
// sesdemo -redis with the same keys knows the browsers' cookies (those of
// the real browsers and cookies signed for a sample of the others).
func TestRedisMigration(t *testing.T) {
	t.Parallel()
	build(t)
	srv := redistest.Start(t)
	dir := demoproc.ShortTempDir(t)
	d := startDemo(t, dir)
	browsers, before := twoBrowsers(t, d)
	d.Stop()

	const n = 10_000
	keys, err := session.LoadKeyFile(d.keys)
	if err != nil {
		t.Fatal(err)
	}
	seeded := seedFile(t, d.db, keys, n)

	start := time.Now()
	stdout, stderr := pipeline(t,
		[]string{"--db", d.db, "--keys", d.keys, "export"},
		[]string{"--redis", srv.URL(), "--keys", d.keys, "import"})
	took := time.Since(start)
	t.Logf("export | import of %d sessions: %v", n+2, took.Round(time.Millisecond))
	if want := fmt.Sprintf("imported %d sessions of %d\n", n+2, n+2); stdout != want {
		t.Errorf("stdout of the pipeline: %q, want %q", stdout, want)
	}
	if want := `sesctl: no store under prefix "sesbolt:" in ` + srv.URL() + ": started a new one\n"; stderr != want {
		t.Errorf("stderr of the pipeline: %q, want %q", stderr, want)
	}

	// Redis holds what the file held, record for record.
	fromFile := ctlOK(t, "--db", d.db, "export")
	if fromRedis := ctlOK(t, "--redis", srv.URL(), "export"); fromRedis != fromFile {
		t.Errorf("Redis exports %d lines, the file %d; they differ", strings.Count(fromRedis, "\n"), strings.Count(fromFile, "\n"))
	}
	if c := ctlJSON[check](t, "--redis", srv.URL(), "--keys", d.keys, "-o", "json", "check"); !c.OK || !c.SealsVerified || c.Records != n+2 {
		t.Errorf("check of Redis: %+v, want ok, %d records, seals verified", c, n+2)
	}
	if st := ctlJSON[stats](t, "--redis", srv.URL(), "-o", "json", "stats"); st.Sessions != n+2 || st.Live != n+2 {
		t.Errorf("stats of Redis: %+v, want %d live sessions", st, n+2)
	}

	// The app on Redis, with the same keys, knows every cookie.
	r := startRedisDemo(t, srv.URL(), d.keys)
	wantMoved(t, r.Base, browsers, before)
	client := &http.Client{Timeout: 10 * time.Second}
	for i := 0; i < n; i += n / 100 {
		want := seeded[i]
		req, err := http.NewRequest("GET", r.Base+"/api/session", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.AddCookie(&http.Cookie{Name: session.DefaultInsecureCookieName, Value: keys.SignCookie(session.DefaultInsecureCookieName, want.ID)})
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var got apiSession
		err = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if err != nil || got.ID != want.ID.String() || got.User != want.UserID || compact(got.Data["n"]) != fmt.Sprint(i) {
			t.Errorf("the cookie of seeded session %d (%s of %q): %+v, %v", i, want.ID, want.UserID, got, err)
		}
	}
	r.Stop()
}

// seedFile inserts n live sessions into the database file at path (closed
// again when it returns), a third of them anonymous, each with its number
// under "n", and returns them in the order made.
func seedFile(t *testing.T, path string, keys *session.Keyring, n int) []*session.Record {
	t.Helper()
	st, err := boltstore.Open(path, &boltstore.Options{Keys: keys, ReapInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now().UTC().Truncate(time.Millisecond)
	recs := make([]*session.Record, n)
	for i := range recs {
		user := ""
		if i%3 != 0 {
			user = fmt.Sprintf("user%d@example.com", i%1000)
		}
		recs[i] = &session.Record{
			ID: session.NewID(), UserID: user,
			Created: now.Add(-time.Hour), LastSeen: now.Add(-time.Minute),
			IdleExpires: now.Add(29 * time.Minute), Deadline: now.Add(11 * time.Hour),
			Client: session.ClientInfo{IP: "192.0.2.1", UserAgent: "curl/8.5.0"},
			Data:   map[string]json.RawMessage{"n": json.RawMessage(fmt.Sprint(i))},
		}
	}
	for chunk := range slices.Chunk(recs, 1000) {
		if got, err := st.Import(context.Background(), chunk, now); err != nil || got != len(chunk) {
			t.Fatalf("seeding the file: imported %d of %d: %v", got, len(chunk), err)
		}
	}
	return recs
}
