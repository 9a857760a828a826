package flasksession_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestSignaturesComparedInConstantTime: signatures are compared with
// hmac.Equal (constant time), in the one function that checks them, and
// the package compares no byte slices otherwise (bytes.Equal or Compare).
func TestSignaturesComparedInConstantTime(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	verified := false
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok {
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == "bytes" && (sel.Sel.Name == "Equal" || sel.Sel.Name == "Compare") {
					t.Errorf("%s uses bytes.%s: compare signatures with hmac.Equal", path, sel.Sel.Name)
				}
			}
			if fd, ok := n.(*ast.FuncDecl); ok && fd.Name.Name == "verify" {
				ast.Inspect(fd.Body, func(n ast.Node) bool {
					if sel, ok := n.(*ast.SelectorExpr); ok && sel.Sel.Name == "Equal" {
						if x, ok := sel.X.(*ast.Ident); ok && x.Name == "hmac" {
							verified = true
						}
					}
					return true
				})
			}
			return true
		})
	}
	if !verified {
		t.Error("Signer.verify does not compare with hmac.Equal")
	}
}
