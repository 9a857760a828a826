package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/sesbolt/sesbolt/pkg/admin"
)

// compactOptions are the flags of compact.
type compactOptions struct {
	force     bool
	txMaxSize int64
}

// defaultTxMaxSize bounds the data one transaction of the copy writes.
const defaultTxMaxSize = 16 << 20

func (o *compactOptions) AddFlags(fs *pflag.FlagSet) {
	fs.BoolVarP(&o.force, "force", "f", false, "replace FILE if it exists")
	fs.Int64Var(&o.txMaxSize, "tx-max-size", defaultTxMaxSize, "write at most `BYTES` per transaction of the copy")
}

func newCompactCommand(a *app) *cobra.Command {
	var o compactOptions
	cmd := &cobra.Command{
		Use:   "compact FILE",
		Short: "Write a compacted copy of the database to FILE (offline)",
		Long: `Write a compacted copy of the database to FILE and report both sizes. bbolt
files never shrink: pages freed by expired sessions are reused but never
returned to the file system, so after a peak a file can be mostly free space
(see stats). The copy holds the same data in as few pages as possible.

compact reads the file itself, so it works only while no app holds it. While
the app runs, back it up and compact the copy:

  sesctl backup /tmp/copy.db && sesctl --db /tmp/copy.db compact /tmp/compact.db

FILE is written beside itself and renamed into place when complete; an
existing FILE is left alone unless --force is given. To use the compacted
file, stop the app, move FILE over the database, and start the app.

On Redis (--redis) there is nothing to compact: it refuses, and names
BGREWRITEAOF, which compacts Redis's append-only file.`,
		Example: `  sesctl compact sessions-compact.db`,
		Args:    needArgs(1, 1, "the FILE to write the compacted copy to"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.txMaxSize <= 0 {
				return usageErrorf("--tx-max-size must be positive")
			}
			return a.runCompact(cmd.Context(), &o, args[0])
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

func (a *app) runCompact(ctx context.Context, o *compactOptions, dst string) error {
	if a.redis != "" {
		return redisRefusal("compact")
	}
	if a.socket != "" {
		return usageErrorf("compact works on a database file (--db), not through an admin socket; " +
			"run backup through the socket and compact the copy")
	}
	src := a.db
	if err := requireFile(src); err != nil {
		return err
	}
	// Only the --db file is read; checkDestination compares dst with it.
	if err := a.checkDestination(dst, o.force, &admin.Info{}); err != nil {
		return err
	}
	srcInfo, err := os.Stat(src)
	if err != nil {
		return err
	}
	if held, _ := heldByOther(src); held {
		return compactHeldError(src)
	}
	srcDB, err := openBoltReadOnly(src, compactHeldError)
	if err != nil {
		return err
	}
	defer func() {
		// An interrupted copy still reads src; closing would wait for it.
		if ctx.Err() == nil {
			srcDB.Close()
		}
	}()

	bar := a.progress(srcInfo.Size(), "compacting", true)
	err = writeAtomically(dst, srcInfo.Mode().Perm(), o.force, func(f *os.File) error {
		return compactInto(ctx, srcDB, f.Name(), srcInfo.Mode().Perm(), o.txMaxSize, bar)
	})
	bar.Done()
	if err != nil {
		return fmt.Errorf("compacting %s into %s: %w", src, dst, err)
	}
	dstInfo, err := os.Stat(dst)
	if err != nil {
		return err
	}
	return a.printer().Compact(compactResult{Source: src, Path: dst, SizeBefore: srcInfo.Size(), SizeAfter: dstInfo.Size()})
}

// openBoltReadOnly opens a bbolt file for reading, failing within
// lockTimeout with held(path) when another process holds it.
func openBoltReadOnly(path string, held func(string) error) (db *bolt.DB, err error) {
	defer func() {
		if p := recover(); p != nil { // bbolt panics on some damaged files
			err = fmt.Errorf("%s: damaged bbolt file: %v (run sesctl check)", path, p)
		}
	}()
	db, err = bolt.Open(path, 0, &bolt.Options{ReadOnly: true, Timeout: lockTimeout})
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, held(path)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrChecksum):
		return nil, fmt.Errorf("%s is not a valid bbolt database: %w", path, err)
	case err != nil:
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	return db, nil
}

// compactInto copies src into a new bbolt database at path with as few
// pages as possible, showing the growth of path on bar. It stops waiting
// when ctx ends (the copy is then abandoned and removed by the caller).
func compactInto(ctx context.Context, src *bolt.DB, path string, perm os.FileMode, txMaxSize int64, bar *progress) error {
	// The copy is synced once, by the caller, when complete.
	dst, err := bolt.Open(path, perm, &bolt.Options{NoSync: true, Timeout: lockTimeout})
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- fmt.Errorf("damaged source: %v (run sesctl check)", p)
			}
		}()
		err := bolt.Compact(dst, src, txMaxSize)
		if cerr := dst.Close(); err == nil {
			err = cerr
		}
		done <- err
	}()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			return err
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			if fi, err := os.Stat(path); err == nil {
				bar.Set(fi.Size())
			}
		}
	}
}

// compactHeldError explains that compact is offline only.
func compactHeldError(path string) error {
	return fmt.Errorf("%s is in use by %s (the running app?); compact works only on a file no process holds: "+
		"run 'sesctl backup COPY' (it works while the app runs), then 'sesctl --db COPY compact FILE'", path, holderName(path))
}
