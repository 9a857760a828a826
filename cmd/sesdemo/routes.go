package main

import (
	"fmt"
	"html/template"
	"io"
	"net/http"
	"strings"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// route is one route of the demo. The table of them (demoRoutes) is the one
// place a route is defined: newServer registers its handler from it, the
// page and sesdemo -h list it, and docs/demo.md's route table is generated
// from it (TestRouteTableDocumented).
//
// Body and Answers are prose for people; text in backquotes is code (the
// page shows it as <code>, Markdown as code spans). They must not contain
// "|", which would split a Markdown table cell.
type route struct {
	Method  string // the HTTP method
	Path    string // the ServeMux path pattern, except that "/" means exactly "/"
	Body    string // what the request carries
	Answers string // the responses

	serve func(*server, http.ResponseWriter, *http.Request, *session.Session)
}

// pattern is the route's http.ServeMux pattern.
func (rt route) pattern() string {
	if rt.Path == "/" {
		return rt.Method + " /{$}" // "/" alone would match every path
	}
	return rt.Method + " " + rt.Path
}

// demoRoutes returns every route of the demo, in the order the docs and the
// page list them: the page and its forms, then the JSON API. It is a
// function, not a variable, because the handlers it names use it (the page
// lists the routes).
func demoRoutes() []route {
	return []route{
		{"GET", "/", "none",
			"200: the HTML page: who you are, your session data, your sessions with revoke buttons, the forms, and this table",
			(*server).index},
		{"POST", "/login", "form `user` (1 to 64 printable characters) and `remember=1` to stay logged in, or JSON `{\"user\": \"alice\", \"remember\": true}`",
			"Logs in: new session id, fresh absolute lifetime; with remember, a persistent session (cookie with Expires and Max-Age, 30 days idle, 90 days at most). " +
				"Form: 303 to `/?m=login`, or to `/?e=user` or `/?e=remember` for a bad field. " +
				"API client: 200 with the session as `GET /api/session` answers it (with `Authorization: Bearer`, the new token in `Session-Token` instead of a cookie); 400 for a bad field or bad JSON; 415 for another Content-Type",
			(*server).login},
		{"POST", "/logout", "none",
			"Ends this session and clears the cookie. Form: 303 to `/?m=logout`. API client: 204",
			(*server).logout},
		{"POST", "/logout-everywhere", "none",
			"Ends every session of this user, this one included. Form: 303 to `/?m=everywhere&n=N`. API client: 200 `{\"ended\": N}`. 501 in the Flask mode (no per-user index)",
			(*server).logoutEverywhere},
		{"POST", "/logout-others", "none",
			"Ends every other session of this user and keeps this one (sign out other devices). Form: 303 to `/?m=others&n=N`, or to `/?e=anonymous`. API client: 200 `{\"ended\": N}`; 401 when not logged in. 501 in the Flask mode (no per-user index)",
			(*server).logoutOthers},
		{"POST", "/set", "form `key` (1 to 128 printable characters), `value` (text)",
			"Stores the value as a JSON string: 303 to `/?m=set`, or to `/?e=key` or `/?e=value` when one is invalid (`/?e=userkey` for the Flask mode's user key)",
			(*server).set},
		{"POST", "/delete", "form `key`",
			"Deletes the key: 303 to `/?m=deleted`",
			(*server).unset},
		{"POST", "/revoke", "form `id` (a session id)",
			"Ends one of this user's sessions: 303 to `/?m=revoked`, or to `/?e=anonymous`, `/?e=id` or `/?e=notfound`",
			(*server).revoke},
		{"GET", "/api/session", "none; the cookie, or `Authorization: Bearer TOKEN` from an API client",
			"200 `{\"id\", \"user\", \"data\", \"created\", \"last_seen\", \"expires\", \"persistent\"}`: this session, stored or not",
			(*server).apiSession},
		{"PUT", "/api/session/{key}", "any JSON value",
			"Stores the value under key (1 to 128 printable characters): 204; 400 for a bad key or bad JSON (or the Flask mode's user key); 413 when the session would grow larger than the store allows",
			(*server).apiPut},
		{"DELETE", "/api/session/{key}", "none",
			"Deletes the key: 204, also when it was not there",
			(*server).apiDelete},
		{"GET", "/api/sessions", "none",
			"200 `[{\"id\", \"user\", \"created\", \"last_seen\", \"expires\", \"persistent\", \"ip\", \"user_agent\", \"last_ip\", \"last_user_agent\", \"device\", \"browser\", \"current\"}]`: this user's live sessions, oldest first: first and last client, device and browser of the last; 401 when not logged in; 501 in the Flask mode (no per-user index)",
			(*server).apiSessions},
		{"DELETE", "/api/sessions/{id}", "none",
			"Ends one of this user's sessions: 204; 400 for a malformed id; 401 when not logged in; 404 when it is not one of this user's live sessions",
			(*server).apiRevoke},
		{"GET", "/metrics", "none",
			"200: the metrics in the Prometheus text format: sessions live, created and ended by reason, rejected cookies, store commits, the reaper (`sesbolt_*`, see docs/metrics.md), and the Go runtime's",
			(*server).serveMetrics},
	}
}

// routesMarkdown renders routes as the Markdown table of docs/demo.md.
func routesMarkdown(routes []route) string {
	var b strings.Builder
	b.WriteString("| method | path | body | answers |\n|---|---|---|---|\n")
	for _, rt := range routes {
		fmt.Fprintf(&b, "| `%s` | `%s` | %s | %s |\n", rt.Method, rt.Path, rt.Body, rt.Answers)
	}
	return b.String()
}

// printRoutes writes the routes' methods and paths, one a line, for
// sesdemo -h.
func printRoutes(w io.Writer, routes []route) {
	for _, rt := range routes {
		fmt.Fprintf(w, "  %-7s %s\n", rt.Method, rt.Path)
	}
}

// codeText renders prose whose backquoted parts are code as HTML: every
// part escaped, the code parts in <code>.
func codeText(s string) template.HTML {
	var b strings.Builder
	for i, part := range strings.Split(s, "`") {
		if i%2 == 1 {
			b.WriteString("<code>" + template.HTMLEscapeString(part) + "</code>")
		} else {
			b.WriteString(template.HTMLEscapeString(part))
		}
	}
	return template.HTML(b.String())
}
