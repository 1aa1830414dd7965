package quota

import (
	"context"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"
)

// What TestDifferential reads and resets on both databases, and how it flushes a store that
// was not started.

// diffRows reads every row the two stores keep, one string each, in one query: the same SQL
// for both databases (|| turns numbers into text on both), a sha256 cut to its first 8 digits.
const diffRows = `
SELECT 'rate ' || scope || ' ' || substr(subnet, 1, 8) || ' end=' || window_end || ' count=' || count || ' blocked=' || blocked_until FROM rate_windows
UNION ALL SELECT 'usage ' || scope || ' ' || substr(subnet, 1, 8) || ' path=' || path_hash || ' end=' || window_end || ' bytes=' || bytes || ' blocked=' || blocked_until FROM bw_usage
UNION ALL SELECT 'fail ' || scope || ' ' || substr(subnet, 1, 8) || ' end=' || window_end || ' count=' || count FROM failures
UNION ALL SELECT 'ban ' || scope || ' ' || substr(subnet, 1, 8) || ' until=' || until FROM bans
UNION ALL SELECT 'link ' || path_hash || ' ' || url || ' hdr=' || COALESCE(header, '') || ' host=' || host || ' at=' || fetched_at || ' exp=' || expires_at FROM links
UNION ALL SELECT 'size ' || path_hash || ' ' || size || ' at=' || fetched_at || ' exp=' || expires_at FROM sizes
UNION ALL SELECT 'throttle ' || host || ' ' || status || ' until=' || until FROM throttle
UNION ALL SELECT 'nonce ' || substr(nonce, 1, 8) || ' exp=' || expires_at FROM nonces
UNION ALL SELECT 'revoked ' || path || ' prefix=' || CASE WHEN prefix THEN 1 ELSE 0 END || ' until=' || until FROM revocations`

// diffReset empties every table (one statement list for both databases).
const diffReset = `DELETE FROM rate_windows; DELETE FROM bw_usage; DELETE FROM failures; DELETE FROM bans;
DELETE FROM links; DELETE FROM sizes; DELETE FROM throttle; DELETE FROM nonces; DELETE FROM revocations`

// dumpSQLite returns the rows of q (one text column), sorted in Go: collations differ.
func dumpSQLite(t testing.TB, be *sqliteBackend, q string) []string {
	t.Helper()
	rows, err := be.db.Query(q)
	if err != nil {
		t.Fatalf("sqlite: %v", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func dumpPG(t testing.TB, be *pgBackend, q string) []string {
	t.Helper()
	var out []string
	err := be.pool.with(context.Background(), func(c *pgx.Conn) error {
		rows, err := c.Query(context.Background(), q)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	slices.Sort(out)
	return out
}

func execAll(t testing.TB, be backend, stmts string) {
	t.Helper()
	ctx := context.Background()
	var err error
	switch be := be.(type) {
	case *sqliteBackend:
		_, err = be.db.ExecContext(ctx, stmts)
	case *pgBackend:
		err = be.pool.with(ctx, func(c *pgx.Conn) error { return c.PgConn().Exec(ctx, stmts).Close() })
	}
	if err != nil {
		t.Fatalf("%s: %v", stmts, err)
	}
}

// flushNow writes everything queued or recorded so far, as the writer would in its next
// batches (failures included, as when they are due).
func flushNow(s *store) error {
	for {
		var b writeBatch
		s.fill(&b)
		full := len(b.ops) == maxBatchOps
		if err := s.runBatch(&b, true, false); err != nil {
			return err
		}
		if !full {
			return nil
		}
	}
}
