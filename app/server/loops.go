package server

import (
	"context"
	"time"

	"certctl/app/scheduler"
)

// budget is how long one run of a loop with the given interval may take: twice the
// interval, between ten seconds and ten minutes.
func budget(interval time.Duration) time.Duration {
	return min(max(2*interval, 10*time.Second), 10*time.Minute)
}

// loops are the scheduler's loops, by name; intervals come from the configuration.
func (a *App) loops() []scheduler.Loop {
	count := func(f func(ctx context.Context) (int, error)) func(context.Context) error {
		return func(ctx context.Context) error { _, err := f(ctx); return err }
	}
	runs := map[string]func(ctx context.Context) error{
		"renewal_check": count(a.Certs.RenewDue),
		"job_processor": func(ctx context.Context) error {
			a.Certs.ProcessJobs(ctx)
			return nil
		},
		"job_timeout":    count(a.Certs.TimeoutJobs),
		"status_refresh": count(a.Certs.RefreshStatuses),
		"crl_generation": a.CA.RefreshCRLs,
		"ocsp_rotation":  a.CA.Ensure,
		"ca_rollover": func(ctx context.Context) error {
			_, err := a.CA.RolloverIfDue(ctx)
			return err
		},
		"retention": func(ctx context.Context) error {
			_, err := a.Certs.PruneJobs(ctx, a.cfg.JobRetention)
			return err
		},
		"agent_health": count(a.Agents.MarkOffline),
		"job_retry": func(ctx context.Context) error {
			_, err := a.Certs.RetryDeployments(ctx, 1000)
			return err
		},
		"deployment_verification": func(ctx context.Context) error {
			if a.cfg.DeploymentVerifyAfter == 0 {
				return nil
			}
			_, err := a.Certs.QueueVerifications(ctx, a.cfg.DeploymentVerifyAfter)
			return err
		},
		"network_scan": func(ctx context.Context) error {
			if !a.cfg.NetworkScanEnabled {
				return nil
			}
			_, err := a.Agents.ScanNetwork(ctx, "")
			return err
		},
		"metrics_refresh": func(ctx context.Context) error {
			return a.inventory.Refresh(ctx, a.st, time.Now())
		},
	}
	var out []scheduler.Loop
	for name, run := range runs {
		interval := a.cfg.Intervals[name]
		out = append(out, scheduler.Loop{Name: name, Interval: interval,
			Budget: budget(interval), Run: run})
	}
	return out
}
