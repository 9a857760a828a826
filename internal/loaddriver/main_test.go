package main

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// run writes a result, an export and memory samples, runs report on them
// and returns its failures.
func run(t *testing.T, result, export, rss string) []string {
	t.Helper()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fails, err := report(write("result.json", result), write("export.jsonl", export), write("rss.tsv", rss), 512)
	if err != nil {
		t.Fatal(err)
	}
	return fails
}

// cookieFor returns a cookie value naming id (the tag is not checked here).
func cookieFor(id session.ID) string {
	return base64.RawURLEncoding.EncodeToString(append(id[:], make([]byte, 16)...))
}

const steadyRSS = "0 10000 5000 5000\n1 11000 5100 5900\n2 12000 5200 6800\n3 12500 5200 7300\n"

// result is load.lua's output for one thread that sent writes 1..3, the
// third unanswered.
const okResult = `{"duration_us":1000000,"requests":10,"bytes":100,
"errors":{"connect":0,"read":0,"write":0,"status":0,"timeout":0},
"latency_us":{"mean":1000,"max":5000,"p50":900,"p90":2000,"p99":4000,"p99.9":5000},
"threads":[{"id":1,"sent":3,"unacked":[3],"reads":5,"news":1,"logins":1,"writes":2,
"s2xx":7,"s204":2,"s303":1,"sother":0,"cleared":0,"others":[]}]}`

func TestReport(t *testing.T) {
	id, other := session.NewID(), session.NewID()
	c := cookieFor(id)
	line := func(id session.ID, kv ...string) string {
		var data []string
		for i := 0; i+1 < len(kv); i += 2 {
			data = append(data, fmt.Sprintf("%q:%q", kv[i], kv[i+1]))
		}
		return fmt.Sprintf(`{"id":%q,"data":{%s}}`+"\n", id, strings.Join(data, ","))
	}
	pad := "|" + strings.Repeat("x", 32)

	// Writes 1 (new session) and 2 acknowledged and stored; 3 in flight.
	good := line(id, "t1-1", "t1-1|new"+pad, "t1-2", "t1-2|"+c+pad, "other", "1")
	if fails := run(t, okResult, good, steadyRSS); len(fails) != 0 {
		t.Errorf("a good run failed: %q", fails)
	}
	// The in-flight write stored too: fine.
	if fails := run(t, okResult, good+line(id, "t1-3", "t1-3|"+c+pad), steadyRSS); len(fails) != 0 {
		t.Errorf("a stored in-flight write failed the run: %q", fails)
	}

	for name, tc := range map[string]struct {
		result, export, rss, want string
	}{
		"lost write": {okResult, line(id, "t1-1", "t1-1|new"+pad), steadyRSS, "1 acknowledged writes lost"},
		"wrong session": {okResult, line(id, "t1-1", "t1-1|new"+pad) + line(other, "t1-2", "t1-2|"+c+pad), steadyRSS,
			"in another session"},
		"wrong value":  {okResult, line(id, "t1-1", "t1-1|new"+pad, "t1-2", "t1-9|"+c+pad), steadyRSS, "hold another value"},
		"stored twice": {okResult, good + line(other, "t1-2", "t1-2|"+c+pad), steadyRSS, "never sent (or stored twice)"},
		"never sent":   {okResult, good + line(other, "t7-1", "t7-1|new"+pad), steadyRSS, "never sent"},
		"5xx":          {strings.Replace(okResult, `"sother":0,"cleared":0,"others":[]`, `"sother":1,"cleared":0,"others":["500 boom"]`, 1), good, steadyRSS, "neither 2xx"},
		"many 5xx, five shown": {strings.Replace(okResult, `"sother":0,"cleared":0,"others":[]`, `"sother":7,"cleared":0,"others":["1","2","3","4","5","6","7"]`, 1), good, steadyRSS,
			`first: ["1" "2" "3" "4" "5"]`},
		"socket error": {strings.Replace(okResult, `"timeout":0`, `"timeout":2`, 1), good, steadyRSS, "2 socket errors"},
		"cookie dropped": {strings.Replace(okResult, `"cleared":0`, `"cleared":1`, 1), good, steadyRSS,
			"dropped a session cookie"},
		"bookkeeping": {strings.Replace(okResult, `"s204":2`, `"s204":3`, 1), good, steadyRSS, "bookkeeping is off"},
		"memory grows": {okResult, good, "0 10000 5000 5000\n1 11000 5000 5000\n2 90000 85000 5000\n3 95000 90000 5000\n",
			"not bounded"},
		"memory over the limit": {okResult, good, "0 10000 5000 5000\n1 11000 5000 5000\n2 600000 5000 595000\n3 12500 5000 7500\n",
			"over the 512 MiB limit"},
	} {
		t.Run(name, func(t *testing.T) {
			fails := run(t, tc.result, tc.export, tc.rss)
			if !strings.Contains(strings.Join(fails, "\n"), tc.want) {
				t.Errorf("failures %q, want one saying %q", fails, tc.want)
			}
		})
	}
}

// TestReportRefusesBadInput: inputs report cannot read are an error naming
// the file, never a verdict on part of them.
func TestReportRefusesBadInput(t *testing.T) {
	id := session.NewID()
	for name, tc := range map[string]struct{ result, export, want string }{
		"result not JSON":        {"{", "", "result.json"},
		"result without threads": {`{"duration_us":1}`, "", "no threads"},
		"export not JSON":        {okResult, "{\n", "export.jsonl:1"},
		"export bad id":          {okResult, `{"id":"nope","data":{}}` + "\n", "export.jsonl:1"},
		"export line too long": {okResult, fmt.Sprintf(`{"id":%q,"data":{"t1-1":"%s"}}`+"\n", id, strings.Repeat("x", 17<<20)),
			"export.jsonl"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			paths := map[string]string{}
			for file, content := range map[string]string{"result.json": tc.result, "export.jsonl": tc.export, "rss.tsv": steadyRSS} {
				paths[file] = filepath.Join(dir, file)
				if err := os.WriteFile(paths[file], []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			fails, err := report(paths["result.json"], paths["export.jsonl"], paths["rss.tsv"], 512)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("report: failures %q, error %v; want an error saying %q", fails, err, tc.want)
			}
		})
	}
}
