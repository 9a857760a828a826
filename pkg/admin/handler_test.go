package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sesbolt/sesbolt/pkg/admin"
	"github.com/sesbolt/sesbolt/pkg/session"
)

const (
	jsonType   = "application/json"
	ndjsonType = "application/x-ndjson"
)

// TestHandlerErrors sends malformed and unexpected requests straight to the
// handler and checks the status, the code and that the answer is JSON.
func TestHandlerErrors(t *testing.T) {
	idZero := "00000000-0000-0000-0000-000000000000"
	tooManyIDs := make([]string, admin.MaxExpireIDs+1)
	for i := range tooManyIDs {
		tooManyIDs[i] = idBob.String()
	}
	many, _ := json.Marshal(map[string]any{"ids": tooManyIDs})
	huge := []byte(`{"user":"` + strings.Repeat("u", admin.MaxBodyBytes) + `"}`)

	tests := []struct {
		name, method, target, ctype, body string
		status                            int
		code                              string
	}{
		// routes and methods
		{"root", "GET", "/", "", "", 404, "no_route"},
		{"unknown", "GET", "/v1/nope", "", "", 404, "no_route"},
		{"old version", "GET", "/v0/stats", "", "", 404, "no_route"},
		{"empty id", "GET", "/v1/sessions/", "", "", 404, "no_route"},
		{"nested", "GET", "/v1/sessions/" + idBob.String() + "/data", "", "", 404, "no_route"},
		{"trailing slash", "GET", "/v1/stats/", "", "", 404, "no_route"},
		{"unclean", "GET", "/v1//stats", "", "", 404, "no_route"},
		{"put sessions", "PUT", "/v1/sessions", "", "", 405, "method_not_allowed"},
		{"post stats", "POST", "/v1/stats", jsonType, "{}", 405, "method_not_allowed"},
		{"get expire", "GET", "/v1/expire", "", "", 405, "method_not_allowed"},
		{"head backup", "HEAD", "/v1/backup", "", "", 405, "method_not_allowed"},
		{"patch session", "PATCH", "/v1/sessions/" + idBob.String(), "", "", 405, "method_not_allowed"},
		{"custom method", "BREW", "/v1/check", "", "", 405, "method_not_allowed"},
		{"post info", "POST", "/v1/info", jsonType, "{}", 405, "method_not_allowed"},
		{"info", "GET", "/v1/info", "", "", 200, ""},

		// ids
		{"bad id", "GET", "/v1/sessions/not-an-id", "", "", 400, "invalid_id"},
		{"zero id", "GET", "/v1/sessions/" + idZero, "", "", 400, "invalid_id"},
		{"upper-case braces", "GET", "/v1/sessions/{" + idBob.String()[:34] + "}", "", "", 400, "invalid_id"},
		{"absent", "GET", "/v1/sessions/" + idAbsent.String(), "", "", 404, "not_found"},
		{"delete bad id", "DELETE", "/v1/sessions/%20", "", "", 400, "invalid_id"},
		{"escaped slash", "DELETE", "/v1/sessions/a%2Fb", "", "", 404, "no_route"},

		// list query
		{"limit word", "GET", "/v1/sessions?limit=ten", "", "", 400, "invalid"},
		{"limit negative", "GET", "/v1/sessions?limit=-1", "", "", 400, "invalid"},
		{"limit overflow", "GET", "/v1/sessions?limit=99999999999999999999999", "", "", 400, "invalid"},
		{"limit huge", "GET", "/v1/sessions?limit=1000000", "", "", 200, ""},
		{"filter", "GET", "/v1/sessions?filter=dead", "", "", 400, "invalid"},
		{"after", "GET", "/v1/sessions?after=xyz", "", "", 400, "invalid"},
		{"after too long", "GET", "/v1/sessions?after=" + strings.Repeat("a", session.MaxCursorSize+1), "", "", 400, "invalid"},
		{"unknown parameter", "GET", "/v1/sessions?usr=alice", "", "", 400, "invalid"},
		{"repeated", "GET", "/v1/sessions?user=a&user=b", "", "", 400, "invalid"},
		{"bad escape", "GET", "/v1/sessions?user=%zz", "", "", 400, "invalid"},
		{"empty values", "GET", "/v1/sessions?after=&limit=&filter=&user=", "", "", 200, ""},

		// expire bodies
		{"expire no type", "POST", "/v1/expire", "", `{"all":true}`, 415, "unsupported_media_type"},
		{"expire text", "POST", "/v1/expire", "text/plain", `{"all":true}`, 415, "unsupported_media_type"},
		{"expire form", "POST", "/v1/expire", "application/x-www-form-urlencoded", `all=true`, 415, "unsupported_media_type"},
		{"expire bad type", "POST", "/v1/expire", "application/json; ===", `{"all":true}`, 415, "unsupported_media_type"},
		{"expire empty", "POST", "/v1/expire", jsonType, ``, 400, "invalid"},
		{"expire truncated", "POST", "/v1/expire", jsonType, `{"ids":[`, 400, "invalid"},
		{"expire array", "POST", "/v1/expire", jsonType, `[1,2]`, 400, "invalid"},
		{"expire nothing", "POST", "/v1/expire", jsonType, `{}`, 400, "invalid"},
		{"expire null ids", "POST", "/v1/expire", jsonType, `{"ids":null}`, 400, "invalid"},
		{"expire two", "POST", "/v1/expire", jsonType, `{"ids":[],"user":"alice"}`, 400, "invalid"},
		{"expire all false", "POST", "/v1/expire", jsonType, `{"all":false}`, 400, "invalid"},
		{"expire empty user", "POST", "/v1/expire", jsonType, `{"user":""}`, 400, "invalid"},
		{"expire except alone", "POST", "/v1/expire", jsonType, `{"except":"` + idBob.String() + `"}`, 400, "invalid"},
		{"expire except with ids", "POST", "/v1/expire", jsonType, `{"ids":[],"except":"` + idBob.String() + `"}`, 400, "invalid"},
		{"expire except bad id", "POST", "/v1/expire", jsonType, `{"user":"alice","except":"nope"}`, 400, "invalid_id"},
		{"expire except", "POST", "/v1/expire", jsonType, `{"user":"nobody","except":"` + idBob.String() + `"}`, 200, ""},
		{"expire unknown field", "POST", "/v1/expire", jsonType, `{"everyone":true}`, 400, "invalid"},
		{"expire wrong type", "POST", "/v1/expire", jsonType, `{"ids":"` + idBob.String() + `"}`, 400, "invalid"},
		{"expire trailing", "POST", "/v1/expire", jsonType, `{"all":true} {"all":true}`, 400, "invalid"},
		{"expire bad id", "POST", "/v1/expire", jsonType, `{"ids":["` + idBob.String() + `","nope"]}`, 400, "invalid_id"},
		{"expire too many", "POST", "/v1/expire", jsonType, string(many), 400, "invalid"},
		{"expire huge", "POST", "/v1/expire", jsonType, string(huge), 413, "too_large"},
		{"expire empty ids", "POST", "/v1/expire", jsonType, `{"ids":[]}`, 200, ""},
		{"expire charset", "POST", "/v1/expire", "Application/JSON; charset=utf-8", `{"ids":[]}`, 200, ""},

		// purge bodies
		{"purge empty", "POST", "/v1/purge", jsonType, ``, 200, ""},
		{"purge no type", "POST", "/v1/purge", "", ``, 415, "unsupported_media_type"},
		{"purge wrong type", "POST", "/v1/purge", jsonType, `{"dry_run":"yes"}`, 400, "invalid"},
		{"purge unknown", "POST", "/v1/purge", jsonType, `{"dryrun":true}`, 400, "invalid"},
		{"purge null", "POST", "/v1/purge", jsonType, `null`, 400, "invalid"},
		{"purge blank", "POST", "/v1/purge", jsonType, " \n", 200, ""},
		{"expire null", "POST", "/v1/expire", jsonType, `null`, 400, "invalid"},

		// import bodies
		{"import json type", "POST", "/v1/import", "text/plain", "", 415, "unsupported_media_type"},
		{"import garbage", "POST", "/v1/import", ndjsonType, "\n\nnot json\n", 400, "invalid"},
		{"import null", "POST", "/v1/import", ndjsonType, "null\n", 400, "invalid"},
		{"import array", "POST", "/v1/import", ndjsonType, "[]\n", 400, "invalid"},
		{"import empty", "POST", "/v1/import", ndjsonType, "", 200, ""},
		{"import blank lines", "POST", "/v1/import", ndjsonType, "\n \r\n\t\n", 200, ""},
		{"import jsonl", "POST", "/v1/import", "application/jsonl", "", 200, ""},

		// abilities the test store lacks (plain memstore: no check, no backup)
		{"check", "GET", "/v1/check", "", "", 501, "not_supported"},
		{"backup", "GET", "/v1/backup", "", "", 501, "not_supported"},
	}
	h := admin.NewHandler(admin.NewLocal(newMemstore(t), fixedClock), &admin.HandlerOptions{Logger: discard()})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := doRaw(t, h, tt.method, tt.target, tt.ctype, []byte(tt.body))
			if res.status != tt.status || res.code != tt.code {
				t.Fatalf("%s %s: %d %q (%s), want %d %q", tt.method, tt.target, res.status, res.code, res.msg, tt.status, tt.code)
			}
			if ct := res.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if !json.Valid(res.body) {
				t.Errorf("body is not JSON: %q", res.body)
			}
			if res.status >= 400 && res.msg == "" {
				t.Error("error without a message")
			}
			if res.status == 405 && res.header.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
			if cc := res.header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q", cc)
			}
		})
	}
}

// TestHandlerAllow: a 405 lists exactly the methods of the route.
func TestHandlerAllow(t *testing.T) {
	h := admin.NewHandler(admin.NewLocal(newMemstore(t), fixedClock), &admin.HandlerOptions{Logger: discard()})
	for target, want := range map[string]string{
		"/v1/sessions/" + idBob.String(): "GET, DELETE",
		"/v1/sessions":                   "GET",
		"/v1/expire":                     "POST",
		"/v1/info":                       "GET",
	} {
		res := doRaw(t, h, "PATCH", target, jsonType, nil)
		if res.status != 405 || res.header.Get("Allow") != want {
			t.Errorf("PATCH %s: %d, Allow %q; want 405, Allow %q", target, res.status, res.header.Get("Allow"), want)
		}
	}
}

// TestHandlerImportBadLine checks that one bad line fails the whole import,
// names the line, and writes nothing.
func TestHandlerImportBadLine(t *testing.T) {
	store := newFullStore(t)
	local := admin.NewLocal(store, fixedClock)
	h := admin.NewHandler(local, &admin.HandlerOptions{Logger: discard()})
	line := func(r *session.Record) string {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		return string(b) + "\n"
	}
	good1, good2 := record(session.NewID(), "erin", false), record(session.NewID(), "erin", false)
	good3 := record(session.NewID(), "erin", false)
	zeroTimes := strings.Replace(line(record(session.NewID(), "erin", false)), `"created":"`, `"created_":"`, 1)

	tests := []struct {
		name, body string
		wantLine   string
		code       string
	}{
		{"not json", line(good1) + "{oops\n" + line(good2), "line 2", "invalid"},
		{"bad id", line(good1) + line(good2) + `{"id":"nope"}` + "\n", "line 3", "invalid"},
		{"no created", line(good1) + "\n" + zeroTimes, "line 3", "invalid"},
		{"bad data", line(good1) + strings.Replace(line(good2), `"dark"`, `dark`, 1), "line 2", "invalid"},
		{"duplicate", line(good1) + line(good2) + line(good1), "line 3", "invalid"},
		{"two objects on a line", strings.TrimSuffix(line(good1), "\n") + line(good2), "line 1", "invalid"},
		{"no trailing newline", line(good1) + "{", "line 2", "invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, err := local.Stats(ctx)
			if err != nil {
				t.Fatal(err)
			}
			res := doRaw(t, h, "POST", "/v1/import", ndjsonType, []byte(tt.body))
			if res.status != 400 || res.code != tt.code || !strings.Contains(res.msg, tt.wantLine+":") {
				t.Fatalf("%d %q %q, want 400 %q naming %q", res.status, res.code, res.msg, tt.code, tt.wantLine)
			}
			after, err := local.Stats(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if after.Sessions != before.Sessions {
				t.Errorf("sessions %d → %d: a failed import wrote", before.Sessions, after.Sessions)
			}
		})
	}

	res := doRaw(t, h, "POST", "/v1/import", ndjsonType, []byte(line(good1)+"\r\n"+line(good2)+line(good3)))
	if res.status != 200 || string(bytes.TrimSpace(res.body)) != `{"imported":3}` {
		t.Fatalf("import: %d %s", res.status, res.body)
	}
}

// TestHandlerWire pins the JSON shapes of the answers (docs/admin-api.md).
func TestHandlerWire(t *testing.T) {
	store := newFullStore(t)
	h := admin.NewHandler(admin.NewLocal(store, fixedClock), &admin.HandlerOptions{Logger: discard()})
	tests := []struct {
		method, target, ctype, body, want string
	}{
		{"GET", "/v1/sessions?user=alice&limit=1", "", "", `{"sessions":[` + recordJSON(idAlice1, false) + `],"next":"` + idAlice1.String() + `"}`},
		{"GET", "/v1/sessions?user=nobody", "", "", `{"sessions":[],"next":""}`},
		{"GET", "/v1/sessions/" + idOld.String(), "", "", recordJSON(idOld, true)},
		{"GET", "/v1/stats", "", "", `{"sessions":5,"live":4,"expired":1,"users":2,"seal_failures":0,"last_reap":null,"size_bytes":0,"free_bytes":0,"commits":null}`},
		{"GET", "/v1/check", "", "", `{"records":5,"seals_verified":true,"problems":[]}`},
		{"POST", "/v1/purge", jsonType, `{"dry_run":true}`, `{"purged":1,"dry_run":true}`},
		{"DELETE", "/v1/sessions/" + idAbsent.String(), "", "", `{"expired":0}`},
		{"POST", "/v1/expire", jsonType, `{"ids":["` + idAnon.String() + `"]}`, `{"expired":1}`},
		{"POST", "/v1/expire", jsonType, `{"user":"bob"}`, `{"expired":1}`},
		{"POST", "/v1/purge", jsonType, `{}`, `{"purged":1,"dry_run":false}`},
		{"POST", "/v1/expire", jsonType, `{"all":true}`, `{"expired":2}`},
		{"GET", "/v1/sessions/" + idOld.String(), "", "", `{"error":{"code":"not_found","message":"session: not found"}}`},
	}
	for _, tt := range tests {
		res := doRaw(t, h, tt.method, tt.target, tt.ctype, []byte(tt.body))
		if got := string(bytes.TrimSpace(res.body)); got != tt.want {
			t.Errorf("%s %s:\ngot  %s\nwant %s", tt.method, tt.target, got, tt.want)
		}
	}

	res := doRaw(t, h, "GET", "/v1/backup", "", nil)
	if res.status != 200 || res.header.Get("Content-Type") != "application/octet-stream" || !bytes.Equal(res.body, store.backup) {
		t.Errorf("backup: %d %q, %d bytes", res.status, res.header.Get("Content-Type"), len(res.body))
	}
	if got := res.header.Get(admin.TrailerBackupBytes); got != fmt.Sprint(len(store.backup)) {
		t.Errorf("trailer %s = %q", admin.TrailerBackupBytes, got)
	}
}

// recordJSON is the wire form of a test record.
func recordJSON(id session.ID, expired bool) string {
	r := record(id, "alice", expired)
	idle := "2030-01-02T15:34:05Z"
	if expired {
		idle = "2030-01-02T15:03:05Z"
	}
	return `{"id":"` + r.ID.String() + `","user":"alice","created":"2030-01-02T14:04:05Z","last_seen":"2030-01-02T14:04:05Z",` +
		`"idle_expires":"` + idle + `","deadline":"2030-01-03T02:04:05Z","persistent":false,"client":{"ip":"203.0.113.7","user_agent":"test"},` +
		`"last_client":{},"data":{"note":"<` + secret + `>","theme":"dark"},"version":1}`
}

// TestHandlerLogs checks that requests are logged by route and that no
// session data, id or user name reaches the log.
func TestHandlerLogs(t *testing.T) {
	store := newFullStore(t)
	if _, err := store.Import(ctx, []*session.Record{record(session.NewID(), secret, false)}, now); err != nil {
		t.Fatal(err)
	}
	client, _, logs := serve(t, store, nil)
	if _, err := client.List(ctx, admin.ListQuery{User: secret}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Get(ctx, idBob); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Get(ctx, idAbsent); err == nil {
		t.Fatal("Get(absent) succeeded")
	}
	if n, err := client.ExpireUser(ctx, secret); n != 1 || err != nil {
		t.Fatalf("ExpireUser = %d, %v", n, err)
	}
	if _, err := client.Expire(ctx, idAlice1, idAlice2); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	for _, banned := range []string{secret, "alice", idBob.String(), idAbsent.String(), idAlice1.String(), "dark"} {
		if strings.Contains(out, banned) {
			t.Errorf("log contains %q:\n%s", banned, out)
		}
	}
	for _, want := range []string{
		`route=/v1/sessions status=200`,
		`route=/v1/sessions/{id} status=200`,
		`level=INFO msg="admin request" method=GET route=/v1/sessions/{id} status=404`,
		`level=INFO msg="admin request" method=POST route=/v1/expire status=200`,
		`count=1`, `count=2`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

// notSupportedService answers Stats with session.ErrNotSupported.
type notSupportedService struct{ admin.Service }

func (notSupportedService) Stats(context.Context) (session.Stats, error) {
	return session.Stats{}, fmt.Errorf("stats: %w", session.ErrNotSupported)
}

// TestHandlerLogsNotSupportedAsInfo: an ability the store lacks is the
// operator's request answered 501, logged at INFO, not as an ERROR of the
// application.
func TestHandlerLogsNotSupportedAsInfo(t *testing.T) {
	logger, logs := newLogger()
	h := admin.NewHandler(notSupportedService{}, &admin.HandlerOptions{Logger: logger})
	if res := doRaw(t, h, "GET", "/v1/stats", "", nil); res.status != http.StatusNotImplemented || res.code != "not_supported" {
		t.Fatalf("%d %q", res.status, res.code)
	}
	if out := logs.String(); !strings.Contains(out, `level=INFO msg="admin request" method=GET route=/v1/stats status=501`) {
		t.Errorf("log:\n%s", out)
	}
}

// panicService panics in Stats; its other methods are never called.
type panicService struct{ admin.Service }

func (panicService) Stats(context.Context) (session.Stats, error) { panic("boom") }

func TestHandlerRecoversPanics(t *testing.T) {
	logger, logs := newLogger()
	h := admin.NewHandler(panicService{}, &admin.HandlerOptions{Logger: logger})
	res := doRaw(t, h, "GET", "/v1/stats", "", nil)
	if res.status != http.StatusInternalServerError || res.code != "internal" {
		t.Fatalf("%d %q", res.status, res.code)
	}
	if !strings.Contains(logs.String(), "boom") {
		t.Errorf("panic not logged: %s", logs)
	}
}

func TestNewHandlerNilService(t *testing.T) {
	defer func() {
		if p := recover(); p == nil || !strings.Contains(fmt.Sprint(p), "admin:") {
			t.Fatalf("panic %v, want one prefixed admin:", p)
		}
	}()
	admin.NewHandler(nil, nil)
}

// brokenBody yields some bytes and then fails, as the body of a client
// that hung up mid-request does.
type brokenBody struct{ sent bool }

func (b *brokenBody) Read(p []byte) (int, error) {
	if !b.sent {
		b.sent = true
		return copy(p, `{"id":`), nil
	}
	return 0, io.ErrUnexpectedEOF
}

// TestHandlerBrokenBody: a request body that breaks off is the client's
// fault (400 invalid, logged at INFO), never the store's (500 internal),
// and nothing is imported.
func TestHandlerBrokenBody(t *testing.T) {
	logger, logs := newLogger()
	local := admin.NewLocal(newFullStore(t), fixedClock)
	h := admin.NewHandler(local, &admin.HandlerOptions{Logger: logger})
	for target, ctype := range map[string]string{"/v1/import": ndjsonType, "/v1/expire": jsonType} {
		req := httptest.NewRequest(http.MethodPost, target, &brokenBody{})
		req.Header.Set("Content-Type", ctype)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `"code":"invalid"`) {
			t.Errorf("POST %s with a broken body: %d %s, want 400 invalid", target, rec.Code, rec.Body)
		}
	}
	if out := logs.String(); strings.Contains(out, "level=ERROR") {
		t.Errorf("a broken request body logged as an error of the application:\n%s", out)
	}
	if st, err := local.Stats(ctx); err != nil || st.Sessions != int64(len(seed())) {
		t.Errorf("Stats = %+v, %v: a broken import wrote", st, err)
	}
}

// TestHandlerLogsNoIDsOfServerErrors: a store's error may name a session
// id (boltstore: "encoding record <id>"); the request log keeps the
// message but not the id, and the client still gets it whole.
func TestHandlerLogsNoIDsOfServerErrors(t *testing.T) {
	logger, logs := newLogger()
	upper := "0F8E4D2C-5B1A-4C3E-9D7F-2A6B8C0E1F34" // as a message might spell one
	storeErr := fmt.Errorf("store: record %s (also %s): disk on fire", idBob, upper)
	h := admin.NewHandler(errService{err: storeErr}, &admin.HandlerOptions{Logger: logger})
	res := doRaw(t, h, "GET", "/v1/stats", "", nil)
	if res.status != http.StatusInternalServerError || res.msg != storeErr.Error() {
		t.Fatalf("%d %q, want 500 %q", res.status, res.msg, storeErr)
	}
	out := logs.String()
	if strings.Contains(out, idBob.String()) || strings.Contains(out, upper) {
		t.Errorf("log names a session id:\n%s", out)
	}
	if !strings.Contains(out, "store: record {id} (also {id}): disk on fire") {
		t.Errorf("log lacks the error with its ids replaced:\n%s", out)
	}
}
