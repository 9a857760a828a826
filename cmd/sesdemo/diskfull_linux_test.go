//go:build linux

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/internal/demoproc"
	"github.com/sesbolt/sesbolt/internal/testfs"
	"github.com/sesbolt/sesbolt/pkg/boltstore"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// TestDiskFullOverHTTP fills the disk under a running sesdemo with a storm
// of concurrent writes: requests that cannot be stored get a clean 500 with
// a JSON error (not a dropped connection, not a 413), nothing already
// acknowledged is lost, reads go on, writes resume once space is freed, and
// everything survives a restart with a file that checks clean.
func TestDiskFullOverHTTP(t *testing.T) {
	bin := buildDemo(t)
	dir := testfs.MountTmpfs(t, "3m")
	filler := filepath.Join(dir, "filler") // freed later to let writes resume
	if err := os.WriteFile(filler, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "demo.db")
	keys := filepath.Join(t.TempDir(), "demo.keys")
	args := []string{"-db", db, "-keys", keys}
	p := demoproc.Start(t, bin, args...)

	// The storm: each worker writes 8 KiB values, five keys per session
	// (well below the 64 KiB record limit), then starts a new session.
	type write struct {
		b          *browser
		key, value string
	}
	var (
		mu       sync.Mutex
		acked    []write
		browsers []*browser
		failures atomic.Int64 // clean 500s
		requests atomic.Int64
	)
	value := `"` + strings.Repeat("x", 8<<10) + `"`
	const workers, maxRequests, enoughFailures = 16, 4000, 40
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			var b *browser
			for n := 0; failures.Load() < enoughFailures && requests.Add(1) <= maxRequests; n++ {
				if n%5 == 0 {
					b = newBrowser(t, p.Base, "")
					mu.Lock()
					browsers = append(browsers, b)
					mu.Unlock()
				}
				key := fmt.Sprintf("w%dn%d", w, n)
				r, err := b.send("PUT", "/api/session/"+key, strings.NewReader(value), "Content-Type", "application/json")
				switch {
				case err != nil:
					errs <- fmt.Errorf("PUT %s: %w (a dropped connection, not a clean 5xx)", key, err)
					return
				case r.StatusCode == http.StatusNoContent:
					mu.Lock()
					acked = append(acked, write{b, key, value})
					mu.Unlock()
				case r.StatusCode == http.StatusInternalServerError:
					var body map[string]string
					if json.Unmarshal(r.body, &body) != nil || body["error"] != "session store failure" || len(body) != 1 ||
						r.Header.Get("Content-Type") != "application/json" {
						errs <- fmt.Errorf("PUT %s on a full disk: 500 with %s %q", key, r.Header.Get("Content-Type"), r.body)
						return
					}
					if c := r.Header.Get("Set-Cookie"); c != "" {
						errs <- fmt.Errorf("PUT %s on a full disk: the 500 sets a cookie %q for a session never stored", key, c)
						return
					}
					failures.Add(1)
					n-- // the session got nothing: count the key again
				default:
					errs <- fmt.Errorf("PUT %s: status %d %q, want 204 or a clean 500", key, r.StatusCode, r.body)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
	if failures.Load() == 0 {
		t.Fatalf("%d writes and the disk never filled", len(acked))
	}
	if len(acked) < 20 {
		t.Fatalf("only %d writes fit before the disk filled", len(acked))
	}
	t.Logf("disk full after %d acknowledged writes; %d clean 500s", len(acked), failures.Load())

	// Everything acknowledged reads back, also while the disk is full.
	checkAcked := func(when string) {
		t.Helper()
		want := map[*browser]map[string]string{}
		for _, a := range acked {
			if want[a.b] == nil {
				want[a.b] = map[string]string{}
			}
			want[a.b][a.key] = a.value
		}
		for b, keys := range want {
			s := b.session()
			for k, v := range keys {
				if string(s.Data[k]) != v {
					t.Fatalf("%s: acknowledged key %s of session %s is lost (%d bytes)", when, k, s.ID, len(s.Data[k]))
				}
			}
		}
	}
	checkAcked("disk full")

	// Space freed: new sessions and updates of old ones are stored again.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	fresh := newBrowser(t, p.Base, "")
	wantStatus(t, fresh.put("/api/session/after", `"space freed"`), http.StatusNoContent)
	acked = append(acked, write{fresh, "after", `"space freed"`})
	old := acked[0].b
	wantStatus(t, old.put("/api/session/update", `"after the disk was full"`), http.StatusNoContent)
	acked = append(acked, write{old, "update", `"after the disk was full"`})
	checkAcked("space freed")

	// A restart keeps it all, and the file checks clean.
	p.Stop()
	logs := p.Log.String()
	if !strings.Contains(logs, "session store failure") || !strings.Contains(logs, "no space left on device") {
		t.Errorf("the log does not say why writes failed:\n%.2000s", logs)
	}
	if strings.Contains(logs, "panic") {
		t.Errorf("the log shows a panic:\n%s", logs)
	}
	p = demoproc.Start(t, bin, args...)
	for _, b := range browsers {
		b.Base = p.Base
	}
	fresh.Base = p.Base
	checkAcked("after a restart")
	p.Stop()

	kr, _, err := session.LoadOrCreateKeyFile(keys)
	if err != nil {
		t.Fatal(err)
	}
	s, err := boltstore.Open(db, &boltstore.Options{Keys: kr, ReadOnly: true, Verify: true})
	if err != nil {
		t.Fatalf("reopening the file: %v", err)
	}
	defer s.Close()
	rep, err := s.Diagnose(context.Background())
	if err != nil || !rep.OK() {
		t.Fatalf("check after the disk was full: %+v, %v", rep, err)
	}
	sessions := map[*browser]bool{}
	for _, a := range acked {
		sessions[a.b] = true
	}
	if st, err := s.Stats(context.Background(), time.Now()); err != nil || st.Sessions != int64(len(sessions)) {
		t.Fatalf("stats: %+v, %v; want %d sessions", st, err, len(sessions))
	}
}
