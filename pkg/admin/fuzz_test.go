package admin_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sesbolt/sesbolt/pkg/admin"
)

// FuzzHandler sends arbitrary requests to the handler on a store with every
// ability: it must never panic (the handler would turn a panic into a 500
// "internal", which fails here too) and must always answer 2xx, 4xx or
// 5xx with a JSON body, except for a successful backup's bytes.
func FuzzHandler(f *testing.F) {
	idBobStr := idBob.String()
	rec, err := json.Marshal(record(idAbsent, "zoe", false))
	if err != nil {
		f.Fatal(err)
	}
	seeds := []struct {
		method, path, query, ctype, body string
	}{
		{"GET", "/v1/sessions", "", "", ""},
		{"GET", "/v1/sessions", "after=" + idBobStr + "&limit=2&filter=all&user=alice", "", ""},
		{"GET", "/v1/sessions", "limit=-1&filter=nope", "", ""},
		{"GET", "/v1/sessions/" + idBobStr, "", "", ""},
		{"GET", "/v1/sessions/not-an-id", "", "", ""},
		{"DELETE", "/v1/sessions/" + idBobStr, "", "", ""},
		{"POST", "/v1/expire", "", "application/json", `{"ids":["` + idBobStr + `"]}`},
		{"POST", "/v1/expire", "", "application/json", `{"user":"alice"}`},
		{"POST", "/v1/expire", "", "application/json", `{"all":true}`},
		{"POST", "/v1/expire", "", "application/json", `{"ids":[1,{}],"all":"x"}`},
		{"POST", "/v1/purge", "", "application/json", `{"dry_run":true}`},
		{"POST", "/v1/purge", "", "application/json", ``},
		{"GET", "/v1/stats", "", "", ""},
		{"GET", "/v1/check", "", "", ""},
		{"GET", "/v1/backup", "", "", ""},
		{"POST", "/v1/import", "", "application/x-ndjson", string(rec) + "\n" + string(rec) + "\n"},
		{"POST", "/v1/import", "", "application/x-ndjson", string(rec) + "\n{\"id\":\n"},
		{"POST", "/v1/import", "", "application/x-ndjson", `{"id":"` + idBobStr + `","data":{"":1}}`},
		{"POST", "/v1/import", "", "text/plain", "x"},
		{"PUT", "/v1/stats", "", "", ""},
		{"GET", "/v1/sessions/../stats", "", "", ""},
		{"OPTIONS", "*", "", "", ""},
		{"GET", "", "", "", ""},
		{"POST", "/v1/expire", "", "application/json; charset=\"", "{}"},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.query, s.ctype, []byte(s.body))
	}

	f.Fuzz(func(t *testing.T, method, path, query, ctype string, body []byte) {
		req, err := http.NewRequest(method, "http://sesbolt/", bytes.NewReader(body))
		if err != nil {
			return // not a request a server would hand over (bad method)
		}
		req.URL.Path, req.URL.RawQuery = path, query
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		h := admin.NewHandler(admin.NewLocal(newFullStore(t), fixedClock), &admin.HandlerOptions{Logger: discard(), MaxImportBytes: 1 << 20})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		status := rec.Code
		if status < 200 || (status >= 300 && status < 400) || status > 599 {
			t.Fatalf("status %d", status)
		}
		// req.Method, not method: net/http turns an empty method into GET.
		if req.Method == "GET" && path == "/v1/backup" && status == 200 {
			if rec.Header().Get("Content-Type") != "application/octet-stream" {
				t.Fatalf("backup Content-Type %q", rec.Header().Get("Content-Type"))
			}
			return
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Fatalf("Content-Type %q", ct)
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("body is not JSON: %q", rec.Body.Bytes())
		}
		if status >= 400 {
			var e struct {
				Error *admin.Error `json:"error"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == nil || e.Error.Code == "" || e.Error.Message == "" {
				t.Fatalf("error body %q", rec.Body.Bytes())
			}
			if e.Error.Code == "internal" {
				t.Fatalf("internal error (a panic or a bug): %s", e.Error.Message)
			}
			if strings.Contains(e.Error.Message, "panic") {
				t.Fatalf("panic: %s", e.Error.Message)
			}
		}
	})
}
