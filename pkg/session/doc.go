// Package session is the core of sesbolt: server-side HTTP sessions whose
// data lives in a Store and whose cookie carries only a signed ID.
//
// A Manager (built with New from a Config) turns a request's cookie into a
// *Session with Load and writes the session's change back with Save;
// pkg/middleware does both around a handler, which gets the session with
// FromContext. Values are JSON, so stored records are readable by sesctl
// without the application's Go types.
//
// # Cookies
//
// The cookie value is the 16-byte session ID and a 128-bit HMAC-SHA256 tag
// over a domain-separated message binding the cookie name and the ID,
// base64url-encoded. A Keyring holds several keys: the first signs, all
// verify, and a cookie signed by an older key is re-issued under the newest.
// The signature is checked before the store is asked about an ID, so forged
// or truncated cookies cost no store lookup. Keys never enter the store: a
// copy of the database alone cannot ride a session.
//
// That format is the default CookieCodec. Config.Codec replaces it, for
// sharing cookies with an application that signs them its own way:
// pkg/flasksession reads and writes the cookies of a Flask app signed by
// itsdangerous. The checks around the codec stay the Manager's: oversized
// values never reach it, and the store is asked only about IDs it accepted.
//
// # Changes, not snapshots
//
// A request records what it changes (keys set and deleted, clear, login,
// renew, destroy) in a Change, and the store applies it to the latest stored
// record atomically (Change.ApplyTo), so two requests of one session that
// set different keys both persist. A request whose session ended elsewhere
// meanwhile (logout, sesctl expire, the reaper, a login that renewed its ID)
// does not bring it back: its change is dropped and its cookie left alone,
// since the browser may hold a newer one. Only the request that destroys a
// session clears the cookie.
//
// # Logins racing other requests
//
// A login gives the session a new ID. Requests the browser sent with the
// old cookie before the login's response arrived (a polling XHR, a second
// tab, a double-submitted form) must not log the user out when their
// responses arrive later. A renew therefore leaves a tombstone for the old
// ID in the store for RenewGrace (ErrRenewed; see Store), and a request
// whose cookie names a renewed ID gets a fresh session that sets no cookie
// and drops its changes, unless it logs in itself. The tombstone holds no
// data and not the new ID: the old cookie never reaches the renewed session
// (no fixation).
//
// # Expiry
//
// Every session has an idle timeout (default 30 minutes) and an absolute
// lifetime (default 12 hours), both checked on every load. The stored
// last-seen time is refreshed at most once per TouchInterval (default a
// tenth of the idle timeout), so read-mostly traffic writes nothing.
//
// # Remember me, devices and session limits
//
// Session.Login(user, Remember(true)) makes a session persistent: its
// cookie carries Expires and Max-Age, and it gets its own, longer timeouts
// (Config.PersistentIdleTimeout, 30 days, and PersistentLifetime, 90 days,
// by default), stored in the record (Record.Persistent) and enforced by the
// server like any other. Other sessions keep browser-session cookies.
//
// A record keeps the client that created it (Record.Client) and the one it
// was last seen from (Record.LastClient), refreshed with the throttled
// last-seen write and never by a write of its own. Manager.UserSessions
// lists both, for an "your devices" page.
//
// Session.DestroyOthers (Manager.DestroyUserExcept) signs a user out of
// every other session through the per-user index. Config.MaxUserSessions
// caps a user's live sessions: the store ends the least recently seen ones
// in the same atomic step that saves the login beyond the limit.
//
// # Tokens in headers
//
// With Config.Token, clients that are not browsers may carry the same
// signed token in a request header (by default "Authorization: Bearer
// <token>") and get new ones in a response header ("Session-Token"); see
// TokenOptions. A request uses either the header or the cookie, never both.
// Browsers do not send such a header on their own, so cross-site request
// forgery does not apply to it, but a token a page script can read can be
// stolen through cross-site scripting, which an HttpOnly cookie cannot.
//
// # Observing
//
// Config.Observer (an Observer) receives the Manager's events: sessions
// created, logged in and renewed, session cookies rejected with their
// reason, changes dropped or made too late. Stores take a StoreObserver
// for what only they see: each session they remove (once, with the reason
// the caller put in the context with WithEndReason: the Manager's logouts,
// pkg/admin's revocations; EndLimit for the per-user limit, EndExpired
// for the reaper), commits, expiry passes, seal failures and system
// errors. An application's hook on ended sessions is a
// StoreObserver.Ended; pkg/metrics turns both seams into Prometheus
// metrics. Unset functions cost nothing.
//
// # Caveats
//
//   - A session that is only read is refreshed at most once per
//     TouchInterval, so it may expire up to one TouchInterval early, never
//     late.
//   - A session created in a request is stored only if the request changes
//     it (sets a value, logs in, renews); anonymous visitors who store
//     nothing cost nothing.
//   - Concurrent requests merge per key: when two requests set the same key,
//     the one saved last wins.
//   - The session is saved before the first byte of the response: change
//     it before writing the body. Later changes are rejected
//     (ErrAlreadySaved, or an error log; see Session), and a Destroy then
//     ends the session but cannot clear the cookie.
//   - A browser whose login response was lost keeps its pre-login cookie;
//     for RenewGrace that cookie cannot store anonymous data (its changes
//     are dropped), though logging in again works at once.
//   - Sessions are listed and limited per user through the store's
//     per-user index; DestroyOthers and DestroyUserExcept need one
//     (ErrNotSupported otherwise). Sessions bound while they run may
//     survive.
//   - A remembered session outlives the browser: a shared computer keeps
//     its user logged in until logout or PersistentIdleTimeout. Offer
//     remember-me as an explicit choice.
//   - A session that expires is reported ended (StoreObserver.Ended) when
//     the store's reaper removes it, not when a request finds it expired:
//     reads never write.
//   - Session is not meant to outlive its request. Keep values small: the
//     store enforces a record size limit (64 KiB by default in bundled
//     stores).
package session
