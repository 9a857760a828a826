package main

import (
	"bytes"
	"flag"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the route table of docs/demo.md from demoRoutes")

// demoDoc is docs/demo.md, seen from this package's directory.
const demoDoc = "../../docs/demo.md"

// The markers around the generated route table in docs/demo.md.
const (
	routesBegin = "<!-- BEGIN ROUTES (generated from cmd/sesdemo/routes.go; do not edit) -->\n"
	routesEnd   = "<!-- END ROUTES -->"
)

// documentedRoutes returns the route table of docs/demo.md as it is, and
// its "METHOD PATH" rows in order.
func documentedRoutes(t *testing.T) (table string, rows []string) {
	t.Helper()
	doc, err := os.ReadFile(demoDoc)
	if err != nil {
		t.Fatal(err)
	}
	begin, end := bytes.Index(doc, []byte(routesBegin)), bytes.Index(doc, []byte(routesEnd))
	if begin < 0 || end < begin {
		t.Fatalf("%s lacks the route table markers %q and %q", demoDoc, routesBegin, routesEnd)
	}
	table = string(doc[begin+len(routesBegin) : end])
	row := regexp.MustCompile("(?m)^\\| `([A-Z]+)` \\| `([^`]+)` \\|")
	for _, m := range row.FindAllStringSubmatch(table, -1) {
		rows = append(rows, m[1]+" "+m[2])
	}
	return table, rows
}

// TestRouteTableDocumented: docs/demo.md's route table lists exactly the
// routes newServer registers (demoRoutes), in order, with their bodies
// and answers. With -update it rewrites the table.
func TestRouteTableDocumented(t *testing.T) {
	routes := demoRoutes()
	want := routesMarkdown(routes)
	table, rows := documentedRoutes(t)
	if *update {
		doc, err := os.ReadFile(demoDoc)
		if err != nil {
			t.Fatal(err)
		}
		doc = bytes.Replace(doc, []byte(routesBegin+table), []byte(routesBegin+want), 1)
		if err := os.WriteFile(demoDoc, doc, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}

	var registered []string
	for _, rt := range routes {
		registered = append(registered, rt.Method+" "+rt.Path)
		if !slices.Contains(rows, rt.Method+" "+rt.Path) {
			t.Errorf("%s %s is served but missing from the route table of %s", rt.Method, rt.Path, demoDoc)
		}
		for name, text := range map[string]string{"body": rt.Body, "answers": rt.Answers} {
			if text == "" || strings.Contains(text, "|") || strings.Count(text, "`")%2 != 0 {
				t.Errorf("%s %s: %s %q must be non-empty, without \"|\", with its backquotes paired", rt.Method, rt.Path, name, text)
			}
		}
	}
	for _, row := range rows {
		if !slices.Contains(registered, row) {
			t.Errorf("%s documents %s, which is not served", demoDoc, row)
		}
	}
	if table != want {
		t.Errorf("the route table of %s differs from demoRoutes; run go test ./cmd/sesdemo -run TestRouteTableDocumented -update\n got:\n%s\nwant:\n%s", demoDoc, table, want)
	}
}

// TestEveryDocumentedRouteIsServed sends a request for each row of
// docs/demo.md's route table and checks that the mux matched it to that
// very route: the request log names the route it matched.
func TestEveryDocumentedRouteIsServed(t *testing.T) {
	ts := newTestServer(t, nil)
	b := newBrowser(t, ts.URL, "")
	b.login("alice")
	_, rows := documentedRoutes(t)
	if len(rows) == 0 {
		t.Fatal("no routes documented")
	}
	fill := strings.NewReplacer("{key}", "k", "{id}", "00000000-0000-4000-8000-000000000000")
	var want []*regexp.Regexp
	for _, row := range rows {
		method, path, _ := strings.Cut(row, " ")
		var r response
		if method == http.MethodPut {
			r = b.put(fill.Replace(path), `1`)
		} else {
			r = b.do(method, fill.Replace(path), nil)
		}
		if r.StatusCode == http.StatusMethodNotAllowed {
			t.Errorf("%s: 405", row)
		}
		want = append(want, regexp.MustCompile(`(?m)msg=request method=`+method+` route=`+regexp.QuoteMeta(path)+` status=`))
	}
	logs, missing := ts.waitLog(want)
	for _, re := range missing {
		t.Errorf("a request did not reach its documented route (no log line matching %s):\n%s", re, logs)
	}
}
