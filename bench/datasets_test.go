package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sesbolt/sesbolt/pkg/boltstore"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// The large files, built once per process in processDir. Session i (in
// id order, which spreads every tranche evenly over the key space) is in
//
//	tranche A (i%10 == 0, 10%): expires first,
//	tranche B (i%10 in 1..8, 80%): expires next,
//	tranche C (i%10 == 9, 10%): expires last.
//
// sesbolt's file holds all three with expiry times relative to its base
// time, and Purge is given the instant: before A (nothing expired), after
// A (10%), after B (90%). scs's cleanup judges expiry by the wall clock,
// so scs gets one file per expired fraction, with the expired tranches in
// the past and the others a day ahead.

// tranche returns 'A', 'B' or 'C' for session i.
func tranche(i int) byte {
	switch i % 10 {
	case 0:
		return 'A'
	case 9:
		return 'C'
	}
	return 'B'
}

// In a running application the ids of the sessions that expire together,
// their users and the order in which they were created are unrelated. So
// session i belongs to datasetUser(i) and was created datasetAge(i) before
// base: neither the user index nor the expiry index (ordered by expiry
// minute, then creation) follows the id order. (With both in id order, as
// before 2026-11-29, a reaper deleting in expiry order met the records in
// key order, which real traffic never offers.)

// datasetUser is the user of session i of a large file: three sessions
// per user (i/3), user ids in no relation to session ids, as long as
// typicalUser's.
func datasetUser(i int) string {
	return fmt.Sprintf("user%07d", scramble(uint32(i/3))%10_000_000)
}

// datasetAge is how long before base session i of a large file was
// created: up to two hours, in no relation to i.
func datasetAge(i int) time.Duration {
	return time.Duration(scramble(uint32(i)^0x5bd1e995)%7200) * time.Second
}

// scramble is a bijection on uint32 that looks random (a few rounds of
// multiply and xorshift).
func scramble(x uint32) uint32 {
	x ^= x >> 16
	x *= 0x7feb352d
	x ^= x >> 15
	x *= 0x846ca68b
	x ^= x >> 16
	return x
}

// sesboltSet is a closed sesbolt file of n sessions.
type sesboltSet struct {
	path string
	ids  []session.ID // in id order; ids[i] is session i
	base time.Time    // every session was last seen at base
	n    int
	took time.Duration // build time
}

// Expiry instants of the tranches, relative to base. The sessions stay
// live for the manager as long as its clock is before base+expiresA.
const (
	expiresA = 10 * time.Minute
	expiresB = 20 * time.Minute
	expiresC = 30 * time.Minute
)

func (s *sesboltSet) idleExpires(i int) time.Time {
	switch tranche(i) {
	case 'A':
		return s.base.Add(expiresA)
	case 'B':
		return s.base.Add(expiresB)
	}
	return s.base.Add(expiresC)
}

// sesboltImportBatch is the number of records per Import call (one write
// transaction each) when building files.
const sesboltImportBatch = 20000

var (
	datasetsMu  sync.Mutex
	sesboltSets = map[int]*sesboltSet{}
	scsSets     = map[string]*scsSet{}
)

// sesboltFile returns the sesbolt file of n sessions, building it on first
// use.
func sesboltFile(tb testing.TB, n int) *sesboltSet {
	datasetsMu.Lock()
	defer datasetsMu.Unlock()
	if s, ok := sesboltSets[n]; ok {
		return s
	}
	start := time.Now()
	s := &sesboltSet{
		path: filepath.Join(processDir, fmt.Sprintf("sesbolt-%d.db", n)),
		base: start.Truncate(time.Second),
		n:    n,
	}
	s.ids = make([]session.ID, n)
	for i := range s.ids {
		s.ids[i] = session.NewID()
	}
	slices.SortFunc(s.ids, func(a, b session.ID) int { return bytes.Compare(a[:], b[:]) })
	keys := benchKeys(tb)
	store, err := boltstore.Open(s.path, &boltstore.Options{Keys: keys, ReapInterval: -1})
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	for lo := 0; lo < n; lo += sesboltImportBatch {
		hi := min(n, lo+sesboltImportBatch)
		recs := make([]*session.Record, 0, hi-lo)
		for i := lo; i < hi; i++ {
			r := sesboltRecord(i, s.ids[i], s.base, s.idleExpires(i))
			r.UserID = datasetUser(i)
			r.Created = s.base.Add(-datasetAge(i))
			r.Deadline = r.Created.Add(session.DefaultLifetime)
			recs = append(recs, r)
		}
		if got, err := store.Import(ctx, recs, s.base); err != nil || got != len(recs) {
			tb.Fatalf("import: %d of %d: %v", got, len(recs), err)
		}
	}
	if err := store.Close(); err != nil {
		tb.Fatal(err)
	}
	s.took = time.Since(start)
	tb.Logf("built sesbolt file of %d sessions in %v (%d MiB)", n, s.took.Round(time.Millisecond), fileSize(tb, s.path)>>20)
	sesboltSets[n] = s
	return s
}

// scsSet is a closed scs bbolt file of n sessions, expiredPct percent of
// them expired (whole tranches, A first).
type scsSet struct {
	path   string
	tokens []string // in key order; tokens[i] is session i
	n      int
	took   time.Duration
}

func scsExpired(i, expiredPct int) bool {
	switch expiredPct {
	case 0:
		return false
	case 10:
		return tranche(i) == 'A'
	case 90:
		return tranche(i) != 'C'
	}
	panic("scsExpired: unsupported fraction")
}

// scsFile returns the scs file of n sessions with expiredPct percent (0,
// 10 or 90) expired an hour ago and the rest expiring in 24 hours (scs's
// default lifetime), building it on first use. Values are written in scs's
// format with scs's own codec, in transactions of 100,000 puts.
func scsFile(tb testing.TB, n, expiredPct int) *scsSet {
	key := fmt.Sprintf("%d-%d", n, expiredPct)
	datasetsMu.Lock()
	defer datasetsMu.Unlock()
	if s, ok := scsSets[key]; ok {
		return s
	}
	start := time.Now()
	s := &scsSet{path: filepath.Join(processDir, "scs-"+key+".db"), n: n}
	s.tokens = make([]string, n)
	for i := range s.tokens {
		s.tokens[i] = scsToken()
	}
	slices.Sort(s.tokens)
	db, err := bolt.Open(s.path, 0o600, nil)
	if err != nil {
		tb.Fatal(err)
	}
	past, future := start.Add(-time.Hour), start.Add(24*time.Hour)
	const batch = 100000
	values := make([][]byte, n)
	for lo := 0; lo < n; lo += batch {
		hi := min(n, lo+batch)
		// Encode in parallel (gob is the slow part), then write in order.
		runN(hi-lo, runtime.GOMAXPROCS(0), func(j int) {
			i := lo + j
			exp := future
			if scsExpired(i, expiredPct) {
				exp = past
			}
			values[i] = scsValue(tb, i, exp)
		})
		err := db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte(scsBucket))
			if err != nil {
				return err
			}
			for i := lo; i < hi; i++ {
				if err := b.Put([]byte(s.tokens[i]), values[i]); err != nil {
					return err
				}
				values[i] = nil
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		tb.Fatal(err)
	}
	s.took = time.Since(start)
	tb.Logf("built scs file of %d sessions (%d%% expired) in %v (%d MiB)", n, expiredPct, s.took.Round(time.Millisecond), fileSize(tb, s.path)>>20)
	scsSets[key] = s
	return s
}

func fileSize(tb testing.TB, path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		tb.Fatal(err)
	}
	return fi.Size()
}

// copyFile copies src into dir and returns the copy's path. The copy is
// synced: otherwise the first fdatasync of whoever opens it would write the
// whole file back, inside the measured time.
func copyFile(tb testing.TB, src, dir string) string {
	in, err := os.Open(src)
	if err != nil {
		tb.Fatal(err)
	}
	defer in.Close()
	dst := filepath.Join(dir, filepath.Base(src))
	out, err := os.Create(dst)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		tb.Fatal(err)
	}
	if err := out.Sync(); err != nil {
		tb.Fatal(err)
	}
	if err := out.Close(); err != nil {
		tb.Fatal(err)
	}
	return dst
}

// boltUsage reports a closed bbolt file's size and the bytes its pages in
// use take (the high-water mark less the free pages).
func boltUsage(tb testing.TB, path string) (size, used int64) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{PreLoadFreelist: true, Timeout: 10 * time.Second}) // read-only would not load the freelist
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		st := db.Stats()
		used = tx.Size() - int64(st.FreePageN+st.PendingPageN)*int64(db.Info().PageSize)
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return fileSize(tb, path), used
}

// compact writes a compacted copy of the closed bbolt file src into dir
// with bbolt.Compact and returns its path.
func compact(tb testing.TB, src, dir string) string {
	in, err := bolt.Open(src, 0o600, &bolt.Options{ReadOnly: true, Timeout: 10 * time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	defer in.Close()
	dst := filepath.Join(dir, "compacted-"+filepath.Base(src))
	out, err := bolt.Open(dst, 0o600, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if err := bolt.Compact(out, in, 64<<20); err != nil {
		tb.Fatal(err)
	}
	if err := out.Close(); err != nil {
		tb.Fatal(err)
	}
	return dst
}
