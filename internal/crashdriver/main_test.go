package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeDemo answers PUT and GET /api/session like sesdemo, keeping sessions
// by cookie, and can be told to forget keys.
type fakeDemo struct {
	mu       sync.Mutex
	sessions map[string]map[string]json.RawMessage
	n        int
	// storeLeft, when positive, is how many more PUTs succeed before
	// every PUT answers 500, as sesdemo does when its Redis died.
	storeLeft int
	outage    bool
	// maxKeys, when positive, is how many keys a session holds before a
	// PUT of another answers 413, as the store's record size limit does.
	maxKeys int
	// status, when nonzero, answers every PUT into an existing session.
	status int
}

func (f *fakeDemo) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cookie := r.Header.Get("Cookie")
	data := f.sessions[cookie]
	if data == nil {
		f.n++
		cookie = "session=" + strings.Repeat("c", f.n)
		data = map[string]json.RawMessage{}
	}
	switch {
	case f.outage:
		http.Error(w, "session store failure", http.StatusInternalServerError)
	case r.Method == "PUT" && f.status != 0 && f.sessions[r.Header.Get("Cookie")] != nil:
		http.Error(w, "no", f.status)
	case r.Method == "PUT" && f.maxKeys > 0 && len(data) >= f.maxKeys:
		http.Error(w, "session data too large", http.StatusRequestEntityTooLarge)
	case r.Method == "PUT" && strings.HasPrefix(r.URL.Path, "/api/session/"):
		if f.storeLeft > 0 {
			f.storeLeft--
			f.outage = f.storeLeft == 0
		}
		var v json.RawMessage
		if err := json.NewDecoder(r.Body).Decode(&v); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		data[strings.TrimPrefix(r.URL.Path, "/api/session/")] = v
		if f.sessions[r.Header.Get("Cookie")] == nil {
			f.sessions[cookie] = data
			http.SetCookie(w, &http.Cookie{Name: "session", Value: strings.TrimPrefix(cookie, "session=")})
		}
		w.WriteHeader(http.StatusNoContent)
	case r.Method == "GET" && r.URL.Path == "/api/session":
		json.NewEncoder(w).Encode(sessionJSON{ID: cookie, Data: data})
	default:
		http.NotFound(w, r)
	}
}

// newFakeDemo serves demo until the test ends.
func newFakeDemo(t *testing.T, demo *fakeDemo) *httptest.Server {
	demo.sessions = map[string]map[string]json.RawMessage{}
	srv := httptest.NewServer(demo)
	t.Cleanup(srv.Close)
	return srv
}

func TestVerifyCountsLostWrites(t *testing.T) {
	// Sessions full after 25 keys: drive ends by itself with 50 acks.
	demo := &fakeDemo{maxKeys: 25}
	srv := newFakeDemo(t, demo)
	acks := filepath.Join(t.TempDir(), "acks.tsv")
	if err := drive([]string{"-base", srv.URL, "-acks", acks, "-round", "1", "-workers", "4", "-sessions", "2", "-max", "30s"}); err != nil {
		t.Fatalf("drive until the sessions are full: %v", err)
	}
	recorded, err := readAcks(acks)
	if err != nil || len(recorded) != 50 {
		t.Fatalf("%d acks recorded (%v), want the 50 the server acknowledged", len(recorded), err)
	}
	if err := verify([]string{"-base", srv.URL, "-acks", acks}); err != nil {
		t.Fatalf("verify with nothing lost: %v", err)
	}

	// The server forgets one acknowledged key, and changes another.
	demo.mu.Lock()
	delete(demo.sessions[recorded[3].cookie], recorded[3].key)
	demo.sessions[recorded[5].cookie][recorded[5].key] = json.RawMessage(`"changed"`)
	demo.mu.Unlock()
	err = verify([]string{"-base", srv.URL, "-acks", acks})
	if err == nil || !strings.Contains(err.Error(), "2 acknowledged writes lost") {
		t.Fatalf("verify after losing two writes: %v", err)
	}

	// A malformed acks file is an error, not zero writes.
	if err := os.WriteFile(acks, []byte("no tabs here\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := verify([]string{"-base", srv.URL, "-acks", acks}); err == nil {
		t.Fatal("verify accepted a malformed acks file")
	}
}

// TestDriveStopsWhenTheStoreFails: with -stop-on-5xx, drive ends when the
// server answers 500 (its store died, it did not), with every write
// acknowledged before recorded; verify then finds them all.
func TestDriveStopsWhenTheStoreFails(t *testing.T) {
	demo := &fakeDemo{storeLeft: 50}
	srv := newFakeDemo(t, demo)
	acks := filepath.Join(t.TempDir(), "acks.tsv")
	if err := drive([]string{"-base", srv.URL, "-acks", acks, "-round", "1", "-workers", "4", "-sessions", "2", "-max", "30s", "-stop-on-5xx"}); err != nil {
		t.Fatalf("drive until the store fails: %v", err)
	}
	recorded, err := readAcks(acks)
	if err != nil || len(recorded) != 50 {
		t.Fatalf("%d acks recorded (%v), want the 50 the server acknowledged", len(recorded), err)
	}
	// While the store is out, verify fails; with -wait it waits for the
	// store to come back.
	if err := verify([]string{"-base", srv.URL, "-acks", acks, "-wait", "100ms"}); err == nil || !strings.Contains(err.Error(), "did not serve sessions") {
		t.Fatalf("verify during the outage: %v", err)
	}
	back := time.AfterFunc(200*time.Millisecond, func() {
		demo.mu.Lock()
		demo.outage = false
		demo.mu.Unlock()
	})
	defer back.Stop()
	if err := verify([]string{"-base", srv.URL, "-acks", acks, "-wait", "30s"}); err != nil {
		t.Fatalf("verify: %v", err)
	}
}

// TestBadUsage: bad arguments are an error wrapping errUsage (exit status
// 2), returned rather than exiting, and nothing is written.
func TestBadUsage(t *testing.T) {
	acks := filepath.Join(t.TempDir(), "acks.tsv")
	base := "http://127.0.0.1:1"
	for name, run := range map[string]func() error{
		"drive without -base":  func() error { return drive([]string{"-acks", acks}) },
		"drive without -acks":  func() error { return drive([]string{"-base", base}) },
		"drive -workers 0":     func() error { return drive([]string{"-base", base, "-acks", acks, "-workers", "0"}) },
		"drive -max 0":         func() error { return drive([]string{"-base", base, "-acks", acks, "-max", "0"}) },
		"drive unknown flag":   func() error { return drive([]string{"-base", base, "-acks", acks, "-nope"}) },
		"drive extra argument": func() error { return drive([]string{"-base", base, "-acks", acks, "extra"}) },
		"verify without -acks": func() error { return verify([]string{"-base", base}) },
		"verify bad -wait":     func() error { return verify([]string{"-base", base, "-acks", acks, "-wait", "soon"}) },
	} {
		if err := run(); !errors.Is(err, errUsage) {
			t.Errorf("%s: %v, want bad usage", name, err)
		}
	}
	if _, err := os.Stat(acks); !os.IsNotExist(err) {
		t.Errorf("bad usage created the acks file: %v", err)
	}
}

// TestDriveFails: drive fails when nothing killed the server by -max, and
// when the server answered a write with something else than 204 (or the
// 5xx and 413 that end a writer), keeping what was acknowledged.
func TestDriveFails(t *testing.T) {
	for name, tc := range map[string]struct {
		demo *fakeDemo
		want []string
	}{
		"not killed":  {&fakeDemo{}, []string{"still answered"}},
		"400 answers": {&fakeDemo{status: http.StatusBadRequest}, []string{"still answered", "unexpected answers"}},
		"500 answers without -stop-on-5xx": {&fakeDemo{status: http.StatusInternalServerError},
			[]string{"still answered", "unexpected answers"}},
	} {
		t.Run(name, func(t *testing.T) {
			srv := newFakeDemo(t, tc.demo)
			acks := filepath.Join(t.TempDir(), "acks.tsv")
			err := drive([]string{"-base", srv.URL, "-acks", acks, "-round", "1", "-workers", "4", "-sessions", "2", "-max", "100ms"})
			for _, want := range tc.want {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("drive: %v, want an error saying %q", err, want)
				}
			}
			// What the server acknowledged (at least the two new
			// sessions) is recorded and verifies.
			if recorded, err := readAcks(acks); err != nil || len(recorded) < 2 {
				t.Fatalf("%d acks recorded, %v", len(recorded), err)
			}
			if err := verify([]string{"-base", srv.URL, "-acks", acks}); err != nil {
				t.Errorf("verify: %v", err)
			}
		})
	}
}

// TestReadAcksLineTooLong: a line longer than the scanner takes is an
// error naming the file, not the acks before it.
func TestReadAcksLineTooLong(t *testing.T) {
	acks := filepath.Join(t.TempDir(), "acks.tsv")
	if err := os.WriteFile(acks, []byte("c\tk\tv\n"+strings.Repeat("x", 2<<20)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := readAcks(acks)
	if err == nil || !strings.Contains(err.Error(), acks) || got != nil {
		t.Fatalf("readAcks of an overlong line: %d acks, %v", len(got), err)
	}
}
