package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite README.md's first Go code block from main.go")

const readmePath = "../../README.md"

// readmeGoBlock returns the offsets in readme of the text of its first Go
// code block (from after the "```go" line to before the closing "```"
// line), or an error when there is none.
func readmeGoBlock(readme []byte) (start, end int, err error) {
	const open, fence = "```go\n", "\n```\n"
	i := bytes.Index(readme, []byte(open))
	if i < 0 {
		return 0, 0, fmt.Errorf("%s has no ```go code block", readmePath)
	}
	start = i + len(open)
	j := bytes.Index(readme[start:], []byte(fence))
	if j < 0 {
		return 0, 0, fmt.Errorf("%s: the first ```go code block is not closed", readmePath)
	}
	return start, start + j + 1, nil // the block ends with main.go's last newline
}

// TestREADMEShowsMainGo: the README's first Go code block is this whole
// program, byte for byte, so the example a reader copies is one that CI
// builds and runs (TestPlainHTTPDevelopment). With -update it rewrites the
// block from main.go.
func TestREADMEShowsMainGo(t *testing.T) {
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	start, end, err := readmeGoBlock(readme)
	if err != nil {
		t.Fatal(err)
	}
	block := readme[start:end]
	if bytes.Equal(block, src) {
		return
	}
	if *update {
		out := append(append(append([]byte{}, readme[:start]...), src...), readme[end:]...)
		if err := os.WriteFile(readmePath, out, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("rewrote the first Go code block of %s from main.go", readmePath)
		return
	}
	t.Errorf("the first Go code block of %s differs from examples/basic/main.go: %s\n"+
		"Edit main.go, then: go test ./examples/basic -run TestREADMEShowsMainGo -update",
		readmePath, firstDifference(string(block), string(src)))
}

// firstDifference describes the first line where got (the README's block)
// and want (main.go) differ.
func firstDifference(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < max(len(g), len(w)); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if i >= len(g) || i >= len(w) || gl != wl {
			return fmt.Sprintf("line %d of the block is\n\t%q\nmain.go has\n\t%q\n(the block has %d lines, main.go %d)", i+1, gl, wl, len(g), len(w))
		}
	}
	return "they differ in line endings"
}

// TestFirstDifference: the message names the first differing line, also
// when one side is longer.
func TestFirstDifference(t *testing.T) {
	for _, tt := range []struct{ got, want, line string }{
		{"a\nb\nc\n", "a\nB\nc\n", "line 2 "},
		{"a\nb\n", "a\nb\nc\n", "line 3 "},
		{"a\nb\nc\n", "a\nb\n", "line 3 "},
	} {
		if msg := firstDifference(tt.got, tt.want); !strings.HasPrefix(msg, tt.line) {
			t.Errorf("firstDifference(%q, %q) = %q, want it to start with %q", tt.got, tt.want, msg, tt.line)
		}
	}
}
