package boltstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/sesbolt/sesbolt/internal/jsonenc"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// A record is stored as session.Record's JSON encoding. encoding/json spends
// most of a write's CPU on it (reflection, time parsing, a map per record),
// and the committer applies changes one after another, so the store writes
// and reads its own, fixed spelling of that encoding by hand:
//
//	{"id":"…","user":"…","created":"…","last_seen":"…","idle_expires":"…",
//	 "deadline":"…","client":{"ip":"…","user_agent":"…"},"data":{…},"version":N}
//
// It is plain JSON that encoding/json decodes into the same Record (the
// tests check both directions). The reader takes a fast path only for
// exactly this spelling with strings free of escapes, and hands anything
// else to encoding/json, so records written by other tools still load.

// appendRecord appends the JSON of r to b. Times must already be in UTC.
// Data values must be valid JSON; they are stored compacted.
func appendRecord(b []byte, r *session.Record) ([]byte, error) {
	b, _, err := appendRecordExact(b, r)
	return b, err
}

// appendRecordExact is appendRecord that also reports whether decoding the
// result gives back exactly r: false when a string held invalid UTF-8
// (stored as U+FFFD) or a data value was not compact.
func appendRecordExact(b []byte, r *session.Record) (_ []byte, exact bool, err error) {
	exact = utf8.ValidString(r.UserID) && utf8.ValidString(r.Client.IP) && utf8.ValidString(r.Client.UserAgent)
	b = append(b, `{"id":"`...)
	b = append(b, r.ID.String()...)
	b = append(b, `","user":`...)
	b = jsonenc.AppendString(b, r.UserID)
	for _, f := range []struct {
		name string
		t    time.Time
	}{{`,"created":`, r.Created}, {`,"last_seen":`, r.LastSeen}, {`,"idle_expires":`, r.IdleExpires}, {`,"deadline":`, r.Deadline}} {
		b = append(b, f.name...)
		if b, err = appendTime(b, f.t); err != nil {
			return nil, false, err
		}
	}
	b = append(b, `,"client":{`...)
	sep := ""
	if r.Client.IP != "" {
		b = append(b, `"ip":`...)
		b = jsonenc.AppendString(b, r.Client.IP)
		sep = ","
	}
	if r.Client.UserAgent != "" {
		b = append(b, sep...)
		b = append(b, `"user_agent":`...)
		b = jsonenc.AppendString(b, r.Client.UserAgent)
	}
	b = append(b, `},"data":{`...)
	keys := make([]string, 0, len(r.Data))
	for k := range r.Data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonenc.AppendString(b, k)
		b = append(b, ':')
		buf := bytes.NewBuffer(b)
		before := buf.Len()
		if err := json.Compact(buf, r.Data[k]); err != nil {
			return nil, false, fmt.Errorf("%w: data key %q: value is not valid JSON", session.ErrInvalid, k)
		}
		b = buf.Bytes()
		exact = exact && utf8.ValidString(k) && len(b)-before == len(r.Data[k])
	}
	b = append(b, `},"version":`...)
	b = strconv.AppendUint(b, r.Version, 10)
	return append(b, '}'), exact, nil
}

// appendTime appends t as a JSON string in RFC 3339 with nanoseconds, as
// time.Time.MarshalJSON does (and with its year limits).
func appendTime(b []byte, t time.Time) ([]byte, error) {
	if y := t.Year(); y < 0 || y > 9999 {
		return nil, fmt.Errorf("%w: time %v: year outside [0,9999]", session.ErrInvalid, t)
	}
	return jsonenc.AppendTime(b, t), nil
}

// errSlowPath sends parseRecord's input to encoding/json.
var errSlowPath = errors.New("not the store's own spelling")

// parseRecord decodes record JSON: the fast path for the store's own
// spelling, encoding/json for anything else. The record shares no memory
// with b. Data is never nil.
func parseRecord(b []byte) (*session.Record, error) {
	if r, err := parseFast(b); err == nil {
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
	if bytes.IndexByte(s, '\\') >= 0 || !utf8.Valid(s) {
		p.fail()
		return nil
	}
	for _, c := range s {
		if c < 0x20 {
			p.fail()
			return nil
		}
	}
	p.pos += end + 1
	return s
}

func (p *parser) time() time.Time {
	s := p.str()
	if p.err != nil {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, string(s))
	if err != nil {
		p.fail()
	}
	return t
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

func (p *parser) copyValue(start int) json.RawMessage {
	v := p.b[start:p.pos]
	if len(v) == 0 || !json.Valid(v) {
		p.fail()
		return nil
	}
	return bytes.Clone(v)
}

func parseFast(b []byte) (*session.Record, error) {
	p := &parser{b: b}
	r := new(session.Record)
	p.lit(`{"id":`)
	if id := p.str(); p.err == nil {
		if err := r.ID.UnmarshalText(id); err != nil {
			p.fail()
		}
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
	p.lit(`,"client":{`)
	if p.peek(`"ip":`) {
		p.lit(`"ip":`)
		r.Client.IP = string(p.str())
		if p.peek(`,`) {
			p.lit(`,`)
		}
	}
	if p.peek(`"user_agent":`) {
		p.lit(`"user_agent":`)
		r.Client.UserAgent = string(p.str())
	}
	p.lit(`},"data":{`)
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
