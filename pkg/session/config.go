package session

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// Defaults applied by New to zero Config fields. The timeouts follow the
// OWASP Session Management Cheat Sheet.
const (
	DefaultIdleTimeout = 30 * time.Minute
	DefaultLifetime    = 12 * time.Hour
	// DefaultPersistentIdleTimeout and DefaultPersistentLifetime are the
	// timeouts of a session whose user asked to be remembered (Remember).
	DefaultPersistentIdleTimeout = 30 * 24 * time.Hour
	DefaultPersistentLifetime    = 90 * 24 * time.Hour
	// DefaultCookieName is used when the cookie attributes allow the
	// __Host- prefix (Secure, Path=/, no Domain).
	DefaultCookieName = "__Host-session"
	// DefaultInsecureCookieName is used otherwise.
	DefaultInsecureCookieName = "session"
	// MaxCookieSize is the longest Cookie header value considered; a longer
	// session cookie is ignored without being decoded. It bounds a token
	// in a header (TokenOptions) too.
	MaxCookieSize = 4096
	// DefaultTokenHeader is the request header of the header transport
	// (TokenOptions): "Authorization: Bearer <token>".
	DefaultTokenHeader = "Authorization"
	// DefaultTokenResponseHeader is the response header that carries a new
	// token in the header transport.
	DefaultTokenResponseHeader = "Session-Token"
)

// Config configures a Manager. Store is required, and Keys unless Codec is
// set; every other zero field means the documented default.
type Config struct {
	// Store persists sessions. Required.
	Store Store
	// Keys signs cookies (and, through the store, seals records). Required
	// unless Codec is set; the Manager then does not use them.
	Keys *Keyring
	// Codec encodes session IDs into cookie values and verifies them back.
	// Default nil: sesbolt's own format, signed with Keys and bound to
	// Cookie.Name (what Keys.CookieCodec(Cookie.Name) returns). Set it to
	// share cookies with an application that signs them another way
	// (pkg/flasksession for a Flask app).
	Codec CookieCodec
	// Cookie sets the cookie's attributes; the zero value is the safe
	// default (see CookieOptions).
	Cookie CookieOptions
	// IdleTimeout ends a session after this long without a request.
	// Default DefaultIdleTimeout (30 minutes).
	IdleTimeout time.Duration
	// Lifetime ends a session this long after it was created or a user logged
	// in, however active it is. Default DefaultLifetime (12 hours); must not
	// be shorter than IdleTimeout.
	Lifetime time.Duration
	// PersistentIdleTimeout is the idle timeout of a remembered session
	// (Session.Login with Remember(true); Record.Persistent). Default
	// DefaultPersistentIdleTimeout (30 days), or IdleTimeout when that is
	// longer.
	PersistentIdleTimeout time.Duration
	// PersistentLifetime is the absolute lifetime of a remembered session,
	// counted from its login. Default DefaultPersistentLifetime (90 days),
	// or Lifetime or PersistentIdleTimeout when one is longer; must not be
	// shorter than PersistentIdleTimeout. Both are enforced by the server
	// on every read, whatever the cookie's expiry says.
	PersistentLifetime time.Duration
	// MaxUserSessions caps how many live sessions one user may have: a
	// login beyond it ends the user's least recently seen other sessions in
	// the same store operation that binds the new one (see
	// Change.MaxUserSessions). Default 0: no limit.
	MaxUserSessions int
	// Token enables the header transport for API and mobile clients. Default
	// off: cookies only.
	Token TokenOptions
	// TouchInterval is how stale the stored last-seen time may get before a
	// request that changes nothing refreshes it. Default IdleTimeout/10; must
	// be shorter than IdleTimeout. Because of it a session may expire up to
	// one TouchInterval early, never late.
	TouchInterval time.Duration
	// ErrorHandler writes the response when loading or saving a session
	// fails (a store error). Default: log the error and reply 500, or 413
	// when the session grew past the store's size limit (ErrTooLarge).
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
	// Observer receives the manager's events (sessions created, logged in,
	// renewed; cookies rejected; changes dropped or too late), for metrics
	// (pkg/metrics) and audit hooks. Default: the zero Observer, nothing
	// observes, at no cost. Sessions ended are a store's events: see
	// StoreObserver.
	Observer Observer
	// Logger receives the manager's logs. It never gets cookie values or
	// keys. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock, for tests. Default time.Now.
	Now func() time.Time
}

// CookieOptions are the session cookie's attributes. The cookie is always
// HttpOnly: scripts have no business reading a session id.
type CookieOptions struct {
	// Name is the cookie name. Default DefaultCookieName ("__Host-session")
	// when Secure, Path "/" and no Domain allow the prefix, otherwise
	// DefaultInsecureCookieName ("session").
	Name string
	// Path is the cookie path. Default "/".
	Path string
	// Domain is the cookie domain. Default none (host-only), which is
	// safer: sibling subdomains cannot read or set the cookie.
	Domain string
	// Insecure drops the Secure attribute, for plain-HTTP development on
	// localhost only. Default false: the cookie is sent over HTTPS only.
	Insecure bool
	// SameSite is the SameSite attribute. Default http.SameSiteLaxMode.
	// http.SameSiteNoneMode requires Secure.
	SameSite http.SameSite
	// Persist makes the cookie outlive the browser session: it carries
	// Expires and Max-Age matching the session's expiry. Default false: a
	// browser-session cookie with neither.
	Persist bool
}

// TokenOptions configure the header transport: for clients that are not
// browsers (mobile apps, API clients), the session token travels in HTTP
// headers instead of a cookie. The token is the same signed value a cookie
// carries. A request uses the header transport when it carries Header; it
// then never reads nor sets the cookie, and a new token (a session created,
// renewed, logged in, or re-signed under a newer key) comes back in
// ResponseHeader. Every other request uses the cookie, so the two are
// never mixed on one request.
//
// Browsers do not attach such a header by themselves, so a request from
// another site cannot ride a header token: cross-site request forgery does
// not apply to it. But the client must keep the token where page scripts
// could read it, if it is a script: a cross-site scripting hole can steal a
// header token, whereas an HttpOnly cookie cannot be read. Give header
// tokens to programs, not to pages a browser renders (docs/SECURITY.md).
type TokenOptions struct {
	// Enabled turns the header transport on. Default false: cookies only.
	Enabled bool
	// Header is the request header that carries the token. Default
	// DefaultTokenHeader ("Authorization"), read as "Authorization: Bearer
	// <token>" (the scheme matched case-insensitively); a request whose
	// Authorization header has another scheme (Basic, ...) uses cookies. Any
	// other header carries the bare token. A client that holds no token yet
	// sends the header without one ("Authorization: Bearer", or the header
	// empty) to get its token in the response.
	Header string
	// ResponseHeader is the response header that carries a new token.
	// Default DefaultTokenResponseHeader ("Session-Token"). Expose it to
	// cross-origin scripts (Access-Control-Expose-Headers) only if they
	// must read it.
	ResponseHeader string
}

// withDefaults returns c with defaults applied and validates it. Every error
// wraps ErrConfig.
func (c Config) withDefaults() (Config, error) {
	bad := func(format string, args ...any) (Config, error) {
		return Config{}, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)
	}
	if c.Store == nil {
		return bad("Store is required")
	}
	if c.Codec == nil && (c.Keys == nil || c.Keys.Len() == 0) {
		return bad("Keys is required: %w", ErrNoKeys)
	}
	if c.IdleTimeout < 0 || c.Lifetime < 0 || c.TouchInterval < 0 {
		return bad("negative timeout")
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.Lifetime == 0 {
		c.Lifetime = max(DefaultLifetime, c.IdleTimeout)
	}
	if c.Lifetime < c.IdleTimeout {
		return bad("Lifetime %s is shorter than IdleTimeout %s", c.Lifetime, c.IdleTimeout)
	}
	if c.TouchInterval == 0 {
		c.TouchInterval = c.IdleTimeout / 10
	}
	if c.TouchInterval >= c.IdleTimeout {
		return bad("TouchInterval %s must be shorter than IdleTimeout %s", c.TouchInterval, c.IdleTimeout)
	}
	if c.PersistentIdleTimeout < 0 || c.PersistentLifetime < 0 {
		return bad("negative persistent timeout")
	}
	if c.PersistentIdleTimeout == 0 {
		c.PersistentIdleTimeout = max(DefaultPersistentIdleTimeout, c.IdleTimeout)
	}
	if c.PersistentLifetime == 0 {
		c.PersistentLifetime = max(DefaultPersistentLifetime, c.Lifetime, c.PersistentIdleTimeout)
	}
	if c.PersistentLifetime < c.PersistentIdleTimeout {
		return bad("PersistentLifetime %s is shorter than PersistentIdleTimeout %s", c.PersistentLifetime, c.PersistentIdleTimeout)
	}
	if c.TouchInterval >= c.PersistentIdleTimeout {
		return bad("TouchInterval %s must be shorter than PersistentIdleTimeout %s", c.TouchInterval, c.PersistentIdleTimeout)
	}
	if c.MaxUserSessions < 0 {
		return bad("negative MaxUserSessions %d", c.MaxUserSessions)
	}
	if t := &c.Token; t.Enabled {
		if t.Header == "" {
			t.Header = DefaultTokenHeader
		}
		if t.ResponseHeader == "" {
			t.ResponseHeader = DefaultTokenResponseHeader
		}
		for _, h := range []string{t.Header, t.ResponseHeader} {
			if !validCookieName(h) {
				return bad("token header name %q is not a valid token", h)
			}
		}
		t.Header = http.CanonicalHeaderKey(t.Header)
		t.ResponseHeader = http.CanonicalHeaderKey(t.ResponseHeader)
		if strings.EqualFold(t.ResponseHeader, "Set-Cookie") || strings.EqualFold(t.Header, "Cookie") {
			return bad("token headers must not be Cookie or Set-Cookie")
		}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	ck := &c.Cookie
	if ck.Path == "" {
		ck.Path = "/"
	}
	if ck.SameSite == 0 || ck.SameSite == http.SameSiteDefaultMode {
		ck.SameSite = http.SameSiteLaxMode
	}
	if ck.SameSite == http.SameSiteNoneMode && ck.Insecure {
		return bad("SameSite=None requires a Secure cookie")
	}
	hostOK := !ck.Insecure && ck.Path == "/" && ck.Domain == ""
	if ck.Name == "" {
		ck.Name = DefaultInsecureCookieName
		if hostOK {
			ck.Name = DefaultCookieName
		}
	}
	if !validCookieName(ck.Name) {
		return bad("cookie name %q is not a valid token", ck.Name)
	}
	if strings.HasPrefix(ck.Name, "__Host-") && !hostOK {
		return bad("cookie name %q needs Secure, Path=/ and no Domain", ck.Name)
	}
	if strings.HasPrefix(ck.Name, "__Secure-") && ck.Insecure {
		return bad("cookie name %q needs Secure", ck.Name)
	}
	return c, nil
}

// validCookieName reports whether name is an RFC 6265 token.
func validCookieName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune(`()<>@,;:\"/[]?={}`, r) {
			return false
		}
	}
	return true
}
