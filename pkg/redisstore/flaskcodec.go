package redisstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// FlaskNoExpiry is the expiry a FlaskStore reports for a session key
// without a time to live (written by hand, or by an app that forgot the
// TTL): the latest time JSON and RFC 3339 can say. The next write through
// the store gives the key its TTL.
var FlaskNoExpiry = time.Date(9999, time.December, 31, 23, 59, 59, 0, time.UTC)

// errFlaskValue marks a stored value that is not a session dict; the store
// treats it as absent. Its messages never quote stored bytes, so they may
// be logged.
var errFlaskValue = errors.New("redisstore: the stored value is not a session dict")

var (
	errFlaskJSON   = fmt.Errorf("%w: not valid JSON", errFlaskValue)
	errFlaskObject = fmt.Errorf("%w: not a JSON object", errFlaskValue)
)

// flaskCodec reads and writes the recipe's stored value, the session dict
// as a JSON object, with the user id as one of its keys.
type flaskCodec struct {
	userKey  string
	lifetime time.Duration
	maxSize  int
}

// flaskValue is a stored session dict taken apart.
type flaskValue struct {
	data map[string]json.RawMessage // without the user key; never nil
	user json.RawMessage            // the user key's value as stored; nil when absent
}

// decode takes a stored value apart. Anything but a JSON object (invalid
// JSON such as Python's NaN, null, a list, a string) fails with an error
// wrapping errFlaskValue. The result shares no memory with value.
func (c *flaskCodec) decode(value []byte) (flaskValue, error) {
	if t := bytes.TrimLeft(value, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		if !json.Valid(value) {
			return flaskValue{}, errFlaskJSON
		}
		return flaskValue{}, errFlaskObject
	}
	var data map[string]json.RawMessage
	if json.Unmarshal(value, &data) != nil {
		return flaskValue{}, errFlaskJSON
	}
	v := flaskValue{data: data, user: data[c.userKey]}
	delete(data, c.userKey)
	return v, nil
}

// record returns the session v describes under id: the user and data it
// holds, and times derived from the key's expiry, expireAt, in unix
// milliseconds (negative: the key has no TTL). The layout keeps nothing
// else: IdleExpires and Deadline are the expiry, LastSeen the expiry less
// the lifetime (when the last write set it, if every writer uses the
// lifetime), Created is zero (unknown), Client and LastClient are empty,
// Persistent false and Version 0.
func (c *flaskCodec) record(id session.ID, v flaskValue, expireAt int64) *session.Record {
	r := &session.Record{ID: id, UserID: userText(v.user), Data: v.data}
	if expireAt < 0 {
		r.IdleExpires, r.Deadline = FlaskNoExpiry, FlaskNoExpiry
		return r
	}
	exp := time.UnixMilli(expireAt).UTC()
	r.IdleExpires, r.Deadline = exp, exp
	if c.lifetime > 0 {
		r.LastSeen = exp.Add(-c.lifetime)
	}
	return r
}

// encode returns the stored value of a session with data and user: the
// data keys and the user key, sorted, compact, HTML characters unescaped.
// prevUser is the user key's value as stored before the change (nil:
// none): when user is still the one it names, it is written back as it
// was (a number stays a number); otherwise user is written as a JSON
// string, or left out when empty. It fails with an error wrapping
// session.ErrInvalid for data that is not valid JSON or holds the user
// key, and session.ErrTooLarge when the value exceeds the size limit. Its
// errors name no session: they may reach request logs.
func (c *flaskCodec) encode(data map[string]json.RawMessage, user string, prevUser json.RawMessage) ([]byte, error) {
	if _, ok := data[c.userKey]; ok {
		return nil, c.userKeyErr()
	}
	m := make(map[string]json.RawMessage, len(data)+1)
	maps.Copy(m, data)
	switch {
	case prevUser != nil && userText(prevUser) == user:
		m[c.userKey] = prevUser
	case user != "":
		m[c.userKey] = jsonString(user)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, fmt.Errorf("redisstore: encoding a session dict: %w: %w", session.ErrInvalid, err)
	}
	value := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if len(value) > c.maxSize {
		return nil, fmt.Errorf("%w: the session dict encodes to %d bytes, limit %d", session.ErrTooLarge, len(value), c.maxSize)
	}
	return value, nil
}

// userKeyErr is the error for a change that names the user key as data.
func (c *flaskCodec) userKeyErr() error {
	return fmt.Errorf("redisstore: %w: %q is the Flask layout's user key; it changes only with the user binding (Session.Login)", session.ErrInvalid, c.userKey)
}

// userText returns the user id a stored user value names: a JSON string's
// text, "" for none or null, and the compact JSON text of any other value.
func userText(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	switch {
	case len(v) == 0 || string(v) == "null":
		return ""
	case v[0] == '"':
		var s string
		if json.Unmarshal(v, &s) == nil {
			return s
		}
	}
	var buf bytes.Buffer
	if json.Compact(&buf, v) != nil {
		return string(v)
	}
	return buf.String()
}

// jsonString returns s as a JSON string, HTML characters unescaped.
func jsonString(s string) json.RawMessage {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.Encode(s) // a string always encodes
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}
