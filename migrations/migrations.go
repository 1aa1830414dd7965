// Package migrations holds the versioned database schemas of pkg/quota, embedded so that a
// single binary can create or upgrade its own database (at startup or via `migrate`).
//
// Files are named NNNN_description.sql and applied in order, each exactly once, recorded in
// schema_migrations. A migration may only add: a rolling upgrade runs old and new binaries
// against one database, and an upgrade must never silently drop recorded state.
package migrations

import (
	"embed"
	"io/fs"
)

//go:embed sqlite/*.sql
var sqliteFiles embed.FS

//go:embed postgres/*.sql
var postgresFiles embed.FS

// SQLite and Postgres are the migration files of each backend, rooted at their folder.
var (
	SQLite   fs.FS = mustSub(sqliteFiles, "sqlite")
	Postgres fs.FS = mustSub(postgresFiles, "postgres")
)

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err)
	}
	return sub
}
