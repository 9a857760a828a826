package main

import (
	"github.com/spf13/cobra"

	"github.com/sesbolt/sesbolt/pkg/session"
)

func newKeygenCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "keygen",
		Short: "Print a new random key for the key file",
		Long: `Print a new random 32-byte key, base64-encoded, for the app's key file (one
key per line, newest first). To rotate keys, put the new key on the first
line and keep the old ones below it until the sessions they signed have
expired. keygen needs no database.`,
		Example: `  sesctl keygen >> app.keys   # adds a verifying key
  { sesctl keygen; cat app.keys; } > app.keys.new && mv app.keys.new app.keys   # rotates`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.printer().Key(keyResult{Key: session.EncodeKey(session.GenerateKey())})
		},
	}
}
