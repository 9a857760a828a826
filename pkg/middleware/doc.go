// Package middleware connects a session.Manager to net/http.
//
// LoadAndSave loads the request's session before the handler runs and saves
// it before the first byte of the response, so a handler reads it with
// session.FromContext and never calls the store itself:
//
//	mux := http.NewServeMux()
//	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
//		s, _ := session.FromContext(r.Context())
//		fmt.Fprintf(w, "hello %s", s.UserID())
//	})
//	http.ListenAndServe(addr, middleware.LoadAndSave(mgr)(mux))
//
// examples/basic in the repository is a complete program around it.
//
// # Plain HTTP
//
// The session cookie is Secure by default (and named __Host-session), so
// the browser sends it over HTTPS only. Over plain HTTP a browser drops
// such a cookie (browsers may make an exception for http://localhost), and
// so does curl: nobody stays logged in, and each attempt leaves an unused
// session in the store. So that this does not fail silently, the first
// response in the process that sets a Secure session cookie in answer to
// what looks like plain HTTP from another host logs one warning with the
// manager's logger, saying what to change: serve HTTPS, have a
// TLS-terminating proxy send X-Forwarded-Proto: https, or, for plain-HTTP
// development only, set session.CookieOptions{Insecure: true}.
//
// "Looks like plain HTTP from another host" means: the request has no TLS
// state, its RemoteAddr is an IP address that is not loopback, and it
// carries neither X-Forwarded-Proto: https nor Forwarded: proto=https. A
// proxy on the same host connects from loopback and is never warned about;
// a proxy on another host is, until it sends one of those headers. The
// headers are trusted for nothing but keeping quiet. Addresses reserved
// for documentation (RFC 5737, RFC 3849) are not judged either: no real
// client has one, and httptest.NewRequest gives requests 192.0.2.1, so an
// application's tests stay quiet.
//
// # Caveats
//
//   - The plain-HTTP warning misses a browser on the application's own host
//     that uses a name other than localhost (say an /etc/hosts entry for
//     127.0.0.1): it connects from loopback, like a local proxy. It is
//     logged once per process, not once per manager.
package middleware
