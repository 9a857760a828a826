package middleware

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// plainHTTPWarned is set once the plain-HTTP warning has been logged: it is
// logged once per process, however many managers and requests there are.
var plainHTTPWarned atomic.Bool

// plainHTTPWarning is the message of that warning; it says what to change.
const plainHTTPWarning = "session cookie is Secure but was sent over plain HTTP: browsers and curl drop it, " +
	"so no session survives a request and each attempt leaves an unused session in the store. " +
	"Serve HTTPS; behind a TLS-terminating proxy, have the proxy send X-Forwarded-Proto: https; " +
	"for plain-HTTP development only, set session.CookieOptions{Insecure: true}"

// warnPlainHTTP logs plainHTTPWarning with m's logger, once per process,
// when h sets m's session cookie with the Secure attribute (which the
// __Host- and __Secure- prefixes imply) in answer to r, and r looks like a
// client that reached the application over plain HTTP from another host:
//
//   - r.TLS is nil (the connection to this server is plain HTTP);
//   - r.RemoteAddr is an IP address that is not loopback. A proxy on the
//     same host connects from loopback, and so does a browser on it,
//     which keeps a Secure cookie from http://localhost. An address that
//     is not an IP (a Unix socket) is not judged, nor one reserved for
//     documentation (RFC 5737, RFC 3849), which no real client has: that
//     is the 192.0.2.1 of httptest.NewRequest, so tests stay quiet;
//   - r carries neither X-Forwarded-Proto: https nor Forwarded: proto=https
//     (for any hop), which a TLS-terminating proxy on another host sends.
//
// The forwarded headers are trusted only to keep quiet: a client that
// forges them silences a log line, nothing else. Two cases go unwarned: a
// browser on the same host that uses a name other than localhost (an
// /etc/hosts entry for 127.0.0.1), as it cannot be told from a local proxy,
// and a proxy on another host that sends no forwarded header, which is
// warned about although its clients may well use HTTPS.
//
// The log line holds the cookie's name and the request's Host, never a
// cookie value or an address.
func warnPlainHTTP(m *session.Manager, r *http.Request, h http.Header) {
	if r.TLS != nil || plainHTTPWarned.Load() || !setsSecureCookie(m, h) ||
		!remotePeer(r.RemoteAddr) || forwardedHTTPS(r.Header) {
		return
	}
	if plainHTTPWarned.Swap(true) {
		return // another request warned meanwhile
	}
	m.Config().Logger.WarnContext(r.Context(), plainHTTPWarning, "cookie", m.CookieName(), "host", r.Host)
}

// setsSecureCookie reports whether h sets m's session cookie to a value
// (not a removal) with the Secure attribute.
func setsSecureCookie(m *session.Manager, h http.Header) bool {
	prefix := m.CookieName() + "="
	for _, v := range h["Set-Cookie"] {
		if !strings.HasPrefix(v, prefix) || strings.HasPrefix(v[len(prefix):], ";") {
			continue
		}
		c, err := http.ParseSetCookie(v)
		if err == nil && c.Secure {
			return true
		}
	}
	return false
}

// documentation are the address ranges reserved for examples (RFC 5737,
// RFC 3849), which no real peer has.
var documentation = []netip.Prefix{
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("2001:db8::/32"),
}

// remotePeer reports whether addr (an http.Request's RemoteAddr) is an IP
// address, with or without a port, that is neither loopback nor reserved
// for documentation.
func remotePeer(addr string) bool {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		addr = host
	}
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, p := range documentation {
		if p.Contains(ip) {
			return false
		}
	}
	return !ip.IsLoopback()
}

// forwardedHTTPS reports whether a proxy said the client used HTTPS:
// https among the values of X-Forwarded-Proto, or proto=https in an element
// of a Forwarded header (RFC 7239). Any hop counts, so that a chain of
// proxies is never warned about falsely.
func forwardedHTTPS(h http.Header) bool {
	for _, v := range h.Values("X-Forwarded-Proto") {
		for proto := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(proto), "https") {
				return true
			}
		}
	}
	for _, v := range h.Values("Forwarded") {
		for _, pair := range strings.FieldsFunc(v, func(r rune) bool { return r == ';' || r == ',' }) {
			name, value, ok := strings.Cut(strings.TrimSpace(pair), "=")
			if ok && strings.EqualFold(name, "proto") && strings.EqualFold(strings.Trim(value, `"`), "https") {
				return true
			}
		}
	}
	return false
}
