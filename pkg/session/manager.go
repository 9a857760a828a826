package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// Manager loads sessions from cookies and saves them to a Store. Build it
// with New; it is safe for concurrent use. HTTP integration lives in
// pkg/middleware (LoadAndSave), which calls Load and Save.
type Manager struct {
	cfg    Config
	log    *slog.Logger
	load   func(ctx context.Context, id ID, now time.Time) (*Record, error) // LoadShared when the store lends records
	counts *counters                                                        // shared by copies of the Manager
}

// Counters count events of a Manager since New, for monitoring.
type Counters struct {
	// Dropped counts saves whose change was dropped because the session
	// had ended (logout elsewhere, admin expiry, expiry) or been renewed by
	// another request (a login) before the request saved it. Its response
	// left the cookie alone. A few under concurrent logins and logouts are
	// expected.
	Dropped uint64 `json:"dropped"`
	// LateChanges counts calls that tried to change a session after it was
	// saved (see Session, "After the save"): each is a bug in a handler,
	// also logged at error level.
	LateChanges uint64 `json:"late_changes"`
}

// counters is the Manager's live Counters.
type counters struct{ dropped, late atomic.Uint64 }

// New returns a Manager for cfg after applying defaults. A bad Config (no
// store or keys, lifetime shorter than the idle timeout, a cookie name the
// attributes do not allow, ...) is an error wrapping ErrConfig, so mistakes
// surface at startup rather than at the first request.
func New(cfg Config) (*Manager, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	m := &Manager{cfg: c, log: c.Logger.With("component", "sesbolt"), load: c.Store.Load, counts: &counters{}}
	if sl, ok := c.Store.(SharedLoader); ok {
		// The session only reads the record it loads (see Session.lookup).
		m.load = sl.LoadShared
	}
	return m, nil
}

// Store returns the manager's store.
func (m *Manager) Store() Store { return m.cfg.Store }

// CookieName returns the session cookie's name after defaults.
func (m *Manager) CookieName() string { return m.cfg.Cookie.Name }

// Config returns the manager's configuration with defaults applied.
func (m *Manager) Config() Config { return m.cfg }

func (m *Manager) now() time.Time { return m.cfg.Now().UTC() }

// Counters returns the manager's counters so far.
func (m *Manager) Counters() Counters {
	return Counters{Dropped: m.counts.dropped.Load(), LateChanges: m.counts.late.Load()}
}

// Load returns the session of request r. A missing, oversized, malformed or
// wrongly signed cookie, or one whose session is not stored (expired,
// destroyed, renewed, tampered), gives a fresh empty session with a new ID;
// the store is never asked about an ID whose signature failed. The error is
// non-nil only when the store fails; the session is then nil.
//
// With Config.Token enabled, a request that carries the token header uses
// the header transport (see TokenOptions): the token in the header is read
// as the cookie would be, and the cookie is ignored.
func (m *Manager) Load(r *http.Request) (*Session, error) {
	now := m.now()
	s := &Session{m: m, ctx: r.Context(), client: clientInfo(r)}
	var buf [2]string // the tokens of almost every request, without a heap allocation
	tokens, header := m.tokens(r, buf[:0])
	s.header = header
	rejected := "session cookie rejected"
	if header {
		rejected = "session token rejected"
	}
	for _, token := range tokens {
		s.hadCookie = true
		if len(token) > MaxCookieSize {
			m.rejected(r.Context(), rejected, CookieOversized, "length", len(token))
			continue
		}
		id, keyIndex, reason := m.decodeCookie(token)
		if reason != "" {
			m.rejected(r.Context(), rejected, reason)
			continue
		}
		rec, err := m.load(r.Context(), id, now)
		if errors.Is(err, ErrRenewed) {
			// A login or renew elsewhere: the browser probably holds the
			// new cookie already (Save leaves it alone).
			m.rejected(r.Context(), rejected, CookieRenewed)
			s.renewedAway = true
			continue
		}
		if errors.Is(err, ErrNotFound) {
			m.rejected(r.Context(), rejected, CookieUnknownID)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("session: loading: %w", err)
		}
		if rec.Expired(now) { // never trust that the store or a reaper checked
			m.rejected(r.Context(), rejected, CookieUnknownID)
			continue
		}
		s.stored, s.id, s.keyIndex = rec, rec.ID, keyIndex
		s.info = *rec
		s.base, s.info.Data = rec.Data, nil
		return s, nil
	}
	s.id = NewID()
	s.info = Record{
		ID:          s.id,
		Created:     now,
		LastSeen:    now,
		IdleExpires: now.Add(m.cfg.IdleTimeout),
		Deadline:    now.Add(m.cfg.Lifetime),
		Client:      s.client,
		LastClient:  s.client,
	}
	return s, nil
}

// tokens appends to tokens the session tokens r carries and reports
// whether they came from the token header (Config.Token) rather than from
// cookies. A request with the token header uses it alone, even when it
// holds no token yet.
func (m *Manager) tokens(r *http.Request, tokens []string) (_ []string, header bool) {
	if t := m.cfg.Token; t.Enabled {
		if values, ok := r.Header[t.Header]; ok {
			if t.Header != "Authorization" {
				for _, v := range values {
					if v = strings.TrimSpace(v); v != "" {
						tokens = append(tokens, v)
					}
				}
				return tokens, true
			}
			for _, v := range values {
				scheme, token, _ := strings.Cut(strings.TrimSpace(v), " ")
				if !strings.EqualFold(scheme, "Bearer") {
					continue // another scheme is not ours
				}
				header = true
				if token = strings.TrimSpace(token); token != "" {
					tokens = append(tokens, token)
				}
			}
			if header {
				return tokens, true
			}
		}
	}
	for _, c := range r.CookiesNamed(m.cfg.Cookie.Name) {
		tokens = append(tokens, c.Value)
	}
	return tokens, false
}

// timeouts returns the idle timeout and lifetime of a session, persistent
// (remembered) or not.
func (m *Manager) timeouts(persistent bool) (idle, lifetime time.Duration) {
	if persistent {
		return m.cfg.PersistentIdleTimeout, m.cfg.PersistentLifetime
	}
	return m.cfg.IdleTimeout, m.cfg.Lifetime
}

// Save applies the session's change to the store and sets the response
// headers: Set-Cookie when the cookie must change (new, renewed, re-signed
// under a newer key, destroyed, or a persistent cookie whose expiry moved),
// Cache-Control: no-store with it unless the handler chose a cache policy,
// and Vary: Cookie (and the token header, with Config.Token) when the
// handler read the session. Call it before the response's header is
// written; pkg/middleware does. Save is idempotent: later calls do nothing,
// and later changes to s fail (ErrAlreadySaved).
//
// A request on the header transport (Config.Token) gets no Set-Cookie:
// a new token (new, renewed or re-signed session) goes into the token
// response header instead, and a destroyed session's token is simply
// no longer valid.
//
// Only a request that destroys its session (Session.Destroy) clears the
// cookie. A response never clears or replaces the cookie because the
// session it named is gone, since the browser may hold a newer cookie by
// then (a login in another tab, or this request racing its own login):
//   - a session loaded from the store whose record is gone by the time it
//     saves (logout elsewhere, admin expiry, reaper, a concurrent login
//     that renewed its ID or ended it over Config.MaxUserSessions) is not
//     recreated: its change is dropped, no cookie is set, and Save returns
//     nil (counted in Counters.Dropped);
//   - a cookie whose session was renewed away (ErrRenewed: a login that
//     committed first) gives a fresh session that is never stored and sets
//     no cookie, even when the handler changes it, so it cannot clobber the
//     login's cookie; its change is dropped (Counters.Dropped). Only
//     Session.Login stores it: a new authentication takes the cookie over
//     (the browser may have lost the login's response);
//   - an invalid cookie, or one whose session ended otherwise, gives a fresh
//     session that sets a cookie only when the handler changes it.
//
// A write refreshes sliding expiry and records the request's client as
// Record.LastClient at most once per touch interval, like a read (a login,
// a renew or a re-signed cookie always do); a login writes the session's
// persistence (Remember) with its timeouts and Config.MaxUserSessions.
//
// A cookie is (re)issued only after the store applied the change that
// vouches for it: re-signing under a newer key also refreshes the session.
// A store failure is returned and no cookie is set, so the browser never
// points at a session that was not saved.
func (m *Manager) Save(ctx context.Context, h http.Header, s *Session) error {
	s.mu.Lock()
	defer s.unlock() // then the observers run (afterUnlock)
	if s.saved {
		return nil
	}
	s.saved = true
	now := m.now()

	if s.read {
		addVary(h, "Cookie")
		if m.cfg.Token.Enabled {
			addVary(h, m.cfg.Token.Header)
		}
	}
	switch {
	case s.destroyed:
		if s.stored != nil {
			// The store reports the session ended (StoreObserver.Ended)
			// while s.mu is held: its context does not carry s.
			ctx := WithEndReason(context.WithValue(ctx, ctxKey{}, (*Session)(nil)), EndLogout)
			if _, err := m.apply(ctx, &Change{ID: s.stored.ID, Now: now, Destroy: true}); err != nil {
				return fmt.Errorf("session: destroying: %w", err)
			}
		}
		if s.hadCookie && !s.header {
			m.setCookie(h, "", time.Time{}, now, true, false)
		}
		return nil

	case s.stored == nil:
		if !s.modifiedLocked() {
			return nil // nothing stored; a stale or invalid cookie is left alone (see above)
		}
		if s.renewedAway && !s.login {
			m.dropped(ctx, s, "the session cookie names a session renewed by another request")
			return nil
		}
		rec := s.info
		rec.ID = s.id
		rec.Data = s.dataLocked()
		rec.Created, rec.LastSeen = now, now
		idle, lifetime := m.timeouts(rec.Persistent)
		rec.IdleExpires, rec.Deadline = now.Add(idle), now.Add(lifetime)
		c := &Change{ID: s.id, Now: now, Create: &rec}
		if s.login {
			c.MaxUserSessions = m.cfg.MaxUserSessions
		}
		saved, err := m.apply(ctx, c)
		if err != nil {
			return fmt.Errorf("session: creating: %w", err)
		}
		if f := m.cfg.Observer.Created; f != nil {
			s.afterUnlock(func() { f(ctx, saved) })
		}
		if f := m.cfg.Observer.LoggedIn; f != nil && s.login {
			s.afterUnlock(func() { f(ctx, saved) })
		}
		m.issue(h, s, saved, now)
		return nil
	}

	changed := s.modifiedLocked()
	resign := s.keyIndex > 0
	// Re-signing writes a touch: a cookie is only issued for a session the
	// store has just confirmed (it may have been renewed since Load).
	if !changed && !resign && now.Sub(s.stored.LastSeen) < m.cfg.TouchInterval {
		return nil // nothing to write
	}
	persistent := s.stored.Persistent
	if s.login {
		persistent = s.info.Persistent
	}
	idle, lifetime := m.timeouts(persistent)
	c := &Change{ID: s.stored.ID, Now: now, Clear: s.cleared}
	if s.id != s.stored.ID {
		c.NewID = s.id
	}
	// Sliding expiry and the last client move at most once per touch
	// interval (Record.LastSeen), also on writes: a write within it leaves
	// the record's expiry alone, so a store need not touch its expiry and
	// user indexes. Logins, renews and re-signing refresh them anyway.
	if s.login || resign || c.NewID != (ID{}) || now.Sub(s.stored.LastSeen) >= m.cfg.TouchInterval {
		c.LastSeen, c.IdleExpires, c.LastClient = now, now.Add(idle), s.client
	}
	for k := range s.deleted {
		c.Delete = append(c.Delete, k)
	}
	if len(s.set) > 0 {
		c.Set = s.set
	}
	if s.login {
		c.User = &s.info.UserID
		c.Deadline = now.Add(lifetime)
		c.Persistent = &persistent
		c.MaxUserSessions = m.cfg.MaxUserSessions
	}
	saved, err := m.apply(ctx, c)
	if errors.Is(err, ErrNotFound) {
		if changed {
			m.dropped(ctx, s, "the session ended or was renewed before this request saved")
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("session: saving: %w", err)
	}
	switch {
	case s.login:
		if f := m.cfg.Observer.LoggedIn; f != nil {
			s.afterUnlock(func() { f(ctx, saved) })
		}
	case c.NewID != (ID{}):
		if f := m.cfg.Observer.Renewed; f != nil {
			s.afterUnlock(func() { f(ctx, saved) })
		}
	}
	moved := !s.header && m.persistentCookie(saved) && !saved.Expires().Equal(s.stored.Expires())
	if resign || c.NewID != (ID{}) || moved {
		m.issue(h, s, saved, now)
	}
	return nil
}

// issue hands the client the token of saved, the session s just stored at
// now: in the token response header on the header transport, else in the
// cookie.
func (m *Manager) issue(h http.Header, s *Session, saved *Record, now time.Time) {
	token := m.encodeCookie(saved.ID)
	if s.header {
		h.Set(m.cfg.Token.ResponseHeader, token)
		if h.Get("Cache-Control") == "" {
			h.Set("Cache-Control", "no-store")
		}
		return
	}
	m.setCookie(h, token, saved.Expires(), now, false, m.persistentCookie(saved))
}

// persistentCookie reports whether the cookie of r outlives the browser
// session: every cookie with CookieOptions.Persist, else a remembered
// session's.
func (m *Manager) persistentCookie(r *Record) bool { return m.cfg.Cookie.Persist || r.Persistent }

// lateChange counts and logs a change attempted after the session was
// saved (see Session, "After the save").
func (m *Manager) lateChange(ctx context.Context, method string) {
	m.counts.late.Add(1)
	if f := m.cfg.Observer.LateChange; f != nil {
		f(ctx, method)
	}
	m.log.ErrorContext(ctx, "session changed after it was saved (the response had started); change not saved",
		"method", "Session."+method)
}

// destroyLate deletes the records of ids at once, for Destroy after the
// save (a logout must never be lost), and counts and logs the late call.
func (m *Manager) destroyLate(ctx context.Context, ids ...ID) {
	m.counts.late.Add(1)
	if f := m.cfg.Observer.LateChange; f != nil {
		f(ctx, "Destroy")
	}
	if _, err := m.cfg.Store.Delete(WithEndReason(context.WithoutCancel(ctx), EndLogout), ids...); err != nil {
		m.log.ErrorContext(ctx, "session destroyed after it was saved (the response had started); deleting it failed",
			"method", "Session.Destroy", "error", err)
		return
	}
	m.log.ErrorContext(ctx, "session destroyed after it was saved (the response had started); deleted, but the cookie could not be cleared",
		"method", "Session.Destroy")
}

// dropped counts, logs and reports a change of s dropped because its
// session is gone. s.mu is held.
func (m *Manager) dropped(ctx context.Context, s *Session, why string) {
	m.counts.dropped.Add(1)
	if f := m.cfg.Observer.Dropped; f != nil {
		s.afterUnlock(func() { f(ctx) })
	}
	m.log.InfoContext(ctx, "session change dropped; cookie left alone", "reason", why)
}

// rejected logs (at debug level, as msg) and reports a session cookie or
// token that leads to no session; attrs add to the log line.
func (m *Manager) rejected(ctx context.Context, msg string, reason CookieReason, attrs ...any) {
	m.log.DebugContext(ctx, msg, append([]any{"reason", string(reason)}, attrs...)...)
	if f := m.cfg.Observer.CookieRejected; f != nil {
		f(ctx, reason)
	}
}

// apply applies c to the store. A client hanging up must not abort a write
// the handler already made, so ctx's cancellation is dropped.
func (m *Manager) apply(ctx context.Context, c *Change) (*Record, error) {
	return m.cfg.Store.Apply(context.WithoutCancel(ctx), c)
}

// setCookie adds the session cookie to h (replacing one already there) and
// Cache-Control: no-store unless a cache policy is set. remove sets an
// expired cookie that tells the browser to drop it; persist gives the
// cookie Expires and Max-Age matching expires, counted from now.
func (m *Manager) setCookie(h http.Header, value string, expires, now time.Time, remove, persist bool) {
	o := m.cfg.Cookie
	c := &http.Cookie{
		Name:     o.Name,
		Value:    value,
		Path:     o.Path,
		Domain:   o.Domain,
		Secure:   !o.Insecure,
		HttpOnly: true,
		SameSite: o.SameSite,
	}
	switch {
	case remove:
		c.MaxAge = -1
		c.Expires = time.Unix(1, 0)
	case persist:
		c.Expires = expires.UTC()
		c.MaxAge = max(1, int(expires.Sub(now).Seconds()))
	}
	prefix := o.Name + "="
	cookies := h.Values("Set-Cookie")
	kept := cookies[:0:0]
	for _, v := range cookies {
		if !strings.HasPrefix(v, prefix) {
			kept = append(kept, v)
		}
	}
	h.Del("Set-Cookie")
	for _, v := range kept {
		h.Add("Set-Cookie", v)
	}
	h.Add("Set-Cookie", c.String())
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", "no-store")
	}
}

// addVary adds value to the Vary header unless it is already listed.
func addVary(h http.Header, value string) {
	for _, v := range h.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f == "*" || strings.EqualFold(f, value) {
				return
			}
		}
	}
	h.Add("Vary", value)
}

// clientInfo captures the client's address and User-Agent for a new session.
func clientInfo(r *http.Request) ClientInfo {
	ip := r.RemoteAddr
	if host, _, err := net.SplitHostPort(ip); err == nil {
		ip = host
	}
	ua := r.UserAgent()
	if len(ua) > MaxUserAgent {
		ua = strings.ToValidUTF8(ua[:MaxUserAgent], "")
	}
	return ClientInfo{IP: ip, UserAgent: ua}
}

// UserSessions returns user's live sessions, oldest first, through the
// store's per-user index. It returns ErrNotSupported when the store has no
// such index, and nil when the user has no session.
func (m *Manager) UserSessions(ctx context.Context, user string) ([]*Record, error) {
	ui, ok := m.cfg.Store.(UserIndex)
	if !ok {
		return nil, ErrNotSupported
	}
	return ui.UserSessions(ctx, user, m.now())
}

// DestroyUser ends every session of user ("log out everywhere") through the
// store's per-user index and returns how many it ended. It returns
// ErrNotSupported when the store has no such index. The current request's
// session, if it belongs to user, should also be destroyed (Session.Destroy)
// so its response clears the cookie.
func (m *Manager) DestroyUser(ctx context.Context, user string) (int, error) {
	ui, ok := m.cfg.Store.(UserIndex)
	if !ok {
		return 0, ErrNotSupported
	}
	n, err := ui.DeleteUser(WithEndReason(ctx, EndLogoutEverywhere), user)
	if err != nil {
		return n, fmt.Errorf("session: destroying sessions of a user: %w", err)
	}
	return n, nil
}

// DestroyUserExcept ends every session of user except keep ("sign out my
// other devices") through the store's per-user index, each atomically, and
// returns how many it ended; see UserIndex.DeleteUserExcept. A zero keep,
// or one that is not user's, spares nothing. It returns ErrNotSupported
// when the store has no such index. Session.DestroyOthers calls it for the
// current session.
func (m *Manager) DestroyUserExcept(ctx context.Context, user string, keep ID) (int, error) {
	ui, ok := m.cfg.Store.(UserIndex)
	if !ok {
		return 0, ErrNotSupported
	}
	n, err := ui.DeleteUserExcept(WithEndReason(ctx, EndLogoutOthers), user, keep)
	if err != nil {
		return n, fmt.Errorf("session: destroying the other sessions of a user: %w", err)
	}
	return n, nil
}

// DestroyUserSession ends session id only if it is live and bound to user,
// so a user can revoke their own sessions and nobody else's. It reports
// whether it ended one; a session that is missing, expired or someone
// else's gives false and a nil error.
func (m *Manager) DestroyUserSession(ctx context.Context, user string, id ID) (bool, error) {
	if user == "" {
		return false, nil
	}
	rec, err := m.cfg.Store.Load(ctx, id, m.now())
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("session: revoking: %w", err)
	}
	if rec.UserID != user {
		return false, nil
	}
	// Binding a user always renews the ID, so this ID cannot have moved to
	// another user since the check.
	n, err := m.cfg.Store.Delete(WithEndReason(ctx, EndLogout), id)
	if err != nil {
		return false, fmt.Errorf("session: revoking: %w", err)
	}
	return n > 0, nil
}

// HandleError runs the configured ErrorHandler (default: log, then reply
// 413 for ErrTooLarge and 500 otherwise, without the error's text). The
// default log names the request's method and its route pattern
// (r.Pattern, "" before a ServeMux matched it), never its path, which may
// hold a session id or other secrets.
func (m *Manager) HandleError(w http.ResponseWriter, r *http.Request, err error) {
	if m.cfg.ErrorHandler != nil {
		m.cfg.ErrorHandler(w, r, err)
		return
	}
	code := http.StatusInternalServerError
	if errors.Is(err, ErrTooLarge) {
		code = http.StatusRequestEntityTooLarge
		m.log.WarnContext(r.Context(), "session too large to save", "method", r.Method, "pattern", r.Pattern, "error", err)
	} else {
		m.log.ErrorContext(r.Context(), "session store failure", "method", r.Method, "pattern", r.Pattern, "error", err)
	}
	http.Error(w, http.StatusText(code), code)
}
