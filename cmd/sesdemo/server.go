package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sesbolt/sesbolt/pkg/flasksession"
	"github.com/sesbolt/sesbolt/pkg/metrics"
	"github.com/sesbolt/sesbolt/pkg/middleware"
	"github.com/sesbolt/sesbolt/pkg/session"
)

// Limits on what clients may send.
const (
	// maxBody bounds request bodies: JSON values and forms.
	maxBody = 64 << 10
	// maxKeyLen bounds a data key in bytes.
	maxKeyLen = 128
	// maxUserLen bounds a user name in bytes.
	maxUserLen = 64
)

//go:embed templates/index.html
var templateFS embed.FS

// config is what newServer needs. Store is required, and Keys unless
// Flask is set; zero durations mean the session package's defaults.
type config struct {
	Store    session.Store
	Keys     *session.Keyring
	Idle     time.Duration
	Lifetime time.Duration
	// Flask, when set, shares the sessions with a Flask app following the
	// recipe (docs/flask.md): its cookie, and Store in its Redis layout.
	Flask *flaskMode
	// MaxSessions caps the live sessions of one user (0: no limit): a login
	// beyond it ends the user's least recently seen sessions.
	MaxSessions int
	// Secure keeps the cookie's Secure flag and __Host- name: for use
	// behind TLS. Off, the demo works over plain HTTP on localhost.
	Secure bool
	// Logger receives the request log and the session manager's logs.
	// Default slog.Default().
	Logger *slog.Logger
	// Now is the clock, for tests. Default time.Now.
	Now func() time.Time
	// Metrics is the collector GET /metrics serves; newServer feeds it the
	// session manager's events. The store's events and Stats reach it only
	// if the caller wired them (run does). Default: a new collector.
	Metrics *metrics.Collector
}

// flaskMode is how the demo shares sessions with a Flask app.
type flaskMode struct {
	// Codec reads and writes the Flask app's cookie (flasksession.Codec).
	Codec session.CookieCodec
	// UserKey is the key of the Flask session dict that holds the user.
	UserKey string
}

// server holds the demo's handlers.
type server struct {
	flask   *flaskMode // nil: sesbolt's own cookie and store
	mgr     *session.Manager
	log     *slog.Logger
	page    *template.Template
	now     func() time.Time
	routes  []route           // demoRoutes(), registered on mux
	mux     *http.ServeMux    // serves routes
	paths   map[string]string // mux pattern → route path, for the request log
	metrics http.Handler      // GET /metrics: cfg.Metrics and the Go runtime's, in Prometheus text format
}

// newServer returns the demo's handler: the routes below behind, from the
// outside in, a request log, cross-origin protection for unsafe methods and
// the session middleware. It fails on a bad config (no store or keys, a
// lifetime shorter than the idle timeout).
func newServer(cfg config) (http.Handler, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	sv := &server{log: cfg.Logger, now: cfg.Now, flask: cfg.Flask}
	page, err := template.New("index.html").Funcs(template.FuncMap{
		"when": sv.when,
		"code": codeText,
	}).ParseFS(templateFS, "templates/index.html")
	if err != nil {
		return nil, fmt.Errorf("parsing page template: %w", err)
	}
	sv.page = page
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New(nil)
	}
	sv.metrics = cfg.Metrics.Handler()
	cookie := session.CookieOptions{Insecure: !cfg.Secure}
	var codec session.CookieCodec
	if cfg.Flask != nil {
		// The Flask app's cookie: its name, Path=/, no Domain, HttpOnly,
		// SameSite=Lax, as examples/flask sets it.
		codec, cookie.Name = cfg.Flask.Codec, flasksession.CookieName
	}
	sv.mgr, err = session.New(session.Config{
		Codec:           codec,
		Store:           cfg.Store,
		Keys:            cfg.Keys,
		IdleTimeout:     cfg.Idle,
		Lifetime:        cfg.Lifetime,
		MaxUserSessions: cfg.MaxSessions,
		Cookie:          cookie,
		// API and mobile clients may send "Authorization: Bearer <token>"
		// instead of the cookie; browsers keep the cookie.
		Token:        session.TokenOptions{Enabled: true},
		ErrorHandler: sv.sessionError,
		Logger:       cfg.Logger,
		Now:          cfg.Now,
		Observer:     cfg.Metrics.Observer(),
	})
	if err != nil {
		return nil, fmt.Errorf("configuring sessions: %w", err)
	}

	sv.routes = demoRoutes()
	sv.mux = http.NewServeMux()
	sv.paths = make(map[string]string, len(sv.routes))
	for _, rt := range sv.routes {
		sv.mux.HandleFunc(rt.pattern(), sv.withSession(rt))
		sv.paths[rt.pattern()] = rt.Path
	}

	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(sv.crossOriginDenied))

	var h http.Handler = sv.mux
	h = captureSession(h)
	h = middleware.LoadAndSave(sv.mgr)(h)
	h = cop.Handler(h) // refused requests never load a session
	h = sv.logRequests(h)
	return h, nil
}

// withSession passes the request's session to rt's handler. Every route is
// behind middleware.LoadAndSave, so a missing session is a wiring bug: it
// gets a 500, not a panic.
func (sv *server) withSession(rt route) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if lw := logWriter(w); lw != nil {
			lw.route = rt.Path
		}
		s, ok := session.FromContext(r.Context())
		if !ok {
			sv.log.ErrorContext(r.Context(), "no session in request context", "method", r.Method, "route", rt.Path)
			sv.fail(w, r, http.StatusInternalServerError, "internal error")
			return
		}
		rt.serve(sv, w, r, s)
	}
}

// ---- HTML page and forms ----

// messages are the notices the page shows after a form redirects to
// "/?m=CODE". Only known codes are shown, so nothing a link carries is
// reflected into the page.
var messages = map[string]string{
	"login":      "Logged in. The session got a new id (Session.Login), so an id planted before login is worthless.",
	"logout":     "Logged out: the session was destroyed and the browser told to drop its cookie.",
	"everywhere": "Logged out everywhere: every session of that user has ended.",
	"others":     "Signed out of your other devices: every other session of yours has ended; this one stays.",
	"set":        "Saved. Only the changed key was written, on top of the latest stored record.",
	"deleted":    "Key deleted.",
	"revoked":    "Session revoked. That device gets a fresh, anonymous session on its next request.",
}

// problems are the error notices, by code ("/?e=CODE").
var problems = map[string]string{
	"user":      "A user name is 1 to 64 printable characters.",
	"key":       "A key is 1 to 128 printable characters.",
	"value":     "The value must be valid UTF-8.",
	"anonymous": "Log in first.",
	"id":        "That is not a session id.",
	"notfound":  "No such session of yours (it may have ended already).",
	"remember":  "Remember me is 1 or nothing.",
	"userkey":   "That key holds the user the Flask app sees: it changes only by logging in or out.",
}

// pageData is what templates/index.html renders.
type pageData struct {
	Message, Problem string
	User             string
	ID               string
	Stored           bool
	Created          time.Time
	LastSeen         time.Time
	Expires          time.Time
	Persistent       bool
	Data             []dataItem
	Sessions         []sessionInfo
	Ended            int // sessions ended by the last "log out everywhere" or "sign out other devices"
	CookieName       string
	Secure           bool
	Idle, Lifetime   time.Duration
	// PersistentIdle and PersistentLifetime are the timeouts of a
	// remembered session; MaxSessions the per-user limit (0: none).
	PersistentIdle, PersistentLifetime time.Duration
	MaxSessions                        int
	Origin                             string
	Routes                             []route
	// Flask is set when the sessions are shared with a Flask app.
	Flask *flaskMode
}

// dataItem is one session value as the page shows it.
type dataItem struct{ Key, Value string }

func (sv *server) index(w http.ResponseWriter, r *http.Request, s *session.Session) {
	q := r.URL.Query()
	cfg := sv.mgr.Config()
	d := pageData{
		Message:    messages[q.Get("m")],
		Problem:    problems[q.Get("e")],
		User:       s.UserID(),
		ID:         s.ID().String(),
		Stored:     !s.IsNew(),
		Created:    s.Created(),
		LastSeen:   s.LastSeen(),
		Expires:    s.Expires(),
		Persistent: s.Persistent(),
		CookieName: sv.mgr.CookieName(),
		Secure:     !cfg.Cookie.Insecure,
		Idle:       cfg.IdleTimeout,
		Lifetime:   cfg.Lifetime,
		Origin:     "http://" + r.Host,
		Routes:     sv.routes,

		PersistentIdle:     cfg.PersistentIdleTimeout,
		PersistentLifetime: cfg.PersistentLifetime,
		MaxSessions:        cfg.MaxUserSessions,
		Flask:              sv.flask,
	}
	if d.Secure {
		d.Origin = "https://" + r.Host
	}
	if n, err := strconv.Atoi(q.Get("n")); err == nil && n >= 0 {
		d.Ended = n
	}
	for _, k := range s.Keys() {
		v, _ := s.Get(k)
		d.Data = append(d.Data, dataItem{k, string(v)})
	}
	if d.User != "" && sv.flask == nil {
		list, err := sv.userSessions(r.Context(), s)
		if err != nil {
			sv.log.ErrorContext(r.Context(), "listing sessions", "error", err)
			d.Problem = "Your sessions could not be listed right now."
		}
		d.Sessions = list
	}
	var buf bytes.Buffer
	if err := sv.page.Execute(&buf, d); err != nil {
		sv.log.ErrorContext(r.Context(), "rendering page", "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	w.Write(buf.Bytes())
}

// when formats a time for the page: UTC, to the second, and how long ago or
// ahead it is.
func (sv *server) when(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := t.Sub(sv.now()).Round(time.Second)
	rel := "now"
	switch {
	case d < 0:
		rel = (-d).String() + " ago"
	case d > 0:
		rel = "in " + d.String()
	}
	return t.UTC().Format(time.DateTime) + " UTC (" + rel + ")"
}

// redirect sends the browser back to the page with a notice code.
func redirect(w http.ResponseWriter, r *http.Request, query string) {
	http.Redirect(w, r, "/?"+query, http.StatusSeeOther)
}

// parseForm reads a form body (URL-encoded or multipart) of at most maxBody
// bytes. On failure it answers 413 or 400 and returns false.
func (sv *server) parseForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	var err error
	if mediaType(r.Header.Get("Content-Type")) == "multipart/form-data" {
		err = r.ParseMultipartForm(maxBody) // the body limit keeps it all in memory
	} else {
		err = r.ParseForm()
	}
	if err != nil {
		sv.bodyError(w, r, err, "bad form")
		return false
	}
	return true
}

// decodeJSON reads a JSON request body of at most maxBody bytes into v: one
// object with no field v lacks and nothing after it. On failure it answers
// 413 or 400 and returns false.
func (sv *server) decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = errors.New("data after the JSON object")
			if mbe := new(http.MaxBytesError); errors.As(terr, &mbe) {
				err = terr
			}
		}
	}
	if err == io.EOF {
		err = errors.New("empty body")
	}
	if err != nil {
		sv.bodyError(w, r, err, "bad JSON body: "+err.Error())
		return false
	}
	return true
}

// bodyError answers a failure to read a request body: 413 when it is over
// maxBody, else 400 with msg.
func (sv *server) bodyError(w http.ResponseWriter, r *http.Request, err error, msg string) {
	if mbe := new(http.MaxBytesError); errors.As(err, &mbe) {
		sv.fail(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", maxBody))
		return
	}
	sv.fail(w, r, http.StatusBadRequest, msg)
}

// loginJSON is the JSON body of POST /login.
type loginJSON struct {
	User     string `json:"user"`
	Remember bool   `json:"remember"`
}

// login binds the session to a user. Browsers post a form and are
// redirected back to the page; API clients (apiClient) get JSON answers and
// never a redirect.
func (sv *server) login(w http.ResponseWriter, r *http.Request, s *session.Session) {
	api := apiClient(r)
	var user string
	var remember bool
	switch ct := mediaType(r.Header.Get("Content-Type")); ct {
	case "application/json":
		var body loginJSON
		if !sv.decodeJSON(w, r, &body) {
			return
		}
		user, remember = body.User, body.Remember
	case "", "application/x-www-form-urlencoded", "multipart/form-data":
		if !sv.parseForm(w, r) {
			return
		}
		user = r.PostFormValue("user")
		switch v := r.PostFormValue("remember"); v {
		case "", "0":
		case "1", "on": // "on": a checkbox without a value
			remember = true
		default:
			if api {
				sv.fail(w, r, http.StatusBadRequest, problems["remember"])
				return
			}
			redirect(w, r, "e=remember")
			return
		}
	default:
		sv.fail(w, r, http.StatusUnsupportedMediaType,
			fmt.Sprintf("Content-Type %q not accepted: post a form, or JSON {\"user\": \"...\"}", ct))
		return
	}
	user = strings.TrimSpace(user)
	if !printable(user, maxUserLen) {
		if api {
			sv.fail(w, r, http.StatusBadRequest, problems["user"])
			return
		}
		redirect(w, r, "e=user")
		return
	}
	// Login keeps anonymous data (a cart) and drops another user's;
	// remember-me makes the cookie outlive the browser.
	if err := s.Login(user, session.Remember(remember)); err != nil {
		sv.log.ErrorContext(r.Context(), "login", "error", err)
		sv.fail(w, r, http.StatusInternalServerError, "internal error")
		return
	}
	if api {
		sv.writeJSON(w, r, http.StatusOK, sessionBody(s))
		return
	}
	redirect(w, r, "m=login")
}

func (sv *server) logout(w http.ResponseWriter, r *http.Request, s *session.Session) {
	s.Destroy()
	if apiClient(r) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	redirect(w, r, "m=logout")
}

// endedJSON is the API answer of POST /logout-everywhere.
type endedJSON struct {
	Ended int `json:"ended"`
}

func (sv *server) logoutEverywhere(w http.ResponseWriter, r *http.Request, s *session.Session) {
	n := 0
	if user := s.UserID(); user != "" {
		var err error
		n, err = sv.mgr.DestroyUser(r.Context(), user)
		if err != nil {
			sv.storeFail(w, r, err, "log out everywhere", "could not end your sessions")
			return
		}
	}
	s.Destroy() // clears this browser's cookie too
	if apiClient(r) {
		sv.writeJSON(w, r, http.StatusOK, endedJSON{Ended: n})
		return
	}
	redirect(w, r, "m=everywhere&n="+strconv.Itoa(n))
}

// logoutOthers ends every other session of the user ("sign out other
// devices") and keeps this one.
func (sv *server) logoutOthers(w http.ResponseWriter, r *http.Request, s *session.Session) {
	api := apiClient(r)
	if s.UserID() == "" {
		if api {
			sv.fail(w, r, http.StatusUnauthorized, "not logged in")
			return
		}
		redirect(w, r, "e=anonymous")
		return
	}
	n, err := s.DestroyOthers()
	if err != nil {
		sv.storeFail(w, r, err, "sign out other devices", "could not end your other sessions")
		return
	}
	if api {
		sv.writeJSON(w, r, http.StatusOK, endedJSON{Ended: n})
		return
	}
	redirect(w, r, "m=others&n="+strconv.Itoa(n))
}

func (sv *server) set(w http.ResponseWriter, r *http.Request, s *session.Session) {
	if !sv.parseForm(w, r) {
		return
	}
	key, value := r.PostFormValue("key"), r.PostFormValue("value")
	if !printable(key, maxKeyLen) {
		redirect(w, r, "e=key")
		return
	}
	if sv.userKey(key) {
		redirect(w, r, "e=userkey")
		return
	}
	if !utf8.ValidString(value) {
		redirect(w, r, "e=value")
		return
	}
	// Form values are text: stored as JSON strings. The JSON API stores any
	// JSON value.
	if err := s.Set(key, value); err != nil {
		sv.log.ErrorContext(r.Context(), "set", "error", err)
		http.Error(w, "could not set the value", http.StatusInternalServerError)
		return
	}
	redirect(w, r, "m=set")
}

func (sv *server) unset(w http.ResponseWriter, r *http.Request, s *session.Session) {
	if !sv.parseForm(w, r) {
		return
	}
	s.Delete(r.PostFormValue("key"))
	redirect(w, r, "m=deleted")
}

func (sv *server) revoke(w http.ResponseWriter, r *http.Request, s *session.Session) {
	if !sv.parseForm(w, r) {
		return
	}
	switch code := sv.revokeOwn(r, s, r.PostFormValue("id")); code {
	case http.StatusNoContent:
		redirect(w, r, "m=revoked")
	case http.StatusUnauthorized:
		redirect(w, r, "e=anonymous")
	case http.StatusBadRequest:
		redirect(w, r, "e=id")
	case http.StatusNotFound:
		redirect(w, r, "e=notfound")
	default:
		http.Error(w, "could not revoke the session", code)
	}
}

// revokeOwn ends session idText if it belongs to the current user and
// returns the status to report: 204 done, 401 not logged in, 400 malformed
// id, 404 not one of the user's live sessions (whoever else it may belong
// to), 500 store failure.
func (sv *server) revokeOwn(r *http.Request, s *session.Session, idText string) int {
	user := s.UserID()
	if user == "" {
		return http.StatusUnauthorized
	}
	id, err := session.ParseID(idText)
	if err != nil {
		return http.StatusBadRequest
	}
	ok, err := sv.mgr.DestroyUserSession(r.Context(), user, id)
	if err != nil {
		sv.log.ErrorContext(r.Context(), "revoking a session", "error", err)
		return http.StatusInternalServerError
	}
	if !ok {
		return http.StatusNotFound
	}
	if id == s.ID() {
		s.Destroy() // revoked this very session: drop its cookie now
	}
	return http.StatusNoContent
}

// printable reports whether s is 1 to max bytes of printable UTF-8.
func printable(s string, max int) bool {
	if s == "" || len(s) > max || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// ---- JSON API ----

// sessionJSON is the body of GET /api/session. Field names match sesctl's
// JSON output.
type sessionJSON struct {
	ID         string                     `json:"id"`
	User       string                     `json:"user"`
	Data       map[string]json.RawMessage `json:"data"`
	Created    time.Time                  `json:"created"`
	LastSeen   time.Time                  `json:"last_seen"`
	Expires    time.Time                  `json:"expires"`
	Persistent bool                       `json:"persistent"`
}

// sessionInfo is one item of GET /api/sessions, and one row of the page's
// session table. IP and UserAgent are the client that created the session,
// LastIP and LastUserAgent the one it was last seen from; Device and
// Browser describe the latter.
type sessionInfo struct {
	ID            string    `json:"id"`
	User          string    `json:"user"`
	Created       time.Time `json:"created"`
	LastSeen      time.Time `json:"last_seen"`
	Expires       time.Time `json:"expires"`
	Persistent    bool      `json:"persistent"`
	IP            string    `json:"ip"`
	UserAgent     string    `json:"user_agent"`
	LastIP        string    `json:"last_ip"`
	LastUserAgent string    `json:"last_user_agent"`
	Device        string    `json:"device"`
	Browser       string    `json:"browser"`
	Current       bool      `json:"current"`
}

// errorJSON is the body of every API error.
type errorJSON struct {
	Error string `json:"error"`
}

func (sv *server) apiSession(w http.ResponseWriter, r *http.Request, s *session.Session) {
	sv.writeJSON(w, r, http.StatusOK, sessionBody(s))
}

// sessionBody describes s as GET /api/session answers it: its times as of
// the start of the request (a request that changes the session moves
// last_seen and expires when it saves).
func sessionBody(s *session.Session) sessionJSON {
	return sessionJSON{
		ID:         s.ID().String(),
		User:       s.UserID(),
		Data:       s.Data(),
		Created:    s.Created().UTC(),
		LastSeen:   s.LastSeen().UTC(),
		Expires:    s.Expires().UTC(),
		Persistent: s.Persistent(),
	}
}

func (sv *server) apiPut(w http.ResponseWriter, r *http.Request, s *session.Session) {
	key := r.PathValue("key")
	if !printable(key, maxKeyLen) {
		sv.fail(w, r, http.StatusBadRequest, "a key is 1 to 128 printable characters")
		return
	}
	if sv.userKey(key) {
		sv.fail(w, r, http.StatusBadRequest, problems["userkey"])
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		sv.bodyError(w, r, err, "reading body: "+err.Error())
		return
	}
	if err := s.SetRaw(key, raw); err != nil {
		if errors.Is(err, session.ErrEncode) {
			sv.fail(w, r, http.StatusBadRequest, "body is not valid JSON")
			return
		}
		sv.log.ErrorContext(r.Context(), "set", "error", err)
		sv.fail(w, r, http.StatusInternalServerError, "could not set the value")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (sv *server) apiDelete(w http.ResponseWriter, r *http.Request, s *session.Session) {
	s.Delete(r.PathValue("key"))
	w.WriteHeader(http.StatusNoContent)
}

func (sv *server) apiSessions(w http.ResponseWriter, r *http.Request, s *session.Session) {
	if s.UserID() == "" {
		sv.fail(w, r, http.StatusUnauthorized, "not logged in")
		return
	}
	list, err := sv.userSessions(r.Context(), s)
	if err != nil {
		sv.storeFail(w, r, err, "listing sessions", "could not list sessions")
		return
	}
	sv.writeJSON(w, r, http.StatusOK, list)
}

func (sv *server) apiRevoke(w http.ResponseWriter, r *http.Request, s *session.Session) {
	switch code := sv.revokeOwn(r, s, r.PathValue("id")); code {
	case http.StatusNoContent:
		w.WriteHeader(code)
	case http.StatusUnauthorized:
		sv.fail(w, r, code, "not logged in")
	case http.StatusBadRequest:
		sv.fail(w, r, code, "not a session id")
	case http.StatusNotFound:
		sv.fail(w, r, code, "no such session")
	default:
		sv.fail(w, r, code, "could not revoke the session")
	}
}

// serveMetrics answers GET /metrics in the Prometheus text format. The
// request is behind the session middleware like every route, but a scraper
// sends no cookie, so it neither loads nor stores a session.
func (sv *server) serveMetrics(w http.ResponseWriter, r *http.Request, _ *session.Session) {
	sv.metrics.ServeHTTP(w, r)
}

// userSessions lists the live sessions of s's user, oldest first; never nil.
func (sv *server) userSessions(ctx context.Context, s *session.Session) ([]sessionInfo, error) {
	recs, err := sv.mgr.UserSessions(ctx, s.UserID())
	if err != nil {
		return nil, fmt.Errorf("listing sessions: %w", err)
	}
	cur := s.ID()
	list := make([]sessionInfo, 0, len(recs))
	for _, rec := range recs {
		last := rec.Latest()
		d := describeClient(last.UserAgent)
		list = append(list, sessionInfo{
			ID:            rec.ID.String(),
			User:          rec.UserID,
			Created:       rec.Created.UTC(),
			LastSeen:      rec.LastSeen.UTC(),
			Expires:       rec.Expires().UTC(),
			Persistent:    rec.Persistent,
			IP:            rec.Client.IP,
			UserAgent:     rec.Client.UserAgent,
			LastIP:        last.IP,
			LastUserAgent: last.UserAgent,
			Device:        d.Device,
			Browser:       d.Browser,
			Current:       rec.ID == cur,
		})
	}
	return list, nil
}

// writeJSON writes v as the JSON response body with status code.
func (sv *server) writeJSON(w http.ResponseWriter, r *http.Request, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		sv.log.ErrorContext(r.Context(), "encoding response", "error", err)
		code, b = http.StatusInternalServerError, []byte(`{"error":"internal error"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

// fail writes an error: {"error": msg} under /api/ and to API clients
// (apiClient), plain text to browsers elsewhere.
func (sv *server) fail(w http.ResponseWriter, r *http.Request, code int, msg string) {
	if strings.HasPrefix(r.URL.Path, "/api/") || apiClient(r) {
		sv.writeJSON(w, r, code, errorJSON{Error: msg})
		return
	}
	http.Error(w, msg, code)
}

// userKey reports whether key is the Flask session dict's user key, which
// the store refuses as data (the user changes only by logging in or out).
func (sv *server) userKey(key string) bool { return sv.flask != nil && key == sv.flask.UserKey }

// storeFail answers a store operation that failed: 501 when the store
// cannot do it at all (session.ErrNotSupported: the Flask layout has no
// per-user index), 500 otherwise, with msg; what names the operation in
// the log.
func (sv *server) storeFail(w http.ResponseWriter, r *http.Request, err error, what, msg string) {
	if errors.Is(err, session.ErrNotSupported) {
		sv.fail(w, r, http.StatusNotImplemented, msg+": the session store cannot (the Flask recipe's layout has no per-user index)")
		return
	}
	sv.log.ErrorContext(r.Context(), what, "error", err)
	sv.fail(w, r, http.StatusInternalServerError, msg)
}

// apiClient reports whether r comes from a program rather than a browser
// form: its body is JSON (Content-Type application/json) or it accepts
// application/json (Accept names it with a nonzero weight; "*/*" does not
// count, so curl's default Accept and browsers' are not API clients). API
// clients get JSON answers on every route, and never a redirect.
func apiClient(r *http.Request) bool {
	if mediaType(r.Header.Get("Content-Type")) == "application/json" {
		return true
	}
	for _, accept := range r.Header.Values("Accept") {
		for _, rng := range strings.Split(accept, ",") {
			mt, params, err := mime.ParseMediaType(rng)
			if err != nil || mt != "application/json" {
				continue
			}
			q := params["q"]
			if q == "" {
				return true
			}
			if weight, err := strconv.ParseFloat(q, 64); err == nil && weight > 0 {
				return true
			}
		}
	}
	return false
}

// mediaType returns the media type of a Content-Type header, lower case
// without parameters; "" when the header is empty, and the header itself
// when it does not parse.
func mediaType(contentType string) string {
	if contentType == "" {
		return ""
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return contentType
	}
	return mt
}

// sessionError answers when the session could not be loaded or saved: 413
// when the change would make the record larger than the store allows, 500
// for store failures.
func (sv *server) sessionError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, session.ErrTooLarge) {
		sv.fail(w, r, http.StatusRequestEntityTooLarge, "session data too large")
		return
	}
	sv.log.ErrorContext(r.Context(), "session store failure", "method", r.Method, "route", sv.routeOf(r), "error", err)
	sv.fail(w, r, http.StatusInternalServerError, "session store failure")
}

// crossOriginDenied answers an unsafe request from another site (a form
// post or fetch from a page on another origin).
func (sv *server) crossOriginDenied(w http.ResponseWriter, r *http.Request) {
	sv.fail(w, r, http.StatusForbidden, "cross-origin request refused")
}

// ---- request log ----

// captureSession records the request's session for logRequests, in the
// request log's statusWriter. It sits inside middleware.LoadAndSave.
func captureSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if lw := logWriter(w); lw != nil {
			lw.s, _ = session.FromContext(r.Context())
		}
		next.ServeHTTP(w, r)
	})
}

// logWriter returns the request log's statusWriter that w is or wraps
// (through the Unwrap of the writers the middleware puts around it), or nil
// when w is not behind logRequests. Handlers pass what the log needs this
// way, not through the request's context: a context value would cost a
// copy of the request (Request.WithContext) on every request.
func logWriter(w http.ResponseWriter) *statusWriter {
	for {
		switch x := w.(type) {
		case *statusWriter:
			return x
		case interface{ Unwrap() http.ResponseWriter }:
			w = x.Unwrap()
		default:
			return nil
		}
	}
}

// routeOf names r's route for logs: the path of the route the mux matches
// for it, as in the route table ("/api/sessions/{id}", the pattern the mux
// puts in r.Pattern), or "(unknown)" when none matches (404, 405). Logs
// never hold the request's path: it may carry a session id or a data key.
func (sv *server) routeOf(r *http.Request) string {
	_, pattern := sv.mux.Handler(r)
	if path, ok := sv.paths[pattern]; ok {
		return path
	}
	return "(unknown)"
}

// logRequests logs one line per request: method, route (routeOf), status,
// duration and a short hash of the session id (sessionTag) when a session
// was stored; never the path, the query, the cookie or a body.
func (sv *server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		route := sw.route // set by withSession
		if route == "" {
			// Answered before or without a route: refused (cross-origin),
			// 404 or 405.
			route = sv.routeOf(r)
		}
		attrs := []slog.Attr{
			slog.String("method", r.Method),
			slog.String("route", route),
			slog.Int("status", status),
			slog.Duration("duration", time.Since(start)),
		}
		// A new session the request did not change was never stored; its
		// id means nothing.
		if s := sw.s; s != nil && (!s.IsNew() || s.Modified()) {
			attrs = append(attrs, slog.String("session", sessionTag(s.ID())))
		}
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		sv.log.LogAttrs(r.Context(), level, "request", attrs...)
	})
}

// sessionTag is how logs name a session: the first 8 hex digits of the
// SHA-256 of its canonical id, so log lines of one session can be grouped
// without the log holding the id. To find a session's tag from sesctl's
// output: printf %s ID | sha256sum | cut -c1-8.
func sessionTag(id session.ID) string {
	sum := sha256.Sum256([]byte(id.String()))
	return hex.EncodeToString(sum[:4])
}

// statusWriter remembers what the request log needs: the response status,
// and, set from inside the session middleware (logWriter), the request's
// session and route.
type statusWriter struct {
	http.ResponseWriter
	status int
	s      *session.Session // the request's session (captureSession); nil before LoadAndSave
	route  string           // the route's path (withSession); "" when no route served it
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap returns the underlying writer, for http.ResponseController.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
