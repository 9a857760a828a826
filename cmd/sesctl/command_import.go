package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/sesbolt/sesbolt/pkg/admin"
	"github.com/sesbolt/sesbolt/pkg/boltstore"
	"github.com/sesbolt/sesbolt/pkg/redisstore"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// importOptions are the flags of import.
type importOptions struct {
	from        string
	userKey     string
	lifetime    time.Duration
	lifetimeSet bool // --lifetime was given
	batch       int
	dryRun      bool
	skipInvalid bool
}

// Import formats (--from).
const (
	fromJSONL      = "jsonl"
	fromSCSBolt    = "scs-bolt"
	fromFlaskRedis = "flask-redis"
)

// Limits of one import batch: Service.Import stores a batch atomically, and
// the admin API caps a request's size.
const (
	defaultImportBatch = 1000
	maxImportBatch     = session.MaxPageSize * 10
	maxBatchBytes      = 8 << 20
	// maxLineBytes bounds one input line (a record's JSON).
	maxLineBytes = 32 << 20
	// maxReportedLines bounds the bad lines printed.
	maxReportedLines = 20
)

func (o *importOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.from, "from", fromJSONL, "input `FORMAT`: jsonl (sesctl export), scs-bolt (an alexedwards/scs boltstore file) or flask-redis (the Flask recipe's sessions in Redis)")
	fs.StringVar(&o.userKey, "user-key", "", "with --from scs-bolt (default: sessions stay anonymous) or flask-redis (required): the session value `KEY` that holds the user id")
	fs.DurationVar(&o.lifetime, "lifetime", session.DefaultLifetime, "with --from flask-redis: the absolute lifetime the imported sessions get, from now (the recipe's layout has none)")
	fs.IntVar(&o.batch, "batch", defaultImportBatch, "write `N` records per atomic batch")
	fs.BoolVar(&o.dryRun, "dry-run", false, "validate the input only; write nothing")
	fs.BoolVar(&o.skipInvalid, "skip-invalid", false, "leave out invalid records (reported) instead of importing nothing")
}

func (o *importOptions) validate(args []string) error {
	if o.from != fromFlaskRedis && o.lifetimeSet {
		return usageErrorf("--lifetime applies to --from %s only", fromFlaskRedis)
	}
	switch o.from {
	case fromJSONL:
		if o.userKey != "" {
			return usageErrorf("--user-key applies to --from %s and %s only", fromSCSBolt, fromFlaskRedis)
		}
	case fromSCSBolt:
		if len(args) == 0 || args[0] == "-" {
			return usageErrorf("--from %s needs the scs database FILE", fromSCSBolt)
		}
	case fromFlaskRedis:
		switch {
		case len(args) == 0 || args[0] == "-":
			return usageErrorf("--from %s needs the URL of the Redis that holds the Flask app's sessions", fromFlaskRedis)
		case o.userKey == "":
			return usageErrorf("--from %s needs --user-key: the key of the session dict that holds the user id (user_id in examples/flask)", fromFlaskRedis)
		case o.lifetime <= 0:
			return usageErrorf("--lifetime must be positive")
		}
	default:
		return usageErrorf("--from must be %s, %s or %s, not %q", fromJSONL, fromSCSBolt, fromFlaskRedis, o.from)
	}
	if o.batch < 1 || o.batch > maxImportBatch {
		return usageErrorf("--batch must be between 1 and %d", maxImportBatch)
	}
	return nil
}

func newImportCommand(a *app) *cobra.Command {
	var o importOptions
	cmd := &cobra.Command{
		Use:   "import [FILE | URL]",
		Short: "Import session records (JSON lines, an scs boltstore file, or a Flask app's sessions in Redis)",
		Long: `Import session records from FILE, or from stdin when FILE is absent or "-".

The input is JSON lines as export writes them: one session record per line
(blank lines are ignored). Every line is validated before anything is
written: unknown fields, malformed ids or times, missing expiry, and data
values that are not JSON are reported with their line numbers, and then
nothing is imported (or, with --skip-invalid, the rest is). Records are
written in atomic batches; records whose id is already stored and records
already expired are skipped, so running an import twice is harmless.

import is the one command that creates a missing database file (mode 0600,
once the input proved valid; it says so on stderr), so export | import
restores a backup or moves sessions to a new file without running the app.

--from scs-bolt FILE migrates from github.com/alexedwards/scs's boltstore:
each scs session becomes a new session with a new random id, its values
JSON-encoded, created now, expiring when it would have expired in scs, and
bound to the user named by the value under --user-key. The scs tokens are not
carried over, so users log in again; running it twice imports twice. Values
of types the app registered with gob.Register cannot be read outside the
app; such sessions are invalid (see --skip-invalid).

--from flask-redis URL migrates from the Flask recipe's layout (docs/flask.md)
in the Redis at URL: each session stored there under its bare id, the
session dict as JSON, becomes a session with the same id (the recipe's ids
are random UUIDs, as sesbolt's are), the user named by the value under
--user-key, the other values as they are, created now, idle until its key
would have expired, and ending --lifetime from now at the latest (the
recipe's layout has no absolute lifetime). Cookies that name a session
still do: see flasksession.Codec.MigrateTo. The Flask layout is read, never
changed; sessions already imported are skipped, so running it twice is
harmless. Values that are not a session dict are invalid (see
--skip-invalid). It reads every key name of that Redis database.`,
		Example: `  sesctl --keys app.keys import sessions.jsonl
  sesctl export | sesctl --db new.db --keys app.keys import
  sesctl --keys app.keys import --from scs-bolt --user-key userID scs.db
  sesctl --db app.db --keys app.keys import --from flask-redis --user-key user_id redis://127.0.0.1:6379/0`,
		Args: needArgs(0, 1, "at most one input FILE or URL (none: stdin)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.lifetimeSet = cmd.Flags().Changed("lifetime")
			if err := o.validate(args); err != nil {
				return err
			}
			input := "-"
			if len(args) == 1 {
				input = args[0]
			}
			switch o.from {
			case fromSCSBolt:
				return a.runImportSCS(cmd.Context(), &o, input)
			case fromFlaskRedis:
				return a.runImportFlask(cmd.Context(), &o, input)
			}
			return a.runImport(cmd.Context(), &o, input)
		},
	}
	o.AddFlags(cmd.Flags())
	mustComplete(cmd.RegisterFlagCompletionFunc("from", fixedValues(
		fromJSONL+"\tJSON lines, as sesctl export writes them", fromSCSBolt+"\tan alexedwards/scs boltstore file",
		fromFlaskRedis+"\tthe Flask recipe's sessions in Redis")))
	return cmd
}

// importDest is the database an import writes to. A database file that
// does not exist yet is created only once the input proved valid, so a bad
// input leaves no empty database behind.
type importDest struct {
	a       *app
	ctx     context.Context
	svc     admin.Service // nil until open
	release func() error
}

// openImportDest opens the database to import into: at once when it
// exists or is behind a socket, so that a held file, an unreachable Redis
// or missing keys fail before the input is read; later, in open, when the
// file (or the store in Redis) is to be created. A dry run opens nothing.
func (a *app) openImportDest(ctx context.Context, dryRun bool) (*importDest, error) {
	t := &importDest{a: a, ctx: ctx, release: func() error { return nil }}
	if dryRun {
		return t, nil
	}
	if a.redis != "" {
		svc, release, err := a.service(ctx, writeAccess)
		if errors.Is(err, redisstore.ErrNoStore) {
			return t, nil // started by open (keys were checked first)
		}
		if err != nil {
			return nil, err
		}
		t.svc, t.release = svc, release
		return t, nil
	}
	if a.socket == "" && missing(a.db) {
		keys, err := a.loadKeys()
		if err != nil {
			return nil, err
		}
		return t, a.canWrite(createAccess, keys)
	}
	return t, t.open()
}

// open opens the target unless it is open, creating the database file if
// it is missing.
func (t *importDest) open() error {
	if t.svc != nil {
		return nil
	}
	svc, release, err := t.a.service(t.ctx, createAccess)
	if err != nil {
		return err
	}
	t.svc, t.release = svc, release
	return nil
}

func (a *app) runImport(ctx context.Context, o *importOptions, input string) (err error) {
	target, err := a.openImportDest(ctx, o.dryRun)
	if err != nil {
		return err
	}
	defer func() { err = joinErr(err, target.release()) }()

	src, name, cleanup, err := a.importSource(input)
	if err != nil {
		return err
	}
	defer cleanup()

	// Pass 1: validate every line (spooling stdin to a file to read twice).
	v := newValidation(a.stderr, name, "line")
	err = scanLines(src.first, func(n int, line []byte) error {
		_, err := decodeRecordLine(line)
		v.check(n, err)
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := v.verdict(o.skipInvalid); err != nil {
		return err
	}
	if o.dryRun {
		return a.printer().Imported(importResult{Read: v.valid, Invalid: len(v.bad), DryRun: true})
	}

	// Pass 2: import the valid lines in atomic batches.
	if err := target.open(); err != nil {
		return err
	}
	second, err := src.second()
	if err != nil {
		return err
	}
	b := newBatcher(ctx, target.svc, o.batch, a.progress(int64(v.valid), "importing", false), "lines")
	err = scanLines(second, func(n int, line []byte) error {
		if v.isBad(n) {
			return nil
		}
		r, err := decodeRecordLine(line)
		if err != nil { // the input changed since pass 1
			return fmt.Errorf("line %d: %w", n, err)
		}
		return b.add(n, r, len(line))
	})
	err = joinErr(err, b.flush())
	b.bar.Done()
	if err != nil {
		return b.failed(name, err)
	}
	return a.printer().Imported(importResult{Read: v.valid, Imported: b.imported, Skipped: v.valid - b.imported, Invalid: len(v.bad)})
}

// importInput is an input read twice: first to validate, then to import.
type importInput struct {
	first  io.Reader
	second func() (io.Reader, error)
}

// importSource opens input ("-" is stdin). Stdin is copied to a private
// temporary file while it is validated, so the import reads exactly what
// was validated.
func (a *app) importSource(input string) (importInput, string, func(), error) {
	if input != "-" {
		f, err := os.Open(input)
		if err != nil {
			return importInput{}, "", nil, err
		}
		second := func() (io.Reader, error) {
			_, err := f.Seek(0, io.SeekStart)
			return f, err
		}
		return importInput{first: f, second: second}, input, func() { f.Close() }, nil
	}
	spool, err := os.CreateTemp("", "sesctl-import-*.jsonl") // mode 0600
	if err != nil {
		return importInput{}, "", nil, err
	}
	cleanup := func() {
		spool.Close()
		os.Remove(spool.Name())
	}
	second := func() (io.Reader, error) {
		_, err := spool.Seek(0, io.SeekStart)
		return spool, err
	}
	return importInput{first: io.TeeReader(a.stdin, spool), second: second}, "stdin", cleanup, nil
}

// scanLines calls fn with each non-blank line of r and its number (from 1).
func scanLines(r io.Reader, fn func(n int, line []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLineBytes)
	n := 0
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		if err := fn(n, line); err != nil {
			return err
		}
	}
	if errors.Is(sc.Err(), bufio.ErrTooLong) {
		return fmt.Errorf("line %d is longer than %d MiB", n+1, maxLineBytes>>20)
	}
	return sc.Err()
}

// decodeRecordLine parses one line of JSON lines input: exactly one
// session.Record object with no unknown fields, valid by Record.Validate.
func decodeRecordLine(line []byte) (*session.Record, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	var r session.Record
	if err := dec.Decode(&r); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field == "" {
			return nil, fmt.Errorf("a JSON %s, not a record object", te.Value)
		}
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("more than one JSON value on the line")
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if err := checkStoreLimits(&r); err != nil {
		return nil, err
	}
	return &r, nil
}

// checkStoreLimits refuses a valid record the store would still refuse, so
// validation catches it before anything is written: a user id longer than
// boltstore.MaxUserIDSize. (A record larger than the store's
// Options.MaxRecordSize, which only the application knows, still fails
// its batch.)
func checkStoreLimits(r *session.Record) error {
	if len(r.UserID) > boltstore.MaxUserIDSize {
		return fmt.Errorf("user id of %d bytes is longer than the %d bytes the store allows", len(r.UserID), boltstore.MaxUserIDSize)
	}
	return nil
}

// validation collects the invalid entries of an input and reports them.
type validation struct {
	stderr io.Writer
	name   string
	unit   string // "line" or "entry"
	valid  int
	bad    map[int]bool
}

func newValidation(stderr io.Writer, name, unit string) *validation {
	return &validation{stderr: stderr, name: name, unit: unit, bad: map[int]bool{}}
}

// check records entry n as valid or, with its reason, as invalid, printing
// the first maxReportedLines reasons.
func (v *validation) check(n int, err error) {
	if err == nil {
		v.valid++
		return
	}
	if len(v.bad) < maxReportedLines {
		fmt.Fprintf(v.stderr, "sesctl: %s: %s %d: %s\n", printable(v.name), v.unit, n, userText(err.Error()))
	}
	v.bad[n] = true
}

func (v *validation) isBad(n int) bool { return v.bad[n] }

// verdict fails when entries were invalid, unless they are to be skipped.
func (v *validation) verdict(skipInvalid bool) error {
	if len(v.bad) > maxReportedLines {
		fmt.Fprintf(v.stderr, "sesctl: %s: ... and %d more invalid\n", v.name, len(v.bad)-maxReportedLines)
	}
	if len(v.bad) > 0 && !skipInvalid {
		return fmt.Errorf("%s: %s invalid; nothing imported (fix them, or pass --skip-invalid to import the rest)",
			v.name, plural(len(v.bad), v.unit))
	}
	return nil
}

// batcher sends records to Service.Import in batches bounded by count and
// bytes; each batch is stored atomically.
type batcher struct {
	ctx      context.Context
	svc      admin.Service
	max      int
	units    string // "lines" or "entries", for messages
	bar      *progress
	recs     []*session.Record
	bytes    int
	first    int // number of the batch's first entry
	last     int
	imported int
}

func newBatcher(ctx context.Context, svc admin.Service, max int, bar *progress, units string) *batcher {
	return &batcher{ctx: ctx, svc: svc, max: max, bar: bar, units: units}
}

// add queues r (entry n, size bytes) and writes the batch when full.
func (b *batcher) add(n int, r *session.Record, size int) error {
	if len(b.recs) == 0 {
		b.first = n
	}
	b.recs = append(b.recs, r)
	b.last = n
	b.bytes += size
	if len(b.recs) >= b.max || b.bytes >= maxBatchBytes {
		return b.flush()
	}
	return nil
}

// flush writes the queued batch.
func (b *batcher) flush() error {
	if len(b.recs) == 0 {
		return nil
	}
	n, err := b.svc.Import(b.ctx, b.recs)
	if err != nil {
		return fmt.Errorf("%s %d-%d: %w", b.units, b.first, b.last, err)
	}
	b.imported += n
	b.bar.Add(len(b.recs))
	b.recs, b.bytes = b.recs[:0], 0
	return nil
}

// failed describes an import that stopped at a batch: the batches before
// it are stored, the failed one is not.
func (b *batcher) failed(name string, err error) error {
	if b.imported > 0 {
		return fmt.Errorf("%s: %w (the batch was not written; %s imported before it stay)", name, err, plural(b.imported, "session"))
	}
	return fmt.Errorf("%s: %w (nothing imported)", name, err)
}
