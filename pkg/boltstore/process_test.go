package boltstore_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/pkg/boltstore"
	"github.com/sesbolt/sesbolt/pkg/session"
	"github.com/sesbolt/sesbolt/pkg/session/sessiontest"
)

// Child processes: the test binary re-executed with -test.run selecting
// TestHelperProcess and these environment variables set.
const (
	envHelper = "BOLTSTORE_TEST_HELPER" // "hold", "write" or "purge"
	envDB     = "BOLTSTORE_TEST_DB"
	envAt     = "BOLTSTORE_TEST_AT" // "purge": the instant, unix nanoseconds
)

// TestHelperProcess is not a test: it is the body of the child processes
// started by TestOpenLocked, TestCrashDurability and TestReapCrashRecovery.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(envHelper)
	if mode == "" {
		t.Skip("helper process only")
	}
	kr, err := session.NewKeyring(testKey)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	s, err := boltstore.Open(os.Getenv(envDB), &boltstore.Options{Keys: kr, ReapInterval: -1, ReapBatch: 16, Logger: quietLogger()})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	switch mode {
	case "hold":
		// Hold the file until the parent closes our stdin (or kills us).
		fmt.Println("ready")
		io.Copy(io.Discard, os.Stdin)
	case "write":
		// Commit sessions as fast as possible from concurrent writers and
		// print each id once Apply acknowledged it, until killed.
		var mu sync.Mutex
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				for {
					r := sessiontest.NewRecord(session.NewID(), "crash-user", time.Now())
					if _, err := s.Apply(context.Background(), sessiontest.CreateChange(r)); err != nil {
						fmt.Fprintln(os.Stderr, "apply:", err)
						os.Exit(3)
					}
					mu.Lock()
					fmt.Fprintln(os.Stdout, r.ID)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
	case "purge":
		// Run an expiry pass in rounds of at most 16 entries, printing
		// "round" before each round's write transaction, until killed.
		nanos, err := strconv.ParseInt(os.Getenv(envAt), 10, 64)
		if err != nil {
			fmt.Fprintln(os.Stderr, "instant:", err)
			os.Exit(2)
		}
		boltstore.SetReapHook(s, func([][]byte) { fmt.Println("round") })
		if _, err := s.Purge(context.Background(), time.Unix(0, nanos)); err != nil {
			fmt.Fprintln(os.Stderr, "purge:", err)
			os.Exit(3)
		}
		fmt.Println("done")
		io.Copy(io.Discard, os.Stdin)
	}
	s.Close()
	os.Exit(0)
}

// startHelper starts a child process in mode on db and returns it with its
// stdout; the child is killed and reaped at cleanup at the latest.
func startHelper(t *testing.T, mode, db string) (*exec.Cmd, *bufio.Reader, io.WriteCloser) {
	t.Helper()
	return startHelperEnv(t, mode, db)
}

// startHelperEnv is startHelper with more environment variables (NAME=value)
// for the child.
func startHelperEnv(t *testing.T, mode, db string, env ...string) (*exec.Cmd, *bufio.Reader, io.WriteCloser) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(append(os.Environ(), envHelper+"="+mode, envDB+"="+db), env...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	t.Cleanup(func() {
		once.Do(func() {
			cmd.Process.Kill()
			cmd.Wait()
		})
	})
	return cmd, bufio.NewReader(stdout), stdin
}

func TestOpenLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	// Create the file first, so the child only opens it.
	s, err := boltstore.Open(path, testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	cmd, out, stdin := startHelper(t, "hold", path)
	line, err := out.ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		t.Fatalf("child did not get ready: %q, %v", line, err)
	}

	const timeout = 300 * time.Millisecond
	for _, readOnly := range []bool{false, true} {
		opts := testOptions(t)
		opts.LockTimeout, opts.ReadOnly = timeout, readOnly
		start := time.Now()
		s, err := boltstore.Open(path, opts)
		elapsed := time.Since(start)
		if err == nil {
			s.Close()
			t.Fatalf("Open(readOnly=%v) of a file held by another process succeeded", readOnly)
		}
		if !errors.Is(err, boltstore.ErrLocked) {
			t.Fatalf("Open(readOnly=%v) = %v; want ErrLocked", readOnly, err)
		}
		if elapsed > timeout+time.Second {
			t.Errorf("Open(readOnly=%v) took %v with a lock timeout of %v", readOnly, elapsed, timeout)
		}
		// The store knows nothing of admin sockets: the application and
		// sesctl add their own advice.
		for _, want := range []string{"another process", path} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("ErrLocked message %q does not mention %q", err, want)
			}
		}
	}

	// A negative timeout tries once and returns at once.
	opts := testOptions(t)
	opts.LockTimeout = -1
	start := time.Now()
	if _, err := boltstore.Open(path, opts); !errors.Is(err, boltstore.ErrLocked) {
		t.Fatalf("Open with a negative timeout = %v; want ErrLocked", err)
	}
	if elapsed := time.Since(start); elapsed > 500*time.Millisecond {
		t.Errorf("Open with a negative timeout took %v", elapsed)
	}

	// Once the child lets go, the file opens.
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	openAt(t, path, testOptions(t))
}

func TestCrashDurability(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	path := filepath.Join(t.TempDir(), "sessions.db")
	var acked []session.ID
	for round := range 3 {
		cmd, out, _ := startHelper(t, "write", path)
		// Read some acknowledged ids, then kill the writer mid-stream.
		want := 200 + round*100
		var got int
		for got < want {
			line, err := out.ReadString('\n')
			if err != nil {
				t.Fatalf("round %d: reading child after %d ids: %v", round, got, err)
			}
			id, err := session.ParseID(strings.TrimSpace(line))
			if err != nil {
				t.Fatalf("round %d: child printed %q: %v", round, line, err)
			}
			acked = append(acked, id)
			got++
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()

		// Every acknowledged session survived the crash, and the file is
		// consistent (bbolt's check plus the indexes).
		opts := testOptions(t)
		opts.Verify = true
		s, err := boltstore.Open(path, opts)
		if err != nil {
			t.Fatalf("round %d: reopening after the crash: %v", round, err)
		}
		mustCheck(t, s)
		now := time.Now()
		for _, id := range acked {
			r, err := s.Load(context.Background(), id, now)
			if err != nil {
				t.Fatalf("round %d: acknowledged session %s lost: %v", round, id, err)
			}
			if string(r.Data["seed"]) != `"`+id.String()+`"` || r.UserID != "crash-user" {
				t.Fatalf("round %d: session %s damaged: %+v", round, id, r)
			}
		}
		st, err := s.Stats(context.Background(), now)
		if err != nil {
			t.Fatal(err)
		}
		if st.Sessions < int64(len(acked)) {
			t.Fatalf("round %d: Stats.Sessions = %d, fewer than the %d acknowledged", round, st.Sessions, len(acked))
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		t.Logf("round %d: %d acknowledged sessions intact, %d stored", round, len(acked), st.Sessions)
	}
}
