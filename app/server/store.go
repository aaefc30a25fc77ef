package server

import (
	"context"
	"fmt"

	"certctl/app/config"
	"certctl/store"
	"certctl/store/postgres"
	"certctl/store/sqlite"
)

// OpenStore opens the database cfg names, migrating it to the newest schema when migrate is
// set. Without migrate the schema is left as it is, for `certctl migrate`.
func OpenStore(ctx context.Context, cfg config.Config, migrate bool) (store.Store, error) {
	if path := cfg.SQLitePath(); path != "" {
		if migrate {
			return sqlite.Open(ctx, path)
		}
		return sqlite.OpenUnmigrated(path)
	}
	if migrate {
		return postgres.Open(ctx, cfg.DatabaseURL, cfg.DatabaseMaxConn)
	}
	return postgres.OpenUnmigrated(ctx, cfg.DatabaseURL, cfg.DatabaseMaxConn)
}

// describe names the database for log lines without revealing credentials.
func describe(cfg config.Config) string {
	if path := cfg.SQLitePath(); path != "" {
		return fmt.Sprintf("sqlite %s", path)
	}
	return "postgres"
}
