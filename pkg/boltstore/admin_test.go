package boltstore_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sesbolt/sesbolt/pkg/admin"
	"github.com/sesbolt/sesbolt/pkg/boltstore"
	"github.com/sesbolt/sesbolt/pkg/session"
	"github.com/sesbolt/sesbolt/pkg/session/sessiontest"
)

// shortDir returns a directory with a short path: Unix socket paths are
// limited to 107 bytes.
func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sb")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func socketOptions(t *testing.T) *boltstore.Options {
	o := testOptions(t)
	o.DisableAdminSocket = false
	return o
}

func TestAdminSocketServesTheStore(t *testing.T) {
	dir := shortDir(t)
	path := filepath.Join(dir, "s.db")
	s := openAt(t, path, socketOptions(t))
	if got := s.AdminSocket(); got != path+".sock" {
		t.Fatalf("AdminSocket() = %q, want %q", got, path+".sock")
	}
	fi, err := os.Stat(path + ".sock")
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want a 0600 socket", fi.Mode())
	}

	rec := sessiontest.Insert(t, s, sessiontest.NewRecord(session.NewID(), "alice", sessiontest.Base()))[0]
	c := admin.DialSocket(path + ".sock")
	defer c.Close()
	got, err := c.Get(context.Background(), rec.ID)
	if err != nil || got.UserID != "alice" {
		t.Fatalf("Get through the socket = %+v, %v", got, err)
	}
	if n, err := c.Expire(context.Background(), rec.ID); err != nil || n != 1 {
		t.Fatalf("Expire through the socket = %d, %v", n, err)
	}
	// Expired through the socket means gone for the app at once.
	if _, err := s.Load(context.Background(), rec.ID, sessiontest.Base()); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("Load after admin expiry: %v, want ErrNotFound", err)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path + ".sock"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket file left after Close: %v", err)
	}
}

func TestAdminSocketRelocatedAndDisabled(t *testing.T) {
	dir := shortDir(t)
	o := socketOptions(t)
	o.AdminSocket = filepath.Join(dir, "admin.sock")
	s := openAt(t, filepath.Join(dir, "s.db"), o)
	if _, err := os.Stat(o.AdminSocket); err != nil {
		t.Errorf("relocated socket missing: %v", err)
	}
	s.Close()

	s = openAt(t, filepath.Join(dir, "t.db"), testOptions(t)) // DisableAdminSocket
	if s.AdminSocket() != "" {
		t.Errorf("disabled socket reported as %q", s.AdminSocket())
	}
	if _, err := os.Lstat(filepath.Join(dir, "t.db.sock")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a socket was created though disabled: %v", err)
	}
}

func TestAdminSocketPathProblemsFailOpen(t *testing.T) {
	dir := shortDir(t)
	path := filepath.Join(dir, "s.db")
	if err := os.WriteFile(path+".sock", []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := boltstore.Open(path, socketOptions(t))
	if !errors.Is(err, admin.ErrNotSocket) || !strings.Contains(err.Error(), "DisableAdminSocket") {
		t.Fatalf("Open with a regular file at the socket path: %v", err)
	}
	if b, _ := os.ReadFile(path + ".sock"); string(b) != "precious" {
		t.Error("the file at the socket path was changed")
	}
	// The failed Open released the database.
	s := openAt(t, path, testOptions(t))
	s.Close()

	long := filepath.Join(dir, strings.Repeat("x", 120)+".db")
	if _, err := boltstore.Open(long, socketOptions(t)); !errors.Is(err, admin.ErrSocketPath) {
		t.Errorf("Open with a too-long socket path: %v, want ErrSocketPath", err)
	}
}

func TestReadOnlyStoreServesNoSocket(t *testing.T) {
	dir := shortDir(t)
	path := filepath.Join(dir, "s.db")
	s := openAt(t, path, testOptions(t))
	s.Close()
	o := socketOptions(t)
	o.ReadOnly = true
	ro := openAt(t, path, o)
	if ro.AdminSocket() != "" {
		t.Errorf("read-only store serves %q", ro.AdminSocket())
	}
}
