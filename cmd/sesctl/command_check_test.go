package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/sesbolt/sesbolt/pkg/session"
)

func TestCheckOutput(t *testing.T) {
	h := seeded(t)
	h.useService(&fakeService{report: session.CheckReport{Records: 6, SealsVerified: true}})
	h.golden("check_ok.golden", h.ok("check"))
	h.golden("check_ok_json.golden", h.ok("-o", "json", "check"))

	h.useService(&fakeService{report: session.CheckReport{Records: 6, Problems: []string{
		"expiry-index: 7a1b2c3d-0000-4000-8000-000000000001: no index entry",
		"seal: b0b0b0b0-1111-4222-8333-444444444444: seal does not verify",
	}}})
	r := h.fails(exitFailure, []string{"sesctl: check found 2 problems"}, "check")
	h.golden("check_problems.golden", r.stdout)
	r = h.fails(exitFailure, []string{"sesctl: check found 2 problems"}, "-o", "json", "check")
	h.golden("check_problems_json.golden", r.stdout)

	h.useService(&fakeService{err: errors.New("disk on fire")})
	h.fails(exitFailure, []string{"sesctl: disk on fire"}, "check")
}

func TestCheckFile(t *testing.T) {
	h := seeded(t)
	for _, keys := range []bool{false, true} {
		if keys {
			h.env[envKeys] = h.keyFile
		}
		var rep checkView
		h.unchanged(func() {
			r := h.run("-o", "json", "check")
			if r.code != exitOK {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
				t.Fatal(err)
			}
		})
		if !rep.OK || rep.Records != 6 || rep.SealsVerified != keys || len(rep.Problems) != 0 {
			t.Errorf("keys=%v: report %+v", keys, rep)
		}
	}
}

// TestCheckFindsTampering: a record changed offline (here: its data edited
// in the file) fails its seal; check with the keys reports it and exits 1.
// A deleted index entry is found even without keys.
func TestCheckFindsTampering(t *testing.T) {
	h := seeded(t)
	db, err := bolt.Open(h.db, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("sessions"))
		if b == nil {
			return errors.New("no sessions bucket")
		}
		v := b.Get(idAlice1[:])
		tampered := bytes.Replace(v, []byte(`"dark"`), []byte(`"dork"`), 1)
		if bytes.Equal(v, tampered) {
			return errors.New("the record holds no \"dark\"")
		}
		if err := b.Put(idAlice1[:], tampered); err != nil {
			return err
		}
		users := tx.Bucket([]byte("users"))
		c := users.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if bytes.HasSuffix(k, idBob[:]) {
				return users.Delete(k)
			}
		}
		return errors.New("no user index entry for bob")
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}

	r := h.fails(exitFailure, []string{"sesctl: check found"}, "check")
	if !strings.Contains(r.stdout, idBob.String()) || strings.Contains(r.stdout, "seal: "+idAlice1.String()) {
		t.Errorf("without keys:\n%s", r.stdout)
	}
	h.env[envKeys] = h.keyFile
	r = h.fails(exitFailure, []string{"sesctl: check found"}, "-o", "json", "check")
	var rep checkView
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.OK || !rep.SealsVerified || len(rep.Problems) < 2 ||
		!strings.Contains(strings.Join(rep.Problems, "\n"), idAlice1.String()) {
		t.Errorf("with keys: %+v", rep)
	}
	if strings.Contains(r.stderr, "failed the seal check") {
		t.Errorf("check, which reports seals itself, also said:\n%s", r.stderr)
	}
	// With the keys, reads leave the tampered record out, say so, and
	// fail: the listing is incomplete.
	r = h.fails(exitFailure, []string{"sesctl: 1 record failed the seal check"}, "-o", "json", "list")
	if strings.Contains(r.stdout, idAlice1.String()) || countLines(r.stdout) != 3 {
		t.Errorf("list shows the tampered record:\n%s", r.stdout)
	}
}
