package boltstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// A record is stored as session.Record's JSON encoding, written by
// encoding/json without HTML escaping, so its spelling is fixed:
//
//	{"id":"…","user":"…","created":"…","last_seen":"…","idle_expires":"…",
//	 "deadline":"…","persistent":false,"client":{"ip":"…","user_agent":"…"},
//	 "last_client":{"ip":"…","user_agent":"…"},"data":{…},"version":N}
//
// Reading is the hot path (every request loads its session), so the store
// reads that spelling by hand: a fast path for exactly this spelling with
// strings free of escapes, which halved Load's time, and encoding/json for
// anything else, so records written by other tools still load. Writing
// stays with encoding/json: a write costs 30 to 350 microseconds, and a
// hand-written encoder, which saved under 2 µs of CPU per write, made no
// difference to write throughput that could be measured (BENCHMARKS.md).
// Records written before "persistent" and "last_client" existed lack them;
// the fast path reads them too, with those fields zero.

// appendRecord appends the JSON of r to b. Times must already be in UTC.
// Data values must be valid JSON; they are stored compacted.
func appendRecord(b []byte, r *session.Record) ([]byte, error) {
	b, _, err := appendRecordExact(b, r)
	return b, err
}

// appendRecordExact is appendRecord that also reports whether decoding the
// result gives back exactly r: false when a string held invalid UTF-8
// (stored as U+FFFD) or a data value was not compact. A time outside
// time.Time.MarshalJSON's years and a data value that is not valid JSON fail
// with an error wrapping session.ErrInvalid.
func appendRecordExact(b []byte, r *session.Record) (_ []byte, exact bool, err error) {
	for _, t := range []time.Time{r.Created, r.LastSeen, r.IdleExpires, r.Deadline} {
		if y := t.Year(); y < 0 || y > 9999 {
			return nil, false, fmt.Errorf("%w: time %v: year outside [0,9999]", session.ErrInvalid, t)
		}
	}
	if r.Data == nil { // "data":{} rather than null, the spelling the reader expects
		c := *r
		c.Data = map[string]json.RawMessage{}
		r = &c
	}
	exact = utf8.ValidString(r.UserID) && utf8.ValidString(r.Client.IP) && utf8.ValidString(r.Client.UserAgent) &&
		utf8.ValidString(r.LastClient.IP) && utf8.ValidString(r.LastClient.UserAgent)
	for k, v := range r.Data {
		exact = exact && utf8.ValidString(k) && isCompact(v)
	}
	buf := bytes.NewBuffer(b)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		for _, k := range slices.Sorted(maps.Keys(r.Data)) {
			if !json.Valid(r.Data[k]) {
				return nil, false, fmt.Errorf("%w: data key %q: value is not valid JSON", session.ErrInvalid, k)
			}
		}
		return nil, false, err
	}
	out := buf.Bytes()
	return out[:len(out)-1], exact, nil // without Encode's newline
}

// isCompact reports whether the JSON value v has no whitespace outside its
// strings, so that encoding/json stores it unchanged.
func isCompact(v []byte) bool {
	inStr := false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case inStr && c == '\\':
			i++
		case c == '"':
			inStr = !inStr
		case !inStr && isSpace(c):
			return false
		}
	}
	return true
}

// isSpace reports whether c is JSON whitespace.
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// errSlowPath sends parseRecord's input to encoding/json.
var errSlowPath = errors.New("not the store's own spelling")

// parseRecord decodes record JSON: the fast path for the store's own
// spelling, encoding/json for anything else. sealed says b carried a seal
// that verified, so this codec wrote it and its data values are valid,
// compact JSON: the fast path then skips validating them, a third of its
// work. The record shares no memory with b. Data is never nil.
func parseRecord(b []byte, sealed bool) (*session.Record, error) {
	if r, err := parseFast(b, sealed); err == nil {
		return r, nil
	}
	r := new(session.Record)
	if err := json.Unmarshal(b, r); err != nil {
		return nil, err
	}
	if r.Data == nil {
		r.Data = map[string]json.RawMessage{}
	}
	return r, nil
}

// parser reads the store's own spelling; any surprise is errSlowPath.
type parser struct {
	b   []byte
	pos int
	err error

	trusted bool   // data values need no validation (see parseRecord)
	arena   []byte // a copy of b from arenaAt on, which data values slice
	arenaAt int
}

func (p *parser) fail() {
	if p.err == nil {
		p.err = errSlowPath
	}
}

// lit consumes the literal s.
func (p *parser) lit(s string) {
	if p.err != nil {
		return
	}
	if !bytes.HasPrefix(p.b[p.pos:], []byte(s)) {
		p.fail()
		return
	}
	p.pos += len(s)
}

// peek reports whether the literal s comes next.
func (p *parser) peek(s string) bool {
	return p.err == nil && bytes.HasPrefix(p.b[p.pos:], []byte(s))
}

// str consumes a JSON string without escapes and returns its contents
// (a sub-slice of the input).
func (p *parser) str() []byte {
	p.lit(`"`)
	if p.err != nil {
		return nil
	}
	end := bytes.IndexByte(p.b[p.pos:], '"')
	if end < 0 {
		p.fail()
		return nil
	}
	s := p.b[p.pos : p.pos+end]
	ascii := true
	for _, c := range s {
		if c < 0x20 || c == '\\' {
			p.fail()
			return nil
		}
		ascii = ascii && c < utf8.RuneSelf
	}
	if !ascii && !utf8.Valid(s) {
		p.fail()
		return nil
	}
	p.pos += end + 1
	return s
}

// time consumes a JSON string holding an RFC 3339 time. Other than the
// store's own spelling (parseUTC), it is read by time.Time.UnmarshalText,
// the parser encoding/json uses, so both accept the same times: time.Parse
// is laxer than that parser is allowed to be (go.dev/issue/54580).
func (p *parser) time() time.Time {
	s := p.str()
	if p.err != nil {
		return time.Time{}
	}
	if t, ok := parseUTC(s); ok {
		return t
	}
	var t time.Time
	if err := t.UnmarshalText(s); err != nil {
		p.fail()
	}
	return t
}

// parseUTC parses what the store writes, "2006-01-02T15:04:05.999999999Z",
// without time.Parse's generality, to the same time.Time. ok is false for
// anything else, including days past the 28th (not worth a calendar here),
// which time.Parse then handles.
func parseUTC(s []byte) (t time.Time, ok bool) {
	if len(s) < len("2006-01-02T15:04:05Z") || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
		s[13] != ':' || s[16] != ':' || s[len(s)-1] != 'Z' {
		return time.Time{}, false
	}
	num := func(b []byte) int {
		n := 0
		for _, c := range b {
			if c < '0' || c > '9' {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	year, month, day := num(s[0:4]), num(s[5:7]), num(s[8:10])
	hour, minute, sec := num(s[11:13]), num(s[14:16]), num(s[17:19])
	if year < 0 || month < 1 || month > 12 || day < 1 || day > 28 ||
		hour < 0 || hour > 23 || minute < 0 || minute > 59 || sec < 0 || sec > 59 {
		return time.Time{}, false
	}
	nsec := 0
	if frac := s[19 : len(s)-1]; len(frac) > 0 {
		if len(frac) < 2 || len(frac) > 10 || frac[0] != '.' {
			return time.Time{}, false
		}
		if nsec = num(frac[1:]); nsec < 0 {
			return time.Time{}, false
		}
		for range 10 - len(frac) {
			nsec *= 10
		}
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC), true
}

// value consumes one compact JSON value and returns a copy of its bytes.
func (p *parser) value() json.RawMessage {
	if p.err != nil {
		return nil
	}
	start, depth, inStr := p.pos, 0, false
	for ; p.pos < len(p.b); p.pos++ {
		c := p.b[p.pos]
		if inStr {
			switch c {
			case '\\':
				p.pos++
			case '"':
				inStr = false
				if depth == 0 {
					p.pos++
					return p.copyValue(start)
				}
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 { // the end of the enclosing object
				return p.copyValue(start)
			}
			depth--
			if depth == 0 {
				p.pos++
				return p.copyValue(start)
			}
		case ',':
			if depth == 0 {
				return p.copyValue(start)
			}
		}
	}
	p.fail()
	return nil
}

// copyValue returns the value from start to pos, a full slice of the arena:
// one allocation for all of a record's values. A value with whitespace
// around it goes to the slow path: encoding/json leaves that whitespace
// out of a json.RawMessage, and json.Valid accepts it.
func (p *parser) copyValue(start int) json.RawMessage {
	v := p.b[start:p.pos]
	if len(v) == 0 || isSpace(v[0]) || isSpace(v[len(v)-1]) || !p.trusted && !json.Valid(v) {
		p.fail()
		return nil
	}
	if p.arena == nil {
		p.arena, p.arenaAt = bytes.Clone(p.b[start:]), start
	}
	from, to := start-p.arenaAt, p.pos-p.arenaAt
	return p.arena[from:to:to]
}

// client consumes a client object as encoding/json writes a
// session.ClientInfo: empty fields left out.
func (p *parser) client() session.ClientInfo {
	var c session.ClientInfo
	p.lit(`{`)
	hasIP := p.peek(`"ip":`)
	if hasIP {
		p.lit(`"ip":`)
		c.IP = string(p.str())
	}
	// A user agent after an ip needs the comma between them.
	if hasIP && p.peek(`,`) || !hasIP && p.peek(`"user_agent":`) {
		if hasIP {
			p.lit(`,`)
		}
		p.lit(`"user_agent":`)
		c.UserAgent = string(p.str())
	}
	p.lit(`}`)
	return c
}

func parseFast(b []byte, trusted bool) (*session.Record, error) {
	p := &parser{b: b, trusted: trusted}
	r := new(session.Record)
	p.lit(`{"id":`)
	if id := p.str(); p.err == nil {
		u, err := uuid.ParseBytes(id)
		if err != nil || len(id) != 36 || u == uuid.Nil {
			p.fail()
		}
		r.ID = session.ID(u)
	}
	p.lit(`,"user":`)
	r.UserID = string(p.str())
	p.lit(`,"created":`)
	r.Created = p.time()
	p.lit(`,"last_seen":`)
	r.LastSeen = p.time()
	p.lit(`,"idle_expires":`)
	r.IdleExpires = p.time()
	p.lit(`,"deadline":`)
	r.Deadline = p.time()
	// Records written before these fields existed lack them.
	if p.peek(`,"persistent":`) {
		p.lit(`,"persistent":`)
		switch {
		case p.peek(`true`):
			p.lit(`true`)
			r.Persistent = true
		default:
			p.lit(`false`)
		}
	}
	p.lit(`,"client":`)
	r.Client = p.client()
	if p.peek(`,"last_client":`) {
		p.lit(`,"last_client":`)
		r.LastClient = p.client()
	}
	p.lit(`,"data":{`)
	r.Data = map[string]json.RawMessage{}
	for first := true; p.err == nil && !p.peek(`}`); first = false {
		if !first {
			p.lit(`,`)
		}
		k := string(p.str())
		p.lit(`:`)
		v := p.value()
		if _, dup := r.Data[k]; dup {
			p.fail()
		}
		r.Data[k] = v
	}
	p.lit(`},"version":`)
	if p.err == nil {
		end := p.pos
		for end < len(b) && b[end] >= '0' && b[end] <= '9' {
			end++
		}
		v, err := strconv.ParseUint(string(b[p.pos:end]), 10, 64)
		if err != nil || end == p.pos || (b[p.pos] == '0' && end-p.pos > 1) {
			p.fail()
		}
		r.Version = v
		p.pos = end
	}
	p.lit(`}`)
	if p.err == nil && p.pos != len(b) {
		p.fail()
	}
	if p.err != nil {
		return nil, p.err
	}
	return r, nil
}
