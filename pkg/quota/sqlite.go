package quota

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// sqliteBackend keeps ONE connection: every check writes (the request counter), and SQLite
// has one writer per file anyway, so a single connection turns lock contention into an
// in-process queue instead of busy-wait retries. _txlock=immediate makes every transaction
// take the write lock up front, which is what keeps the counters exact when a second process
// shares the file (the other waits in busy_timeout instead of failing on lock upgrade).
type sqliteBackend struct {
	db *sql.DB
	st sqliteStmts

	jobs          chan *checkJob // group commit (sqlite_group.go)
	quit, stopped chan struct{}
	abandoned     func(checkParams, checkResult)
}

type sqliteStmts struct {
	state, rateSet, bwSet, bwGet                                                     *sql.Stmt
	linkSave, linkDel, sizeSave, thrSet, thrClear, usage, failUp, failBan, failReset *sql.Stmt
	nonce, release, health, rateGet, revoked, session                                *sql.Stmt
}

var sqliteSQL = map[string]string{
	// Everything the check reads, in one statement, without the time cutoffs: checkIn applies
	// them, so a group of checks (sqlite_group.go) can reuse one answer for the same subnet and
	// path whatever each check's clock says.
	"state": `SELECT
		(SELECT until FROM bans WHERE scope = ?1 AND subnet = ?2),
		r.window_end, r.count, r.blocked_until,
		t.window_end, t.bytes, t.blocked_until,
		f.window_end, f.bytes, f.blocked_until,
		l.url, l.header, l.fetched_at,
		th.status, th.until,
		s.size, s.fetched_at
		FROM (SELECT 1) AS one
		LEFT JOIN rate_windows r ON r.scope = ?1 AND r.subnet = ?2
		LEFT JOIN bw_usage t ON t.scope = ?1 AND t.subnet = ?2 AND t.path_hash = ''
		LEFT JOIN bw_usage f ON f.scope = ?1 AND f.subnet = ?2 AND f.path_hash = ?3 AND ?3 <> ''
		LEFT JOIN links l ON l.path_hash = ?3
		LEFT JOIN throttle th ON th.host = l.host AND l.host <> ''
		LEFT JOIN sizes s ON s.path_hash = ?3`,
	"rateSet": `INSERT INTO rate_windows (scope, subnet, window_end, count, blocked_until) VALUES (?1, ?2, ?3, ?4, ?5)
		ON CONFLICT (scope, subnet) DO UPDATE SET window_end = excluded.window_end, count = excluded.count,
		blocked_until = excluded.blocked_until`,
	// A usage row as a check or an extension leaves it (they read it in the same transaction).
	"bwSet": `INSERT INTO bw_usage (scope, subnet, path_hash, window_end, bytes, blocked_until) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
		ON CONFLICT (scope, subnet, path_hash) DO UPDATE SET window_end = excluded.window_end, bytes = excluded.bytes,
		blocked_until = excluded.blocked_until`,
	"bwGet": `SELECT window_end, bytes, blocked_until FROM bw_usage WHERE scope = ?1 AND subnet = ?2 AND path_hash = ?3`,
	// A policy counter's request row (sqlite_counters.go).
	"rateGet": `SELECT window_end, count FROM rate_windows WHERE scope = ?1 AND subnet = ?2`,
	// The latest live revocation of path ?1, exact or by prefix (NULL: none).
	"revoked": `SELECT max(until) FROM revocations WHERE until > ?2
		AND ((prefix = 0 AND path = ?1) OR (prefix <> 0 AND substr(?1, 1, length(path)) = path))`,
	// Unused reservation given back, only to the window it was reserved in (?4 = its end).
	"release": `UPDATE bw_usage SET bytes = max(bytes + ?5, 0) WHERE scope = ?1 AND subnet = ?2 AND path_hash = ?3 AND window_end = ?4`,
	"session": strings.ReplaceAll(sessionActiveSQL, "$", "?"),
	"health":  `INSERT INTO health (id, at) VALUES (1, ?1) ON CONFLICT (id) DO UPDATE SET at = excluded.at`,
	"linkSave": `INSERT INTO links (path_hash, url, header, host, fetched_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
		ON CONFLICT (path_hash) DO UPDATE SET url = excluded.url, header = excluded.header, host = excluded.host,
		fetched_at = excluded.fetched_at, expires_at = excluded.expires_at`,
	"linkDel": `DELETE FROM links WHERE path_hash = ?1`,
	"sizeSave": `INSERT INTO sizes (path_hash, size, fetched_at, expires_at) VALUES (?1, ?2, ?3, ?4)
		ON CONFLICT (path_hash) DO UPDATE SET size = excluded.size, fetched_at = excluded.fetched_at, expires_at = excluded.expires_at`,
	"thrSet": `INSERT INTO throttle (host, status, until) VALUES (?1, ?2, ?3)
		ON CONFLICT (host) DO UPDATE SET status = excluded.status, until = excluded.until`,
	"thrClear": `DELETE FROM throttle WHERE host = ?1`,
	// ?6 is when the first of these bytes was recorded: a window that ended before it (or holds
	// no bytes) is replaced by a new one starting there.
	"usage": `INSERT INTO bw_usage (scope, subnet, path_hash, window_end, bytes, blocked_until) VALUES (?1, ?2, ?3, ?4, ?5, 0)
		ON CONFLICT (scope, subnet, path_hash) DO UPDATE SET
		bytes = CASE WHEN bw_usage.window_end <= ?6 OR bw_usage.bytes <= 0 THEN excluded.bytes ELSE bw_usage.bytes + excluded.bytes END,
		window_end = CASE WHEN bw_usage.window_end <= ?6 OR bw_usage.bytes <= 0 THEN excluded.window_end ELSE bw_usage.window_end END`,
	"failUp": `INSERT INTO failures (scope, subnet, window_end, count) VALUES (?1, ?2, ?3, ?4)
		ON CONFLICT (scope, subnet) DO UPDATE SET
		count = CASE WHEN failures.window_end <= ?5 THEN excluded.count ELSE failures.count + excluded.count END,
		window_end = CASE WHEN failures.window_end <= ?5 THEN excluded.window_end ELSE failures.window_end END`,
	"failBan": `INSERT INTO bans (scope, subnet, until)
		SELECT scope, subnet, ?3 FROM failures WHERE scope = ?1 AND subnet = ?2 AND count >= ?4
		ON CONFLICT (scope, subnet) DO UPDATE SET until = max(bans.until, excluded.until)`,
	"failReset": `DELETE FROM failures WHERE scope = ?1 AND subnet = ?2 AND count >= ?3`,
	// An expired nonce that the janitor has not removed yet counts as absent, so the answer
	// never depends on when the janitor last ran.
	"nonce": `INSERT INTO nonces (nonce, expires_at) VALUES (?1, ?2)
		ON CONFLICT (nonce) DO UPDATE SET expires_at = excluded.expires_at WHERE nonces.expires_at <= ?3
		RETURNING 1`,
}

var sqliteJanitor = []string{
	`DELETE FROM rate_windows WHERE window_end <= ?1 AND blocked_until <= ?1`,
	`DELETE FROM bw_usage WHERE window_end <= ?1 AND blocked_until <= ?1`,
	`DELETE FROM links WHERE expires_at <= ?1`,
	`DELETE FROM sizes WHERE expires_at <= ?1`,
	`DELETE FROM throttle WHERE until <= ?1`,
	`DELETE FROM failures WHERE window_end <= ?1`,
	`DELETE FROM bans WHERE until <= ?1`,
	`DELETE FROM nonces WHERE expires_at <= ?1`,
	`DELETE FROM revocations WHERE until <= ?1`,
	`DELETE FROM sessions WHERE expires <= ?1 - ` + sessionKeepMs + ` OR (ended > 0 AND ended <= ?1 - ` + sessionKeepMs + `)`,
}

// openSQLiteDB opens the file in WAL mode (readers never block the writer) with
// synchronous=NORMAL (a power cut may lose the last commits, never corrupt: counters and caches
// can afford that) and a busy timeout for a second process on the same file.
func openSQLiteDB(path string) (*sql.DB, error) {
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("quota: SQLITE_PATH must not contain '?' or '#'")
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("quota: create sqlite directory: %w", err)
		}
	}
	dsn := path + "?_txlock=immediate&_busy_timeout=5000&_journal_mode=WAL&_synchronous=NORMAL"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("quota: open sqlite: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	return db, nil
}

func openSQLite(ctx context.Context, path string) (*sqliteBackend, error) {
	db, err := openSQLiteDB(path)
	if err != nil {
		return nil, err
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("quota: open sqlite: %w", err)
	}
	if err := migrateSQLite(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	b := &sqliteBackend{db: db}
	st := map[string]**sql.Stmt{
		"state": &b.st.state, "rateSet": &b.st.rateSet, "bwSet": &b.st.bwSet, "bwGet": &b.st.bwGet, "linkSave": &b.st.linkSave,
		"linkDel": &b.st.linkDel, "sizeSave": &b.st.sizeSave, "thrSet": &b.st.thrSet, "thrClear": &b.st.thrClear, "usage": &b.st.usage,
		"failUp": &b.st.failUp, "failBan": &b.st.failBan, "failReset": &b.st.failReset, "nonce": &b.st.nonce,
		"release": &b.st.release, "health": &b.st.health, "rateGet": &b.st.rateGet, "revoked": &b.st.revoked,
		"session": &b.st.session,
	}
	for name, dst := range st {
		s, err := db.PrepareContext(ctx, sqliteSQL[name])
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("quota: prepare %s: %w", name, err)
		}
		*dst = s
	}
	b.startGroup()
	return b, nil
}

func (b *sqliteBackend) write(ctx context.Context, wb *writeBatch) (err error) {
	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
			return
		}
		err = tx.Commit()
	}()
	exec := func(s *sql.Stmt, args ...any) error {
		_, err := tx.StmtContext(ctx, s).ExecContext(ctx, args...)
		return err
	}
	for _, o := range wb.ops {
		switch o.kind {
		case opSaveLink:
			var hdr any
			if o.header != "" {
				hdr = o.header
			}
			err = exec(b.st.linkSave, o.key, o.url, hdr, o.host, o.at, o.expires)
		case opInvalidateLink:
			err = exec(b.st.linkDel, o.key)
		case opSaveSize:
			err = exec(b.st.sizeSave, o.key, o.size, o.at, o.expires)
		case opThrottleSet:
			err = exec(b.st.thrSet, o.key, o.status, o.expires)
		case opThrottleClear:
			err = exec(b.st.thrClear, o.key)
		}
		if err != nil {
			return err
		}
	}
	for _, u := range wb.usage {
		if u.tag != 0 {
			err = exec(b.st.release, u.scope, u.subnet, u.path, u.tag, u.bytes)
		} else {
			err = exec(b.st.usage, u.scope, u.subnet, u.path, u.windowEnd, u.bytes, u.first)
		}
		if err != nil {
			return err
		}
	}
	for _, f := range wb.fails {
		if err = exec(b.st.failUp, f.scope, f.subnet, f.windowEnd, f.count, f.first); err != nil {
			return err
		}
		if err = exec(b.st.failBan, f.scope, f.subnet, f.banUntil, f.threshold); err != nil {
			return err
		}
		if err = exec(b.st.failReset, f.scope, f.subnet, f.threshold); err != nil {
			return err
		}
	}
	return nil
}

func (b *sqliteBackend) useNonce(ctx context.Context, key string, expires, now int64) (bool, error) {
	var one int
	err := b.st.nonce.QueryRowContext(ctx, key, expires, now).Scan(&one)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	}
	return false, err
}

func (b *sqliteBackend) janitor(ctx context.Context, now int64) error {
	return b.inTx(ctx, func(tx *sql.Tx) error {
		for _, q := range sqliteJanitor {
			if _, err := tx.ExecContext(ctx, q, now); err != nil {
				return err
			}
		}
		return nil
	})
}

// inTx runs fn in one transaction: committed when fn succeeds, rolled back otherwise.
func (b *sqliteBackend) inTx(ctx context.Context, fn func(*sql.Tx) error) (err error) {
	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
			return
		}
		err = tx.Commit()
	}()
	return fn(tx)
}

// ping commits one row: it fails where a check's COMMIT would (full disk, read-only file).
func (b *sqliteBackend) ping(ctx context.Context, now int64) error {
	_, err := b.st.health.ExecContext(ctx, now)
	return err
}

func (b *sqliteBackend) onAbandon(fn func(checkParams, checkResult)) { b.abandoned = fn }

func (b *sqliteBackend) close() error {
	b.stopGroup()
	return b.db.Close()
}
