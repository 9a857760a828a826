package main

import (
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time with
// -ldflags "-X main.version=v1.2.3"; otherwise it comes from the module
// version the binary was built from, or "devel".
var version = ""

func newVersionCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print sesctl's version",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.printer().Version(versionResult{Version: buildVersion(), Go: runtime.Version()})
		},
	}
}

// buildVersion returns the version of this binary.
func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}
