package quota

import (
	"context"
	"database/sql"
	"errors"
	"runtime"
	"sync"
)

// Group commit for the SQLite check. Every check writes (the request counter) and SQLite has one
// writer, so checks are serial anyway; what costs is the transaction around each one (BEGIN
// IMMEDIATE, COMMIT writing the WAL frames). One goroutine takes the checks that are queued and
// runs up to groupMax of them, one after another, in ONE transaction: each sees the effects of
// the earlier ones (sequential semantics, exactly-N per window kept), each caller is answered
// after the COMMIT that made its own effects durable, and no request waits for more than the
// transaction its check rides in. A failed statement or COMMIT rolls the group back and re-runs
// every check of it in a transaction of its own, so one bad check never fails its neighbours.

// groupMax bounds one transaction: large enough to amortise BEGIN/COMMIT under load, small
// enough that the first caller of a group does not wait behind hundreds of others.
const groupMax = 64

type checkJob struct {
	ctx  context.Context
	p    checkParams
	res  checkResult
	err  error
	done chan struct{}
}

// sqliteTx binds the prepared statements to one transaction, once per transaction rather than
// once per statement, and holds what the group's checks share: the state rows read so far and the
// request counters and usage rows (reservations, bandwidth blocks) the checks have set. Only the
// checks themselves write inside the transaction, and they write nothing but counters and usage
// rows, so a state row read earlier in the group is still the database's answer once those two
// overlays are applied. A reservation is therefore seen by every later check of the group.
type sqliteTx struct {
	tx                        *sql.Tx
	stateStmt, rateSet, bwSet *sql.Stmt
	bwGet, rateGet, revoked   *sql.Stmt // counters and revocations (sqlite_counters.go)

	rows      map[rowKey]*stateRow
	rates     map[rateKey]rateRow
	rateOrder []rateKey
	bw        map[bwKey]bwRow
	bwOrder   []bwKey
}

type rowKey struct{ scope, subnet, path string }
type rateKey struct{ scope, subnet string }
type bwKey struct{ scope, subnet, path string }

type rateRow struct{ end, count, blocked int64 }

// stateRow is the state SELECT's answer (sqliteSQL["state"]).
type stateRow struct {
	banUntil                    sql.NullInt64
	rEnd, rCount, rBlocked      sql.NullInt64
	tEnd, tBytes, tBlocked      sql.NullInt64
	fEnd, fBytes, fBlocked      sql.NullInt64
	lURL, lHeader               sql.NullString
	lFetched, thStatus, thUntil sql.NullInt64
	size, sizeFetched           sql.NullInt64
}

// state reads (or reuses) the state row of p's subnet and path.
func (t *sqliteTx) state(ctx context.Context, s *sql.Stmt, p checkParams) (*stateRow, error) {
	k := rowKey{p.scope, p.subnet, p.path}
	if r, ok := t.rows[k]; ok {
		return r, nil
	}
	r := new(stateRow)
	if err := t.stmt(ctx, &t.stateStmt, s).QueryRowContext(ctx, p.scope, p.subnet, p.path).Scan(
		&r.banUntil, &r.rEnd, &r.rCount, &r.rBlocked, &r.tEnd, &r.tBytes, &r.tBlocked, &r.fEnd, &r.fBytes, &r.fBlocked,
		&r.lURL, &r.lHeader, &r.lFetched, &r.thStatus, &r.thUntil, &r.size, &r.sizeFetched); err != nil {
		return nil, err
	}
	if t.rows == nil {
		t.rows = make(map[rowKey]*stateRow)
	}
	t.rows[k] = r
	return r, nil
}

// setRate records a subnet's request counter; flushRates writes it before COMMIT.
func (t *sqliteTx) setRate(k rateKey, end, count, blocked int64) {
	if t.rates == nil {
		t.rates = make(map[rateKey]rateRow)
	}
	if _, ok := t.rates[k]; !ok {
		t.rateOrder = append(t.rateOrder, k)
	}
	t.rates[k] = rateRow{end, count, blocked}
}

// bwRow is a usage row as this check finds it: what an earlier check of the group set, else
// the database's (from the state row).
func (t *sqliteTx) bwRow(k bwKey, end, bytes, blocked sql.NullInt64) bwRow {
	if r, ok := t.bw[k]; ok {
		return r
	}
	return bwRow{end: end.Int64, bytes: bytes.Int64, blocked: blocked.Int64, exists: end.Valid}
}

// setBw records a usage row; flushBw writes it before COMMIT.
func (t *sqliteTx) setBw(k bwKey, r bwRow) {
	if t.bw == nil {
		t.bw = make(map[bwKey]bwRow)
	}
	if _, ok := t.bw[k]; !ok {
		t.bwOrder = append(t.bwOrder, k)
	}
	t.bw[k] = r
}

// flushBw writes each usage row the group changed, once.
func (t *sqliteTx) flushBw(ctx context.Context, s *sql.Stmt) error {
	for _, k := range t.bwOrder {
		r := t.bw[k]
		if _, err := t.stmt(ctx, &t.bwSet, s).ExecContext(ctx, k.scope, k.subnet, k.path, r.end, r.bytes, r.blocked); err != nil {
			return err
		}
	}
	return nil
}

// flushRates writes each counter the group changed, once.
func (t *sqliteTx) flushRates(ctx context.Context, s *sql.Stmt) error {
	for _, k := range t.rateOrder {
		r := t.rates[k]
		if _, err := t.stmt(ctx, &t.rateSet, s).ExecContext(ctx, k.scope, k.subnet, r.end, r.count, r.blocked); err != nil {
			return err
		}
	}
	return nil
}

func (t *sqliteTx) stmt(ctx context.Context, dst **sql.Stmt, s *sql.Stmt) *sql.Stmt {
	if *dst == nil {
		*dst = t.tx.StmtContext(ctx, s)
	}
	return *dst
}

func (t *sqliteTx) closeStmts() {
	for _, s := range []*sql.Stmt{t.stateStmt, t.rateSet, t.bwSet, t.bwGet, t.rateGet, t.revoked} {
		if s != nil {
			_ = s.Close()
		}
	}
}

var errStoreClosed = errors.New("quota: store closed")

func (b *sqliteBackend) startGroup() {
	b.jobs = make(chan *checkJob, 1024)
	b.quit = make(chan struct{})
	b.stopped = make(chan struct{})
	go b.committer()
}

// check queues p for the committer and waits for its answer (or for ctx).
func (b *sqliteBackend) check(ctx context.Context, p checkParams) (checkResult, error) {
	j := jobPool.Get().(*checkJob)
	j.ctx, j.p, j.res, j.err = ctx, p, checkResult{}, nil
	select {
	case b.jobs <- j:
	case <-ctx.Done():
		jobPool.Put(j)
		return checkResult{}, ctx.Err()
	case <-b.stopped:
		jobPool.Put(j)
		return checkResult{}, errStoreClosed
	}
	select {
	case <-j.done:
		res, err := j.res, j.err
		j.ctx = nil
		jobPool.Put(j)
		return res, err
	case <-ctx.Done():
		// The committer still owns j: wait for its answer elsewhere and give back what it
		// reserved, since no stream will settle it.
		go waitAbandoned(j, b.abandoned)
		return checkResult{}, ctx.Err()
	}
}

// waitAbandoned hands the answer of a check whose caller left to fn (nil: drop it).
func waitAbandoned(j *checkJob, fn func(checkParams, checkResult)) {
	<-j.done
	if j.err == nil && fn != nil {
		fn(j.p, j.res)
	}
}

// jobPool recycles jobs with their done channel; a job its caller abandoned is never returned,
// so a late answer cannot reach a new owner.
var jobPool = sync.Pool{New: func() any { return &checkJob{done: make(chan struct{}, 1)} }}

func (b *sqliteBackend) committer() {
	defer close(b.stopped)
	group := make([]*checkJob, 0, groupMax)
	for {
		var j *checkJob
		select {
		case j = <-b.jobs:
		case <-b.quit:
			for {
				select {
				case j := <-b.jobs:
					j.err = errStoreClosed
					j.done <- struct{}{}
				default:
					return
				}
			}
		}
		group = append(group[:0], j)
		// Let the request goroutines that are runnable reach the queue first: under load the
		// group grows and BEGIN/COMMIT are paid once for many checks; when idle this costs
		// one trip through the scheduler.
		runtime.Gosched()
	fill:
		for len(group) < groupMax {
			select {
			case j := <-b.jobs:
				group = append(group, j)
			default:
				break fill
			}
		}
		b.runGroup(group)
		for _, j := range group {
			j.done <- struct{}{}
		}
	}
}

// runGroup runs the live checks of group in one transaction; on any failure, each alone.
func (b *sqliteBackend) runGroup(group []*checkJob) {
	live := 0
	for _, j := range group {
		if j.ctx.Err() != nil { // the caller is gone: do not count a request nobody made
			j.err = j.ctx.Err()
			continue
		}
		live++
	}
	if live == 0 {
		return
	}
	if live > 1 && b.runTx(group) == nil {
		return
	}
	for _, j := range group {
		if j.ctx.Err() != nil {
			j.err = j.ctx.Err()
			continue
		}
		j.err = nil
		_ = b.runTx([]*checkJob{j})
	}
}

// runTx runs the checks in one transaction; an error leaves every job's err set.
func (b *sqliteBackend) runTx(group []*checkJob) (err error) {
	ctx := context.Background() // statements are not cancelled mid-group; callers wait on their own ctx
	tx, err := b.db.BeginTx(ctx, nil)
	if err == nil {
		ts := sqliteTx{tx: tx}
		for _, j := range group {
			if j.err != nil {
				continue
			}
			if j.res, err = b.checkIn(ctx, &ts, j.p); err != nil {
				break
			}
		}
		if err == nil {
			err = ts.flushRates(ctx, b.st.rateSet)
		}
		if err == nil {
			err = ts.flushBw(ctx, b.st.bwSet)
		}
		ts.closeStmts()
		if err == nil {
			err = tx.Commit()
		} else {
			_ = tx.Rollback()
		}
	}
	if err != nil {
		for _, j := range group {
			if j.err == nil {
				j.err = err
			}
		}
	}
	return err
}

// stopGroup ends the committer after the group in flight; queued checks get errStoreClosed.
func (b *sqliteBackend) stopGroup() {
	if b.quit != nil {
		close(b.quit)
		<-b.stopped
	}
}
