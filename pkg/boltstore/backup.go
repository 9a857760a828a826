package boltstore

import (
	"context"
	"errors"
	"fmt"
	"io"

	bolt "go.etcd.io/bbolt"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// Backup writes a consistent copy of the database to w while the store
// keeps serving (bbolt's Tx.WriteTo in one read transaction) and returns the
// bytes written. The copy is a complete bbolt file that Open accepts; it
// holds the sealed records but never the keys. Backup stops with ctx's
// error, or session.ErrClosed when Close starts; w's errors are returned
// wrapped. A read transaction is held for the whole copy, so a write that
// must grow the memory map waits for it (see Options.InitialMmapSize).
func (s *Store) Backup(ctx context.Context, w io.Writer) (int64, error) {
	if w == nil {
		return 0, errors.New("boltstore: Backup to a nil writer")
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if !s.enter() {
		return 0, session.ErrClosed
	}
	defer s.leave()
	cw := &backupWriter{s: s, ctx: ctx, w: w}
	var n int64
	err := s.view("backup", func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(cw)
		return err
	})
	if cw.err != nil { // bbolt flattens some writer errors into text
		return n, cw.err
	}
	return n, err
}

// backupWriter stops a backup when its context ends or the store closes,
// and keeps the first error for errors.Is.
type backupWriter struct {
	s   *Store
	ctx context.Context
	w   io.Writer
	err error
}

func (b *backupWriter) Write(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if err := b.s.stopping(b.ctx); err != nil {
		b.err = err
		return 0, err
	}
	n, err := b.w.Write(p)
	if err != nil {
		b.err = fmt.Errorf("boltstore: backup: %w", err)
	}
	return n, b.err
}
