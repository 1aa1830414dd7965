package quota

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Readiness (/readyz). Answering a ping proves nothing about the one thing a request needs:
// that the check can COMMIT. A full disk (SQLite) or a read-only database (Postgres) answers
// pings while every check fails. So Ping writes one row, and it also reports not ready while
// the latest checks failed: a probe row that still fits where checks do not must not make a
// failing store look ready.

// readyAfterFailure: how long the latest failed check keeps the store not ready, unless a check
// succeeds sooner.
const readyAfterFailure = 10 * time.Second

type health struct {
	mu       sync.Mutex
	lastOK   time.Time
	lastFail time.Time
	lastErr  error
}

func (h *health) ok() {
	h.mu.Lock()
	h.lastOK = time.Now()
	h.mu.Unlock()
}

func (h *health) failed(err error) {
	h.mu.Lock()
	h.lastFail, h.lastErr = time.Now(), err
	h.mu.Unlock()
}

// recent is the latest failure when no check has succeeded since and it is recent.
func (h *health) recent() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lastErr == nil || !h.lastFail.After(h.lastOK) {
		return nil
	}
	if ago := time.Since(h.lastFail); ago < readyAfterFailure {
		return fmt.Errorf("quota: the last check failed %s ago: %w", ago.Round(time.Millisecond), h.lastErr)
	}
	return nil
}

// Ping implements Store.
func (s *store) Ping(ctx context.Context) error {
	if err := s.health.recent(); err != nil {
		return err
	}
	if err := s.be.ping(ctx, s.now()); err != nil {
		return fmt.Errorf("quota: readiness write failed: %w", err)
	}
	return nil
}
