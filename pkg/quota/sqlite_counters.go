package quota

import (
	"context"
	"database/sql"
	"errors"
)

// The policy counters and the revocation list in the SQLite twin of alist_edge_check_v3 and
// alist_edge_extend_v2 (migrations/postgres/0004): keep them in step. Counter rows are read
// through the group transaction's overlays (sqliteTx.bw, sqliteTx.rates), so a check sees
// what an earlier check of its group reserved or counted.

// revokedUntil is the end of the latest live revocation of path (0: none).
func (t *sqliteTx) revokedUntil(ctx context.Context, s *sql.Stmt, path string, now int64) (int64, error) {
	var until sql.NullInt64
	if err := t.stmt(ctx, &t.revoked, s).QueryRowContext(ctx, path, now).Scan(&until); err != nil {
		return 0, err
	}
	return until.Int64, nil
}

// counterBw is a counter's byte row as this check finds it.
func (t *sqliteTx) counterBw(ctx context.Context, s *sql.Stmt, k bwKey) (bwRow, error) {
	if r, ok := t.bw[k]; ok {
		return r, nil
	}
	var r bwRow
	err := t.stmt(ctx, &t.bwGet, s).QueryRowContext(ctx, k.scope, k.subnet, k.path).Scan(&r.end, &r.bytes, &r.blocked)
	switch {
	case err == nil:
		r.exists = true
	case errors.Is(err, sql.ErrNoRows):
		err = nil
	}
	return r, err
}

// counterReq is a counter's request row as this check finds it.
func (t *sqliteTx) counterReq(ctx context.Context, s *sql.Stmt, k rateKey) (reqRow, error) {
	if r, ok := t.rates[k]; ok {
		return reqRow{end: r.end, count: r.count, exists: true}, nil
	}
	var r reqRow
	err := t.stmt(ctx, &t.rateGet, s).QueryRowContext(ctx, k.scope, k.subnet).Scan(&r.end, &r.count)
	switch {
	case err == nil:
		r.exists = true
	case errors.Is(err, sql.ErrNoRows):
		err = nil
	}
	return r, err
}

// ctrState is what a check found in a counter's rows.
type ctrState struct {
	bw  bwRow
	req reqRow
}

// lockCounters reads the rows of p's counters; a missing one is created empty with its window
// starting now, as Postgres creates it to lock it.
func (b *sqliteBackend) lockCounters(ctx context.Context, ts *sqliteTx, p checkParams) ([]ctrState, error) {
	if len(p.ctrs) == 0 {
		return nil, nil
	}
	st := make([]ctrState, len(p.ctrs))
	for i, c := range p.ctrs {
		var err error
		if c.bytes > 0 {
			k := bwKey{c.scope, c.key, ""}
			if st[i].bw, err = ts.counterBw(ctx, b.st.bwGet, k); err != nil {
				return nil, err
			}
			if !st[i].bw.exists {
				st[i].bw = bwRow{end: p.now + c.window, exists: true}
				ts.setBw(k, st[i].bw)
			}
		}
		if c.requests > 0 {
			k := rateKey{c.scope, c.key}
			if st[i].req, err = ts.counterReq(ctx, b.st.rateGet, k); err != nil {
				return nil, err
			}
			if !st[i].req.exists {
				st[i].req = reqRow{end: p.now + c.window, exists: true}
				ts.setRate(k, st[i].req.end, 0, 0)
			}
		}
	}
	return st, nil
}

// refuseCounter is the first counter, in the policy's order, that refuses p: its index in
// p.ctrs plus one (0: none), which cap, and the ms until its window ends.
func refuseCounter(p checkParams, st []ctrState) (counter, kind int, retry int64) {
	for _, i := range p.order {
		c := &p.ctrs[i]
		if c.requests > 0 {
			if used := st[i].req.used(p.now); used >= c.requests {
				return i + 1, ctrKindRequests, windowEnd(st[i].req.end, used, p.now, c.window) - p.now
			}
		}
		if c.bytes > 0 {
			if used := st[i].bw.used(p.now); over(used, p.reserve, c.bytes) {
				return i + 1, ctrKindBytes, windowEnd(st[i].bw.end, used, p.now, c.window) - p.now
			}
		}
	}
	return 0, 0, 0
}

// counterGrant lowers an unknown length's grant to what is left under every byte counter.
func counterGrant(p checkParams, st []ctrState, grant int64) int64 {
	if p.reserve >= 0 {
		return grant
	}
	for i, c := range p.ctrs {
		if c.bytes > 0 {
			grant = min(grant, c.bytes-st[i].bw.used(p.now))
		}
	}
	return grant
}

// countCounters records an admitted request: the grant in each byte row, one more request in
// each request row. It returns each byte row's window end.
func countCounters(ts *sqliteTx, p checkParams, st []ctrState, grant int64) []int64 {
	if len(p.ctrs) == 0 {
		return nil
	}
	ends := make([]int64, len(p.ctrs))
	for i, c := range p.ctrs {
		if c.bytes > 0 && grant > 0 {
			r := st[i].bw.plus(p.now, c.window, grant)
			ts.setBw(bwKey{c.scope, c.key, ""}, r)
			ends[i] = r.end
		}
		if c.requests > 0 {
			r := st[i].req
			if r.end <= p.now || r.count <= 0 {
				r.end, r.count = p.now+c.window, 1
			} else {
				r.count++
			}
			ts.setRate(rateKey{c.scope, c.key}, r.end, r.count, 0)
		}
	}
	return ends
}

// extendCounterRows reads the byte rows of an Extend's counters (the Go twin of
// alist_edge_extend_v2); a missing row is as Postgres creates it to lock it (written later).
func extendCounterRows(ctx context.Context, get *sql.Stmt, p extendParams) (rows []bwRow, err error) {
	rows = make([]bwRow, len(p.ctrs))
	for i, c := range p.ctrs {
		switch err = get.QueryRowContext(ctx, c.scope, c.key, "").Scan(&rows[i].end, &rows[i].bytes, &rows[i].blocked); {
		case err == nil:
			rows[i].exists = true
		case errors.Is(err, sql.ErrNoRows):
			err = nil
			rows[i] = bwRow{end: p.now + c.window}
		default:
			return nil, err
		}
	}
	return rows, nil
}

// extendCounterLimits applies the counters' caps to grant after the subnet's quotas.
func extendCounterLimits(p extendParams, rows []bwRow, grant int64) (g int64, counter int, retry int64) {
	for _, i := range p.order {
		c := &p.ctrs[i]
		used := rows[i].used(p.now)
		if c.bytes-used < grant {
			grant, counter = max(c.bytes-used, 0), i+1
			retry = windowEnd(rows[i].end, used, p.now, c.window) - p.now
		}
	}
	return grant, counter, retry
}
