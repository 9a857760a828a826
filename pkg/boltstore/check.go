package boltstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/sesbolt/sesbolt/pkg/boltstore/internal/boltfile"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// MaxProblems bounds the problems one Diagnose (or Check) reports.
const MaxProblems = 1000

// Problem areas of a Diagnosis.
const (
	// AreaStructure: the bbolt page structure (unreachable, doubly used or
	// out-of-bounds pages, key order), from the store's page walk and
	// bbolt's tx.Check.
	AreaStructure = "structure"
	// AreaMeta: the meta bucket (format, schema, counters).
	AreaMeta = "meta"
	// AreaRecord: a stored record that is not a valid envelope or record.
	AreaRecord = "record"
	// AreaSeal: a record whose seal does not verify with the store's keys.
	AreaSeal = "seal"
	// AreaExpiry: the expiry index and its agreement with the records.
	AreaExpiry = "expiry-index"
	// AreaUsers: the user index and its agreement with the records.
	AreaUsers = "user-index"
	// AreaRenewed: the tombstones of renewed ids (malformed entries, or a
	// tombstone beside a record). Tombstones themselves are no problem.
	AreaRenewed = "renewed"
	// AreaReaped: the ids of records the expiry pass removed while it
	// removes their index entries (malformed entries, or such an id
	// holding a record). Index entries of those ids are no problem.
	AreaReaped = "reaped"
)

// Problem is one inconsistency found by Diagnose.
type Problem struct {
	// Area is one of the Area constants.
	Area string `json:"area"`
	// ID is the session concerned; zero when the problem is not about one.
	ID session.ID `json:"id"`
	// Message describes the problem; it never contains session data.
	Message string `json:"message"`
}

// String renders the problem on one line.
func (p Problem) String() string {
	if p.ID.IsZero() {
		return p.Area + ": " + p.Message
	}
	return p.Area + ": " + p.ID.String() + ": " + p.Message
}

// Diagnosis is the detailed result of Diagnose; Check condenses it into a
// session.CheckReport.
type Diagnosis struct {
	// Pages counts the pages the structure walk visited.
	Pages int `json:"pages"`
	// Sessions, ExpiryEntries and UserEntries count what was examined.
	Sessions      int64 `json:"sessions"`
	ExpiryEntries int64 `json:"expiry_entries"`
	UserEntries   int64 `json:"user_entries"`
	// SealsChecked is true when the store has keys and so verified every
	// record's seal; false for a read-only store opened without keys.
	SealsChecked bool `json:"seals_checked"`
	// Problems lists what is wrong, at most MaxProblems; empty when the
	// file is consistent.
	Problems []Problem `json:"problems"`
	// Truncated is true when more problems were found than reported.
	Truncated bool `json:"truncated"`
}

// OK reports whether Diagnose found no problem.
func (r *Diagnosis) OK() bool { return len(r.Problems) == 0 && !r.Truncated }

// Report condenses r into the store-independent session.CheckReport: one
// line per problem, and a last line saying how the list was cut short.
func (r *Diagnosis) Report() session.CheckReport {
	rep := session.CheckReport{Records: r.Sessions, SealsVerified: r.SealsChecked, Problems: []string{}}
	for _, p := range r.Problems {
		rep.Problems = append(rep.Problems, p.String())
	}
	if r.Truncated {
		rep.Problems = append(rep.Problems, fmt.Sprintf("more problems not listed (the first %d are)", MaxProblems))
	}
	return rep
}

func (r *Diagnosis) add(area string, id session.ID, format string, args ...any) {
	if len(r.Problems) >= MaxProblems {
		r.Truncated = true
		return
	}
	r.Problems = append(r.Problems, Problem{Area: area, ID: id, Message: fmt.Sprintf(format, args...)})
}

// Check implements session.Checker: Diagnose, condensed by
// Diagnosis.Report.
func (s *Store) Check(ctx context.Context) (session.CheckReport, error) {
	d, err := s.Diagnose(ctx)
	if err != nil {
		return session.CheckReport{}, err
	}
	return d.Report(), nil
}

// Diagnose verifies one consistent snapshot of the file while the store keeps
// serving (it holds a read transaction throughout, so a write that must grow
// the memory map waits for it; see Options.InitialMmapSize):
//
//  1. the page structure, walked through ordinary reads, so a damaged file
//     is reported instead of crashing the walk;
//  2. bbolt's own consistency check (tx.Check: freelist, reachability, key
//     order), only when the walk found the structure sound;
//  3. the layout: every record decodes, carries its own id, and has exactly
//     its expiry-index entry and (if bound to a user) its user-index entry;
//     every index entry points to a record that agrees with it; the meta
//     counters match; the tombstones of renewed ids are well formed and
//     beside no record; and, when the store has keys, every seal verifies.
//
// Problems go into the report; the error is for failures to check at all
// (I/O, ctx, a closed store). Diagnose does not count seal failures in
// Stats. It works on read-only stores; without keys it skips the seals.
func (s *Store) Diagnose(ctx context.Context) (*Diagnosis, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !s.enter() {
		return nil, session.ErrClosed
	}
	defer s.leave()
	for attempt := 0; ; attempt++ {
		rep := &Diagnosis{SealsChecked: s.codec.keys != nil}
		err := s.view("diagnose", func(tx *bolt.Tx) error { return s.check(ctx, tx, rep) })
		if errors.Is(err, errSnapshotMoved) && attempt < 20 {
			continue
		}
		if err != nil {
			return nil, err
		}
		return rep, nil
	}
}

// errSnapshotMoved: both meta pages were rewritten after the read
// transaction began, so the walk cannot find its snapshot's root; retry.
var errSnapshotMoved = errors.New("boltstore: snapshot moved")

func (s *Store) check(ctx context.Context, tx *bolt.Tx, rep *Diagnosis) error {
	problems, pages, err := s.walkSnapshot(uint64(tx.ID()), MaxProblems)
	if err != nil {
		return err
	}
	rep.Pages = pages
	for _, p := range problems {
		rep.add(AreaStructure, session.ID{}, "%s", p)
	}
	if len(problems) > 0 {
		rep.add(AreaStructure, session.ID{}, "page structure damaged; index checks skipped")
		return nil
	}
	for err := range tx.Check() {
		rep.add(AreaStructure, session.ID{}, "%v", err)
	}
	if len(rep.Problems) > 0 {
		rep.add(AreaStructure, session.ID{}, "bbolt check failed; index checks skipped")
		return nil
	}
	return s.checkLayout(ctx, tx, rep)
}

// walkSnapshot walks the page structure of the snapshot with transaction id
// txid (or, when txid is 0, of the newest meta page), reading the file
// directly. It returns errSnapshotMoved if that meta page is gone.
func (s *Store) walkSnapshot(txid uint64, max int) (problems []string, pages int, err error) {
	f, err := os.Open(s.path)
	if err != nil {
		return nil, 0, fmt.Errorf("boltstore: check: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, fmt.Errorf("boltstore: check: %w", err)
	}
	metas, err := boltfile.ReadMetas(f, fi.Size())
	if err != nil {
		return nil, 0, fmt.Errorf("boltstore: check: %w", err)
	}
	var m boltfile.Meta
	found := false
	for _, c := range metas {
		if (txid == 0 && (!found || c.TxID > m.TxID)) || (txid != 0 && c.TxID == txid) {
			m, found = c, true
		}
	}
	if !found {
		if txid == 0 {
			return []string{"no valid meta page"}, 0, nil
		}
		return nil, 0, errSnapshotMoved
	}
	if err := boltfile.CheckMeta(f, fi.Size(), m); err != nil {
		if fe, ok := errors.AsType[*boltfile.Error](err); ok {
			return []string{fe.Reason}, 0, nil
		}
		return nil, 0, fmt.Errorf("boltstore: check: %w", err)
	}
	problems, pages, err = boltfile.Walk(f, m, max)
	if err != nil {
		return nil, 0, fmt.Errorf("boltstore: check: %w", err)
	}
	return problems, pages, nil
}

// walkStructure walks the newest snapshot; Open uses it for Options.Verify
// while it holds the file lock and nothing writes.
func (s *Store) walkStructure(max int) ([]string, error) {
	problems, _, err := s.walkSnapshot(0, max)
	return problems, err
}

// checkLayout checks the buckets against each other.
func (s *Store) checkLayout(ctx context.Context, tx *bolt.Tx, rep *Diagnosis) error {
	var b [4]*bolt.Bucket
	for i, name := range [][]byte{bucketSessions, bucketExpiry, bucketUsers, bucketMeta} {
		if b[i] = tx.Bucket(name); b[i] == nil {
			rep.add(AreaMeta, session.ID{}, "bucket %q is missing", name)
		}
	}
	if !rep.OK() {
		return nil
	}
	sessions, expiry, users, meta := b[0], b[1], b[2], b[3]
	version, err := checkSchema(tx)
	if err != nil {
		rep.add(AreaMeta, session.ID{}, "%v", err)
	}
	keyOf := expiryKey
	if version == 1 {
		keyOf = exactExpiryKey
	}
	tick := func(n int64) error {
		if n%1024 == 0 {
			return s.stopping(ctx)
		}
		return nil
	}

	// Records, and the index entries they need. Index entries of the ids
	// in bucketReaped are on their way out (reaper.go).
	pending := pendingIDs(tx)
	ec, uc := expiry.Cursor(), users.Cursor()
	has := func(c *bolt.Cursor, key []byte) bool { k, _ := c.Seek(key); return bytes.Equal(k, key) }
	c := sessions.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		rep.Sessions++
		if err := tick(rep.Sessions); err != nil {
			return err
		}
		if len(k) != idSize {
			rep.add(AreaRecord, session.ID{}, "key of %d bytes in the sessions bucket", len(k))
			continue
		}
		id := session.ID(k)
		r, err := decodeUnverified(id, v)
		if err != nil {
			rep.add(AreaRecord, id, "%s", badReason(err))
			continue
		}
		if s.codec.keys != nil {
			if _, err := s.codec.decode(id, v); err != nil {
				rep.add(AreaSeal, id, "seal does not verify")
			}
		}
		if !has(ec, keyOf(r)) {
			rep.add(AreaExpiry, id, "record has no expiry-index entry")
		}
		if r.UserID != "" && !has(uc, userKey(r.UserID, id)) {
			rep.add(AreaUsers, id, "record has no user-index entry")
		}
		if len(r.UserID) > MaxUserIDSize {
			rep.add(AreaRecord, id, "user id of %d bytes", len(r.UserID))
		}
	}

	// Expiry entries, each the current entry of a record.
	for k, _ := ec.First(); k != nil; k, _ = ec.Next() {
		rep.ExpiryEntries++
		if err := tick(rep.ExpiryEntries); err != nil {
			return err
		}
		_, id, ok := parseExpiryKey(k)
		if !ok {
			rep.add(AreaExpiry, session.ID{}, "malformed key of %d bytes", len(k))
			continue
		}
		v := sessions.Get(id[:])
		if v == nil {
			if !pending[id] {
				rep.add(AreaExpiry, id, "entry without a record")
			}
			continue
		}
		if r, err := decodeUnverified(id, v); err == nil && !bytes.Equal(keyOf(r), k) {
			rep.add(AreaExpiry, id, "stale entry: the record expires at another time")
		}
	}

	// User entries, each pointing to a record bound to that user.
	var distinct int64
	var last []byte
	for k, _ := uc.First(); k != nil; k, _ = uc.Next() {
		rep.UserEntries++
		if err := tick(rep.UserEntries); err != nil {
			return err
		}
		user, id, ok := parseUserKey(k)
		if !ok {
			rep.add(AreaUsers, session.ID{}, "malformed key of %d bytes", len(k))
			continue
		}
		if prefix := k[:len(k)-idSize]; !bytes.Equal(prefix, last) {
			distinct++
			last = slices.Clone(prefix)
		}
		v := sessions.Get(id[:])
		if v == nil {
			if !pending[id] {
				rep.add(AreaUsers, id, "entry without a record")
			}
			continue
		}
		if r, err := decodeUnverified(id, v); err == nil && r.UserID != user {
			rep.add(AreaUsers, id, "entry names another user than the record")
		}
	}

	checkTombstones(tx, sessions, rep)
	checkReaped(tx, sessions, rep)

	// Counters.
	if n, ok := getUint64(meta.Get(metaSessions)); !ok || int64(n) != rep.Sessions {
		rep.add(AreaMeta, session.ID{}, "sessions counter is %d, found %d records", n, rep.Sessions)
	}
	if n, ok := getUint64(meta.Get(metaUsers)); !ok || int64(n) != distinct {
		rep.add(AreaMeta, session.ID{}, "users counter is %d, found %d users", n, distinct)
	}
	return nil
}
