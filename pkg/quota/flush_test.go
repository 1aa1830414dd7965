package quota

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Tests wait for the write-behind queue without any hook in the production code: the stores
// they open sit on a barrierBackend, and sync sends a marker op through the ordinary queue.
// The writer is FIFO and takes the pending usage (and, urgent, the failures) into every batch,
// so once the batch holding the marker is written, so is everything recorded before it.

// barrierBackend is a backend whose write recognises sync's markers: it writes the rest of
// the batch, then releases the waiting syncs.
type barrierBackend struct {
	backend
	mu      sync.Mutex
	waiting map[string]chan struct{}
}

// markerPrefix cannot start a real path hash (sha256 hex) or host.
const markerPrefix = "\x00sync-"

var markerSeq atomic.Int64

func (b *barrierBackend) write(ctx context.Context, wb *writeBatch) error {
	var done []chan struct{}
	ops := wb.ops[:0]
	b.mu.Lock()
	for _, o := range wb.ops {
		if ch, ok := b.waiting[o.key]; ok && o.kind == opInvalidateLink {
			delete(b.waiting, o.key)
			done = append(done, ch)
			continue
		}
		ops = append(ops, o)
	}
	b.mu.Unlock()
	wb.ops = ops
	var err error
	if !wb.empty() {
		err = b.backend.write(ctx, wb)
	}
	for _, ch := range done {
		close(ch) // released even when the write failed, as a final drain would be
	}
	return err
}

// sync waits until everything queued or recorded so far has been written (or its write
// failed). It returns at once on a closed store.
func (s *store) sync() {
	bb, ok := s.be.(*barrierBackend)
	if !ok {
		panic("sync: the store was not opened by openStore")
	}
	key := markerPrefix + strconv.FormatInt(markerSeq.Add(1), 10)
	done := make(chan struct{})
	bb.mu.Lock()
	if bb.waiting == nil {
		bb.waiting = map[string]chan struct{}{}
	}
	bb.waiting[key] = done
	bb.mu.Unlock()

	s.failMu.Lock()
	s.failUrgent = true // write the failures counted so far with the marker's batch, not in 1s
	s.failMu.Unlock()
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return
	}
	s.ops <- op{kind: opInvalidateLink, key: key} // blocking: a marker is never dropped
	s.closeMu.RUnlock()
	<-done
}

// newTestStore is Open without starting the writer and the janitor, on a barrierBackend
// (and, for Postgres, with tracer on every connection when it is not nil).
func newTestStore(t testing.TB, db DB, cfg Config, tracer pgx.QueryTracer) *store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := db.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err = cfg.normalized(); err != nil {
		t.Fatal(err)
	}
	var be backend
	switch {
	case db.Mode == ModePostgres && tracer != nil:
		pc, err := pgPoolConfig(db.DatabaseURL)
		if err != nil {
			t.Fatal(err)
		}
		pc.ConnConfig.Tracer = tracer
		pool, err := newPGPoolFrom(pc)
		if err != nil {
			t.Fatal(err)
		}
		be, err = openPostgres(ctx, pool)
		if err != nil {
			t.Fatal(err)
		}
	default:
		if be, err = openBackend(ctx, db); err != nil {
			t.Fatalf("open: %v", err)
		}
	}
	return newStore(&barrierBackend{backend: be}, cfg, slog.New(slog.DiscardHandler))
}

// openStore is Open for tests: a running store whose queue sync can wait for, closed when t
// ends.
func openStore(t testing.TB, db DB, cfg Config) *store {
	t.Helper()
	return startStore(t, newTestStore(t, db, cfg, nil))
}

func startStore(t testing.TB, s *store) *store {
	s.start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Close(ctx)
	})
	return s
}

// inner is the real backend under a test store's barrier.
func inner(s *store) backend {
	if bb, ok := s.be.(*barrierBackend); ok {
		return bb.backend
	}
	return s.be
}
