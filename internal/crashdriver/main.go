// Command crashdriver is the HTTP side of scripts/crash.sh: it writes
// session data to a running sesdemo and records every write the server
// acknowledged, and after a crash and restart it checks that every
// acknowledged write is still there.
//
//	crashdriver drive  -base URL -acks FILE -round N [-workers 32] [-sessions 8] [-max 60s] [-stop-on-5xx]
//	crashdriver verify -base URL -acks FILE [-wait 0]
//
// drive creates -sessions new sessions (one PUT each), picks up to as many
// sessions of earlier rounds from FILE, and runs -workers goroutines that
// PUT distinct keys (/api/session/rNwWnK) into those sessions, several
// workers per session, so concurrent changes of one session must merge.
// Every 204 response is appended to FILE as "cookie<TAB>key<TAB>value". It
// runs until the server stops answering (the script SIGKILLs it; connection
// refused ends each worker) or -max passes. With -stop-on-5xx a 5xx answer
// ends a worker too: in scripts/crash.sh's Redis mode the server stays up
// and its store (Redis) is killed, so the server answers 500 from then on.
// A 413 answer (the session reached the store's record size limit) ends a
// worker as well. drive fails when -max passed, when a write found its
// session ended, or when the server gave any other answer than these
// (unexpected); what was acknowledged is recorded all the same.
//
// verify reads FILE, asks the server for each recorded session
// (GET /api/session with its cookie) and counts the acknowledged keys that
// are missing or hold another value: lost. It exits 1 when any was lost.
// With -wait D it first waits, up to D, until the server answers
// GET /api/session for the first recorded session with 200: a server whose
// store (Redis) just came back fails requests for a moment (go-redis dials
// again once a second).
//
// Exit status: 0 success, 1 failure (lost writes, unexpected answers), 2 bad
// usage.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// maxKeysPerSession keeps sessions reused across rounds well below the
// store's record size limit (64 KiB; a key and its value take about 40
// bytes).
const maxKeysPerSession = 600

func main() {
	err := fmt.Errorf("%w: no command", errUsage)
	if len(os.Args) >= 2 {
		switch os.Args[1] {
		case "drive":
			err = drive(os.Args[2:])
		case "verify":
			err = verify(os.Args[2:])
		default:
			err = fmt.Errorf("%w: unknown command %q", errUsage, os.Args[1])
		}
	}
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		fmt.Fprintf(os.Stderr, "crashdriver: %v\nusage: crashdriver drive|verify -base URL -acks FILE [flags]\n", err)
		os.Exit(2)
	default:
		fmt.Fprintf(os.Stderr, "crashdriver: %v\n", err)
		os.Exit(1)
	}
}

// errUsage is wrapped by the errors of bad usage (exit status 2).
var errUsage = errors.New("bad usage")

// parseFlags parses args into fs (which prints what it refuses); a refusal
// is bad usage, and so is an argument left over.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return nil
}

// ack is one acknowledged write.
type ack struct {
	cookie, key, value string
}

// readAcks reads an acks file; a missing file is empty.
func readAcks(path string) ([]ack, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var acks []ack
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		parts := strings.Split(sc.Text(), "\t")
		if len(parts) != 3 {
			return nil, fmt.Errorf("%s:%d: malformed line %q", path, n, sc.Text())
		}
		acks = append(acks, ack{parts[0], parts[1], parts[2]})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return acks, nil
}

// newClient returns an HTTP client for n concurrent requests to one server.
func newClient(n int) *http.Client {
	tr := &http.Transport{
		Proxy:               nil, // loopback only, never through a proxy
		MaxIdleConns:        n,
		MaxIdleConnsPerHost: n,
		IdleConnTimeout:     30 * time.Second,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// refused reports whether err means nothing listens any more.
func refused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED)
}

// randomValue returns a JSON string value unique to this write.
func randomValue() string {
	var b [8]byte
	rand.Read(b[:])
	return `"` + hex.EncodeToString(b[:]) + strings.Repeat("x", mrand.IntN(24)) + `"`
}

// put sends PUT /api/session/key with value, with cookie if not empty. It
// returns the status and the session cookie the response set ("" if none;
// "-" if it told the browser to drop the cookie).
func put(ctx context.Context, c *http.Client, base, cookie, key, value string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, "PUT", base+"/api/session/"+key, strings.NewReader(value))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Cookie", cookie)
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	set := ""
	for _, ck := range resp.Cookies() {
		if ck.MaxAge < 0 || ck.Value == "" {
			set = "-"
		} else {
			set = ck.Name + "=" + ck.Value
		}
	}
	return resp.StatusCode, set, nil
}

// ackLog appends acknowledged writes to the acks file.
type ackLog struct {
	mu sync.Mutex
	f  *os.File
	w  *bufio.Writer
	n  int
}

// openAckLog opens the acks file at path for appending, creating it.
func openAckLog(path string) (*ackLog, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	return &ackLog{f: f, w: bufio.NewWriter(f)}, nil
}

// add records a; a failed write shows in close.
func (l *ackLog) add(a ack) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "%s\t%s\t%s\n", a.cookie, a.key, a.value)
	l.n++
}

// count returns how many acks were added.
func (l *ackLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

// close writes what is buffered and closes the file. An error means acks
// may be missing from the file, so verify would check less than was
// acknowledged.
func (l *ackLog) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	err := l.w.Flush()
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing the acks file: %w", err)
	}
	return nil
}

func drive(args []string) error {
	fs := flag.NewFlagSet("drive", flag.ContinueOnError)
	base := fs.String("base", "", "server `URL` (http://127.0.0.1:PORT)")
	acksPath := fs.String("acks", "", "acks `file` (appended to)")
	round := fs.Int("round", 0, "round number, part of every key")
	workers := fs.Int("workers", 32, "concurrent writers")
	sessions := fs.Int("sessions", 8, "new sessions this round (and at most as many of earlier rounds)")
	maxTime := fs.Duration("max", 60*time.Second, "stop after this long even if the server still answers")
	stopOn5xx := fs.Bool("stop-on-5xx", false, "a 5xx answer ends a worker, as a refused connection does (the store died, the server did not)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *base == "" || *acksPath == "" || *workers < 1 || *sessions < 1 || *maxTime <= 0 {
		return fmt.Errorf("%w: drive needs -base and -acks, and -workers, -sessions and -max above zero", errUsage)
	}

	// Sessions of earlier rounds that still have room, most recent first.
	old, err := readAcks(*acksPath)
	if err != nil {
		return err
	}
	count := map[string]int{}
	var order []string
	for _, a := range old {
		if count[a.cookie] == 0 {
			order = append(order, a.cookie)
		}
		count[a.cookie]++
	}
	slices.Reverse(order)
	var cookies []string
	for _, c := range order {
		if len(cookies) < *sessions && count[c] < maxKeysPerSession {
			cookies = append(cookies, c)
		}
	}

	log, err := openAckLog(*acksPath)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(context.Background(), *maxTime)
	defer cancel()
	client := newClient(*workers)
	var unexpected, transient, dropped, full atomic.Int64
	start := time.Now()

	// New sessions: the first PUT without a cookie creates one.
	for s := range *sessions {
		key := fmt.Sprintf("r%ds%dinit", *round, s)
		value := randomValue()
		code, set, err := put(ctx, client, *base, "", key, value)
		if err != nil {
			if refused(err) || ctx.Err() != nil {
				break // killed already
			}
			transient.Add(1)
			continue
		}
		if *stopOn5xx && code >= 500 {
			transient.Add(1)
			break // the store is gone
		}
		if code != http.StatusNoContent || set == "" || set == "-" {
			unexpected.Add(1)
			fmt.Fprintf(os.Stderr, "crashdriver: new session: status %d, cookie %q\n", code, set)
			continue
		}
		log.add(ack{set, key, value})
		cookies = append(cookies, set)
	}

	var wg sync.WaitGroup
	if len(cookies) > 0 {
		for w := range *workers {
			cookie := cookies[w%len(cookies)]
			wg.Go(func() {
				for n := 0; ctx.Err() == nil; n++ {
					key := fmt.Sprintf("r%dw%dn%d", *round, w, n)
					value := randomValue()
					code, set, err := put(ctx, client, *base, cookie, key, value)
					switch {
					case err != nil && (refused(err) || ctx.Err() != nil):
						return // the server is gone
					case err != nil:
						// A connection cut by the kill: the next request
						// is refused.
						transient.Add(1)
						time.Sleep(5 * time.Millisecond)
					case *stopOn5xx && code >= 500:
						transient.Add(1)
						return // the store is gone
					case code == http.StatusNoContent && set == "-":
						// The session ended under us: nothing ends
						// sessions here, so this is a lost session.
						dropped.Add(1)
						fmt.Fprintf(os.Stderr, "crashdriver: PUT %s: session ended (cookie cleared)\n", key)
						return
					case code == http.StatusNoContent:
						log.add(ack{cookie, key, value})
					case code == http.StatusRequestEntityTooLarge:
						// The session reached the store's record
						// size limit: this writer is done.
						full.Add(1)
						return
					default:
						unexpected.Add(1)
						if unexpected.Load() <= 5 {
							fmt.Fprintf(os.Stderr, "crashdriver: PUT %s: status %d\n", key, code)
						}
						time.Sleep(5 * time.Millisecond)
					}
				}
			})
		}
	}
	wg.Wait()
	var errs []error
	if ctx.Err() != nil {
		errs = append(errs, fmt.Errorf("the server still answered after %s; was it not killed?", *maxTime))
	}
	fmt.Printf("acked=%d sessions=%d elapsed=%s transient_errors=%d unexpected=%d dropped=%d full=%d\n",
		log.count(), len(cookies), time.Since(start).Round(time.Millisecond), transient.Load(), unexpected.Load(), dropped.Load(), full.Load())
	if n := dropped.Load(); n > 0 {
		errs = append(errs, fmt.Errorf("%d writes found their session ended", n))
	}
	if n := unexpected.Load(); n > 0 {
		errs = append(errs, fmt.Errorf("%d unexpected answers", n))
	}
	errs = append(errs, log.close())
	return errors.Join(errs...)
}

// sessionJSON is what GET /api/session answers (the fields used here).
type sessionJSON struct {
	ID   string                     `json:"id"`
	Data map[string]json.RawMessage `json:"data"`
}

func verify(args []string) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	base := fs.String("base", "", "server `URL` (http://127.0.0.1:PORT)")
	acksPath := fs.String("acks", "", "acks `file`")
	wait := fs.Duration("wait", 0, "first wait up to this long for the server to serve a recorded session")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *base == "" || *acksPath == "" {
		return fmt.Errorf("%w: verify needs -base and -acks", errUsage)
	}
	acks, err := readAcks(*acksPath)
	if err != nil {
		return err
	}
	if len(acks) > 0 {
		if err := waitReady(*base, acks[0].cookie, *wait); err != nil {
			return err
		}
	}
	bySession := map[string][]ack{}
	for _, a := range acks {
		bySession[a.cookie] = append(bySession[a.cookie], a)
	}
	cookies := make(chan string)
	const parallel = 8
	client := newClient(parallel)
	var mu sync.Mutex
	var lost, lostSessions int
	var firstErr error
	var wg sync.WaitGroup
	for range parallel {
		wg.Go(func() {
			for cookie := range cookies {
				s, err := getSession(client, *base, cookie)
				mu.Lock()
				switch {
				case err != nil:
					if firstErr == nil {
						firstErr = err
					}
				default:
					missing := 0
					for _, a := range bySession[cookie] {
						if got, ok := s.Data[a.key]; !ok || string(got) != a.value {
							missing++
							if lost+missing <= 10 {
								fmt.Fprintf(os.Stderr, "crashdriver: LOST key %s of session %s: got %q, want %s\n", a.key, s.ID, got, a.value)
							}
						}
					}
					lost += missing
					if missing == len(bySession[cookie]) {
						lostSessions++
					}
				}
				mu.Unlock()
			}
		})
	}
	for c := range bySession {
		cookies <- c
	}
	close(cookies)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	fmt.Printf("acknowledged=%d sessions=%d lost=%d lost_sessions=%d\n", len(acks), len(bySession), lost, lostSessions)
	if lost > 0 {
		return fmt.Errorf("%d acknowledged writes lost", lost)
	}
	return nil
}

// waitReady polls GET /api/session with cookie (a stored session, so
// that the server reads its store) until it answers 200 or max passes;
// max 0 returns at once.
func waitReady(base, cookie string, max time.Duration) error {
	if max <= 0 {
		return nil
	}
	c := newClient(1)
	deadline := time.Now().Add(max)
	for {
		_, err := getSession(c, base, cookie)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the server did not serve sessions within %v: %w", max, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// getSession asks the server for the session of cookie.
func getSession(c *http.Client, base, cookie string) (*sessionJSON, error) {
	req, err := http.NewRequest("GET", base+"/api/session", nil)
	if err != nil {
		return nil, err
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /api/session: status %d: %s", resp.StatusCode, body)
	}
	var s sessionJSON
	if err := json.Unmarshal(body, &s); err != nil {
		return nil, fmt.Errorf("GET /api/session: %w", err)
	}
	return &s, nil
}
