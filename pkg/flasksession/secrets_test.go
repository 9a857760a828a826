package flasksession_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sesbolt/sesbolt/pkg/flasksession"
)

func TestParseSecrets(t *testing.T) {
	for _, tc := range []struct {
		name string
		file string
		want []string
	}{
		{"one line", recipeSecret + "\n", []string{recipeSecret}},
		{"no final newline", "s", []string{"s"}},
		{"oldest first, blank lines skipped", "old\n\nnew\n\n", []string{"old", "new"}},
		{"CRLF", "old\r\nnew\r\n", []string{"old", "new"}},
		{"verbatim: spaces, #, non-UTF-8", "  # not a comment \n\xff\xfe\n", []string{"  # not a comment ", "\xff\xfe"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := flasksession.ParseSecrets(strings.NewReader(tc.file))
			if err != nil {
				t.Fatal(err)
			}
			var gotS []string
			for _, s := range got {
				gotS = append(gotS, string(s))
			}
			if !reflect.DeepEqual(gotS, tc.want) {
				t.Errorf("got %q, want %q", gotS, tc.want)
			}
		})
	}
}

func TestParseSecretsErrors(t *testing.T) {
	for name, file := range map[string]string{
		"empty":       "",
		"blank lines": "\n\r\n\n",
	} {
		if _, err := flasksession.ParseSecrets(strings.NewReader(file)); !errors.Is(err, flasksession.ErrNoSecret) {
			t.Errorf("%s: err = %v, want ErrNoSecret", name, err)
		}
	}
	secret := strings.Repeat("s", flasksession.MaxSecretSize+1)
	for _, file := range []string{"ok\n" + secret + "\n", "ok\n" + secret + strings.Repeat("s", 10000)} {
		_, err := flasksession.ParseSecrets(strings.NewReader(file))
		if err == nil || !strings.Contains(err.Error(), "line 2") || strings.Contains(err.Error(), "sss") {
			t.Errorf("over-long line: err = %v, want one naming line 2 without its content", err)
		}
	}
}

func TestLoadSecretFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, []byte("old\nnew\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	secrets, err := flasksession.LoadSecretFile(path)
	if err != nil || len(secrets) != 2 || string(secrets[1]) != "new" {
		t.Fatalf("LoadSecretFile = %q, %v", secrets, err)
	}
	if _, err := flasksession.LoadSecretFile(path + ".missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: err = %v, want fs.ErrNotExist", err)
	}
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := flasksession.LoadSecretFile(path); !errors.Is(err, flasksession.ErrNoSecret) || !strings.Contains(err.Error(), path) {
		t.Errorf("empty file: err = %v, want ErrNoSecret naming the file", err)
	}
}
