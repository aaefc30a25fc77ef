package cli

import (
	"certctl/app/server"
)

func serve(env Env, args []string) error {
	if err := noArgs("serve", args); err != nil {
		return err
	}
	cfg, log, err := load(env)
	if err != nil {
		return err
	}
	ctx, stop := signalContext()
	defer stop()
	return server.Run(ctx, cfg, log, nil)
}
