package quota

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/alist-edge/alist-edge/migrations"
)

type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads NNNN_name.sql files; a malformed or duplicate number is a build
// mistake, reported rather than skipped so that a migration can never be silently left out.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	var out []migration
	seen := map[int]string{}
	for _, e := range entries {
		if e.IsDir() || path.Ext(e.Name()) != ".sql" {
			continue
		}
		num, _, _ := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("quota: migration %q has no version prefix", e.Name())
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("quota: migrations %q and %q share version %d", prev, e.Name(), v)
		}
		seen[v] = e.Name()
		b, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

func latestVersion(ms []migration) int {
	if len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer NOT NULL PRIMARY KEY,
    name       text    NOT NULL,
    applied_at bigint  NOT NULL
)`

// migrateSQLite applies all pending migrations in one BEGIN IMMEDIATE transaction (the DSN sets
// _txlock=immediate): a second process migrating at the same time waits and then finds nothing
// to do, and a failed migration leaves the database as it was.
func migrateSQLite(ctx context.Context, db *sql.DB) error {
	ms, err := loadMigrations(migrations.SQLite)
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("quota: migrate: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if _, err := tx.ExecContext(ctx, createMigrationsTable); err != nil {
		return fmt.Errorf("quota: migrate: %w", err)
	}
	var cur int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&cur); err != nil {
		return fmt.Errorf("quota: migrate: %w", err)
	}
	if cur > latestVersion(ms) {
		return fmt.Errorf("%w (database version %d, binary knows %d)", ErrSchemaTooNew, cur, latestVersion(ms))
	}
	for _, m := range ms {
		if m.version <= cur {
			continue
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("quota: migration %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)`,
			m.version, m.name, time.Now().UnixMilli()); err != nil {
			return fmt.Errorf("quota: migration %s: %w", m.name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("quota: migrate: %w", err)
	}
	return nil
}

// migrateLockKey is the advisory lock that serialises replicas migrating one database.
const migrateLockKey int64 = 0x616c6973746564 // "alisted"

func migratePostgresURL(ctx context.Context, dsn string) error {
	pool, err := newPGPool(dsn)
	if err != nil {
		return err
	}
	defer pool.close()
	return pool.with(ctx, func(c *pgx.Conn) error { return migratePostgres(ctx, c) })
}

// migratePostgres applies all pending migrations in one transaction under an advisory lock;
// Postgres DDL is transactional, so a failure leaves the database untouched.
func migratePostgres(ctx context.Context, c *pgx.Conn) error {
	ms, err := loadMigrations(migrations.Postgres)
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLockKey); err != nil {
			return fmt.Errorf("quota: migrate: %w", err)
		}
		if _, err := tx.Exec(ctx, createMigrationsTable); err != nil {
			return fmt.Errorf("quota: migrate: %w", err)
		}
		var cur int
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&cur); err != nil {
			return fmt.Errorf("quota: migrate: %w", err)
		}
		if cur > latestVersion(ms) {
			return fmt.Errorf("%w (database version %d, binary knows %d)", ErrSchemaTooNew, cur, latestVersion(ms))
		}
		for _, m := range ms {
			if m.version <= cur {
				continue
			}
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("quota: migration %s: %w", m.name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.version, m.name, time.Now().UnixMilli()); err != nil {
				return fmt.Errorf("quota: migration %s: %w", m.name, err)
			}
		}
		return nil
	})
}
