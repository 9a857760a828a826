package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/mattn/go-runewidth"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// Human-readable renderings for tables. JSON output never uses them.

// relTime renders t relative to now for people: "in 12m", "3h ago", "now".
func relTime(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := t.Sub(now)
	switch {
	case d >= time.Second:
		return "in " + humanDuration(d)
	case d <= -time.Second:
		return humanDuration(-d) + " ago"
	}
	return "now"
}

// humanDuration renders a positive duration with one or two units,
// rounded down: "45s", "12m", "3h5m", "3d4h", "400d".
func humanDuration(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < day:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 || h >= 10 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh%dm", h, m)
	}
	days, h := int(d/day), int(d%day/time.Hour)
	if h == 0 || days >= 10 {
		return fmt.Sprintf("%dd", days)
	}
	return fmt.Sprintf("%dd%dh", days, h)
}

// humanTime renders an absolute time (RFC 3339, UTC, seconds) and its
// distance from now: "2025-01-02T03:04:05Z (in 12m)".
func humanTime(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339) + " (" + relTime(t, now) + ")"
}

// humanBytes renders a size in IEC units with at most 9 characters:
// "512 B", "1.5 KiB", "999.9 KiB", "1.0 MiB".
func humanBytes(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	v := float64(n) / 1024
	units := "KMGTPE"
	i := 0
	for v >= 999.95 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, units[i])
}

// dataSize is the size of a session's data: its keys and JSON values, in
// bytes. It is what the "size" column and JSON field report.
func dataSize(r *session.Record) int {
	n := 0
	for k, v := range r.Data {
		n += len(k) + len(v)
	}
	return n
}

// clientSummary renders a client for a table: "203.0.113.7 Firefox on
// Linux".
func clientSummary(c session.ClientInfo) string {
	ua := shortUserAgent(c.UserAgent)
	switch {
	case c.IP == "" && ua == "":
		return "-"
	case ua == "":
		return c.IP
	case c.IP == "":
		return ua
	}
	return c.IP + " " + ua
}

// shortUserAgent names the browser and system of a User-Agent header,
// "Firefox on Linux", or its first product token when it is no browser
// ("curl/8.5.0").
func shortUserAgent(ua string) string {
	ua = strings.TrimSpace(ua)
	if ua == "" {
		return ""
	}
	browser := firstMatch(ua, browsers)
	system := firstMatch(ua, systems)
	switch {
	case browser != "" && system != "":
		return browser + " on " + system
	case browser != "":
		return browser
	}
	token, _, _ := strings.Cut(ua, " ")
	return token
}

// marker names what a User-Agent containing its text comes from. Order
// matters: Edge and Opera claim to be Chrome, Chrome claims to be Safari,
// Android claims to be Linux and iOS claims to be Mac OS X.
type marker struct{ text, name string }

var browsers = []marker{
	{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"FxiOS/", "Firefox"}, {"Firefox/", "Firefox"},
	{"CriOS/", "Chrome"}, {"Chromium/", "Chromium"}, {"Chrome/", "Chrome"}, {"Safari/", "Safari"},
}

var systems = []marker{
	{"Android", "Android"}, {"iPhone", "iOS"}, {"iPad", "iOS"}, {"CrOS", "ChromeOS"},
	{"Windows", "Windows"}, {"Macintosh", "macOS"}, {"Mac OS X", "macOS"}, {"Linux", "Linux"},
}

// firstMatch returns the name of the first marker whose text occurs in s.
func firstMatch(s string, markers []marker) string {
	for _, m := range markers {
		if strings.Contains(s, m.text) {
			return m.name
		}
	}
	return ""
}

// printable makes s safe to print on a terminal: control characters
// (which a client could put in its User-Agent to move a terminal's cursor
// or recolour it) and other unprintable runes are shown escaped, "\x1b",
// "\n"; everything else is kept.
func printable(s string) string {
	clean := true
	for _, r := range s {
		if !unicode.IsPrint(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unicode.IsPrint(r) {
			b.WriteRune(r)
			continue
		}
		q := strconv.QuoteRune(r)
		b.WriteString(q[1 : len(q)-1])
	}
	return b.String()
}

// printableLines is printable for each line of s.
func printableLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = printable(l)
	}
	return strings.Join(lines, "\n")
}

// widths measures cells as a terminal shows them, the same way whatever
// the locale says, so table output is stable.
var widths = &runewidth.Condition{EastAsianWidth: false}

// cellWidth is the display width of s.
func cellWidth(s string) int { return widths.StringWidth(s) }

// truncateCell shortens s to at most w columns, ending in "…" when cut.
func truncateCell(s string, w int) string {
	if cellWidth(s) <= w {
		return s
	}
	return widths.Truncate(s, w, "…")
}

// roundDuration rounds d for people: to 10 µs below 10 ms, to 0.1 ms
// below 1 s, to the millisecond above.
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d < 10*time.Millisecond:
		return d.Round(10 * time.Microsecond)
	case d < time.Second:
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(time.Millisecond)
}
