package cli

import (
	"context"

	"certctl/app/agent"
	"certctl/app/agentapi"
	"certctl/app/deploy"
	"certctl/app/discovery"
)

// agentCmd runs `certctl agent`: the process that enrolls this host, keeps its keys, deploys
// and discovers, until SIGINT or SIGTERM, or until the server retires it (exit code 0, so a
// service manager does not restart it).
func agentCmd(env Env, args []string) error {
	if err := noArgs("agent", args); err != nil {
		return err
	}
	cfg, err := agent.LoadConfig(env.Lookup)
	if err != nil {
		return err
	}
	log := newLogger(env, cfg.LogLevel, cfg.LogFormat)
	ctx, stop := signalContext()
	defer stop()
	return agent.Run(ctx, cfg, agent.Deps{Log: log,
		Deployer: func(ctx context.Context, t agentapi.Target, m agent.Material) agentapi.Report {
			return deploy.Deploy(ctx, t.Type, t.Config, cfg.AllowedPaths,
				deploy.Material{CertPEM: m.CertPEM, ChainPEM: m.ChainPEM, Key: m.Key},
				deploy.Options{Log: log})
		},
		Scanner: func(ctx context.Context, dirs []string) agentapi.Discovery {
			return discovery.Scan(ctx, dirs, discovery.Options{})
		},
	})
}
