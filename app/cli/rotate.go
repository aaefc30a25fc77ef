package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"certctl/app/agents"
	"certctl/app/certs"
	"certctl/app/keyring"
	"certctl/app/localca"
	"certctl/app/secret"
	"certctl/app/server"
)

const rotateUsage = "usage: certctl rotate-key [--new-key-file FILE] (stop every server first)"

// rotateKey re-encrypts everything sealed at rest under a new configuration encryption key.
func rotateKey(env Env, args []string) error {
	fs := flag.NewFlagSet("rotate-key", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	keyFile := fs.String("new-key-file", "", "file holding the new key, 64 hex characters")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return &usageError{rotateUsage}
	}
	next := secret.NewKey()
	if *keyFile != "" {
		b, err := os.ReadFile(*keyFile)
		if err != nil {
			return &usageError{"--new-key-file: " + err.Error()}
		}
		if next, err = secret.ParseKey(strings.TrimSpace(string(b))); err != nil {
			return &usageError{"--new-key-file: " + err.Error()}
		}
	}
	cfg, log, err := load(env)
	if err != nil {
		return err
	}
	ctx := context.Background()
	st, err := server.OpenStore(ctx, cfg, true)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer st.Close()
	fromFile := cfg.EncryptionKey == "" && st.Backend() == "sqlite"
	old, err := keyring.Load(ctx, keyring.Source{Hex: cfg.EncryptionKey, DataDir: cfg.DataDir,
		Generate: fromFile}, st, log)
	if err != nil {
		return err
	}
	n, err := keyring.Rotate(ctx, st, old, next, localca.Reseal, certs.Reseal,
		agents.ResealTargets)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "re-encrypted %d keys under the new encryption key\n", n)
	if fromFile {
		if err := keyring.Replace(cfg.DataDir, next); err != nil {
			return fmt.Errorf("the database now uses the new key, but %w; the new key is:\n%s",
				err, next.Hex())
		}
		fmt.Fprintln(env.Stderr, "the key file in the data directory holds the new key; "+
			"the old one is kept beside it for restoring older backups")
		return nil
	}
	fmt.Fprintln(env.Stderr, "set CERTCTL_CONFIG_ENCRYPTION_KEY to this new key on every "+
		"server before starting them; keep the old key for restoring older backups:")
	fmt.Fprintln(env.Stdout, next.Hex())
	return nil
}
