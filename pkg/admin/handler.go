package admin

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// Limits of the HTTP API.
const (
	// DefaultMaxImportBytes is the largest POST /v1/import body when
	// HandlerOptions.MaxImportBytes is zero: 64 MiB.
	DefaultMaxImportBytes = 64 << 20

	// MaxBodyBytes is the largest body of every other request: 1 MiB.
	MaxBodyBytes = 1 << 20

	// MaxExpireIDs is the largest number of ids one POST /v1/expire accepts.
	// Client.Expire splits longer lists into several requests.
	MaxExpireIDs = 10000
)

// Trailers of GET /v1/backup, set after the body.
const (
	// TrailerBackupBytes carries the number of bytes the server wrote, in
	// decimal; it is set whether or not the backup succeeded.
	TrailerBackupBytes = "Sesbolt-Backup-Bytes"
	// TrailerBackupError carries "code: message" when the backup failed
	// after the response had started; it is absent on success.
	TrailerBackupError = "Sesbolt-Backup-Error"
)

// HandlerOptions configures NewHandler. A nil *HandlerOptions, and zero
// fields, mean defaults.
type HandlerOptions struct {
	// Logger receives one line per request (route, status, duration, and
	// the count of a change), at Debug for reads, Info for changes, client
	// errors and 501 not_supported, Error for server errors. It never
	// receives session data, ids or user names: routes are logged as
	// patterns. Nil means slog.Default().
	Logger *slog.Logger

	// MaxImportBytes caps the body of POST /v1/import; a larger body fails
	// with 413 too_large and nothing is imported. Zero or negative means
	// DefaultMaxImportBytes.
	MaxImportBytes int64
}

// NewHandler returns the HTTP/JSON admin API serving svc, with every route
// under /v1/ (see docs/admin-api.md for the wire format). The handler does
// no authentication: the admin socket (ListenSocket, Serve) restricts
// peers by uid, and an application that mounts the handler elsewhere must
// put it behind its own authentication and authorization. State-changing
// requests require a JSON or JSON-lines Content-Type, which a browser can
// not send cross-site without a CORS preflight.
//
// The handler never panics on bad input; every answer but a successful
// backup is JSON. It panics if svc is nil.
func NewHandler(svc Service, opts *HandlerOptions) http.Handler {
	if svc == nil {
		panic("admin: NewHandler: nil Service")
	}
	h := &handler{svc: svc, log: slog.Default(), maxImport: DefaultMaxImportBytes}
	if opts != nil {
		if opts.Logger != nil {
			h.log = opts.Logger
		}
		if opts.MaxImportBytes > 0 {
			h.maxImport = opts.MaxImportBytes
		}
	}
	return h
}

type handler struct {
	svc       Service
	log       *slog.Logger
	maxImport int64
}

// apiFunc serves one route. It writes a successful answer itself and
// returns errors for ServeHTTP to answer. arg is the {id} path segment.
type apiFunc func(h *handler, w *responseWriter, r *http.Request, arg string) error

// endpoint is one route: its path pattern, also what the log names it by,
// and the functions of its methods, in the order the Allow header lists
// them.
type endpoint struct {
	pattern string
	methods []method
}

// method is one method of an endpoint and the function serving it.
type method struct {
	name string
	fn   apiFunc
}

// endpoints is the API, one entry per path. A pattern ending in "{id}"
// matches that prefix followed by one non-empty path segment, which is
// passed to the method's function.
var endpoints = []endpoint{
	{"/v1/sessions", []method{{http.MethodGet, (*handler).list}}},
	{"/v1/sessions/{id}", []method{{http.MethodGet, (*handler).get}, {http.MethodDelete, (*handler).delete}}},
	{"/v1/expire", []method{{http.MethodPost, (*handler).expire}}},
	{"/v1/purge", []method{{http.MethodPost, (*handler).purge}}},
	{"/v1/stats", []method{{http.MethodGet, (*handler).stats}}},
	{"/v1/check", []method{{http.MethodGet, (*handler).check}}},
	{"/v1/backup", []method{{http.MethodGet, (*handler).backup}}},
	{"/v1/import", []method{{http.MethodPost, (*handler).importRecords}}},
	{"/v1/info", []method{{http.MethodGet, (*handler).info}}},
}

// route finds the endpoint for path and the value of its {id} segment;
// ok is false for an unknown path.
func route(path string) (ep *endpoint, arg string, ok bool) {
	for i := range endpoints {
		ep := &endpoints[i]
		if prefix, param := strings.CutSuffix(ep.pattern, "{id}"); param {
			if id, found := strings.CutPrefix(path, prefix); found && id != "" && !strings.Contains(id, "/") {
				return ep, id, true
			}
		} else if path == ep.pattern {
			return ep, "", true
		}
	}
	return nil, "", false
}

// lookup returns the function serving name on ep, if any.
func (ep *endpoint) lookup(name string) (apiFunc, bool) {
	for _, m := range ep.methods {
		if m.name == name {
			return m.fn, true
		}
	}
	return nil, false
}

// allow returns ep's methods for the Allow header: "GET, DELETE".
func (ep *endpoint) allow() string {
	names := make([]string, len(ep.methods))
	for i, m := range ep.methods {
		names[i] = m.name
	}
	return strings.Join(names, ", ")
}

// ServeHTTP routes the request, answers errors as JSON and logs one line.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rw := &responseWriter{ResponseWriter: w}
	hdr := w.Header()
	setAnswerHeaders(hdr)

	pattern := "(unknown)"
	var err error
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			err = fmt.Errorf("admin: panic serving %s %s: %v", r.Method, pattern, p)
			if rw.wroteHeader {
				rw.midStream = true
			} else {
				writeError(rw, err)
			}
		}
		h.logRequest(r.Context(), r.Method, pattern, rw, err, time.Since(start))
	}()

	ep, arg, ok := route(r.URL.Path)
	if !ok {
		err = apiError(http.StatusNotFound, codeNoRoute, "admin: no route %s %q", r.Method, r.URL.Path)
		writeError(rw, err)
		return
	}
	pattern = ep.pattern
	fn, ok := ep.lookup(r.Method)
	if !ok {
		hdr.Set("Allow", ep.allow())
		err = apiError(http.StatusMethodNotAllowed, codeMethodNotAllowed,
			"admin: method %q not allowed on %s (allowed: %s)", r.Method, ep.pattern, ep.allow())
		writeError(rw, err)
		return
	}
	err = fn(h, rw, r, arg)
	if err != nil {
		if rw.wroteHeader {
			rw.midStream = true // only the log and the trailer tell
		} else {
			writeError(rw, err)
		}
	}
}

// logRequest logs one line per request, never with session data: the
// route's pattern stands for the path, and no query or body is logged.
func (h *handler) logRequest(ctx context.Context, method, pattern string, rw *responseWriter, err error, d time.Duration) {
	status := rw.status
	if status == 0 {
		status = http.StatusOK
	}
	level := slog.LevelDebug
	switch {
	case status == http.StatusNotImplemented && !rw.midStream:
		// The store cannot do this (a Flask-layout store asked to list):
		// the operator's request, not a failure of the application.
		level = slog.LevelInfo
	case status >= 500 || rw.midStream:
		level = slog.LevelError
	case status >= 400 || method != http.MethodGet:
		level = slog.LevelInfo
	}
	attrs := []slog.Attr{
		slog.String("method", method),
		slog.String("route", pattern),
		slog.Int("status", status),
		slog.Duration("duration", d),
	}
	if rw.hasCount {
		attrs = append(attrs, slog.Int("count", rw.count))
	}
	if err != nil && (status >= 500 || rw.midStream) {
		attrs = append(attrs, slog.String("error", redactIDs(err.Error())))
	}
	h.log.LogAttrs(ctx, level, "admin request", attrs...)
}

// setAnswerHeaders sets the headers every answer of the API carries.
func setAnswerHeaders(hdr http.Header) {
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
}

// uuidPattern matches a session id in its canonical form, in either case.
var uuidPattern = regexp.MustCompile(`(?i)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// redactIDs replaces every session id in s, an error message about to be
// logged, by "{id}": a store's error may name the record it failed on, and
// the request log never carries ids.
func redactIDs(s string) string { return uuidPattern.ReplaceAllLiteralString(s, "{id}") }

// writeError answers err as {"error":{"code":...,"message":...}}.
func writeError(w *responseWriter, err error) {
	status, code := classify(err)
	hdr := w.Header()
	hdr.Del("Trailer")
	writeJSON(w, status, struct {
		Error Error `json:"error"`
	}{Error{Code: code, Message: err.Error()}})
}

// writeJSON answers v as JSON with status. v is encoded before anything is
// written, so an encoding failure still answers 500.
func writeJSON(w *responseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		buf.Reset()
		status = http.StatusInternalServerError
		fmt.Fprintf(&buf, `{"error":{"code":%q,"message":%q}}`+"\n", codeInternal, "admin: encoding the response: "+err.Error())
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes()) // a failed write means the client went away
}

// listResponse is the body of GET /v1/sessions.
type listResponse struct {
	Sessions []*session.Record `json:"sessions"`
	Next     string            `json:"next"`
}

func (h *handler) list(w *responseWriter, r *http.Request, _ string) error {
	q, err := parseListQuery(r.URL.RawQuery)
	if err != nil {
		return err
	}
	page, err := h.svc.List(r.Context(), q)
	if err != nil {
		return err
	}
	resp := listResponse{Sessions: page.Records}
	if resp.Sessions == nil {
		resp.Sessions = []*session.Record{}
	}
	resp.Next = page.Next.String()
	w.setCount(len(resp.Sessions))
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// parseListQuery parses the query of GET /v1/sessions: after, limit,
// filter and user, each at most once; anything else is invalid.
func parseListQuery(raw string) (ListQuery, error) {
	var q ListQuery
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return q, fmt.Errorf("%w: query: %w", session.ErrInvalid, err)
	}
	for k, vs := range vals {
		if len(vs) != 1 {
			return q, fmt.Errorf("%w: query parameter %q given %d times", session.ErrInvalid, k, len(vs))
		}
		v := vs[0]
		switch k {
		case "after":
			if len(v) > session.MaxCursorSize {
				return q, fmt.Errorf("%w: query parameter after is %d bytes long, at most %d", session.ErrInvalid, len(v), session.MaxCursorSize)
			}
			q.After = session.Cursor(v) // the store checks it
		case "limit":
			if v == "" {
				continue
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return q, fmt.Errorf("%w: query parameter limit=%q is not a non-negative integer", session.ErrInvalid, v)
			}
			q.Limit = n
		case "filter":
			switch v {
			case "", "live":
				q.Filter = session.Live
			case "expired":
				q.Filter = session.Expired
			case "all":
				q.Filter = session.All
			default:
				return q, fmt.Errorf("%w: query parameter filter=%q is not live, expired or all", session.ErrInvalid, v)
			}
		case "user":
			q.User = v
		default:
			return q, fmt.Errorf("%w: unknown query parameter %q (want after, limit, filter, user)", session.ErrInvalid, k)
		}
	}
	return q, nil
}

func (h *handler) get(w *responseWriter, r *http.Request, arg string) error {
	id, err := session.ParseID(arg)
	if err != nil {
		return err
	}
	rec, err := h.svc.Get(r.Context(), id)
	if err != nil {
		return err
	}
	if rec == nil { // a Service bug; answer as the contract says
		return session.ErrNotFound
	}
	writeJSON(w, http.StatusOK, rec)
	return nil
}

// expireResponse is the body of DELETE /v1/sessions/{id} and POST /v1/expire.
type expireResponse struct {
	Expired int `json:"expired"`
}

func (h *handler) delete(w *responseWriter, r *http.Request, arg string) error {
	id, err := session.ParseID(arg)
	if err != nil {
		return err
	}
	n, err := h.svc.Expire(r.Context(), id)
	if err != nil {
		return err
	}
	w.setCount(n)
	writeJSON(w, http.StatusOK, expireResponse{Expired: n})
	return nil
}

// expireRequest is the body of POST /v1/expire: exactly one of IDs, User
// and All is set; Except only with User.
type expireRequest struct {
	IDs    *[]string `json:"ids,omitempty"`
	User   *string   `json:"user,omitempty"`
	Except *string   `json:"except,omitempty"`
	All    *bool     `json:"all,omitempty"`
}

func (h *handler) expire(w *responseWriter, r *http.Request, _ string) error {
	req, err := decodeJSON[expireRequest](w, r, false)
	if err != nil {
		return err
	}
	set := 0
	for _, isSet := range []bool{req.IDs != nil, req.User != nil, req.All != nil} {
		if isSet {
			set++
		}
	}
	if set != 1 {
		return fmt.Errorf(`%w: body must set exactly one of "ids", "user" and "all"`, session.ErrInvalid)
	}
	if req.Except != nil && req.User == nil {
		return fmt.Errorf(`%w: "except" goes only with "user"`, session.ErrInvalid)
	}
	var n int
	switch {
	case req.IDs != nil:
		if len(*req.IDs) > MaxExpireIDs {
			return fmt.Errorf("%w: %d ids, at most %d per request", session.ErrInvalid, len(*req.IDs), MaxExpireIDs)
		}
		ids := make([]session.ID, len(*req.IDs))
		for i, s := range *req.IDs {
			if ids[i], err = session.ParseID(s); err != nil {
				return fmt.Errorf("ids[%d]: %w", i, err)
			}
		}
		n, err = h.svc.Expire(r.Context(), ids...)
	case req.User != nil:
		if *req.User == "" {
			return fmt.Errorf(`%w: "user" is empty`, session.ErrInvalid)
		}
		if req.Except == nil {
			n, err = h.svc.ExpireUser(r.Context(), *req.User)
			break
		}
		keep, perr := session.ParseID(*req.Except)
		if perr != nil {
			return fmt.Errorf("except: %w", perr)
		}
		n, err = h.svc.ExpireUserExcept(r.Context(), *req.User, keep)
	default:
		if !*req.All {
			return fmt.Errorf(`%w: "all" must be true`, session.ErrInvalid)
		}
		n, err = h.svc.ExpireAll(r.Context())
	}
	if err != nil {
		return err
	}
	w.setCount(n)
	writeJSON(w, http.StatusOK, expireResponse{Expired: n})
	return nil
}

// purgeRequest and purgeResponse are the bodies of POST /v1/purge.
type purgeRequest struct {
	DryRun bool `json:"dry_run"`
}

type purgeResponse struct {
	Purged int  `json:"purged"`
	DryRun bool `json:"dry_run"`
}

func (h *handler) purge(w *responseWriter, r *http.Request, _ string) error {
	req, err := decodeJSON[purgeRequest](w, r, true)
	if err != nil {
		return err
	}
	n, err := h.svc.Purge(r.Context(), req.DryRun)
	if err != nil {
		return err
	}
	if !req.DryRun {
		w.setCount(n)
	}
	writeJSON(w, http.StatusOK, purgeResponse{Purged: n, DryRun: req.DryRun})
	return nil
}

func (h *handler) stats(w *responseWriter, r *http.Request, _ string) error {
	st, err := h.svc.Stats(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

func (h *handler) check(w *responseWriter, r *http.Request, _ string) error {
	rep, err := h.svc.Check(r.Context())
	if err != nil {
		return err
	}
	if rep.Problems == nil {
		rep.Problems = []string{}
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

// backup streams the copy. The status is sent with the first byte, so a
// failure before it is answered as JSON and a failure after it is reported
// in the TrailerBackupError trailer; TrailerBackupBytes always counts the
// bytes sent, so a client can tell a complete copy from a cut one.
func (h *handler) backup(w *responseWriter, r *http.Request, _ string) error {
	hdr := w.Header()
	hdr.Set("Trailer", TrailerBackupError+", "+TrailerBackupBytes)
	bw := &backupWriter{w: w}
	n, err := h.svc.Backup(r.Context(), bw)
	if err != nil && !w.wroteHeader {
		return err // nothing sent yet: answer with a JSON error
	}
	if !w.wroteHeader { // a successful, empty backup
		bw.start()
	}
	hdr.Set(TrailerBackupBytes, strconv.FormatInt(bw.n, 10))
	if err != nil {
		_, code := classify(err)
		hdr.Set(TrailerBackupError, code+": "+sanitizeHeader(err.Error()))
		return err // logged; the trailer tells the client
	}
	w.setCount(int(n))
	return nil
}

// backupWriter starts the response on the first write and counts bytes.
type backupWriter struct {
	w *responseWriter
	n int64
}

func (b *backupWriter) start() {
	hdr := b.w.Header()
	hdr.Set("Content-Type", "application/octet-stream")
	hdr.Del("Content-Length")
	b.w.WriteHeader(http.StatusOK)
}

func (b *backupWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	first := !b.w.wroteHeader
	if first {
		b.start()
	}
	n, err := b.w.Write(p)
	b.n += int64(n)
	if first && err == nil {
		// Send the status and the first bytes now, so the client knows the
		// copy has started even if the rest is slow.
		err = http.NewResponseController(b.w).Flush()
		if errors.Is(err, http.ErrNotSupported) {
			err = nil
		}
	}
	return n, err
}

// sanitizeHeader makes s safe as a header value: one line of printable
// ASCII, at most 1000 bytes.
func sanitizeHeader(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	if len(b) > 1000 {
		b = b[:1000]
	}
	return string(b)
}

func (h *handler) info(w *responseWriter, r *http.Request, _ string) error {
	info, err := h.svc.Info(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, info)
	return nil
}

// importResponse is the body of POST /v1/import.
type importResponse struct {
	Imported int `json:"imported"`
}

func (h *handler) importRecords(w *responseWriter, r *http.Request, _ string) error {
	if err := checkContentType(r, "application/x-ndjson", "application/jsonl", "application/x-jsonlines"); err != nil {
		return err
	}
	body := http.MaxBytesReader(w, r.Body, h.maxImport)
	recs, err := readRecords(body, h.maxImport)
	if err != nil {
		return err
	}
	n, err := h.svc.Import(r.Context(), recs)
	if err != nil {
		return err
	}
	w.setCount(n)
	writeJSON(w, http.StatusOK, importResponse{Imported: n})
	return nil
}

// readRecords reads JSON lines of records, validating each, and fails on
// the first bad line with an error naming it (1-based). Blank lines are
// skipped. A record's id may appear once.
func readRecords(body io.Reader, limit int64) ([]*session.Record, error) {
	br := bufio.NewReader(body)
	var recs []*session.Record
	seen := make(map[session.ID]int)
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		if err != nil && err != io.EOF {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, fmt.Errorf("%w: import body exceeds %d bytes: %w", session.ErrTooLarge, limit, err)
			}
			// The client's side broke off (it hung up, or sent less than it
			// announced): bad input, not a failure of the store.
			return nil, fmt.Errorf("%w: reading the import body: %w", session.ErrInvalid, err)
		}
		if t := bytes.TrimSpace(b); len(t) > 0 {
			var rec *session.Record
			if uerr := json.Unmarshal(t, &rec); uerr != nil {
				return nil, fmt.Errorf("line %d: %w: %w", line, session.ErrInvalid, uerr)
			}
			if rec == nil {
				return nil, fmt.Errorf("line %d: %w: null is not a record", line, session.ErrInvalid)
			}
			if verr := rec.Validate(); verr != nil {
				return nil, fmt.Errorf("line %d: %w", line, verr)
			}
			if prev, dup := seen[rec.ID]; dup {
				return nil, fmt.Errorf("line %d: %w: id %s already on line %d", line, session.ErrInvalid, rec.ID, prev)
			}
			seen[rec.ID] = line
			recs = append(recs, rec)
		}
		if err == io.EOF {
			return recs, nil
		}
	}
}

// decodeJSON decodes the body of a POST as a T: Content-Type
// application/json, at most MaxBodyBytes, one JSON object (not null) with
// no unknown field and nothing after it. With allowEmpty an empty body
// gives the zero T.
func decodeJSON[T any](w *responseWriter, r *http.Request, allowEmpty bool) (T, error) {
	var zero T
	if err := checkContentType(r, "application/json"); err != nil {
		return zero, err
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	dec.DisallowUnknownFields()
	var v *T // stays nil for null, which is no object
	err := dec.Decode(&v)
	if err == io.EOF && allowEmpty {
		return zero, nil
	}
	if err == nil && v == nil {
		err = errors.New("null is not a JSON object")
	}
	if err == nil {
		if extra := dec.Decode(&struct{}{}); extra != io.EOF {
			err = errors.New("data after the JSON object")
			var mbe *http.MaxBytesError
			if errors.As(extra, &mbe) {
				err = extra
			}
		}
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return zero, fmt.Errorf("%w: request body exceeds %d bytes: %w", session.ErrTooLarge, MaxBodyBytes, err)
		}
		return zero, fmt.Errorf("%w: request body: %w", session.ErrInvalid, err)
	}
	return *v, nil
}

// checkContentType requires the request's media type to be one of want.
// A browser cannot send these cross-site without a CORS preflight, which
// protects an application that mounts the handler behind cookie auth.
func checkContentType(r *http.Request, want ...string) error {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil {
		for _, w := range want {
			if strings.EqualFold(mt, w) {
				return nil
			}
		}
	}
	return apiError(http.StatusUnsupportedMediaType, codeUnsupportedMedia,
		"admin: Content-Type %q not accepted (want %s)", ct, strings.Join(want, " or "))
}

// responseWriter records the status and a count for the log line.
type responseWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
	count       int
	hasCount    bool
	midStream   bool // the handler failed after the response had started
}

func (w *responseWriter) WriteHeader(status int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = status, true
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *responseWriter) setCount(n int) { w.count, w.hasCount = n, true }
