package boltstore_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sesbolt/sesbolt/pkg/boltstore"
	"github.com/sesbolt/sesbolt/pkg/session"
	"github.com/sesbolt/sesbolt/pkg/session/sessiontest"
)

// TestReapStoppedBetweenPhases: a pass that removed expired records but not
// yet their index entries (stopped by Close, an error or a crash) leaves a
// consistent store: Check finds nothing wrong, the ids stay reserved, and
// the next pass, in a new process, removes the entries and frees the ids.
func TestReapStoppedBetweenPhases(t *testing.T) {
	s, path := openTemp(t)
	ctx := context.Background()
	now := sessiontest.Base()
	users := []string{"alice", "bob"}
	expired := insert(t, s, 6, now, func(i int) string { return users[i%2] })
	live := insert(t, s, 1, now.Add(time.Hour), func(int) string { return "carol" })[0]
	at := expired[0].Expires()

	n, err := boltstore.PurgeRecords(s, at)
	if err != nil || n != len(expired) {
		t.Fatalf("PurgeRecords = %d, %v; want %d", n, err, len(expired))
	}
	mustCheck(t, s)
	page, err := s.List(ctx, session.ListQuery{User: "alice", Now: at})
	if err != nil || len(page.Records) != 0 {
		t.Fatalf("alice's sessions after phase 1: %d, %v; want none", len(page.Records), err)
	}
	// The ids are reserved: neither an import nor a new session takes one.
	again := sessiontest.NewRecord(expired[0].ID, "alice", at)
	if got, err := s.Import(ctx, []*session.Record{again}, at); err != nil || got != 0 {
		t.Fatalf("Import under a reaped id = %d, %v; want 0, <nil>", got, err)
	}
	if _, err := s.Apply(ctx, sessiontest.CreateChange(again)); !errors.Is(err, session.ErrExists) {
		t.Fatalf("create under a reaped id = %v; want ErrExists", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	counts := bucketCounts(t, path)
	if counts["reaped"] != len(expired) || counts["users"] != len(expired)+1 || counts["expiry"] != len(expired)+1 {
		t.Fatalf("after phase 1: %v; want the %d reaped ids with their index entries", counts, len(expired))
	}

	s = openAt(t, path, testOptions(t))
	if n, err := s.Purge(ctx, at); err != nil || n != 0 {
		t.Fatalf("next Purge = %d, %v; want 0 (the records were gone), <nil>", n, err)
	}
	st, err := s.Stats(ctx, at)
	if err != nil || st.Sessions != 1 || st.Users != 1 {
		t.Fatalf("Stats = %+v, %v; want 1 session of 1 user", st, err)
	}
	mustCheck(t, s)
	if got, err := s.Import(ctx, []*session.Record{again}, at); err != nil || got != 1 {
		t.Fatalf("Import under the freed id = %d, %v; want 1, <nil>", got, err)
	}
	if _, err := s.Load(ctx, live.ID, at); err != nil {
		t.Fatalf("live session: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if counts := bucketCounts(t, path); counts["reaped"] != 0 || counts["users"] != 2 || counts["expiry"] != 2 {
		t.Fatalf("after the next pass: %v; want no reaped ids and the entries of 2 records", counts)
	}
}

// bucketCounts returns the number of keys in each top-level bucket of the
// closed file at path.
func bucketCounts(t *testing.T, path string) map[string]int {
	t.Helper()
	counts := map[string]int{}
	editBolt(t, path, func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			counts[string(name)] = b.Stats().KeyN
			return nil
		})
	})
	return counts
}

// TestReapRemovesRecordsInIDOrder: sessions expire in an order unrelated to
// their ids, and the pass removes them in id order (neighbouring pages per
// round), not in expiry order.
func TestReapRemovesRecordsInIDOrder(t *testing.T) {
	s, _ := openTemp(t)
	now := sessiontest.Base()
	const n = 300
	var last time.Time
	for i := range n {
		// Created a second apart (each its own place in the expiry
		// index), with random ids.
		last = now.Add(time.Duration(i) * time.Second)
		insert(t, s, 1, last, nil)
	}
	var ids [][]byte
	boltstore.SetReapHook(s, func(keys [][]byte) {
		for _, k := range keys {
			ids = append(ids, k[len(k)-16:])
		}
	})
	at := last.Add(sessiontest.IdleTimeout)
	if removed, err := s.Purge(context.Background(), at); err != nil || removed != n {
		t.Fatalf("Purge = %d, %v; want %d", removed, err, n)
	}
	if len(ids) != n {
		t.Fatalf("the rounds saw %d entries, want %d", len(ids), n)
	}
	for i := 1; i < len(ids); i++ {
		if bytes.Compare(ids[i-1], ids[i]) >= 0 {
			t.Fatalf("entry %d of the pass is not in id order", i)
		}
	}
	mustCheck(t, s)
}

// TestCheckReportsBadReapedEntries: Check reports a malformed key in the
// reaped bucket and a reaped id that holds a record, and index entries
// without a record unless their id is reaped.
func TestCheckReportsBadReapedEntries(t *testing.T) {
	s, path := openTemp(t)
	now := sessiontest.Base()
	recs := insert(t, s, 3, now, func(int) string { return "dave" })
	if _, err := boltstore.PurgeRecords(s, recs[0].Expires()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path, testOptions(t))
	live := insert(t, s, 1, now.Add(time.Hour), nil)[0]
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	editBolt(t, path, func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("reaped"))
		if err := b.Delete(recs[2].ID[:]); err != nil { // its index entries now point nowhere
			return err
		}
		if err := b.Put([]byte("short"), nil); err != nil {
			return err
		}
		return b.Put(live.ID[:], nil)
	})
	s = openAt(t, path, &boltstore.Options{ReadOnly: true, Keys: testKeys(t), Logger: quietLogger()})
	rep, err := s.Diagnose(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range rep.Problems {
		got = append(got, p.Area+": "+p.Message)
	}
	want := []string{
		"reaped: key of 5 bytes",
		"reaped: id holds a record while its index entries are being removed",
		"expiry-index: entry without a record",
		"user-index: entry without a record",
	}
	for _, w := range want {
		if !strings.Contains(strings.Join(got, "|"), w) {
			t.Errorf("Check problems %q lack %q", got, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("Check found %d problems, want %d: %q", len(got), len(want), got)
	}
}

// TestReapCrashRecovery kills a process in the middle of an expiry pass
// (SIGKILL, after a few rounds committed) and checks the file it leaves:
// consistent, every live session intact, and the next pass removes exactly
// what the killed one had not, with nothing left pending.
func TestReapCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	path := filepath.Join(t.TempDir(), "sessions.db")
	ctx := context.Background()
	now := sessiontest.Base()
	s := openAt(t, path, testOptions(t))
	users := []string{"erin", "frank", "grace", ""}
	const expiredN = 400
	expired := insert(t, s, expiredN, now, func(i int) string { return users[i%len(users)] })
	live := insert(t, s, 20, now.Add(time.Hour), func(i int) string { return users[i%len(users)] })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	at := expired[0].Expires()

	pending := 0
	for _, rounds := range []int{1, 4, 9} {
		cmd, out, _ := startHelperEnv(t, "purge", path, envAt+"="+strconv.FormatInt(at.UnixNano(), 10))
		for i := 0; i < rounds; i++ {
			line, err := out.ReadString('\n')
			if err != nil {
				t.Fatalf("reading the child after %d rounds: %v", i, err)
			}
			if strings.TrimSpace(line) == "done" {
				t.Fatalf("the pass ended after %d rounds; the test wants to kill it earlier", i)
			}
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		// Rounds run in id order over the whole set, so each kill leaves a
		// few records more removed, with their index entries pending.
		opts := testOptions(t)
		opts.Verify = true
		s := openAt(t, path, opts)
		mustCheck(t, s)
		for _, r := range live {
			if _, err := s.Load(ctx, r.ID, at); err != nil {
				t.Fatalf("after a kill at round %d: live session %s: %v", rounds, r.ID, err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		pending = bucketCounts(t, path)["reaped"]
	}
	if pending == 0 {
		t.Fatal("the last kill left no removed record with its index entries pending: recovery untested")
	}

	s = openAt(t, path, testOptions(t))
	removed, err := s.Purge(ctx, at)
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.Stats(ctx, at)
	if err != nil {
		t.Fatal(err)
	}
	if st.Sessions != int64(len(live)) || st.Users != int64(len(users)-1) {
		t.Fatalf("after the last pass (it removed %d): %d sessions of %d users; want %d of %d",
			removed, st.Sessions, st.Users, len(live), len(users)-1)
	}
	mustCheck(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if counts := bucketCounts(t, path); counts["reaped"] != 0 || counts["expiry"] != len(live) || counts["users"] != len(live)*3/4 {
		t.Fatalf("buckets after the last pass: %v; want nothing pending and the entries of the %d live sessions", counts, len(live))
	}
}
