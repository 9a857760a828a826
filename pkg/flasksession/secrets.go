package flasksession

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// MaxSecretSize is the longest secret line ParseSecrets reads, in bytes.
const MaxSecretSize = 4096

// ParseSecrets reads a secret file shared with a Flask app: one secret per
// line, oldest first and newest last (itsdangerous's order; the newest
// signs). Each line is a secret byte for byte, without its line ending
// ("\n" or "\r\n"): spaces and '#' are part of it, and it need not be UTF-8.
// Empty lines are skipped. The Flask app in examples/flask reads the same
// format:
//
//	secrets = [l.removesuffix(b"\r") for l in data.split(b"\n")]
//	app.secret_key = [s for s in secrets if s]
//
// It returns ErrNoSecret when the file holds no secret, and an error naming
// the line (never its content) for a line longer than MaxSecretSize.
func ParseSecrets(r io.Reader) ([][]byte, error) {
	var secrets [][]byte
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 256), MaxSecretSize+2) // the line and its "\r\n"
	n := 0
	for sc.Scan() {
		n++
		if line := sc.Bytes(); len(line) > 0 {
			if len(line) > MaxSecretSize {
				return nil, fmt.Errorf("flasksession: secret file line %d is longer than %d bytes", n, MaxSecretSize)
			}
			secrets = append(secrets, bytes.Clone(line))
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("flasksession: secret file line %d is longer than %d bytes", n+1, MaxSecretSize)
		}
		return nil, fmt.Errorf("flasksession: reading secret file: %w", err)
	}
	if len(secrets) == 0 {
		return nil, fmt.Errorf("%w: the secret file holds no secret", ErrNoSecret)
	}
	return secrets, nil
}

// LoadSecretFile reads the secret file at path (see ParseSecrets).
func LoadSecretFile(path string) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("flasksession: secret file: %w", err)
	}
	defer f.Close()
	secrets, err := ParseSecrets(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return secrets, nil
}
