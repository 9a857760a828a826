package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// printer renders the result of each command, as a table for people or
// as JSON for scripts (see docs/sesctl.md for the JSON fields). Printers
// write to an io.Writer and return its errors.
type printer interface {
	// List returns a writer for the rows of a session listing.
	List() listWriter
	// Session prints one session with every field and its data.
	Session(r *session.Record) error
	Expired(expireResult) error
	Purged(purgeResult) error
	Stats(session.Stats) error
	Check(session.CheckReport) error
	Backup(backupResult) error
	Compact(compactResult) error
	Imported(importResult) error
	Key(keyResult) error
	Rotated(rotateResult) error
	Version(versionResult) error
}

// listWriter receives the sessions of a listing one at a time.
type listWriter interface {
	Write(r *session.Record) error
	// Close flushes what is buffered; call it once, also after errors.
	Close() error
}

// newPrinter returns the printer for format ("table" or "json") writing to
// w; relative times in tables are measured from now.
func newPrinter(format string, w io.Writer, now time.Time) printer {
	if format == "json" {
		return &jsonPrinter{w: w, now: now}
	}
	return &tablePrinter{w: &trimWriter{w: w}, now: now}
}

// printer returns the printer of the global --output flag on stdout.
func (a *app) printer() printer { return newPrinter(a.output, a.stdout, a.now()) }

// Results of the commands that change or copy things.
type (
	expireResult struct {
		Expired int `json:"expired"`
	}
	purgeResult struct {
		Removed int  `json:"removed"`
		DryRun  bool `json:"dry_run"`
	}
	backupResult struct {
		Path  string `json:"path"`
		Bytes int64  `json:"bytes"`
	}
	compactResult struct {
		Source     string `json:"source"`
		Path       string `json:"path"`
		SizeBefore int64  `json:"size_before"`
		SizeAfter  int64  `json:"size_after"`
	}
	importResult struct {
		Read     int  `json:"read"`
		Imported int  `json:"imported"`
		Skipped  int  `json:"skipped"`
		Invalid  int  `json:"invalid"`
		DryRun   bool `json:"dry_run"`
	}
	keyResult struct {
		Key string `json:"key"`
	}
	rotateResult struct {
		Path    string `json:"path"`
		Keys    int    `json:"keys"`    // in the file now, the new one first
		Dropped int    `json:"dropped"` // old keys removed
	}
	versionResult struct {
		Version string `json:"version"`
		Go      string `json:"go"`
	}
)

// sessionView is the JSON form of a session in list and show. Field names
// and meanings are part of sesctl's contract (docs/sesctl.md).
type sessionView struct {
	ID          string    `json:"id"`
	User        string    `json:"user"`
	Created     time.Time `json:"created"`
	LastSeen    time.Time `json:"last_seen"`
	Expires     time.Time `json:"expires"`
	IdleExpires time.Time `json:"idle_expires"`
	Deadline    time.Time `json:"deadline"`
	Expired     bool      `json:"expired"`
	Persistent  bool      `json:"persistent"`
	IP          string    `json:"ip"`
	UserAgent   string    `json:"user_agent"`
	// LastIP and LastUserAgent are the client the session was last seen
	// from (session.Record.Latest).
	LastIP        string `json:"last_ip"`
	LastUserAgent string `json:"last_user_agent"`
	Size          int    `json:"size"`
	Version       uint64 `json:"version"`
}

// sessionDetail is show's JSON: the view plus the data.
type sessionDetail struct {
	sessionView
	Data map[string]json.RawMessage `json:"data"`
}

func newSessionView(r *session.Record, now time.Time) sessionView {
	return sessionView{
		ID:            r.ID.String(),
		User:          r.UserID,
		Created:       r.Created.UTC(),
		LastSeen:      r.LastSeen.UTC(),
		Expires:       r.Expires().UTC(),
		IdleExpires:   r.IdleExpires.UTC(),
		Deadline:      r.Deadline.UTC(),
		Expired:       r.Expired(now),
		Persistent:    r.Persistent,
		IP:            r.Client.IP,
		UserAgent:     r.Client.UserAgent,
		LastIP:        r.Latest().IP,
		LastUserAgent: r.Latest().UserAgent,
		Size:          dataSize(r),
		Version:       r.Version,
	}
}

// statsView is the JSON form of stats.
type statsView struct {
	Sessions     int64        `json:"sessions"`
	Live         int64        `json:"live"`
	Expired      int64        `json:"expired"`
	Users        int64        `json:"users"`
	SizeBytes    int64        `json:"size_bytes"`
	FreeBytes    int64        `json:"free_bytes"`
	SealFailures int64        `json:"seal_failures"`
	LastReap     *reapView    `json:"last_reap"`
	Commits      *commitsView `json:"commits"`
	// Durability is the store's word on what makes an acknowledged write
	// durable, where settings outside the store decide (Redis); absent
	// otherwise.
	Durability string `json:"durability,omitempty"`
}

type reapView struct {
	At            time.Time `json:"at"`
	Removed       int       `json:"removed"`
	DurationMS    float64   `json:"duration_ms"`
	LongestStepMS float64   `json:"longest_step_ms"`
}

// commitsView is the JSON form of the store's commits (session.CommitStats).
type commitsView struct {
	Count   int64   `json:"count"`
	Changes int64   `json:"changes"`
	Failed  int64   `json:"failed"`
	P50MS   float64 `json:"p50_ms"`
	P90MS   float64 `json:"p90_ms"`
	P99MS   float64 `json:"p99_ms"`
	MaxMS   float64 `json:"max_ms"`
}

// ms returns d in milliseconds with microsecond precision.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func newStatsView(st session.Stats) statsView {
	v := statsView{
		Sessions: st.Sessions, Live: st.Live, Expired: st.Expired, Users: st.Users,
		SizeBytes: st.SizeBytes, FreeBytes: st.FreeBytes, SealFailures: st.SealFailures,
		Durability: st.Durability,
	}
	if !st.LastReap.At.IsZero() {
		v.LastReap = &reapView{
			At:            st.LastReap.At.UTC(),
			Removed:       st.LastReap.Removed,
			DurationMS:    ms(st.LastReap.Duration),
			LongestStepMS: ms(st.LastReap.LongestStep),
		}
	}
	if c := st.Commits; c.Count > 0 {
		v.Commits = &commitsView{Count: c.Count, Changes: c.Changes, Failed: c.Failed,
			P50MS: ms(c.P50), P90MS: ms(c.P90), P99MS: ms(c.P99), MaxMS: ms(c.Max)}
	}
	return v
}

// checkView is the JSON form of check.
type checkView struct {
	OK            bool     `json:"ok"`
	Records       int64    `json:"records"`
	SealsVerified bool     `json:"seals_verified"`
	Problems      []string `json:"problems"`
}

func newCheckView(rep session.CheckReport) checkView {
	v := checkView{OK: rep.OK(), Records: rep.Records, SealsVerified: rep.SealsVerified, Problems: rep.Problems}
	if v.Problems == nil {
		v.Problems = []string{}
	}
	return v
}

// jsonPrinter writes one JSON object per line.
type jsonPrinter struct {
	w   io.Writer
	now time.Time
}

func (p *jsonPrinter) line(v any) error { return newJSONEncoder(p.w).Encode(v) }

// newJSONEncoder writes JSON values, one per line, leaving <, > and &
// as they are (sesctl's JSON is not embedded in HTML).
func newJSONEncoder(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc
}

func (p *jsonPrinter) List() listWriter {
	return &jsonList{bw: bufio.NewWriterSize(p.w, 64<<10), now: p.now}
}

func (p *jsonPrinter) Session(r *session.Record) error {
	d := sessionDetail{sessionView: newSessionView(r, p.now), Data: r.Data}
	if d.Data == nil {
		d.Data = map[string]json.RawMessage{}
	}
	enc := newJSONEncoder(p.w)
	enc.SetIndent("", "  ")
	return enc.Encode(d)
}

func (p *jsonPrinter) Expired(r expireResult) error        { return p.line(r) }
func (p *jsonPrinter) Purged(r purgeResult) error          { return p.line(r) }
func (p *jsonPrinter) Stats(st session.Stats) error        { return p.line(newStatsView(st)) }
func (p *jsonPrinter) Check(rep session.CheckReport) error { return p.line(newCheckView(rep)) }
func (p *jsonPrinter) Backup(r backupResult) error         { return p.line(r) }
func (p *jsonPrinter) Compact(r compactResult) error       { return p.line(r) }
func (p *jsonPrinter) Imported(r importResult) error       { return p.line(r) }
func (p *jsonPrinter) Key(r keyResult) error               { return p.line(r) }
func (p *jsonPrinter) Rotated(r rotateResult) error        { return p.line(r) }
func (p *jsonPrinter) Version(r versionResult) error       { return p.line(r) }

// jsonList streams one sessionView per line through a buffer.
type jsonList struct {
	bw  *bufio.Writer
	buf []byte
	now time.Time
}

func (l *jsonList) Write(r *session.Record) error {
	v := newSessionView(r, l.now)
	l.buf = append(appendSessionView(l.buf[:0], &v), '\n')
	_, err := l.bw.Write(l.buf)
	return err
}

func (l *jsonList) Close() error { return l.bw.Flush() }

// tablePrinter writes tables and sentences for people.
type tablePrinter struct {
	w   io.Writer
	now time.Time
}

func (p *tablePrinter) say(format string, args ...any) error {
	_, err := fmt.Fprintf(p.w, format+"\n", args...)
	return err
}

func (p *tablePrinter) List() listWriter {
	bw := bufio.NewWriterSize(p.w, 64<<10)
	return &tableList{w: bw, flush: bw.Flush, now: p.now}
}

func (p *tablePrinter) Session(r *session.Record) error {
	if err := renderPairs(p.w, makeSessionTable(r, p.now)); err != nil {
		return err
	}
	data, err := prettyData(r.Data)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(p.w, "data\n%s\n", printableLines(data))
	return err
}

func (p *tablePrinter) Expired(r expireResult) error {
	return p.say("expired %s", plural(r.Expired, "session"))
}

func (p *tablePrinter) Purged(r purgeResult) error {
	if r.DryRun {
		return p.say("would purge %s (dry run: nothing removed)", plural(r.Removed, "expired session"))
	}
	return p.say("purged %s", plural(r.Removed, "expired session"))
}

func (p *tablePrinter) Stats(st session.Stats) error {
	return renderPairs(p.w, makeStatsTable(st, p.now))
}

func (p *tablePrinter) Check(rep session.CheckReport) error {
	if err := renderPairs(p.w, makeCheckTable(rep)); err != nil {
		return err
	}
	for _, pr := range rep.Problems {
		if _, err := fmt.Fprintf(p.w, "  - %s\n", printable(pr)); err != nil {
			return err
		}
	}
	return nil
}

func (p *tablePrinter) Backup(r backupResult) error {
	return p.say("backed up to %s (%s)", r.Path, humanBytes(r.Bytes))
}

func (p *tablePrinter) Compact(r compactResult) error {
	saved := ""
	if r.SizeBefore > 0 {
		saved = fmt.Sprintf(", %d%% smaller", 100-r.SizeAfter*100/r.SizeBefore)
	}
	return p.say("compacted %s into %s: %s -> %s%s", r.Source, r.Path,
		humanBytes(r.SizeBefore), humanBytes(r.SizeAfter), saved)
}

func (p *tablePrinter) Imported(r importResult) error {
	if r.DryRun {
		return p.say("%s valid (dry run: nothing imported)", plural(r.Read, "record"))
	}
	msg := fmt.Sprintf("imported %s of %d", plural(r.Imported, "session"), r.Read)
	var notes []string
	if r.Skipped > 0 {
		notes = append(notes, fmt.Sprintf("%d skipped: already stored or expired", r.Skipped))
	}
	if r.Invalid > 0 {
		notes = append(notes, fmt.Sprintf("%d invalid left out", r.Invalid))
	}
	if len(notes) > 0 {
		msg += " (" + strings.Join(notes, "; ") + ")"
	}
	return p.say("%s", msg)
}

func (p *tablePrinter) Key(r keyResult) error { return p.say("%s", r.Key) }

func (p *tablePrinter) Rotated(r rotateResult) error {
	dropped := ""
	if r.Dropped > 0 {
		dropped = fmt.Sprintf(", dropped %s", plural(r.Dropped, "old key"))
	}
	return p.say("rotated %s: a new key signs, %s verify%s; restart the app to use it", r.Path, plural(r.Keys, "key"), dropped)
}

func (p *tablePrinter) Version(r versionResult) error {
	return p.say("sesctl %s (%s)", r.Version, r.Go)
}

// plural renders "1 session", "2 sessions".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// prettyData renders session data as indented JSON with sorted keys.
func prettyData(data map[string]json.RawMessage) (string, error) {
	if len(data) == 0 {
		return "{}", nil
	}
	var out bytes.Buffer
	enc := newJSONEncoder(&out) // sorts the keys
	enc.SetIndent("", "  ")
	if err := enc.Encode(data); err != nil {
		return "", err
	}
	return strings.TrimSuffix(out.String(), "\n"), nil
}

// Table contents, shared by the table printer and the tests.

// sessionColumns are the columns of a session listing.
var sessionColumns = []string{"ID", "USER", "CREATED", "LAST SEEN", "EXPIRES", "SIZE", "CLIENT"}

// Widest user and client cells in a listing; longer ones are cut.
const (
	maxUserCell   = 24
	maxClientCell = 40
)

// minColumnWidths keep the columns whose cells have a bounded width wide
// enough for any cell (relative times and sizes are at most 9 columns), so
// rows after a full sample never cut them.
var minColumnWidths = []int{36, 0, 9, 9, 9, 9, 0}

// makeSessionRow returns the cells of r in a listing.
func makeSessionRow(r *session.Record, now time.Time) []string {
	user := r.UserID
	if user == "" {
		user = "-"
	}
	return []string{
		r.ID.String(),
		truncateCell(printable(user), maxUserCell),
		relTime(r.Created, now),
		relTime(r.LastSeen, now),
		relTime(r.Expires(), now),
		humanBytes(int64(dataSize(r))),
		truncateCell(printable(clientSummary(r.Latest())), maxClientCell),
	}
}

// makeSessionTable returns show's field rows.
func makeSessionTable(r *session.Record, now time.Time) [][]string {
	state := "live"
	if r.Expired(now) {
		state = "expired"
	}
	user := printable(r.UserID)
	if user == "" {
		user = "- (anonymous)"
	}
	return [][]string{
		{"id", r.ID.String()},
		{"user", user},
		{"state", state},
		{"created", humanTime(r.Created, now)},
		{"last seen", humanTime(r.LastSeen, now)},
		{"expires", humanTime(r.Expires(), now)},
		{"idle expires", humanTime(r.IdleExpires, now)},
		{"deadline", humanTime(r.Deadline, now)},
		{"persistent", persistence(r)},
		{"ip", orDash(printable(r.Client.IP))},
		{"user agent", orDash(printable(r.Client.UserAgent))},
		{"last ip", orDash(printable(r.Latest().IP))},
		{"last user agent", orDash(printable(r.Latest().UserAgent))},
		{"size", humanBytes(int64(dataSize(r)))},
		{"version", fmt.Sprint(r.Version)},
	}
}

// makeStatsTable returns stats' rows. The file's size and free space are
// left out when the store does not know them (Redis, whose memory is
// shared), and its durability is shown when it has a word on it.
func makeStatsTable(st session.Stats, now time.Time) [][]string {
	reap := "none since the store was opened"
	if !st.LastReap.At.IsZero() {
		reap = fmt.Sprintf("%s, removed %d in %s", relTime(st.LastReap.At, now),
			st.LastReap.Removed, st.LastReap.Duration.Round(time.Millisecond))
		if st.LastReap.LongestStep > 0 {
			reap += fmt.Sprintf(" (writers waited at most %s)", roundDuration(st.LastReap.LongestStep))
		}
	}
	commits := "none measured since the store was opened"
	if c := st.Commits; c.Count > 0 {
		commits = fmt.Sprintf("%d (%d changes, %d failed); p50 %s, p90 %s, p99 %s, max %s", c.Count, c.Changes, c.Failed,
			roundDuration(c.P50), roundDuration(c.P90), roundDuration(c.P99), roundDuration(c.Max))
	}
	free := humanBytes(st.FreeBytes)
	if st.SizeBytes > 0 {
		free += fmt.Sprintf(" (%d%% of the file)", st.FreeBytes*100/st.SizeBytes)
	}
	rows := [][]string{
		{"sessions", fmt.Sprint(st.Sessions)},
		{"live", fmt.Sprint(st.Live)},
		{"expired", fmt.Sprintf("%d (not yet purged)", st.Expired)},
		{"users", fmt.Sprint(st.Users)},
	}
	if st.SizeBytes > 0 {
		rows = append(rows, []string{"file size", humanBytes(st.SizeBytes)}, []string{"free", free})
	}
	rows = append(rows, []string{"last reap", reap}, []string{"seal failures", fmt.Sprint(st.SealFailures)},
		[]string{"commits", commits})
	if st.Durability != "" {
		rows = append(rows, []string{"durability", printable(st.Durability)})
	}
	return rows
}

// makeCheckTable returns check's summary rows.
func makeCheckTable(rep session.CheckReport) [][]string {
	seals := "verified"
	if !rep.SealsVerified {
		seals = "not verified (pass --keys FILE to verify them)"
	}
	result := "OK"
	if !rep.OK() {
		result = plural(len(rep.Problems), "problem")
	}
	return [][]string{
		{"records", fmt.Sprint(rep.Records)},
		{"seals", seals},
		{"result", result},
	}
}

// persistence says whether the session is remembered, for show.
func persistence(r *session.Record) string {
	if r.Persistent {
		return "yes (remember me: the cookie outlives the browser)"
	}
	return "no"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Table rendering with tablewriter: plain columns without borders, like
// other command-line tools.

// gap separates columns.
const gap = "   "

func plainRendition() tw.Rendition {
	return tw.Rendition{
		Borders: tw.BorderNone,
		Symbols: tw.NewSymbols(tw.StyleNone),
		Settings: tw.Settings{
			Separators: tw.Separators{BetweenRows: tw.Off, BetweenColumns: tw.Off},
			Lines:      tw.Lines{ShowHeaderLine: tw.Off, ShowFooterLine: tw.Off, ShowTop: tw.Off, ShowBottom: tw.Off},
		},
	}
}

// cellConfig left-aligns, never wraps, and pads each column but the last
// with gap on the right.
func cellConfig(cols int) tw.CellConfig {
	pad := make([]tw.Padding, cols)
	for i := range pad {
		pad[i] = tw.Padding{Right: gap, Overwrite: true}
	}
	pad[cols-1] = tw.PaddingNone
	return tw.CellConfig{
		Formatting: tw.CellFormatting{AutoWrap: tw.WrapNone, AutoFormat: tw.Off},
		Alignment:  tw.CellAlignment{Global: tw.AlignLeft},
		Padding:    tw.CellPadding{Global: tw.Padding{Right: gap, Overwrite: true}, PerColumn: pad},
	}
}

func tableOptions(cols int) []tablewriter.Option {
	return []tablewriter.Option{
		tablewriter.WithRenderer(renderer.NewBlueprint(plainRendition())),
		tablewriter.WithHeaderConfig(cellConfig(cols)),
		tablewriter.WithRowConfig(cellConfig(cols)),
		tablewriter.WithTrimSpace(tw.Off),
	}
}

// renderPairs prints label/value rows as two aligned columns.
func renderPairs(w io.Writer, rows [][]string) error {
	t := tablewriter.NewTable(w, tableOptions(2)...)
	if err := t.Bulk(rows); err != nil {
		return err
	}
	return t.Render()
}

// tableList prints a listing as a table with constant memory: it buffers
// the first tableSample rows to size the columns, prints them with
// tablewriter's streaming mode, and then every further row with the same
// layout (cells wider than their column are cut with "…"). The rows after
// the sample are laid out here rather than by tablewriter, which takes
// about 20 µs a row: a table of a million sessions prints in seconds, not
// half a minute. TestTableListLayout holds both to the same output.
type tableList struct {
	w      io.Writer
	flush  func() error
	now    time.Time
	sample [][]string
	line   []byte
	table  *tablewriter.Table
	widths []int
	err    error
}

// tableSample is how many rows size the columns of a listing (a variable
// for tests).
var tableSample = 1000

func (l *tableList) Write(r *session.Record) error {
	if l.err != nil {
		return l.err
	}
	row := makeSessionRow(r, l.now)
	if l.table == nil {
		l.sample = append(l.sample, row)
		if len(l.sample) < tableSample {
			return nil
		}
		l.err = l.start()
		return l.err
	}
	l.err = l.writeRow(row)
	return l.err
}

// writeRow prints a row after the sample: each cell cut to its column's
// width and padded to it, columns separated by gap (trailing spaces are
// dropped by the trimWriter below).
func (l *tableList) writeRow(row []string) error {
	l.line = l.line[:0]
	for i, c := range row {
		c = truncateCell(c, l.widths[i])
		l.line = append(l.line, c...)
		if i < len(row)-1 {
			for n := l.widths[i] - cellWidth(c) + len(gap); n > 0; n-- {
				l.line = append(l.line, ' ')
			}
		}
	}
	l.line = append(l.line, '\n')
	_, err := l.w.Write(l.line)
	return err
}

// start sizes the columns from the sample, prints the header and the
// sample.
func (l *tableList) start() error {
	cols := len(sessionColumns)
	l.widths = make([]int, cols)
	full := len(l.sample) >= tableSample // more rows may follow
	for i, h := range sessionColumns {
		l.widths[i] = cellWidth(h)
		if full {
			l.widths[i] = max(l.widths[i], minColumnWidths[i])
		}
	}
	for _, row := range l.sample {
		for i, c := range row {
			l.widths[i] = max(l.widths[i], cellWidth(c))
		}
	}
	m := tw.NewMapper[int, int]()
	for i, w := range l.widths {
		if i < cols-1 {
			w += len(gap)
		}
		m.Set(i, w)
	}
	opts := append(tableOptions(cols),
		tablewriter.WithStreaming(tw.StreamConfig{Enable: true}),
		tablewriter.WithColumnWidths(m))
	l.table = tablewriter.NewTable(l.w, opts...)
	if err := l.table.Start(); err != nil {
		return err
	}
	l.table.Header(sessionColumns)
	for _, row := range l.sample {
		if err := l.append(row); err != nil {
			return err
		}
	}
	l.sample = nil
	return nil
}

func (l *tableList) append(row []string) error {
	for i, c := range row {
		row[i] = truncateCell(c, l.widths[i])
	}
	return l.table.Append(row)
}

func (l *tableList) Close() error {
	if l.err != nil {
		return l.err
	}
	if l.table == nil {
		if len(l.sample) == 0 {
			_, err := fmt.Fprintln(l.w, "no sessions")
			return joinErr(err, l.flush())
		}
		if err := l.start(); err != nil {
			return err
		}
	}
	return joinErr(l.table.Close(), l.flush())
}

// trimWriter drops the spaces at the end of every line written through it
// (tablewriter pads the last column to its width).
type trimWriter struct {
	w      io.Writer
	spaces int // spaces held back: they are written only if more text follows
	buf    []byte
}

func (t *trimWriter) Write(p []byte) (int, error) {
	t.buf = t.buf[:0]
	for _, c := range p {
		switch c {
		case ' ':
			t.spaces++
			continue
		case '\n':
			t.spaces = 0
		default:
			for ; t.spaces > 0; t.spaces-- {
				t.buf = append(t.buf, ' ')
			}
		}
		t.buf = append(t.buf, c)
	}
	if _, err := t.w.Write(t.buf); err != nil {
		return 0, err
	}
	return len(p), nil
}
