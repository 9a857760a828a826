package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// tableRecords returns n varied records; the first has the widest cell of
// every column, at least minColumnWidths.
func tableRecords(n int) []*session.Record {
	recs := make([]*session.Record, n)
	users := []string{"", "bob", "émilie", "日本語ユーザー", "a-very-long-user-name-that-gets-cut@example.com"}
	for i := range recs {
		r := fixture()[i%len(fixture())].Clone()
		r.ID = session.NewID()
		r.UserID = users[i%len(users)]
		r.Created = testNow.Add(-time.Duration(i) * time.Minute)
		r.Client.IP = fmt.Sprintf("10.0.%d.%d", i%256, i%7)
		recs[i] = r
	}
	recs[0].UserID = users[len(users)-1]
	recs[0].Created = testNow.Add(-(9*24 + 23) * time.Hour)                // "9d23h ago"
	recs[0].LastSeen = testNow.Add(-9*time.Hour - 59*time.Minute)          // "9h59m ago"
	recs[0].IdleExpires = testNow.Add(-(9*24 + 23) * time.Hour)            // "9d23h ago"
	recs[0].Data["big"] = []byte(`"` + strings.Repeat("x", 1022935) + `"`) // "999.0 KiB"
	recs[0].Client = session.ClientInfo{IP: "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", UserAgent: "Mozilla/5.0 (Windows NT 10.0) Chrome/1 Safari/1"}
	return recs
}

func renderList(t *testing.T, recs []*session.Record, sample int) string {
	t.Helper()
	old := tableSample
	tableSample = sample
	defer func() { tableSample = old }()
	var b bytes.Buffer
	l := newPrinter("table", &b, testNow).List()
	for _, r := range recs {
		if err := l.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestTableListLayout: rows after the sample look exactly as tablewriter
// lays them out.
func TestTableListLayout(t *testing.T) {
	recs := tableRecords(2500)
	fast := renderList(t, recs, 100)
	all := renderList(t, recs, 1_000_000)
	if fast != all {
		fl, al := strings.Split(fast, "\n"), strings.Split(all, "\n")
		for i := range min(len(fl), len(al)) {
			if fl[i] != al[i] {
				t.Fatalf("line %d differs:\n%q\n%q", i, fl[i], al[i])
			}
		}
		t.Fatalf("%d lines vs %d", len(fl), len(al))
	}
	if n := countLines(fast); n != 2501 {
		t.Errorf("%d lines, want a header and 2500 rows", n)
	}
	for _, line := range strings.Split(fast, "\n") {
		if strings.HasSuffix(line, " ") {
			t.Fatalf("trailing space: %q", line)
		}
	}
}

// TestTableListCut: a row after the sample wider than its columns is cut.
func TestTableListCut(t *testing.T) {
	recs := fixture()[:2]
	recs[1] = recs[1].Clone()
	recs[1].UserID = "mallory-with-a-longer-name"
	recs[1].Client.IP = "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"
	got := renderList(t, recs, 1)
	want := "ID                                     USER    CREATED     LAST SEEN   EXPIRES     SIZE        CLIENT\n" +
		"0f8e4d2c-5b1a-4c3e-9d7f-2a6b8c0e1f34   alice   3h ago      2m ago      in 29d      36 B        198.51.100.4 Firefox on Linux\n" +
		"3c2d1e0f-aaaa-4bbb-8ccc-dddddddddddd   mall…   1d2h ago    20m ago     in 10m      12 B        2001:db8:ffff:ffff:ffff:ffff…\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestHumanize(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "now", 500 * time.Millisecond: "now", time.Second: "in 1s", 59 * time.Second: "in 59s",
		12 * time.Minute: "in 12m", 3*time.Hour + 5*time.Minute: "in 3h5m", 11 * time.Hour: "in 11h",
		-26 * time.Hour: "1d2h ago", -400 * 24 * time.Hour: "400d ago", -90 * time.Second: "1m ago",
	} {
		if got := relTime(testNow.Add(d), testNow); got != want {
			t.Errorf("relTime(%v) = %q, want %q", d, got, want)
		}
	}
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 1023 << 10: "1.0 MiB", 999 << 10: "999.0 KiB", 5 << 30: "5.0 GiB", 1 << 62: "4.0 EiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
	for ua, want := range map[string]string{
		"":           "",
		"curl/8.5.0": "curl/8.5.0",
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36":                         "Chrome on Android",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15":                        "Safari on macOS",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36 Edg/126.0":                     "Edge on Windows",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/127.0 Mobile/15E148 Safari/605.1.15": "Firefox on iOS",
	} {
		if got := shortUserAgent(ua); got != want {
			t.Errorf("shortUserAgent(%q) = %q, want %q", ua, got, want)
		}
	}
}

// TestTableEscapes: what clients control cannot drive the operator's
// terminal.
func TestTableEscapes(t *testing.T) {
	r := fixture()[0].Clone()
	r.UserID = "eve\x1b]0;pwned\x07"
	r.Client.UserAgent = "\x1b[2J\x1b[31mred\r\nline"
	r.Client.IP = "1.2.3.4\u009b\x9b"
	r.Data["c1"] = []byte(`"\u009b31m"`)
	var b bytes.Buffer
	p := newPrinter("table", &b, testNow)
	l := p.List()
	if err := l.Write(r); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Session(r); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.Contains(out, "\x9b") {
		t.Fatalf("raw byte 0x9b in output:\n%q", out)
	}
	for _, c := range out {
		if c < 0x20 && c != '\n' || c == 0x7f || c >= 0x80 && c < 0xa0 {
			t.Fatalf("control character %U in output:\n%q", c, out)
		}
	}
	for _, want := range []string{`eve\x1b]0;pwned\a`, `\x1b[2J\x1b[31mred\r\nline`, "1.2.3.4\\u009b\ufffd", `"c1": "\u009b31m"`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %s:\n%s", want, out)
		}
	}
}
