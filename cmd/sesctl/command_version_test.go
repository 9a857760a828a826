package main

import (
	"encoding/json"
	"runtime"
	"testing"
)

func TestVersion(t *testing.T) {
	h := newHarness(t)
	if got, want := h.ok("version"), "sesctl "+buildVersion()+" ("+runtime.Version()+")\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	var v versionResult
	if err := json.Unmarshal([]byte(h.ok("-o", "json", "version")), &v); err != nil || v.Go != runtime.Version() || v.Version == "" {
		t.Errorf("json: %+v %v", v, err)
	}
	version = "v1.2.3"
	defer func() { version = "" }()
	if got := h.ok("version"); got != "sesctl v1.2.3 ("+runtime.Version()+")\n" {
		t.Errorf("with -X main.version: %q", got)
	}
}
