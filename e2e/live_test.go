//go:build linux

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/internal/demoproc"
)

// While sesdemo runs it holds the database file (bbolt's exclusive lock),
// so every sesctl --db command below that succeeds went through the admin
// socket: sesctl cannot open the file, and the writes (expire, purge) run
// without --keys, which a direct open would require.

const firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

// TestLiveRead: list, show, stats and check through the socket show what
// the app stored, with the ids the app reports.
func TestLiveRead(t *testing.T) {
	t.Parallel()
	build(t)
	d := startDemo(t, demoproc.ShortTempDir(t))

	laptop := newBrowser(t, d, firefox)
	laptop.login("alice")
	laptop.put("color", `"blue"`)
	laptop.put("cart", `[1,2,3]`)
	phone := newBrowser(t, d, "curl/8.5.0")
	phone.login("alice")
	bob := newBrowser(t, d, "curl/8.5.0")
	bob.login("bob")
	anon := newBrowser(t, d, "curl/8.5.0") // anonymous, but stored: it has data
	anon.put("theme", `"dark"`)
	all := []*browser{laptop, phone, bob, anon}
	ids := make([]string, len(all))
	for i, b := range all {
		ids[i] = b.session().ID
	}
	users := []string{"alice", "alice", "bob", ""}

	got := listJSON(t, "--db", d.db)
	wantIDs(t, "list", got, ids, users)
	if s := got[ids[0]]; s.Expired || s.IP != "127.0.0.1" || s.UserAgent != firefox || s.Version < 1 || s.Size == 0 ||
		!s.Expires.After(time.Now()) || s.Created.IsZero() {
		t.Errorf("list: the laptop's session %+v", s)
	}
	wantIDs(t, "list --user alice", listJSON(t, "--db", d.db, "--user", "alice"), ids[:2], users[:2])
	wantIDs(t, "list --expired", listJSON(t, "--db", d.db, "--expired"), nil, nil)

	table := ctlOK(t, "--db", d.db, "list")
	for i, id := range ids {
		if !strings.Contains(table, id) {
			t.Errorf("the table listing lacks %s (%s):\n%s", id, users[i], table)
		}
	}

	// show, by a prefix of 8 hex digits as people copy it from a table.
	s := ctlJSON[listed](t, "--db", d.db, "-o", "json", "show", ids[0][:8])
	if s.ID != ids[0] || s.User != "alice" || compact(s.Data["color"]) != `"blue"` || compact(s.Data["cart"]) != "[1,2,3]" || len(s.Data) != 2 {
		t.Errorf("show %s: %+v", ids[0][:8], s)
	}
	if out := ctlOK(t, "--db", d.db, "show", ids[2]); !strings.Contains(out, ids[2]) || !strings.Contains(out, "bob") {
		t.Errorf("show %s (table):\n%s", ids[2], out)
	}

	st := ctlJSON[stats](t, "--db", d.db, "-o", "json", "stats")
	if st.Sessions != 4 || st.Live != 4 || st.Expired != 0 || st.Users != 2 || st.SizeBytes <= 0 || st.SealFailures != 0 {
		t.Errorf("stats: %+v, want 4 sessions, 4 live, 2 users", st)
	}
	ctlOK(t, "--db", d.db, "stats")

	// The app has the keys, so check verifies seals through the socket
	// without --keys.
	c := ctlJSON[check](t, "--db", d.db, "-o", "json", "check")
	if !c.OK || c.Records != 4 || !c.SealsVerified || c.Problems == nil || len(c.Problems) != 0 {
		t.Errorf("check: %+v, want ok with 4 records and verified seals", c)
	}
	ctlOK(t, "--db", d.db, "check")

	// Reading changed nothing the app sees.
	for i, b := range all {
		if s := b.session(); s.ID != ids[i] || s.User != users[i] {
			t.Errorf("after the reads, session %d is %s of %q, want %s of %q", i, s.ID, s.User, ids[i], users[i])
		}
	}
}

// TestLiveBackupAndCompact: backup while the app serves writes a database
// that opens and checks clean; compact refuses the held file and points at
// backup, and compacting the backup works.
func TestLiveBackupAndCompact(t *testing.T) {
	t.Parallel()
	build(t)
	dir := demoproc.ShortTempDir(t)
	d := startDemo(t, dir)
	users := []string{"alice", "bob", "carol", "writer"}
	var ids []string
	var writer *browser
	for _, u := range users {
		writer = newBrowser(t, d, "")
		writer.login(u)
		writer.put("n", `0`)
		ids = append(ids, writer.session().ID)
	}

	// The last session, the writer's, keeps changing while sesctl backs up
	// and lists: the app serves on, and the copy is consistent.
	stop, writing, writes := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		var err error
		for n := 1; err == nil; n++ {
			var code int
			var body []byte
			code, body, err = writer.send("PUT", "/api/session/n", strings.NewReader(fmt.Sprint(n)), "Content-Type", "application/json")
			if err == nil && code != http.StatusNoContent {
				err = fmt.Errorf("PUT /api/session/n: status %d: %s", code, body)
			}
			if n == 1 {
				close(writing)
			}
			select {
			case <-stop:
				writes <- err
				return
			default:
			}
		}
		writes <- err
	}()
	<-writing // sesctl starts while the app is busy writing
	backup := filepath.Join(dir, "backup.db")
	res := ctlJSON[struct {
		Path  string `json:"path"`
		Bytes int64  `json:"bytes"`
	}](t, "--db", d.db, "-o", "json", "backup", backup)
	wantIDs(t, "list while writing", listJSON(t, "--db", d.db), ids, users)
	close(stop)
	if err := <-writes; err != nil {
		t.Errorf("writing while sesctl ran: %v", err)
	}
	fi, err := os.Stat(backup)
	if err != nil {
		t.Fatalf("backup file: %v", err)
	}
	if res.Path != backup || res.Bytes != fi.Size() || fi.Mode().Perm() != 0o600 {
		t.Errorf("backup reported %+v; the file has %d bytes, mode %v", res, fi.Size(), fi.Mode().Perm())
	}
	// The copy is a free file: sesctl opens it directly, and with the
	// app's keys verifies every seal.
	c := ctlJSON[check](t, "--db", backup, "--keys", d.keys, "-o", "json", "check")
	if !c.OK || c.Records != 4 || !c.SealsVerified {
		t.Errorf("check of the backup: %+v, want ok, 4 records, seals verified", c)
	}
	ctlOK(t, "--db", backup, "check")
	wantIDs(t, "list of the backup", listJSON(t, "--db", backup), ids, users)

	// compact needs a file no process holds; through the socket it is a
	// usage error.
	compacted := filepath.Join(dir, "compact.db")
	r := ctlFail(t, 1, "backup", "--db", d.db, "compact", compacted)
	if lines := strings.Count(r.stderr, "\n"); lines != 1 || !strings.Contains(r.stderr, "in use") {
		t.Errorf("compact of the held file: want one line saying it is in use:\n%s", r)
	}
	ctlFail(t, 2, "backup", "--socket", d.Socket, "compact", compacted)
	if _, err := os.Stat(compacted); !os.IsNotExist(err) {
		t.Errorf("a refused compact left %s: %v", compacted, err)
	}

	// What the message suggests: compact the backup.
	ctlOK(t, "--db", backup, "compact", compacted)
	c = ctlJSON[check](t, "--db", compacted, "--keys", d.keys, "-o", "json", "check")
	if !c.OK || c.Records != 4 || !c.SealsVerified {
		t.Errorf("check of the compacted backup: %+v", c)
	}
	d.Stop()
}

// TestLiveExpire: sessions that sesctl expires end for the app at once, and
// only those; a session the app revokes is gone for sesctl at once.
func TestLiveExpire(t *testing.T) {
	t.Parallel()
	build(t)
	d := startDemo(t, demoproc.ShortTempDir(t))

	type client struct {
		b    *browser
		user string
		id   string
	}
	var clients []*client
	add := func(user string) *client {
		c := &client{b: newBrowser(t, d, "curl/8.5.0"), user: user}
		c.b.login(user)
		c.b.put("owner", `"`+user+`"`)
		c.id = c.b.session().ID
		clients = append(clients, c)
		return c
	}
	laptop, phone, tablet := add("alice"), add("alice"), add("alice")
	bob, bob2, carol := add("bob"), add("bob"), add("carol")

	// wantEnded: the app gives c a fresh, empty session. Its next request
	// gets a new id and no data, and the old id stays gone (no
	// resurrection by the request that found it missing).
	wantEnded := func(c *client) {
		t.Helper()
		s := c.b.session()
		if s.ID == c.id || s.User != "" || len(s.Data) != 0 {
			t.Errorf("%s's session %s after it was ended: the app sees %+v, want a fresh one", c.user, c.id, s)
		}
		ctlFail(t, 1, "not found", "--db", d.db, "show", c.id)
	}
	// wantAlive: c still has its session, with its data.
	wantAlive := func(c *client) {
		t.Helper()
		s := c.b.session()
		if s.ID != c.id || s.User != c.user || string(s.Data["owner"]) != `"`+c.user+`"` {
			t.Errorf("%s's session %s: the app sees %+v, want it unchanged", c.user, c.id, s)
		}
	}
	type expired struct {
		Expired int `json:"expired"`
	}

	if n := ctlJSON[expired](t, "--db", d.db, "-o", "json", "expire", laptop.id).Expired; n != 1 {
		t.Errorf("expire %s: expired %d, want 1", laptop.id, n)
	}
	wantEnded(laptop)
	for _, c := range clients[1:] {
		wantAlive(c)
	}

	// Sign alice out of every device but her phone (by id prefix), then
	// log her out everywhere (the laptop, logged out already, in a fresh
	// session, is not hers any more).
	if n := ctlJSON[expired](t, "--db", d.db, "-o", "json", "expire", "--user", "alice", "--except", phone.id[:8]).Expired; n != 1 {
		t.Errorf("expire --user alice --except %s: expired %d, want 1", phone.id[:8], n)
	}
	wantEnded(tablet)
	wantAlive(phone)
	if n := ctlJSON[expired](t, "--db", d.db, "-o", "json", "expire", "--user", "alice").Expired; n != 1 {
		t.Errorf("expire --user alice: expired %d, want 1", n)
	}
	wantEnded(phone)
	for _, c := range []*client{bob, bob2, carol} {
		wantAlive(c)
	}
	wantIDs(t, "list after expiring alice", listJSON(t, "--db", d.db), []string{bob.id, bob2.id, carol.id}, []string{"bob", "bob", "carol"})
	wantIDs(t, "list --user alice", listJSON(t, "--db", d.db, "--user", "alice"), nil, nil)

	// An ended session that comes back with its old cookie gets a fresh
	// one; its data goes there, not into the old record.
	phone.b.put("after", `true`)
	ctlFail(t, 1, "not found", "--db", d.db, "show", phone.id)

	// The app revokes one of bob's sessions from another: gone for sesctl
	// at once.
	bob.b.want(http.StatusNoContent, "DELETE", "/api/sessions/"+bob2.id, nil)
	ctlFail(t, 1, "not found", "--db", d.db, "show", bob2.id)
	wantIDs(t, "list --user bob after a revoke", listJSON(t, "--db", d.db, "--user", "bob"), []string{bob.id}, []string{"bob"})
	wantEnded(bob2)
	wantAlive(bob)
	wantAlive(carol)
	d.Stop()
}

// TestLivePurge: a session past its idle timeout is gone for the app at
// once, before any reaper removed it; sesctl lists it as expired, and
// purge (and purge --dry-run) work through the socket.
func TestLivePurge(t *testing.T) {
	t.Parallel()
	build(t)
	// The old session is made under a short idle timeout, so it expires
	// within the test (the reaper runs every minute, so it will not remove
	// it first). The demo then runs with an hour's idle timeout, so the
	// fresh session cannot expire however slow a busy machine makes the
	// rest of the test: a record keeps the expiry it was written with.
	dir := demoproc.ShortTempDir(t)
	d := startDemo(t, dir, "-idle", "2s")
	old := newBrowser(t, d, "")
	old.login("old")
	before := old.session()
	d.Stop()
	d = startDemo(t, dir, "-idle", "1h")
	old.Base = d.Base
	waitExpired(t, d, before.ID)
	fresh := newBrowser(t, d, "")
	fresh.login("fresh")
	freshID := fresh.session().ID

	wantIDs(t, "list", listJSON(t, "--db", d.db), []string{freshID}, []string{"fresh"})
	exp := listJSON(t, "--db", d.db, "--expired")
	wantIDs(t, "list --expired", exp, []string{before.ID}, []string{"old"})
	if !exp[before.ID].Expired {
		t.Errorf("list --expired: %+v has expired false", exp[before.ID])
	}
	wantIDs(t, "list --all", listJSON(t, "--db", d.db, "--all"), []string{before.ID, freshID}, []string{"old", "fresh"})
	if st := ctlJSON[stats](t, "--db", d.db, "-o", "json", "stats"); st.Sessions != 2 || st.Expired != 1 {
		t.Errorf("stats: %+v, want 2 sessions, 1 expired", st)
	}

	// The app does not wait for the reaper: the expired session's cookie
	// gets a fresh session although the record is still stored.
	if s := old.session(); s.ID == before.ID || s.User != "" {
		t.Errorf("the expired session's cookie gives %+v, want a fresh session", s)
	}
	if s := ctlJSON[listed](t, "--db", d.db, "-o", "json", "show", before.ID); !s.Expired {
		t.Errorf("show of the expired session: %+v", s)
	}

	type purged struct {
		Removed int  `json:"removed"`
		DryRun  bool `json:"dry_run"`
	}
	if p := ctlJSON[purged](t, "--db", d.db, "-o", "json", "purge", "--dry-run"); p.Removed != 1 || !p.DryRun {
		t.Errorf("purge --dry-run: %+v, want 1 removable", p)
	}
	if s := ctlJSON[listed](t, "--db", d.db, "-o", "json", "show", before.ID); s.ID != before.ID {
		t.Errorf("after purge --dry-run: show %+v", s)
	}
	if p := ctlJSON[purged](t, "--db", d.db, "-o", "json", "purge"); p.Removed != 1 || p.DryRun {
		t.Errorf("purge: %+v, want 1 removed", p)
	}
	ctlFail(t, 1, "not found", "--db", d.db, "show", before.ID)
	if p := ctlJSON[purged](t, "--db", d.db, "-o", "json", "purge"); p.Removed != 0 {
		t.Errorf("a second purge: %+v, want nothing removed", p)
	}
	ctlOK(t, "--db", d.db, "purge", "--dry-run") // the table printer too
	d.Stop()
}

// TestSocketChoice: where sesctl gets its data. --socket forces the
// socket; while the app runs --db goes through FILE.sock; once the app
// stopped (socket removed, file free) --db opens the file itself, and what
// it changes there the app sees after a restart.
func TestSocketChoice(t *testing.T) {
	t.Parallel()
	build(t)
	d := startDemo(t, demoproc.ShortTempDir(t))
	if d.Socket != d.db+".sock" {
		t.Errorf("admin socket %s, want %s", d.Socket, d.db+".sock")
	}
	if fi, err := os.Lstat(d.Socket); err != nil {
		t.Errorf("admin socket: %v", err)
	} else if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Errorf("admin socket %s has mode %v, want a socket with mode 0600", d.Socket, fi.Mode())
	}
	alice, bob := newBrowser(t, d, ""), newBrowser(t, d, "")
	alice.login("alice")
	bob.login("bob")
	aliceID, bobID := alice.session().ID, bob.session().ID
	ids, users := []string{aliceID, bobID}, []string{"alice", "bob"}

	// --socket: no file is looked at; --db beside it is bad usage.
	missing := filepath.Join(d.dir, "no-such.db")
	wantIDs(t, "--socket list", listJSON(t, "--socket", d.Socket), ids, users)
	ctlFail(t, 2, "--db and --socket exclude each other", "--socket", d.Socket, "--db", missing, "list")
	wantIDs(t, "--db list", listJSON(t, "--db", d.db), ids, users)
	ctlFail(t, 1, "no such database file", "--db", missing, "list")

	d.Stop()

	// Stopped: the socket is gone, so --socket fails (quickly), and --db
	// opens the file itself: read-only without keys, writes with them.
	r := ctlFail(t, 1, d.Socket, "--socket", d.Socket, "list")
	if r.took > 5*time.Second {
		t.Errorf("--socket with no app took %v", r.took)
	}
	wantIDs(t, "list of the free file", listJSON(t, "--db", d.db), ids, users)
	ctlFail(t, 1, "--keys", "--db", d.db, "expire", aliceID)
	ctlOK(t, "--db", d.db, "--keys", d.keys, "expire", aliceID)
	c := ctlJSON[check](t, "--db", d.db, "--keys", d.keys, "-o", "json", "check")
	if !c.OK || c.Records != 1 || !c.SealsVerified {
		t.Errorf("check of the free file: %+v", c)
	}
	if _, err := os.Lstat(d.Socket); !os.IsNotExist(err) {
		t.Errorf("sesctl on the free file left something at %s: %v", d.Socket, err)
	}

	// Started again: the socket is back, the offline expire holds, bob is
	// still logged in.
	d = d.restart()
	alice.Base, bob.Base = d.Base, d.Base
	if s := alice.session(); s.ID == aliceID || s.User != "" {
		t.Errorf("alice, expired while the app was stopped, has %+v", s)
	}
	if s := bob.session(); s.ID != bobID || s.User != "bob" {
		t.Errorf("bob after the restart: %+v", s)
	}
	wantIDs(t, "list after the restart", listJSON(t, "--db", d.db), []string{bobID}, []string{"bob"})
	var st stats
	if err := json.Unmarshal([]byte(ctlOK(t, "--socket", d.Socket, "-o", "json", "stats")), &st); err != nil || st.Sessions != 1 {
		t.Errorf("stats through --socket after the restart: %+v, %v", st, err)
	}
	d.Stop()
}

// waitExpired waits until session id has expired, asking sesctl (a
// request to the app with its cookie would extend it).
func waitExpired(t *testing.T, d *demo, id string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		s := ctlJSON[listed](t, "--db", d.db, "-o", "json", "show", id)
		if s.Expired {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("session %s has not expired after a minute: %+v", id, s)
		}
		time.Sleep(time.Until(s.Expires) + 50*time.Millisecond)
	}
}

// TestCrashedApp: an app killed without closing its store leaves its
// socket file behind, with nobody answering; sesctl then opens the free
// file itself, and the app, started again, replaces the stale socket.
func TestCrashedApp(t *testing.T) {
	t.Parallel()
	build(t)
	d := startDemo(t, demoproc.ShortTempDir(t))
	alice := newBrowser(t, d, "")
	alice.login("alice")
	alice.put("n", `1`)
	id := alice.session().ID

	d.Kill()
	if fi, err := os.Lstat(d.Socket); err != nil || fi.Mode().Type() != os.ModeSocket {
		t.Fatalf("after SIGKILL the socket file should be left behind: %v", err)
	}
	r := ctlFail(t, 1, d.Socket, "--socket", d.Socket, "list")
	if r.took > 5*time.Second {
		t.Errorf("--socket with a stale socket took %v", r.took)
	}
	wantIDs(t, "list of the crashed app's file", listJSON(t, "--db", d.db), []string{id}, []string{"alice"})

	d = startDemo(t, d.dir)
	alice.Base = d.Base
	if s := alice.session(); s.ID != id || s.User != "alice" || string(s.Data["n"]) != "1" {
		t.Errorf("alice after the crash and restart: %+v", s)
	}
	wantIDs(t, "list through the new socket", listJSON(t, "--db", d.db), []string{id}, []string{"alice"})
	d.Stop()
}

// TestBackupRefusesTheLiveDatabase: backup --force onto the running app's
// database file, through the socket by path or through a hard link, is
// refused: exit 1, the file the app writes is still the database's, and
// what the app acknowledges afterwards is there after a restart.
func TestBackupRefusesTheLiveDatabase(t *testing.T) {
	t.Parallel()
	build(t)
	d := startDemo(t, demoproc.ShortTempDir(t))
	alice := newBrowser(t, d, "")
	alice.login("alice")
	link := filepath.Join(d.dir, "link.db")
	if err := os.Link(d.db, link); err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(d.db)
	if err != nil {
		t.Fatal(err)
	}
	for _, dst := range []string{d.db, link} {
		ctlFail(t, 1, "is the database itself", "--socket", d.Socket, "backup", "--force", dst)
		ctlFail(t, 1, "is the database itself", "--db", d.db, "backup", "--force", dst)
	}
	if after, err := os.Stat(d.db); err != nil || !os.SameFile(before, after) {
		t.Fatalf("%s was replaced (or is gone: %v)", d.db, err)
	}

	alice.put("after", `"backup"`)
	d = d.restart()
	alice.Base = d.Base
	if s := alice.session(); s.User != "alice" || string(s.Data["after"]) != `"backup"` {
		t.Errorf("after a restart alice has %+v; want her session with after=\"backup\"", s)
	}
	d.Stop()
}
