package quota

import (
	"cmp"
	"context"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Batched checks for Postgres, the twin of the SQLite group commit (sqlite_group.go). A few
// committer goroutines each take the checks that are queued (up to groupMax) and send them as
// ONE pipelined pgx batch: one network round trip, executed in order on one connection inside
// the batch's implicit transaction, so each check sees the effects of the earlier ones and the
// per-window count stays exact. Without it, every concurrent request of a busy subnet holds a
// pool connection while it waits on the same rate_windows row lock. A failed batch is re-run
// check by check, so one bad check never fails its neighbours.

// pgCommitters: batches in flight at once (each on its own pooled connection).
const pgCommitters = 2

func (b *pgBackend) startGroup() {
	b.jobs = make(chan *checkJob, 1024)
	b.quit = make(chan struct{})
	b.stopped = make(chan struct{})
	var wg sync.WaitGroup
	for range pgCommitters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.committer()
		}()
	}
	go func() {
		wg.Wait()
		for { // answer what is still queued
			select {
			case j := <-b.jobs:
				j.err = errStoreClosed
				j.done <- struct{}{}
			default:
				close(b.stopped)
				return
			}
		}
	}()
}

func (b *pgBackend) stopGroup() {
	if b.quit != nil {
		close(b.quit)
		<-b.stopped
	}
}

// check queues p for a committer and waits for its answer (or for ctx).
func (b *pgBackend) check(ctx context.Context, p checkParams) (checkResult, error) {
	j := jobPool.Get().(*checkJob)
	j.ctx, j.p, j.res, j.err = ctx, p, checkResult{}, nil
	select {
	case b.jobs <- j:
	case <-ctx.Done():
		jobPool.Put(j)
		return checkResult{}, ctx.Err()
	case <-b.quit:
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
		go waitAbandoned(j, b.abandoned) // see sqliteBackend.check
		return checkResult{}, ctx.Err()
	}
}

func (b *pgBackend) committer() {
	group := make([]*checkJob, 0, groupMax)
	for {
		var j *checkJob
		select {
		case j = <-b.jobs:
		case <-b.quit:
			return
		}
		group = append(group[:0], j)
		runtime.Gosched() // let runnable requests reach the queue, see sqlite_group.go
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

func (b *pgBackend) runGroup(group []*checkJob) {
	live := group[:0:0]
	for _, j := range group {
		if err := j.ctx.Err(); err != nil { // the caller is gone: do not count its request
			j.err = err
			continue
		}
		live = append(live, j)
	}
	// Policy counters are rows shared by many subnets: a batch holding one subnet's rows while
	// it waits for a counter could deadlock with another holding the counter and waiting for
	// that subnet. A group with counters runs check by check, in arrival order (each check
	// locks its counters in key order before its subnet's usage rows).
	for _, j := range live {
		if len(j.p.ctrs) > 0 {
			for _, j := range live {
				j.res, j.err = b.checkOne(j.ctx, j.p)
			}
			return
		}
	}
	// Checks of one subnet keep their order; different subnets go in key order, so two batches
	// in flight lock the rows of their subnets in one order and cannot deadlock each other.
	slices.SortStableFunc(live, func(a, b *checkJob) int {
		return cmp.Or(cmp.Compare(a.p.scope, b.p.scope), cmp.Compare(a.p.subnet, b.p.subnet))
	})
	switch {
	case len(live) == 0:
		return
	case len(live) > 1:
		if b.runBatch(live) == nil {
			return
		}
	}
	for _, j := range live {
		j.err = nil
		j.res, j.err = b.checkOne(j.ctx, j.p)
	}
}

// runBatch sends the checks as one pipelined batch; an error leaves the results unusable.
func (b *pgBackend) runBatch(group []*checkJob) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return b.pool.with(ctx, func(c *pgx.Conn) error {
		var batch pgx.Batch
		for _, j := range group {
			batch.Queue(pgCheckSQL, pgCheckArgs(j.p)...)
		}
		br := c.SendBatch(ctx, &batch)
		for _, j := range group {
			res, err := scanCheck(br.QueryRow())
			if err != nil {
				_ = br.Close()
				return err
			}
			j.res = res
		}
		return br.Close()
	})
}
