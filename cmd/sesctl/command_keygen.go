package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/sesbolt/sesbolt/pkg/session"
)

// keygenOptions are the flags of keygen.
type keygenOptions struct {
	rotate string
	keep   int
}

// defaultKeepKeys is how many old keys keygen --rotate keeps below the new
// one by default: the key that signed until now and the one before it.
const defaultKeepKeys = 2

// maxKeyFileBytes bounds the key file keygen --rotate reads: a key file is
// a few lines; anything larger is not one.
const maxKeyFileBytes = 1 << 20

func (o *keygenOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.rotate, "rotate", "", "put a new key first in the key `FILE` (rewritten atomically, mode 0600) instead of printing it")
	fs.IntVar(&o.keep, "keep", defaultKeepKeys, "with --rotate: old keys to keep below the new one, newest first; older ones are dropped (0 drops them all and ends every session)")
}

func (o *keygenOptions) validate(flags *pflag.FlagSet) error {
	if flags.Changed("keep") && o.rotate == "" {
		return usageErrorf("--keep applies to --rotate only")
	}
	if flags.Changed("rotate") && o.rotate == "" {
		return usageErrorf("--rotate needs the key FILE")
	}
	if o.keep < 0 {
		return usageErrorf("--keep must not be negative")
	}
	return nil
}

func newKeygenCommand(a *app) *cobra.Command {
	var o keygenOptions
	cmd := &cobra.Command{
		Use:   "keygen [--rotate FILE [--keep N]]",
		Short: "Make a new random key: print it, or rotate a key file",
		Long: `Print a new random 32-byte key, base64-encoded, for the app's key file (one
key per line, newest first: the first key signs cookies and seals records,
every key verifies them).

--rotate FILE puts a new key first in the existing key file FILE and keeps
the old ones below it, so sessions signed with them stay valid until they
expire; restart the app to sign with the new key. It keeps --keep N old keys
(default 2) and drops older ones, which ends the sessions still signed with
them: rotate no more often than the app's absolute session lifetime, or
raise --keep. --keep 0 drops every old key and so ends every session (after
a key was stolen). FILE is rewritten atomically (a temporary file beside it,
synced, renamed over it), with mode 0600 whatever the umask and the owner of
the old file; comment lines stay. The key is never printed.

keygen needs no database.`,
		Example: `  sesctl keygen --rotate app.keys         # then restart the app
  sesctl keygen --rotate app.keys --keep 0   # after a leak: only the new key
  sesctl keygen >> app.keys                  # adds a verifying key`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.validate(cmd.Flags()); err != nil {
				return err
			}
			if o.rotate != "" {
				return a.runRotate(o.rotate, o.keep)
			}
			return a.printer().Key(keyResult{Key: session.EncodeKey(session.GenerateKey())})
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

// runRotate puts a new key first in the key file at path, keeping keep old
// keys.
func (a *app) runRotate(path string, keep int) error {
	// Rewrite the file a symbolic link points to, not the link.
	target, err := filepath.EvalSymlinks(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: no such key file (keygen --rotate changes an existing one; to start one: (umask 077 && sesctl keygen > %s))", path, path)
	}
	if err != nil {
		return err
	}
	old, fi, err := readKeyFile(target)
	if err != nil {
		return err
	}
	if _, err := session.ParseKeys(bytes.NewReader(old)); err != nil {
		return fmt.Errorf("%s is not a key file (nothing changed): %w", path, err)
	}
	content, kept, dropped := rotatedKeyFile(old, session.EncodeKey(session.GenerateKey()), keep)
	// The result must be a key file whose first key is the new one; a
	// parsing rule rotatedKeyFile does not share would fail here.
	if kr, err := session.ParseKeys(bytes.NewReader(content)); err != nil || kr.Len() != kept+1 {
		return fmt.Errorf("%s: rotating would not give a valid key file; nothing changed (%v)", path, err)
	}
	err = writeAtomically(target, 0o600, true, func(f *os.File) error {
		if err := chownLike(f, fi); err != nil {
			return fmt.Errorf("giving it the owner of the old file: %w", err)
		}
		_, err := f.Write(content)
		return err
	})
	if err != nil {
		return fmt.Errorf("rotating %s (nothing changed): %w", path, err)
	}
	return a.printer().Rotated(rotateResult{Path: path, Keys: kept + 1, Dropped: dropped})
}

// readKeyFile reads the regular file at path, refusing one larger than
// maxKeyFileBytes.
func readKeyFile(path string) ([]byte, fs.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%s is not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFileBytes+1))
	if err != nil {
		return nil, nil, err
	}
	if len(b) > maxKeyFileBytes {
		return nil, nil, fmt.Errorf("%s is larger than %d KiB: not a key file", path, maxKeyFileBytes>>10)
	}
	return b, fi, nil
}

// rotatedKeyFile returns the key file old with key as its new first key
// line, and how many of old's keys it kept (at most keep, the first ones)
// and dropped. Lines that are not keys (blank, or comments starting with
// '#', by session.ParseKeys' rule) stay where they were; the new key goes
// just before the first old key (old has one: it parsed as a key file).
func rotatedKeyFile(old []byte, key string, keep int) (content []byte, kept, dropped int) {
	var b bytes.Buffer
	lines := strings.SplitAfter(string(old), "\n")
	placed := false
	for _, line := range lines {
		if line == "" {
			continue // after the final newline
		}
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "#") {
			b.WriteString(line)
			continue
		}
		if !placed {
			b.WriteString(key + "\n")
			placed = true
		}
		if kept == keep {
			dropped++
			continue
		}
		kept++
		b.WriteString(line)
		if !strings.HasSuffix(line, "\n") {
			b.WriteString("\n")
		}
	}
	return b.Bytes(), kept, dropped
}
