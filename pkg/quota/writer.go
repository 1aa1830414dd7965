package quota

import (
	"cmp"
	"context"
	"slices"
	"time"
)

// The writer drains the write-behind queue (queue.go): one goroutine, one transaction per
// batch, usage and failures retried after a failed batch, everything drained at Close.

const (
	maxBatchOps    = 256
	failFlushEvery = time.Second
	retryBackoff   = time.Second
	// usageFlushEvery is how often merged usage is written when nothing else wakes the writer:
	// usage does not wake it by itself, so a busy proxy writes its counters a few times a
	// second instead of in one transaction per finished download, each competing with the
	// checks for SQLite's single writer. Caps do not wait for it: what a request may deliver
	// is reserved by its check, synchronously.
	usageFlushEvery = 100 * time.Millisecond
)

// writer is the only goroutine that writes queued work. Whatever arrived while it was busy
// goes into the next transaction, so batches grow with load and latency stays low when idle.
func (s *store) writer() {
	defer close(s.wdone)
	tick := time.NewTicker(usageFlushEvery)
	defer tick.Stop()
	lastFail := time.Now()
	for {
		var b writeBatch
		select {
		case o := <-s.ops:
			b.ops = append(b.ops, o)
		case <-s.wake:
		case <-tick.C:
		case <-s.quit:
			s.drain()
			return
		}
		s.fill(&b)
		dueFails := time.Since(lastFail) >= failFlushEvery
		if dueFails {
			lastFail = time.Now()
		}
		if err := s.runBatch(&b, dueFails, false); err != nil {
			select {
			case <-time.After(retryBackoff):
			case <-s.quit:
			}
		}
	}
}

// fill takes what else is waiting in the queue, up to one batch, without waiting.
func (s *store) fill(b *writeBatch) {
	for len(b.ops) < maxBatchOps {
		select {
		case o := <-s.ops:
			b.ops = append(b.ops, o)
		default:
			return
		}
	}
}

// drain runs at Close: producers are shut out already, so it writes the queue to the end and
// then the usage and failures recorded in memory.
func (s *store) drain() {
	for {
		var b writeBatch
		s.fill(&b)
		if len(b.ops) == 0 {
			break
		}
		_ = s.runBatch(&b, true, false)
	}
	_ = s.runBatch(&writeBatch{}, true, true)
}

// runBatch adds the pending usage (and failures when due) to b and writes it in one
// transaction. final marks the last batch: nothing recorded later can be written.
func (s *store) runBatch(b *writeBatch, dueFails, final bool) error {
	b.usage = s.takeUsage(final)
	s.failMu.Lock()
	if dueFails || final || s.failUrgent {
		b.fails = s.takeFailsLocked(final)
	}
	s.failMu.Unlock()
	if b.empty() {
		return nil
	}
	sortOps(b.ops)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	err := s.be.write(ctx, b)
	cancel()
	if err == nil {
		return nil
	}
	s.writeErrors.Add(1)
	if !final {
		s.warn("quota write batch failed; will retry usage", err)
		s.requeue(b)
		return err
	}
	var lost uint64
	for _, u := range b.usage {
		if u.tag == 0 {
			lost += uint64(u.bytes)
		}
	}
	s.usageLost.Add(lost)
	s.queueDropped.Add(uint64(len(b.ops)))
	s.log.Error("quota: final write at close failed", "usage_bytes_lost", lost, "err", err)
	return err
}

func (s *store) takeUsage(final bool) []usageRow {
	s.usageMu.Lock()
	defer s.usageMu.Unlock()
	if final {
		s.usageClosed = true
	}
	if len(s.usage) == 0 {
		return nil
	}
	out := make([]usageRow, 0, len(s.usage))
	for _, r := range s.usage {
		out = append(out, *r)
	}
	clear(s.usage)
	sortUsage(out)
	return out
}

func (s *store) takeFailsLocked(final bool) []failRow {
	if final {
		s.failClosed = true
	}
	s.failUrgent = false
	if len(s.fails) == 0 {
		return nil
	}
	out := make([]failRow, 0, len(s.fails))
	for k, a := range s.fails {
		out = append(out, failRow{
			failKey:   k,
			first:     a.first,
			windowEnd: a.first + ms(s.cfg.BanWindow),
			count:     a.count,
			banUntil:  a.last + ms(s.cfg.BanTime),
			threshold: int64(s.cfg.BanAfterFails),
		})
	}
	clear(s.fails)
	sortFails(out)
	return out
}

// requeue merges unwritten usage and failures back so a transient outage loses nothing; the
// cache writes of the batch are dropped (they are only hints).
func (s *store) requeue(b *writeBatch) {
	s.queueDropped.Add(uint64(len(b.ops)))
	s.usageMu.Lock()
	for _, u := range b.usage {
		mk := usageMapKey{u.usageKey, u.tag}
		r := s.usage[mk]
		if r == nil {
			c := u
			s.usage[mk] = &c
			continue
		}
		r.bytes += u.bytes
		r.first = min(r.first, u.first)
		r.windowEnd = min(r.windowEnd, u.windowEnd)
	}
	s.usageMu.Unlock()
	s.failMu.Lock()
	for _, f := range b.fails {
		a := s.fails[f.failKey]
		if a == nil {
			a = &failAgg{first: f.first, last: f.banUntil - ms(s.cfg.BanTime)}
			s.fails[f.failKey] = a
		}
		a.count += f.count
		a.first = min(a.first, f.first)
	}
	s.failMu.Unlock()
}

// Batches are written in key order so that two replicas' writers (and the checks) always take
// row locks in the same order and cannot deadlock each other on Postgres.
func sortUsage(rs []usageRow) {
	slices.SortFunc(rs, func(a, b usageRow) int {
		return cmp.Or(cmp.Compare(a.scope, b.scope), cmp.Compare(a.subnet, b.subnet), cmp.Compare(a.path, b.path),
			cmp.Compare(a.tag, b.tag))
	})
}

func sortFails(rs []failRow) {
	slices.SortFunc(rs, func(a, b failRow) int {
		return cmp.Or(cmp.Compare(a.scope, b.scope), cmp.Compare(a.subnet, b.subnet))
	})
}

// sortOps keeps the queue order of ops on one key (a save then an invalidate must stay so).
func sortOps(os []op) {
	slices.SortStableFunc(os, func(a, b op) int {
		return cmp.Or(cmp.Compare(a.table(), b.table()), cmp.Compare(a.key, b.key))
	})
}
