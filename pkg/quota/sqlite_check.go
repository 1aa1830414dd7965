package quota

import (
	"context"
	"database/sql"
	"errors"
	"math"
)

// The Go twins of the Postgres functions of migrations/postgres/0004 (alist_edge_check_v3,
// alist_edge_extend_v2; the counters and revocations in sqlite_counters.go). Every decision and every row they leave must be the same as there:
// TestDifferential replays random operation sequences on both and compares.

// checkIn is the Go twin of alist_edge_check_v3 (migrations/postgres/0004): keep them in step. All
// state is read by one SELECT and written back by at most two statements, inside one
// BEGIN IMMEDIATE transaction, so concurrent checks (even from another process) serialise.
// Within a group transaction the SELECT's answer is shared by the checks of the same subnet and
// path, and the request counter is written once per subnet at the end (ts.rates): each check
// still sees exactly what the one before it left, as if each had run its own statements.
func (b *sqliteBackend) checkIn(ctx context.Context, ts *sqliteTx, p checkParams) (res checkResult, err error) {
	res.size = -1

	const never = int64(math.MaxInt64)
	banAfter, throttleAfter, linkAfter, sizeAfter := never, never, never, never
	if p.ban {
		banAfter = p.now
	}
	if p.throttle {
		throttleAfter = p.now
	}
	if p.linkTTL > 0 {
		linkAfter = p.now - p.linkTTL
	}
	if p.sizeTTL > 0 {
		sizeAfter = p.now - p.sizeTTL
	}
	refuse := func(r Reason, retry int64) (checkResult, error) {
		return checkResult{reason: r, retry: retry, size: -1}, nil
	}
	if p.revocable {
		until, err := ts.revokedUntil(ctx, b.st.revoked, p.rpath, p.now)
		if err != nil {
			return res, err
		}
		if until > p.now {
			return refuse(ReasonRevoked, until-p.now)
		}
	}
	row, err := ts.state(ctx, b.st.state, p)
	if err != nil {
		return res, err
	}
	if row.banUntil.Valid && row.banUntil.Int64 > banAfter {
		return refuse(ReasonBanned, row.banUntil.Int64-p.now)
	}

	// The rate row as this check finds it: what an earlier check of the group set, else the
	// database's.
	rk := rateKey{p.scope, p.subnet}
	rate, rateExists := ts.rates[rk]
	if !rateExists && row.rEnd.Valid {
		rate, rateExists = rateRow{end: row.rEnd.Int64, count: row.rCount.Int64, blocked: row.rBlocked.Int64}, true
	}
	// The rate row as it will be if the request is allowed (newEnd, newCount); a subnet's first
	// request creates it even when a later stage refuses, as the Postgres function does.
	var newEnd, newCount int64
	if p.limit > 0 {
		end, count, blocked := rate.end, rate.count, rate.blocked
		if !rateExists {
			end, count, blocked = p.now+p.window, 0, 0
		}
		switch {
		case blocked > p.now:
			return refuse(ReasonRate, blocked-p.now)
		case blocked > 0 || p.now >= end:
			newEnd, newCount = p.now+p.window, 1
		case count < int64(p.limit):
			newEnd, newCount = end, count+1
		default:
			blocked = end
			if p.block > 0 {
				blocked = p.now + p.block
			}
			ts.setRate(rk, end, count, blocked)
			return refuse(ReasonRate, blocked-p.now)
		}
	}
	// A refusal past this point leaves the subnet's first window started (uncounted).
	laterRefusal := func(r Reason, retry int64) (checkResult, error) {
		if p.limit > 0 && !rateExists {
			ts.setRate(rk, newEnd, 0, 0)
		}
		return refuse(r, retry)
	}

	// Bandwidth (reserve.go): both usage rows take the reservation whenever a quota applies.
	var (
		keys    = [2]bwKey{{p.scope, p.subnet, ""}, {p.scope, p.subnet, p.path}}
		limits  = [2]int64{p.totalLimit, p.fileLimit}
		windows = [2]int64{p.totalWindow, p.fileWindow}
		reasons = [2]Reason{ReasonBandwidth, ReasonFileBandwidth}
		rows    [2]bwRow
		used    [2]int64
		grant   = int64(-1)
	)
	nrows := 1
	if p.path != "" {
		nrows = 2
	} else {
		limits[1] = 0
	}
	// Policy counters are locked (read, created) before the subnet's usage rows, as Postgres
	// locks them; any byte counter makes the request capped.
	ctrs, err := b.lockCounters(ctx, ts, p)
	if err != nil {
		return res, err
	}
	capped := limits[0] > 0 || limits[1] > 0 || byteCounters(p.ctrs)
	if capped {
		rows[0] = ts.bwRow(keys[0], row.tEnd, row.tBytes, row.tBlocked)
		rows[1] = ts.bwRow(keys[1], row.fEnd, row.fBytes, row.fBlocked)
		for i := range nrows {
			// Postgres locks both rows before it decides, creating a missing one empty with its
			// window starting now (alist_edge_lock_usage_v1); the twin leaves the same rows.
			if !rows[i].exists {
				rows[i] = bwRow{end: p.now + windows[i], exists: true}
				ts.setBw(keys[i], rows[i])
			}
			used[i] = rows[i].used(p.now)
		}
		for i := range nrows {
			if limits[i] <= 0 {
				continue
			}
			if rows[i].blocked > p.now {
				return laterRefusal(reasons[i], rows[i].blocked-p.now)
			}
			if over(used[i], p.reserve, limits[i]) {
				r := rows[i]
				r.blocked = p.now + p.bwBlock
				ts.setBw(keys[i], r)
				return laterRefusal(reasons[i], p.bwBlock)
			}
		}
	}
	if c, kind, retry := refuseCounter(p, ctrs); c > 0 {
		r, err := laterRefusal(ReasonCounter, retry)
		r.counter, r.ckind = c, kind
		return r, err
	}
	if capped {
		grant = counterGrant(p, ctrs, grantFor(p.reserve, p.chunk, limits, used))
	}

	if row.lURL.Valid && row.lFetched.Int64 > linkAfter {
		if row.thUntil.Valid && row.thUntil.Int64 > throttleAfter {
			r, err := laterRefusal(ReasonThrottled, row.thUntil.Int64-p.now)
			r.status = int(row.thStatus.Int64)
			return r, err
		}
		res.hasLink, res.url, res.header, res.fetched = true, row.lURL.String, row.lHeader.String, row.lFetched.Int64
	}

	if p.limit > 0 {
		ts.setRate(rk, newEnd, newCount, 0)
	}
	res.grant = grant
	if grant > 0 {
		for i := range nrows {
			r := rows[i].plus(p.now, windows[i], grant)
			ts.setBw(keys[i], r)
			if i == 0 {
				res.tEnd = r.end
			} else {
				res.fEnd = r.end
			}
		}
	}
	res.cEnds = countCounters(ts, p, ctrs, grant)
	if row.size.Valid && row.sizeFetched.Int64 > sizeAfter {
		res.size = row.size.Int64
	}
	return res, nil
}

// extend is the Go twin of alist_edge_extend_v2 (migrations/postgres/0004): one BEGIN
// IMMEDIATE transaction reads the counters' and both usage rows and counts what it grants. The single connection
// serialises it with the group commit of the checks.
func (b *sqliteBackend) extend(ctx context.Context, p extendParams) (res extendResult, err error) {
	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return res, err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
			return
		}
		err = tx.Commit()
	}()
	keys := [2]string{"", p.path}
	limits := [2]int64{p.totalLimit, p.fileLimit}
	windows := [2]int64{p.totalWindow, p.fileWindow}
	nrows := 1
	if p.path != "" {
		nrows = 2
	} else {
		limits[1] = 0
	}
	var rows [2]bwRow
	var used [2]int64
	get := tx.StmtContext(ctx, b.st.bwGet)
	defer get.Close()
	crows, err := extendCounterRows(ctx, get, p)
	if err != nil {
		return res, err
	}
	for i := range nrows {
		switch err = get.QueryRowContext(ctx, p.scope, p.subnet, keys[i]).Scan(&rows[i].end, &rows[i].bytes, &rows[i].blocked); {
		case err == nil:
			rows[i].exists = true
		case errors.Is(err, sql.ErrNoRows):
			// Created empty, its window starting now, as Postgres does to lock it.
			err = nil
			rows[i] = bwRow{end: p.now + windows[i]}
		default:
			return res, err
		}
		used[i] = rows[i].used(p.now)
	}
	grant, by := extendGrant(p.want, limits, used)
	if by >= 0 {
		res.reason = [2]Reason{ReasonBandwidth, ReasonFileBandwidth}[by]
		res.retry = max(rows[by].end-p.now, 0)
	}
	if g, c, retry := extendCounterLimits(p, crows, grant); c > 0 {
		grant, res.reason, res.counter, res.retry = g, ReasonCounter, c, retry
	}
	res.grant = grant
	set := tx.StmtContext(ctx, b.st.bwSet)
	defer set.Close()
	if len(p.ctrs) > 0 {
		res.ends.c = make([]int64, len(p.ctrs))
	}
	for i, c := range p.ctrs {
		r := crows[i]
		if grant > 0 {
			r = r.plus(p.now, c.window, grant)
		}
		if grant > 0 || !r.exists {
			if _, err = set.ExecContext(ctx, c.scope, c.key, "", r.end, r.bytes, r.blocked); err != nil {
				return res, err
			}
		}
		res.ends.c[i] = r.end
	}
	for i := range nrows {
		r := rows[i]
		if grant > 0 {
			r = r.plus(p.now, windows[i], grant)
		}
		if grant > 0 || !r.exists {
			if _, err = set.ExecContext(ctx, p.scope, p.subnet, keys[i], r.end, r.bytes, r.blocked); err != nil {
				return res, err
			}
		}
		if i == 0 {
			res.ends.t = r.end
		} else {
			res.ends.f = r.end
		}
	}
	return res, nil
}
