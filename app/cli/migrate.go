package cli

import (
	"context"
	"fmt"
	"text/tabwriter"

	"certctl/app/server"
	"certctl/store/postgres"
	"certctl/store/sqlite"

	"github.com/pressly/goose/v3"
)

func migrate(env Env, args []string) error {
	if len(args) != 1 || (args[0] != "up" && args[0] != "down" && args[0] != "status") {
		return &usageError{"usage: certctl migrate up|down|status"}
	}
	cfg, _, err := load(env)
	if err != nil {
		return err
	}
	ctx := context.Background()
	st, err := server.OpenStore(ctx, cfg, false)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer st.Close()

	var p *goose.Provider
	switch s := st.(type) {
	case *sqlite.Store:
		p, err = s.Migrations()
	case *postgres.Store:
		var release func()
		p, release, err = s.Migrations()
		if err == nil {
			defer release()
		}
	}
	if err != nil {
		return err
	}
	return runMigration(ctx, env, p, args[0])
}

func runMigration(ctx context.Context, env Env, p *goose.Provider, verb string) error {
	switch verb {
	case "up":
		results, err := p.Up(ctx)
		for _, r := range results {
			fmt.Fprintf(env.Stdout, "applied %s (%s)\n", r.Source.Path, r.Duration)
		}
		if err == nil && len(results) == 0 {
			fmt.Fprintln(env.Stdout, "already at the newest schema")
		}
		return err
	case "down":
		r, err := p.Down(ctx)
		if err != nil {
			return fmt.Errorf("roll back: %w", err)
		}
		fmt.Fprintf(env.Stdout, "rolled back %s\n", r.Source.Path)
		return nil
	}
	statuses, err := p.Status(ctx)
	if err != nil {
		return fmt.Errorf("migration status: %w", err)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tFILE\tSTATE\tAPPLIED AT")
	for _, s := range statuses {
		at := "-"
		if !s.AppliedAt.IsZero() {
			at = s.AppliedAt.UTC().Format("2006-01-02 15:04:05Z")
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", s.Source.Version, s.Source.Path, s.State, at)
	}
	return tw.Flush()
}
