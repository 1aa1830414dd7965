package quota

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
)

// pgBackend runs the check as ONE statement (the plpgsql function of migrations 0002 and 0004) and every
// write batch as one pipelined round trip; pgx prepares each statement once per connection.
type pgBackend struct {
	pool *pgPool

	jobs          chan *checkJob // batched checks (pg_group.go)
	quit, stopped chan struct{}
	abandoned     func(checkParams, checkResult)
}

const pgCheckSQL = `SELECT o_reason, o_retry, o_status, o_url, o_header, o_fetched, o_size, o_grant, o_tend, o_fend,
o_counter, o_ckind, o_cend
FROM alist_edge_check_v3($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
$19, $20, $21, $22, $23, $24, $25, $26)`

// pgCheckArgs are pgCheckSQL's arguments for p.
func pgCheckArgs(p checkParams) []any {
	a := pgCounterArgs(p.ctrs, p.order, true)
	return []any{p.scope, p.subnet, p.path, p.now, p.ban, int32(p.limit), p.window, p.block,
		p.totalLimit, p.fileLimit, p.bwBlock, p.linkTTL, p.throttle, p.sizeTTL,
		p.reserve, p.chunk, p.totalWindow, p.fileWindow, p.revocable, p.rpath,
		a.scopes, a.keys, a.bytes, a.requests, a.windows, a.order}
}

// pgCounters are the counters as the functions' array parameters (nil: none).
type pgCounters struct {
	scopes, keys             []string
	bytes, requests, windows []int64
	order                    []int32 // 1-based
}

func pgCounterArgs(ctrs []ctrParam, order []int, requests bool) (a pgCounters) {
	if len(ctrs) == 0 {
		return a
	}
	for _, c := range ctrs {
		a.scopes = append(a.scopes, c.scope)
		a.keys = append(a.keys, c.key)
		a.bytes = append(a.bytes, c.bytes)
		if requests {
			a.requests = append(a.requests, c.requests)
		}
		a.windows = append(a.windows, c.window)
	}
	for _, o := range order {
		a.order = append(a.order, int32(o+1))
	}
	return a
}

// scanCheck reads one pgCheckSQL row.
func scanCheck(row pgx.Row) (checkResult, error) {
	var (
		res     checkResult
		reason  string
		url     *string
		header  *string
		fetched *int64
	)
	var counter, ckind int32
	if err := row.Scan(&reason, &res.retry, &res.status, &url, &header, &fetched, &res.size,
		&res.grant, &res.tEnd, &res.fEnd, &counter, &ckind, &res.cEnds); err != nil {
		return checkResult{}, err
	}
	res.counter, res.ckind = int(counter), int(ckind)
	if len(res.cEnds) == 0 {
		res.cEnds = nil
	}
	res.reason = Reason(reason)
	if url != nil && fetched != nil {
		res.hasLink, res.url, res.fetched = true, *url, *fetched
		if header != nil {
			res.header = *header
		}
	}
	return res, nil
}

const pgExtendSQL = `SELECT o_grant, o_reason, o_retry, o_tend, o_fend, o_counter, o_cend
FROM alist_edge_extend_v2($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`

const pgHealth = `INSERT INTO health (id, at) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET at = excluded.at`

const (
	pgLinkSave = `INSERT INTO links (path_hash, url, header, host, fetched_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (path_hash) DO UPDATE SET url = excluded.url, header = excluded.header, host = excluded.host,
		fetched_at = excluded.fetched_at, expires_at = excluded.expires_at`
	pgLinkDel  = `DELETE FROM links WHERE path_hash = $1`
	pgSizeSave = `INSERT INTO sizes (path_hash, size, fetched_at, expires_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (path_hash) DO UPDATE SET size = excluded.size, fetched_at = excluded.fetched_at, expires_at = excluded.expires_at`
	pgThrSet = `INSERT INTO throttle (host, status, until) VALUES ($1, $2, $3)
		ON CONFLICT (host) DO UPDATE SET status = excluded.status, until = excluded.until`
	pgThrClear = `DELETE FROM throttle WHERE host = $1`
	pgUsage    = `INSERT INTO bw_usage (scope, subnet, path_hash, window_end, bytes, blocked_until) VALUES ($1, $2, $3, $4, $5, 0)
		ON CONFLICT (scope, subnet, path_hash) DO UPDATE SET
		bytes = CASE WHEN bw_usage.window_end <= $6 OR bw_usage.bytes <= 0 THEN excluded.bytes ELSE bw_usage.bytes + excluded.bytes END,
		window_end = CASE WHEN bw_usage.window_end <= $6 OR bw_usage.bytes <= 0 THEN excluded.window_end ELSE bw_usage.window_end END`
	// Unused reservation given back, only to the window it was reserved in ($4 = its end).
	pgRelease = `UPDATE bw_usage SET bytes = GREATEST(bytes + $5, 0)
		WHERE scope = $1 AND subnet = $2 AND path_hash = $3 AND window_end = $4`
	pgFailUp = `INSERT INTO failures (scope, subnet, window_end, count) VALUES ($1, $2, $3, $4)
		ON CONFLICT (scope, subnet) DO UPDATE SET
		count = CASE WHEN failures.window_end <= $5 THEN excluded.count ELSE failures.count + excluded.count END,
		window_end = CASE WHEN failures.window_end <= $5 THEN excluded.window_end ELSE failures.window_end END`
	pgFailBan = `INSERT INTO bans (scope, subnet, until)
		SELECT scope, subnet, $3::bigint FROM failures WHERE scope = $1 AND subnet = $2 AND count >= $4
		ON CONFLICT (scope, subnet) DO UPDATE SET until = GREATEST(bans.until, excluded.until)`
	pgFailReset = `DELETE FROM failures WHERE scope = $1 AND subnet = $2 AND count >= $3`
	pgNonce     = `INSERT INTO nonces (nonce, expires_at) VALUES ($1, $2)
		ON CONFLICT (nonce) DO UPDATE SET expires_at = excluded.expires_at WHERE nonces.expires_at <= $3
		RETURNING 1`
)

var pgJanitor = []string{
	`DELETE FROM rate_windows WHERE window_end <= $1 AND blocked_until <= $1`,
	`DELETE FROM bw_usage WHERE window_end <= $1 AND blocked_until <= $1`,
	`DELETE FROM links WHERE expires_at <= $1`,
	`DELETE FROM sizes WHERE expires_at <= $1`,
	`DELETE FROM throttle WHERE until <= $1`,
	`DELETE FROM failures WHERE window_end <= $1`,
	`DELETE FROM bans WHERE until <= $1`,
	`DELETE FROM nonces WHERE expires_at <= $1`,
	`DELETE FROM revocations WHERE until <= $1`,
	`DELETE FROM sessions WHERE expires <= $1::bigint - ` + sessionKeepMs + ` OR (ended > 0 AND ended <= $1::bigint - ` + sessionKeepMs + `)`,
}

// openPostgres migrates the database of pool and starts the check batching; the backend owns
// pool from here on.
func openPostgres(ctx context.Context, pool *pgPool) (*pgBackend, error) {
	if err := pool.with(ctx, func(c *pgx.Conn) error { return migratePostgres(ctx, c) }); err != nil {
		pool.close()
		return nil, err
	}
	b := &pgBackend{pool: pool}
	b.startGroup()
	return b, nil
}

// checkOne is the check alone on a pooled connection (pg_group.go batches several).
func (b *pgBackend) checkOne(ctx context.Context, p checkParams) (res checkResult, err error) {
	err = b.pool.with(ctx, func(c *pgx.Conn) error {
		res, err = scanCheck(c.QueryRow(ctx, pgCheckSQL, pgCheckArgs(p)...))
		return err
	})
	return res, err
}

// extend is one statement: alist_edge_extend_v2 locks the counters' and both usage rows, so extensions and
// checks of one subnet on every replica take turns.
func (b *pgBackend) extend(ctx context.Context, p extendParams) (res extendResult, err error) {
	err = b.pool.with(ctx, func(c *pgx.Conn) error {
		var reason string
		var counter int32
		a := pgCounterArgs(p.ctrs, p.order, false)
		if err := c.QueryRow(ctx, pgExtendSQL, p.scope, p.subnet, p.path, p.now, p.want,
			p.totalLimit, p.fileLimit, p.totalWindow, p.fileWindow, a.scopes, a.keys, a.bytes, a.windows, a.order,
		).Scan(&res.grant, &reason, &res.retry, &res.ends.t, &res.ends.f, &counter, &res.ends.c); err != nil {
			return err
		}
		res.reason, res.counter = Reason(reason), int(counter)
		return nil
	})
	return res, err
}

func (b *pgBackend) onAbandon(fn func(checkParams, checkResult)) { b.abandoned = fn }

func (b *pgBackend) write(ctx context.Context, wb *writeBatch) error {
	var batch pgx.Batch
	for _, o := range wb.ops {
		switch o.kind {
		case opSaveLink:
			var hdr *string
			if o.header != "" {
				hdr = &o.header
			}
			batch.Queue(pgLinkSave, o.key, o.url, hdr, o.host, o.at, o.expires)
		case opInvalidateLink:
			batch.Queue(pgLinkDel, o.key)
		case opSaveSize:
			batch.Queue(pgSizeSave, o.key, o.size, o.at, o.expires)
		case opThrottleSet:
			batch.Queue(pgThrSet, o.key, int32(o.status), o.expires)
		case opThrottleClear:
			batch.Queue(pgThrClear, o.key)
		}
	}
	for _, u := range wb.usage {
		if u.tag != 0 {
			batch.Queue(pgRelease, u.scope, u.subnet, u.path, u.tag, u.bytes)
		} else {
			batch.Queue(pgUsage, u.scope, u.subnet, u.path, u.windowEnd, u.bytes, u.first)
		}
	}
	for _, f := range wb.fails {
		batch.Queue(pgFailUp, f.scope, f.subnet, f.windowEnd, int32(min(f.count, maxCount)), f.first)
		batch.Queue(pgFailBan, f.scope, f.subnet, f.banUntil, int32(f.threshold))
		batch.Queue(pgFailReset, f.scope, f.subnet, int32(f.threshold))
	}
	if batch.Len() == 0 {
		return nil
	}
	// A pipelined batch ends in one Sync, so Postgres runs it as one implicit transaction:
	// either all of it is recorded or none (and the usage is retried).
	return b.pool.with(ctx, func(c *pgx.Conn) error {
		return c.SendBatch(ctx, &batch).Close()
	})
}

func (b *pgBackend) useNonce(ctx context.Context, key string, expires, now int64) (bool, error) {
	var fresh bool
	err := b.pool.with(ctx, func(c *pgx.Conn) error {
		var one int32
		err := c.QueryRow(ctx, pgNonce, key, expires, now).Scan(&one)
		switch {
		case err == nil:
			fresh = true
			return nil
		case errors.Is(err, pgx.ErrNoRows):
			return nil
		}
		return err
	})
	return fresh, err
}

func (b *pgBackend) janitor(ctx context.Context, now int64) error {
	return b.pool.with(ctx, func(c *pgx.Conn) error {
		for _, q := range pgJanitor {
			if _, err := c.Exec(ctx, q, now); err != nil {
				return err
			}
		}
		return nil
	})
}

// ping commits one row: it fails where a check's COMMIT would (read-only database, full disk).
func (b *pgBackend) ping(ctx context.Context, now int64) error {
	return b.pool.with(ctx, func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, pgHealth, now)
		return err
	})
}

func (b *pgBackend) close() error {
	b.stopGroup()
	b.pool.close()
	return nil
}
