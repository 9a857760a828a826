package main

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// This file holds the wording of what sesctl says when something goes
// wrong: library errors without their package prefixes, and cobra's and
// pflag's usage errors in words that say what the command needs.

// packagePrefix matches the package prefix a library puts before its
// error messages ("boltstore: ", "admin: ", "json: "), at the start of the
// message or of a wrapped part of it (after ": " or "("). A word in a
// sentence ("ends every session: add --yes") is not a prefix.
var packagePrefix = regexp.MustCompile(`(^|: |\()(?:boltstore|admin|session|memstore|redisstore|json|gob): `)

// userText returns an error message as sesctl prints it: on one line,
// without package prefixes, and printable.
func userText(msg string) string {
	return printable(packagePrefix.ReplaceAllString(oneLine(msg), "$1"))
}

// unavailable describes an admin socket nobody answers on, with one hint.
func unavailable(err error) string {
	const hint = "is the app running, with its admin socket on?"
	var op *net.OpError
	if errors.As(err, &op) && op.Addr != nil && op.Err != nil {
		return fmt.Sprintf("no admin server answers at %s (%v): %s", op.Addr, op.Err, hint)
	}
	if msg := err.Error(); strings.Contains(msg, "running?") {
		return msg // the client's message has its own hint
	}
	return err.Error() + " (" + hint + ")"
}

// usageHint tells where to read the usage of cmd, the command that failed.
func usageHint(cmd *cobra.Command) string {
	if cmd == nil || !cmd.HasParent() {
		return "Run 'sesctl COMMAND --help' for a command's usage, 'sesctl --help' for the commands."
	}
	return fmt.Sprintf("Run '%s --help' for usage.", cmd.CommandPath())
}

// needArgs returns a validator of a command's positional arguments: from
// min to max of them (max < 0: no limit). what names them for its errors
// ("one session ID": "show needs one session ID").
func needArgs(min, max int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) < min:
			return usageErrorf("%s needs %s", cmd.Name(), what)
		case max == 0 && len(args) > 0:
			return usageErrorf("%s takes no arguments, not %q", cmd.Name(), args[0])
		case max > 0 && len(args) > max:
			return usageErrorf("%s takes %s, not %d arguments", cmd.Name(), what, len(args))
		}
		return nil
	}
}

// noArgs is needArgs for commands that take no arguments.
var noArgs = needArgs(0, 0, "")

// flagError rewords pflag's errors about a flag's value.
func flagError(err error) error {
	var invalid *pflag.InvalidValueError
	if errors.As(err, &invalid) {
		f := invalid.GetFlag()
		word, _ := pflag.UnquoteUsage(f)
		switch f.Value.Type() {
		case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
			return fmt.Errorf("--%s %s needs a whole number, not %q", f.Name, word, invalid.GetValue())
		case "bool":
			return fmt.Errorf("--%s is true or false, not %q", f.Name, invalid.GetValue())
		}
		return fmt.Errorf("--%s: %q is not a valid %s: %w", f.Name, invalid.GetValue(), word, errors.Unwrap(invalid))
	}
	var required *pflag.ValueRequiredError
	if errors.As(err, &required) {
		f := required.GetFlag()
		word, _ := pflag.UnquoteUsage(f)
		return fmt.Errorf("--%s needs a value: --%s %s", f.Name, f.Name, word)
	}
	return err
}
