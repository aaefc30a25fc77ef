// Package migrations embeds the goose SQL migrations of both database dialects. The two
// folders hold files with the same numbers and names; a shipped file is never edited.
package migrations

import (
	"embed"
	"io/fs"
)

//go:embed sqlite/*.sql
var sqliteFS embed.FS

//go:embed postgres/*.sql
var postgresFS embed.FS

// SQLite returns the SQLite migrations, with the files at the root of the FS.
func SQLite() fs.FS { return sub(sqliteFS, "sqlite") }

// Postgres returns the PostgreSQL migrations, with the files at the root of the FS.
func Postgres() fs.FS { return sub(postgresFS, "postgres") }

func sub(f embed.FS, dir string) fs.FS {
	s, err := fs.Sub(f, dir)
	if err != nil {
		panic(err) // the directory is embedded at build time, so it always exists
	}
	return s
}
