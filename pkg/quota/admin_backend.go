package quota

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"
)

// The admin operations' statements on each backend: the same SQL ($N placeholders become ?N
// for SQLite), each call one transaction.

func (b *sqliteBackend) adminExec(ctx context.Context, stmts []adminStmt) error {
	return b.inTx(ctx, func(tx *sql.Tx) error {
		for _, st := range stmts {
			if _, err := tx.ExecContext(ctx, strings.ReplaceAll(st.q, "$", "?"), st.args...); err != nil {
				return err
			}
		}
		return nil
	})
}

func (b *sqliteBackend) adminQuery(ctx context.Context, q string, args []any, row func(scan func(...any) error) error) error {
	rows, err := b.db.QueryContext(ctx, strings.ReplaceAll(q, "$", "?"), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (b *pgBackend) adminExec(ctx context.Context, stmts []adminStmt) error {
	return b.pool.with(ctx, func(c *pgx.Conn) error {
		return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			for _, st := range stmts {
				if _, err := tx.Exec(ctx, st.q, st.args...); err != nil {
					return err
				}
			}
			return nil
		})
	})
}

func (b *pgBackend) adminQuery(ctx context.Context, q string, args []any, row func(scan func(...any) error) error) error {
	return b.pool.with(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := row(rows.Scan); err != nil {
				return err
			}
		}
		return rows.Err()
	})
}

func (b *sqliteBackend) adminExecCount(ctx context.Context, st adminStmt) (int64, error) {
	res, err := b.db.ExecContext(ctx, strings.ReplaceAll(st.q, "$", "?"), st.args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (b *sqliteBackend) sessionActive(ctx context.Context, id string, now int64) (bool, error) {
	var one int
	err := b.st.session.QueryRowContext(ctx, id, now).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

func (b *pgBackend) adminExecCount(ctx context.Context, st adminStmt) (n int64, err error) {
	err = b.pool.with(ctx, func(c *pgx.Conn) error {
		tag, err := c.Exec(ctx, st.q, st.args...)
		n = tag.RowsAffected()
		return err
	})
	return n, err
}

func (b *pgBackend) sessionActive(ctx context.Context, id string, now int64) (bool, error) {
	var one int
	err := b.pool.with(ctx, func(c *pgx.Conn) error { return c.QueryRow(ctx, sessionActiveSQL, id, now).Scan(&one) })
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}
