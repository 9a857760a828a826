package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// The format of github.com/alexedwards/scs/boltstore (checked against
// scs/v2 v2.9.0 codec.go and boltstore v0.0.0-20251002162104): bucket
// "scs:session", key the session token, value the expiry as 8 bytes of
// big-endian Unix nanoseconds followed by scs.GobCodec's encoding of
// struct{Deadline time.Time; Values map[string]interface{}}. The expiry is
// the earlier of the idle timeout and the deadline when the session was
// committed.
var scsBucket = []byte("scs:session")

// scsSession mirrors the anonymous struct scs.GobCodec encodes; gob matches
// fields by name.
type scsSession struct {
	Deadline time.Time
	Values   map[string]interface{}
}

func init() {
	// Interface values in gob carry the name their type was registered
	// under. gob knows the basic types; these are the common others an scs
	// app registers (scs's docs ask apps to gob.Register what they store).
	gob.Register(time.Time{})
	gob.Register([]interface{}{})
	gob.Register(map[string]interface{}{})
	gob.Register([]string{})
	gob.Register(map[string]string{})
	gob.Register([]int{})
}

func (a *app) runImportSCS(ctx context.Context, o *importOptions, path string) (err error) {
	if err := requireSourceFile(path); err != nil {
		return err
	}
	if a.usesFile() && sameFile(path, a.db) {
		return fmt.Errorf("%s is the database to import into, not an scs file", path)
	}
	target, err := a.openImportDest(ctx, o.dryRun)
	if err != nil {
		return err
	}
	defer func() { err = joinErr(err, target.release()) }()

	db, err := openBoltReadOnly(path, scsHeldError)
	if err != nil {
		return err
	}
	defer db.Close()

	now := a.now().UTC()
	var res importResult
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(scsBucket)
		if b == nil {
			return fmt.Errorf("%s has no %q bucket: not an scs boltstore file", path, scsBucket)
		}
		// Pass 1: convert every entry, to report the invalid ones before
		// anything is written.
		v := newValidation(a.stderr, path, "entry")
		n := 0
		err := b.ForEach(func(_, val []byte) error {
			n++
			_, err := convertSCS(val, now, o.userKey)
			v.check(n, err)
			return nil
		})
		if err != nil {
			return err
		}
		if err := v.verdict(o.skipInvalid); err != nil {
			return err
		}
		res = importResult{Read: v.valid, Invalid: len(v.bad), DryRun: o.dryRun}
		if o.dryRun {
			return nil
		}
		// Pass 2: import in atomic batches, in the same read transaction.
		if err := target.open(); err != nil {
			return err
		}
		bt := newBatcher(ctx, target.svc, o.batch, a.progress(int64(v.valid), "importing", false), "entries")
		n = 0
		err = b.ForEach(func(_, val []byte) error {
			n++
			if v.isBad(n) {
				return nil
			}
			r, err := convertSCS(val, now, o.userKey)
			if err != nil {
				return fmt.Errorf("entry %d: %w", n, err)
			}
			return bt.add(n, r, len(val))
		})
		err = joinErr(err, bt.flush())
		bt.bar.Done()
		if err != nil {
			return bt.failed(path, err)
		}
		res.Imported = bt.imported
		res.Skipped = res.Read - bt.imported
		return nil
	})
	if err != nil {
		return err
	}
	return a.printer().Imported(res)
}

// convertSCS turns one scs boltstore value into a new session record: a
// new random id, the values JSON-encoded, created and last seen now, the
// idle expiry at scs's expiry and the deadline at scs's deadline (or the
// expiry when it has none), bound to the user under userKey if given.
func convertSCS(val []byte, now time.Time, userKey string) (*session.Record, error) {
	if len(val) < 8 {
		return nil, errors.New("shorter than the 8-byte expiry")
	}
	expiry := time.Unix(0, int64(binary.BigEndian.Uint64(val[:8]))).UTC()
	var s scsSession
	if err := gob.NewDecoder(bytes.NewReader(val[8:])).Decode(&s); err != nil {
		return nil, fmt.Errorf("cannot decode the scs data (%w); values of types the app registered with gob.Register cannot be read outside the app", err)
	}
	r := &session.Record{
		ID:          session.NewID(),
		Created:     now,
		LastSeen:    now,
		IdleExpires: expiry,
		Deadline:    s.Deadline.UTC(),
		Data:        make(map[string]json.RawMessage, len(s.Values)),
		Version:     1,
	}
	if r.Deadline.IsZero() || r.Deadline.Before(expiry) {
		r.Deadline = expiry
	}
	for k, v := range s.Values {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("value %q: %w", k, err)
		}
		r.Data[k] = b
	}
	if userKey != "" {
		user, err := scsUser(s.Values[userKey])
		if err != nil {
			return nil, fmt.Errorf("value %q: %w", userKey, err)
		}
		r.UserID = user
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if err := checkStoreLimits(r); err != nil {
		return nil, err
	}
	return r, nil
}

// scsUser renders the user-id value of an scs session: a string or an
// integer; nil (no such key) means anonymous.
func scsUser(v any) (string, error) {
	switch u := v.(type) {
	case nil:
		return "", nil
	case string:
		return u, nil
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return fmt.Sprint(u), nil
	}
	return "", fmt.Errorf("a user id must be a string or an integer, not %T", v)
}

// sameFile reports whether a and b name the same existing file.
func sameFile(a, b string) bool {
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

// requireSourceFile fails unless path is an existing regular file.
func requireSourceFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	return nil
}

// scsHeldError explains that the scs app still holds its file.
func scsHeldError(path string) error {
	return fmt.Errorf("%s is in use by %s (the scs app?); stop it, or copy the file while it is stopped, and import again",
		path, holderName(path))
}
