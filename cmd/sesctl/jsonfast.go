package main

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// A hand-written encoder for the rows of "list -o json", which may run to
// millions: encoding/json spends most of its time validating what
// time.Time.MarshalJSON returns. appendSessionView writes exactly what
// encoding/json writes for a sessionView with HTML escaping off (the tests
// hold it to that).

// appendSessionView appends v as one JSON object.
func appendSessionView(b []byte, v *sessionView) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, v.ID)
	b = append(b, `,"user":`...)
	b = appendJSONString(b, v.User)
	b = append(b, `,"created":`...)
	b = appendJSONTime(b, v.Created)
	b = append(b, `,"last_seen":`...)
	b = appendJSONTime(b, v.LastSeen)
	b = append(b, `,"expires":`...)
	b = appendJSONTime(b, v.Expires)
	b = append(b, `,"idle_expires":`...)
	b = appendJSONTime(b, v.IdleExpires)
	b = append(b, `,"deadline":`...)
	b = appendJSONTime(b, v.Deadline)
	b = append(b, `,"expired":`...)
	b = strconv.AppendBool(b, v.Expired)
	b = append(b, `,"ip":`...)
	b = appendJSONString(b, v.IP)
	b = append(b, `,"user_agent":`...)
	b = appendJSONString(b, v.UserAgent)
	b = append(b, `,"size":`...)
	b = strconv.AppendInt(b, int64(v.Size), 10)
	b = append(b, `,"version":`...)
	b = strconv.AppendUint(b, v.Version, 10)
	return append(b, '}')
}

// appendJSONTime appends t as time.Time.MarshalJSON does (RFC 3339 with
// nanoseconds as needed).
func appendJSONTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string the way encoding/json does
// without HTML escaping: control characters, quotes and backslashes
// escaped, invalid UTF-8 replaced by U+FFFD, U+2028 and U+2029 escaped.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
