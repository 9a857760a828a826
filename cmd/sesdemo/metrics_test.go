package main

import (
	"bufio"
	"bytes"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/internal/demoproc"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// TestMetricsEndToEnd drives the real sesdemo through a scripted sequence
// (3 logins, 1 logout, a logout everywhere of a user with 2 sessions, 2
// forged cookies) and checks what GET /metrics then says, counter by
// counter, and the log line the demo writes for every ended session.
func TestMetricsEndToEnd(t *testing.T) {
	t.Parallel()
	bin := buildDemo(t)
	dir := t.TempDir()
	p := demoproc.Start(t, bin, "-db", filepath.Join(dir, "demo.db"), "-keys", filepath.Join(dir, "demo.keys"))

	laptop, phone, bob := newBrowser(t, p.Base, "laptop"), newBrowser(t, p.Base, "phone"), newBrowser(t, p.Base, "bob")
	laptop.login("alice")
	phone.login("alice")
	bob.login("bob")
	wantStatus(t, bob.post("/logout", nil), http.StatusSeeOther)
	wantStatus(t, laptop.post("/logout-everywhere", nil), http.StatusSeeOther)

	other, err := session.NewKeyring(session.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		forged := other.SignCookie(session.DefaultInsecureCookieName, session.NewID())
		r := newBrowser(t, p.Base, "forger").do("GET", "/api/session", nil,
			"Cookie", session.DefaultInsecureCookieName+"="+forged)
		wantStatus(t, r, http.StatusOK)
	}

	got := scrape(t, p.Base)
	for name, want := range map[string]float64{
		`sesbolt_sessions_created_total`:                           3,
		`sesbolt_logins_total`:                                     3,
		`sesbolt_sessions_renewed_total`:                           0,
		`sesbolt_sessions_ended_total{reason="logout"}`:            1,
		`sesbolt_sessions_ended_total{reason="logout_everywhere"}`: 2,
		`sesbolt_sessions_ended_total{reason="logout_others"}`:     0,
		`sesbolt_sessions_ended_total{reason="limit"}`:             0,
		`sesbolt_sessions_ended_total{reason="revoked"}`:           0,
		`sesbolt_sessions_ended_total{reason="expired"}`:           0,
		`sesbolt_sessions_ended_total{reason="other"}`:             0,
		`sesbolt_cookies_rejected_total{reason="bad_signature"}`:   2,
		`sesbolt_cookies_rejected_total{reason="malformed"}`:       0,
		`sesbolt_cookies_rejected_total{reason="oversized"}`:       0,
		`sesbolt_cookies_rejected_total{reason="unknown_id"}`:      0,
		`sesbolt_cookies_rejected_total{reason="renewed"}`:         0,
		`sesbolt_session_changes_dropped_total`:                    0,
		`sesbolt_session_late_changes_total`:                       0,
		`sesbolt_seal_failures_total`:                              0,
		`sesbolt_reaper_removed_total`:                             0,
		`sesbolt_reaper_round_duration_seconds_count`:              0,
		`sesbolt_sessions_live`:                                    0,
		`sesbolt_sessions_expired`:                                 0,
		`sesbolt_users`:                                            0,
		`sesbolt_store_stats_up`:                                   1,
		// 3 inserts, bob's destroy, DestroyUser, the laptop's destroy.
		`sesbolt_store_commit_batch_size_sum`: 6,
	} {
		if v, ok := got[name]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", name, v, ok, want)
		}
	}
	// Every commit in both histograms; none failed; no reaper round yet
	// (it runs every minute).
	commits := got["sesbolt_store_commit_batch_size_count"]
	if commits < 1 || commits > 6 || got["sesbolt_store_commit_duration_seconds_count"] != commits ||
		got[`sesbolt_store_commit_duration_seconds_bucket{le="+Inf"}`] != commits {
		t.Errorf("%v commits of 6 operations; duration histogram count %v", commits, got["sesbolt_store_commit_duration_seconds_count"])
	}
	for _, absent := range []string{`sesbolt_store_errors_total{op="commit"}`, `sesbolt_reaper_last_round_timestamp_seconds`} {
		if v, ok := got[absent]; ok {
			t.Errorf("%s = %v, want it absent", absent, v)
		}
	}
	if got["sesbolt_store_size_bytes"] <= 0 || got["go_goroutines"] <= 0 {
		t.Errorf("file size %v, goroutines %v: want both positive", got["sesbolt_store_size_bytes"], got["go_goroutines"])
	}

	// One log line per ended session, with its reason and tag only.
	ended := regexp.MustCompile(`msg="session ended" reason=(\w+) session=[0-9a-f]{8}\n`)
	deadline := time.Now().Add(time.Minute)
	for {
		reasons := map[string]int{}
		for _, m := range ended.FindAllStringSubmatch(p.Log.String(), -1) {
			reasons[m[1]]++
		}
		if reasons["logout"] == 1 && reasons["logout_everywhere"] == 2 && len(reasons) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("session-ended log lines by reason: %v; want logout 1, logout_everywhere 2\n%s", reasons, p.Log)
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.Stop()
}

// scrape returns GET /metrics as a map from series (name and labels, as
// the text format writes them) to value.
func scrape(t *testing.T, base string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %s, Content-Type %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	var buf bytes.Buffer
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		buf.WriteString(line + "\n")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if i < 0 || err != nil {
			t.Fatalf("GET /metrics: line %q is not `series value`", line)
		}
		out[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if t.Failed() {
		t.Logf("GET /metrics:\n%s", buf.String())
	}
	return out
}
