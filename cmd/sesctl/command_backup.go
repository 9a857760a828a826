package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// backupOptions are the flags of backup.
type backupOptions struct {
	force bool
}

func (o *backupOptions) AddFlags(fs *pflag.FlagSet) {
	fs.BoolVarP(&o.force, "force", "f", false, "replace FILE if it exists")
}

func newBackupCommand(a *app) *cobra.Command {
	var o backupOptions
	cmd := &cobra.Command{
		Use:   "backup FILE",
		Short: "Write a consistent copy of the database to FILE",
		Long: `Write a consistent copy of the database to FILE, also while the app serves
traffic (through its admin socket). The copy is written to a temporary file
beside FILE, synced, and then renamed, so FILE is either complete or absent.
An existing FILE is left alone unless --force is given. The copy holds the
sealed records, never the keys.`,
		Example: `  sesctl backup /backups/sessions-$(date +%F).db`,
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runBackup(cmd.Context(), &o, args[0])
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

func (a *app) runBackup(ctx context.Context, o *backupOptions, dst string) (err error) {
	if err := a.checkDestination(dst, o.force); err != nil {
		return err
	}
	svc, release, err := a.service(ctx, readAccess)
	if err != nil {
		return err
	}
	defer func() { err = joinErr(err, release()) }()

	size := int64(-1)
	if st, err := svc.Stats(ctx); err == nil && st.SizeBytes > 0 {
		size = st.SizeBytes
	}
	bar := a.progress(size, "backing up", true)
	var n int64
	err = writeAtomically(dst, 0o600, o.force, func(f *os.File) error {
		var err error
		n, err = svc.Backup(ctx, bar.Writer(f))
		return err
	})
	bar.Done()
	if err != nil {
		return fmt.Errorf("backup to %s: %w", dst, err)
	}
	return a.printer().Backup(backupResult{Path: dst, Bytes: n})
}

// checkDestination refuses to write over the database itself, and over an
// existing file unless force.
func (a *app) checkDestination(dst string, force bool) error {
	fi, err := os.Stat(dst)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s exists and is not a regular file", dst)
	}
	if a.socket == "" && sameFile(dst, a.db) {
		return fmt.Errorf("%s is the database itself; choose another file", dst)
	}
	if !force {
		return fmt.Errorf("%s exists; pass --force to replace it", dst)
	}
	return nil
}

// writeAtomically makes the file dst with mode perm from what write puts
// into a temporary file in dst's directory: it syncs the file, then links
// it into place (or renames it over dst when replace), and syncs the
// directory, so dst is either complete or untouched. The temporary file is
// removed on failure.
func writeAtomically(dst string, perm os.FileMode, replace bool, write func(*os.File) error) (err error) {
	dir := filepath.Dir(dst)
	f, err := os.CreateTemp(dir, "."+filepath.Base(dst)+".sesctl-*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = f.Chmod(perm); err != nil {
		return err
	}
	if err = write(f); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = place(tmp, dst, replace); err != nil {
		return err
	}
	return syncDir(dir)
}

// place moves tmp to dst. Without replace it links tmp to dst, which fails
// if dst exists, and removes tmp; where hard links are not supported it
// checks dst is absent and renames.
func place(tmp, dst string, replace bool) error {
	if !replace {
		err := os.Link(tmp, dst)
		if err == nil {
			return os.Remove(tmp)
		}
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s appeared meanwhile; pass --force to replace it", dst)
		}
		if _, err := os.Lstat(dst); !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s appeared meanwhile; pass --force to replace it", dst)
		}
	}
	return os.Rename(tmp, dst)
}

// syncDir makes a rename or link in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return err
	}
	return nil
}
