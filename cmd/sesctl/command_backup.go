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

	"github.com/sesbolt/sesbolt/pkg/admin"
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
An existing FILE is left alone unless --force is given, and never replaced
when it is the database itself (the file the app serves, by device and
inode, so also through a hard link) or a database another process has open.
The copy holds the sealed records, never the keys.

On Redis (--redis) it refuses: back Redis up with its own means (BGSAVE, a
replica), or write the sessions out with export.`,
		Example: `  sesctl backup /backups/sessions-$(date +%F).db`,
		Args:    needArgs(1, 1, "the FILE to write the copy to"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runBackup(cmd.Context(), &o, args[0])
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

func (a *app) runBackup(ctx context.Context, o *backupOptions, dst string) (err error) {
	if a.redis != "" {
		return redisRefusal("backup")
	}
	svc, release, err := a.service(ctx, readAccess)
	if err != nil {
		return err
	}
	defer func() { err = joinErr(err, release()) }()

	var served *admin.Info // nil: the service cannot tell (an older app)
	if info, err := svc.Info(ctx); err == nil {
		served = &info
	} else if !errors.Is(err, admin.ErrProtocol) {
		return fmt.Errorf("backup: asking which file the database is: %w", err)
	}
	if err := a.checkDestination(dst, o.force, served); err != nil {
		return err
	}

	size := int64(-1)
	if st, err := svc.Stats(ctx); err == nil && st.SizeBytes > 0 {
		size = st.SizeBytes
	}
	bar := a.progress(size, "backing up", true)
	var n int64
	err = writeAtomically(dst, 0o600, o.force, func(f *os.File) error {
		var err error
		if n, err = svc.Backup(ctx, bar.Writer(f)); err != nil {
			return err
		}
		// Again just before the copy takes dst's place: it may have
		// appeared or been replaced meanwhile.
		return a.checkDestination(dst, o.force, served)
	})
	bar.Done()
	if err != nil {
		return fmt.Errorf("backup to %s: %w", dst, err)
	}
	return a.printer().Backup(backupResult{Path: dst, Bytes: n})
}

// checkDestination refuses to write over the database itself (the --db
// file sesctl reads, or the file served names, compared by device and
// inode), over a database another process holds, and over any existing
// file unless force. served nil means the service cannot say which file it
// serves: then no existing file is replaced. A missing dst passes.
func (a *app) checkDestination(dst string, force bool, served *admin.Info) error {
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
	switch {
	case served == nil:
		return fmt.Errorf("%s exists, and the app's admin API is too old to say which file it serves, so it might be the database itself; choose a new file", dst)
	case served.File != nil:
		if id, ok := admin.FileIDOf(fi); ok && id == *served.File {
			return fmt.Errorf("%s is the database itself (%s, served by the app); choose another file", dst, served.Path)
		}
	case served.Path != "" && sameFile(dst, served.Path):
		return fmt.Errorf("%s is the database itself (%s, served by the app); choose another file", dst, served.Path)
	}
	if held, _ := heldByOther(dst); held {
		return fmt.Errorf("%s is a database in use by %s; a backup never replaces a database in use", dst, holderName(dst))
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
