package session

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"
	"unicode/utf8"
)

// Session is one request's view of a session. It records what the request
// changes (keys set and deleted, clear, login, renew, destroy) and the
// Manager applies that change to the latest stored record when the response
// starts, so concurrent requests of one session that change different keys
// do not overwrite each other.
//
// A Session is safe for concurrent use by the goroutines of its request; it
// must not be kept after the request ends.
//
// # After the save
//
// The session is saved once, before the first byte of the response
// (pkg/middleware: the first WriteHeader, Write, Flush, ReadFrom or Hijack,
// or the handler returning), because the cookie travels in the response
// header. Change the session before writing the response. A change made
// after the save cannot reach the store or the cookie; it is rejected, so it
// never vanishes silently:
//   - Set, SetRaw, Pop and Login return ErrAlreadySaved (Pop then leaves
//     the value and dst alone, PopString returns "");
//   - Delete, Clear and Renew, which return nothing, change nothing;
//   - Destroy still ends the session: it deletes the stored record at once
//     (a logout must never be lost), but the response can no longer clear
//     the cookie, so the browser keeps a cookie of a session that is gone.
//
// Each such call is logged at error level (the method's name, nothing
// else) and counted in Manager.Counters().LateChanges.
type Session struct {
	m   *Manager
	ctx context.Context // the request's: for logs, and Destroy after the save

	mu        sync.Mutex
	id        ID                         // current id; differs from stored.ID after Renew
	stored    *Record                    // as loaded, nil when new; maybe lent by the store (SharedLoader): read only
	info      Record                     // times, user and client; Data unused
	base      map[string]json.RawMessage // stored.Data: read only
	set       map[string]json.RawMessage
	deleted   map[string]struct{}
	cleared   bool
	login     bool       // Login was called: user bound and lifetime restarted
	client    ClientInfo // the client of this request: LastClient when the save writes
	header    bool       // the request uses the header transport (TokenOptions), not the cookie
	destroyed bool
	keyIndex  int  // key that verified the cookie; > 0 means re-sign
	hadCookie bool // the request carried a session cookie (valid or not)
	// renewedAway: a cookie named a session renewed by another request
	// (ErrRenewed), so the browser probably holds a newer cookie: this
	// fresh session is not stored unless it logs in (see Manager.Save).
	renewedAway bool
	read        bool   // the handler looked at the session: responses vary by cookie
	saved       bool   // Manager.Save ran: later changes are rejected
	after       func() // run by unlock once mu is released (afterUnlock)
}

// ID returns the session's current ID. For a session created in this request
// it is stored only if the session is changed; after Renew or Login it is
// the new ID.
func (s *Session) ID() ID {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.read = true
	return s.id
}

// IsNew reports whether the session was created in this request (no valid
// session cookie came with it).
func (s *Session) IsNew() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.read = true
	return s.stored == nil
}

// UserID returns the user bound by Login, or "" for an anonymous session.
func (s *Session) UserID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.read = true
	return s.info.UserID
}

// Created returns when the session was created.
func (s *Session) Created() time.Time {
	return s.infoTime(func(r *Record) time.Time { return r.Created })
}

// LastSeen returns the stored last-seen time (see Config.TouchInterval).
func (s *Session) LastSeen() time.Time {
	return s.infoTime(func(r *Record) time.Time { return r.LastSeen })
}

// Expires returns when the session ends unless a request refreshes it, as of
// the start of this request.
func (s *Session) Expires() time.Time { return s.infoTime((*Record).Expires) }

func (s *Session) infoTime(f func(*Record) time.Time) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.read = true
	return f(&s.info)
}

// Client returns the client that created the session.
func (s *Session) Client() ClientInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.read = true
	return s.info.Client
}

// LastClient returns the client the session was last seen from, as stored
// (Record.Latest): it is refreshed with the last-seen time, at most once
// per Config.TouchInterval. For a new session it is this request's client.
func (s *Session) LastClient() ClientInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.read = true
	return s.info.Latest()
}

// Persistent reports whether the session is remembered (Record.Persistent):
// as stored, or as Login in this request set it.
func (s *Session) Persistent() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.read = true
	return s.info.Persistent
}

// HeaderTransport reports whether the request carries the session token in
// a header (Config.Token) rather than in the cookie.
func (s *Session) HeaderTransport() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.header
}

// Get returns a copy of the JSON value stored under key, and whether there
// is one.
func (s *Session) Get(key string) (json.RawMessage, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.lookup(key)
	if !ok {
		return nil, false
	}
	return append(json.RawMessage(nil), v...), true
}

// lookup returns the current value of key without copying. s.mu is held.
// A value from base may belong to the store (SharedLoader): callers copy
// what they hand out and never write to it.
func (s *Session) lookup(key string) (json.RawMessage, bool) {
	s.read = true
	if v, ok := s.set[key]; ok {
		return v, true
	}
	if s.cleared {
		return nil, false
	}
	if _, ok := s.deleted[key]; ok {
		return nil, false
	}
	v, ok := s.base[key]
	return v, ok
}

// Decode decodes the value under key into dst (a pointer), as
// json.Unmarshal does. It reports false with a nil error when there is no
// value, and an error when the value does not fit dst.
func (s *Session) Decode(key string, dst any) (bool, error) {
	s.mu.Lock()
	v, ok := s.lookup(key)
	s.mu.Unlock()
	if !ok {
		return false, nil
	}
	if err := json.Unmarshal(v, dst); err != nil {
		return true, fmt.Errorf("session: decoding key %q: %w", key, err)
	}
	return true, nil
}

// GetString returns the string under key, or "" when there is none or the
// value is not a JSON string.
func (s *Session) GetString(key string) string {
	s.mu.Lock()
	v, ok := s.lookup(key)
	s.mu.Unlock()
	// Fast path for the common case: a quoted string without escapes.
	if n := len(v); ok && n >= 2 && v[0] == '"' && v[n-1] == '"' &&
		bytes.IndexByte(v[1:n-1], '\\') < 0 && bytes.IndexByte(v[1:n-1], '"') < 0 && utf8.Valid(v) {
		return string(v[1 : n-1])
	}
	return getAs[string](s, key)
}

// GetInt returns the integer under key, or 0 when there is none or the value
// is not a JSON integer that fits an int.
func (s *Session) GetInt(key string) int { return getAs[int](s, key) }

// GetBool returns the boolean under key, or false when there is none or the
// value is not a JSON boolean.
func (s *Session) GetBool(key string) bool { return getAs[bool](s, key) }

// GetTime returns the time under key (stored by Set as an RFC 3339 string),
// or the zero time when there is none or it does not parse.
func (s *Session) GetTime(key string) time.Time { return getAs[time.Time](s, key) }

func getAs[T any](s *Session, key string) T {
	var v T
	if _, err := s.Decode(key, &v); err != nil {
		var zero T
		return zero
	}
	return v
}

// Set stores v under key, encoded as JSON. It returns an error wrapping
// ErrEncode when v cannot be encoded (the session is then unchanged),
// ErrInvalidKey for an empty key, ErrAlreadySaved after the session was
// saved and ErrDestroyed after Destroy.
func (s *Session) Set(key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("%w: key %q: %w", ErrEncode, key, err)
	}
	return s.setRaw("Set", key, b)
}

// SetRaw stores the JSON document raw under key. It returns an error
// wrapping ErrEncode when raw is not valid JSON, and otherwise the errors of
// Set. raw is compacted and copied.
func (s *Session) SetRaw(key string, raw json.RawMessage) error {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return fmt.Errorf("%w: key %q: %w", ErrEncode, key, err)
	}
	return s.setRaw("SetRaw", key, buf.Bytes())
}

func (s *Session) setRaw(method, key string, v json.RawMessage) error {
	if key == "" {
		return ErrInvalidKey
	}
	s.mu.Lock()
	defer s.unlock()
	if s.saved {
		return s.lateLocked(method)
	}
	if s.destroyed {
		return ErrDestroyed
	}
	if s.set == nil {
		s.set = make(map[string]json.RawMessage)
	}
	s.set[key] = v
	delete(s.deleted, key)
	return nil
}

// Delete removes key. Deleting a missing key is not an error, and is not a
// change. After the save it changes nothing and is logged (see Session).
func (s *Session) Delete(key string) {
	s.mu.Lock()
	defer s.unlock()
	if s.saved {
		_ = s.lateLocked("Delete")
		return
	}
	s.deleteLocked(key)
}

func (s *Session) deleteLocked(key string) {
	if _, ok := s.lookup(key); !ok || s.destroyed {
		return
	}
	delete(s.set, key)
	if s.deleted == nil {
		s.deleted = make(map[string]struct{})
	}
	s.deleted[key] = struct{}{}
}

// Pop decodes the value under key into dst and deletes it: a flash value,
// shown once. It reports false with a nil error when there is no value; on a
// decode error the value is kept. After the session was saved the value
// could not be deleted, so Pop leaves dst alone and reports false with
// ErrAlreadySaved.
func (s *Session) Pop(key string, dst any) (bool, error) { return s.pop("Pop", key, dst) }

func (s *Session) pop(method, key string, dst any) (bool, error) {
	s.mu.Lock()
	defer s.unlock()
	if s.saved {
		return false, s.lateLocked(method)
	}
	v, ok := s.lookup(key)
	if !ok {
		return false, nil
	}
	if err := json.Unmarshal(v, dst); err != nil {
		return true, fmt.Errorf("session: decoding key %q: %w", key, err)
	}
	s.deleteLocked(key)
	return true, nil
}

// PopString returns the string under key and deletes it; "" when there is
// none or it is not a string (then the value is kept), and "" after the
// save (see Pop).
func (s *Session) PopString(key string) string {
	var v string
	if _, err := s.pop("PopString", key, &v); err != nil {
		return ""
	}
	return v
}

// Data returns a copy of every data key and its JSON value; an empty map,
// not nil, when there are none.
func (s *Session) Data() map[string]json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.read = true
	d := s.dataLocked()
	for k, v := range d {
		d[k] = append(json.RawMessage(nil), v...)
	}
	return d
}

// Keys returns the session's data keys in ascending order; empty, not nil,
// when there are none.
func (s *Session) Keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.read = true
	keys := make([]string, 0, len(s.base)+len(s.set))
	if !s.cleared {
		for k := range s.base {
			if _, del := s.deleted[k]; !del {
				if _, dup := s.set[k]; !dup {
					keys = append(keys, k)
				}
			}
		}
	}
	keys = slices.AppendSeq(keys, maps.Keys(s.set))
	slices.Sort(keys)
	return keys
}

// Clear removes every data key. The user binding is kept. After the save
// it changes nothing and is logged (see Session).
func (s *Session) Clear() {
	s.mu.Lock()
	defer s.unlock()
	if s.saved {
		_ = s.lateLocked("Clear")
		return
	}
	if s.destroyed {
		return
	}
	s.read = true
	s.cleared = true
	s.set = nil
	s.deleted = nil
}

// Renew gives the session a new ID and keeps its data and deadline, to
// prevent session fixation when privileges change. The old ID stops working
// in the same store operation that saves the session. After the save it
// changes nothing and is logged (see Session): call it before writing the
// response.
func (s *Session) Renew() {
	s.mu.Lock()
	defer s.unlock()
	if s.saved {
		_ = s.lateLocked("Renew")
		return
	}
	if s.destroyed {
		return
	}
	s.read = true
	s.id = NewID()
}

// LoginOption changes what Session.Login does.
type LoginOption func(*loginOptions)

type loginOptions struct{ remember bool }

// Remember(true) makes the session persistent ("remember me"): its cookie
// carries Expires and Max-Age, so it outlives the browser session, and it
// gets Config.PersistentIdleTimeout and PersistentLifetime instead of the
// usual timeouts. Remember(false), like no option, makes it an ordinary
// session with a browser-session cookie: every login decides anew.
func Remember(on bool) LoginOption {
	return func(o *loginOptions) { o.remember = on }
}

// Login binds the session to user (a non-empty string), gives it a new ID
// and restarts its absolute lifetime. Call it when a user authenticates.
// Data is kept when an anonymous session logs in (a cart survives sign-in)
// and cleared when the session was bound to a different user, so nothing
// one user stored reaches another. With Remember(true) the session becomes
// persistent (see Remember); without, it is not, even if it was. With
// Config.MaxUserSessions, saving the login ends the user's least recently
// seen sessions beyond the limit. It returns ErrAlreadySaved after the
// save (the user is then not logged in) and ErrDestroyed after Destroy.
func (s *Session) Login(user string, opts ...LoginOption) error {
	if user == "" {
		return errors.New("session: Login with an empty user id")
	}
	var o loginOptions
	for _, opt := range opts {
		opt(&o)
	}
	s.mu.Lock()
	defer s.unlock()
	if s.saved {
		return s.lateLocked("Login")
	}
	if s.destroyed {
		return ErrDestroyed
	}
	s.read = true
	if s.info.UserID != "" && s.info.UserID != user {
		s.cleared, s.set, s.deleted = true, nil, nil
	}
	s.id = NewID()
	s.info.UserID = user
	s.info.Persistent = o.remember
	s.login = true
	return nil
}

// DestroyOthers ends every other session of the session's user at once
// ("sign out other devices"), through Manager.DestroyUserExcept, and
// returns how many it ended; this session stays. It returns 0 and a nil
// error for an anonymous session, and ErrNotSupported when the store has
// no per-user index. Unlike Destroy it takes effect immediately, not at
// the save, so it may be called after the response started.
func (s *Session) DestroyOthers() (int, error) {
	s.mu.Lock()
	user := s.info.UserID
	var keep ID
	if s.stored != nil {
		// The stored record is this session until the save renews it (a
		// Login in this request); a session not stored yet has nothing to
		// spare.
		keep = s.stored.ID
	}
	s.read = true
	s.mu.Unlock()
	if user == "" {
		return 0, nil
	}
	return s.m.DestroyUserExcept(s.ctx, user, keep)
}

// Destroy ends the session (logout): its stored record is deleted when the
// response starts and the browser is told to drop the cookie. Later changes
// in this request are rejected with ErrDestroyed. Called after the save,
// it deletes the stored record at once (errors are logged), but the
// response can no longer clear the cookie (see Session).
func (s *Session) Destroy() {
	s.mu.Lock()
	defer s.unlock()
	s.read = true
	s.destroyed = true
	s.set, s.deleted, s.cleared = nil, nil, false
	if s.saved {
		ids := s.savedIDsLocked()
		s.afterUnlock(func() { s.m.destroyLate(s.ctx, ids...) })
	}
}

// lateLocked reports a change attempted after the save: the Manager counts
// and logs it once s.mu is released. It returns ErrAlreadySaved. s.mu is
// held, to be released with unlock.
func (s *Session) lateLocked(method string) error {
	s.afterUnlock(func() { s.m.lateChange(s.ctx, method) })
	return ErrAlreadySaved
}

// afterUnlock makes unlock run f once s.mu is released: observers and the
// store are called without the session's lock, so an observer may use the
// session its context carries. s.mu is held.
func (s *Session) afterUnlock(f func()) {
	if prev := s.after; prev != nil {
		next := f
		f = func() { prev(); next() }
	}
	s.after = f
}

// unlock releases s.mu, then runs what the locked section left for after
// it (afterUnlock).
func (s *Session) unlock() {
	after := s.after
	s.after = nil
	s.mu.Unlock()
	if after != nil {
		after()
	}
}

// savedIDsLocked returns the IDs under which the session may be stored
// after the save: the loaded one, and the current one (created or renewed,
// unless the save failed or dropped the change). s.mu is held.
func (s *Session) savedIDsLocked() []ID {
	if s.stored != nil && s.stored.ID != s.id {
		return []ID{s.stored.ID, s.id}
	}
	return []ID{s.id}
}

// Modified reports whether the request changed the session's data, user or
// ID, or destroyed it.
func (s *Session) Modified() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.modifiedLocked()
}

func (s *Session) modifiedLocked() bool {
	return s.destroyed || s.cleared || s.login || len(s.set) > 0 || len(s.deleted) > 0 ||
		(s.stored != nil && s.id != s.stored.ID) || (s.stored == nil && s.id != s.info.ID)
}

// dataLocked returns the session's current data as a new map. s.mu is held.
func (s *Session) dataLocked() map[string]json.RawMessage {
	d := make(map[string]json.RawMessage, len(s.base)+len(s.set))
	if !s.cleared {
		for k, v := range s.base {
			if _, del := s.deleted[k]; !del {
				d[k] = v
			}
		}
	}
	maps.Copy(d, s.set)
	return d
}
