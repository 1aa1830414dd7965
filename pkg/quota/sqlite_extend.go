package quota

import (
	"context"
	"database/sql"
	"errors"
)

// extend is the Go twin of alist_edge_extend_v1 (migrations/postgres/0002): one BEGIN
// IMMEDIATE transaction reads both usage rows and counts what it grants. The single connection
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
	for i := range nrows {
		switch err = get.QueryRowContext(ctx, p.scope, p.subnet, keys[i]).Scan(&rows[i].end, &rows[i].bytes, &rows[i].blocked); {
		case err == nil:
			rows[i].exists = true
		case errors.Is(err, sql.ErrNoRows):
			err = nil
		default:
			return res, err
		}
		used[i] = rows[i].used(p.now)
	}
	grant, by := extendGrant(p.want, limits, used)
	if by >= 0 {
		end := rows[by].end
		if !rows[by].exists {
			end = p.now + windows[by] // where the row's window would end (Postgres creates it)
		}
		res.reason = [2]Reason{ReasonBandwidth, ReasonFileBandwidth}[by]
		res.retry = max(end-p.now, 0)
	}
	res.grant = grant
	set := tx.StmtContext(ctx, b.st.bwSet)
	defer set.Close()
	for i := range nrows {
		r := rows[i]
		if grant > 0 {
			r = r.plus(p.now, windows[i], grant)
			if _, err = set.ExecContext(ctx, p.scope, p.subnet, keys[i], r.end, r.bytes, r.blocked); err != nil {
				return res, err
			}
		}
		if i == 0 {
			res.tEnd = r.end
		} else {
			res.fEnd = r.end
		}
	}
	return res, nil
}
