package quota

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The store is the Store both backends share: the check path (check.go), the write-behind
// queue (queue.go, writer.go), reservations (reserve.go, meter.go) and the janitor
// (janitor.go). This file holds what ties them together: the store itself and its lifecycle.

// backend is what differs between SQLite and Postgres; everything else (queueing, batching,
// decisions, fail-open) is shared so both behave identically.
type backend interface {
	check(ctx context.Context, p checkParams) (checkResult, error)
	// extend reserves more bytes for a capped stream (Meter.Extend), in one round trip.
	extend(ctx context.Context, p extendParams) (extendResult, error)
	write(ctx context.Context, b *writeBatch) error
	useNonce(ctx context.Context, key string, expires, now int64) (bool, error)
	janitor(ctx context.Context, now int64) error
	// ping commits one small write (readiness).
	ping(ctx context.Context, now int64) error
	// onAbandon sets what to do with the answer of a check whose caller stopped waiting.
	onAbandon(fn func(checkParams, checkResult))
	// adminExec runs stmts in one transaction; adminQuery hands each row of q to row (admin.go).
	adminExec(ctx context.Context, stmts []adminStmt) error
	adminQuery(ctx context.Context, q string, args []any, row func(scan func(...any) error) error) error
	// adminExecCount runs one statement and returns how many rows it changed (sessions.go).
	adminExecCount(ctx context.Context, st adminStmt) (int64, error)
	// sessionActive is SessionActive's one indexed read (sessionActiveSQL).
	sessionActive(ctx context.Context, id string, now int64) (bool, error)
	close() error
}

// warnEvery: at most one warning per this long (see warn).
const warnEvery = 10 * time.Second

type store struct {
	be  backend
	cfg Config
	log *slog.Logger

	throttlePatterns []string
	throttleCodes    map[int]bool

	closeMu sync.RWMutex
	closed  bool
	ops     chan op
	wake    chan struct{}
	quit    chan struct{}
	wdone   chan struct{}
	jdone   chan struct{}

	usageMu     sync.Mutex
	usage       map[usageMapKey]*usageRow
	usageClosed bool

	health health

	failMu     sync.Mutex
	fails      map[failKey]*failAgg
	failUrgent bool
	failClosed bool

	failOpen     atomic.Uint64
	queueDropped atomic.Uint64
	writeErrors  atomic.Uint64
	usageLost    atomic.Uint64
	lastWarn     atomic.Int64
	suppressed   atomic.Uint64
}

func newStore(be backend, cfg Config, log *slog.Logger) *store {
	s := &store{
		be:            be,
		cfg:           cfg,
		log:           log,
		throttleCodes: map[int]bool{},
		ops:           make(chan op, cfg.QueueSize),
		wake:          make(chan struct{}, 1),
		quit:          make(chan struct{}),
		wdone:         make(chan struct{}),
		jdone:         make(chan struct{}),
		usage:         map[usageMapKey]*usageRow{},
		fails:         map[failKey]*failAgg{},
	}
	for _, p := range cfg.ThrottleHosts {
		if p = strings.ToLower(strings.TrimSpace(p)); p != "" {
			s.throttlePatterns = append(s.throttlePatterns, p)
		}
	}
	for _, c := range cfg.ThrottleCodes {
		s.throttleCodes[c] = true
	}
	be.onAbandon(s.releaseAbandoned)
	return s
}

// start runs the writer and the janitor; Close stops them.
func (s *store) start() {
	go s.writer()
	go s.janitor()
}

func hashHex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func ms(d time.Duration) int64 { return d.Milliseconds() }

func (s *store) now() int64 { return s.cfg.Clock().UnixMilli() }

// warn logs at most once per warnEvery: a database outage fails every request, and a log line
// per request would bury everything else (and cost more than the requests).
func (s *store) warn(msg string, err error) {
	now := time.Now().UnixNano()
	last := s.lastWarn.Load()
	if now-last < int64(warnEvery) || !s.lastWarn.CompareAndSwap(last, now) {
		s.suppressed.Add(1)
		return
	}
	s.log.Warn(msg, "err", err, "suppressed", s.suppressed.Swap(0))
}

// UseNonce implements Store.
func (s *store) UseNonce(ctx context.Context, nonce string, expires time.Time) (bool, error) {
	now := s.cfg.Clock()
	if expires.IsZero() {
		expires = now.Add(24 * time.Hour)
	}
	fresh, err := s.be.useNonce(ctx, hashHex(nonce), expires.UnixMilli(), now.UnixMilli())
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return fresh, nil
}

// Stats implements StatsReporter.
func (s *store) Stats() Stats {
	return Stats{
		FailOpen:     s.failOpen.Load(),
		QueueDropped: s.queueDropped.Load(),
		WriteErrors:  s.writeErrors.Load(),
		UsageLost:    s.usageLost.Load(),
	}
}

// Close implements Store.
func (s *store) Close(ctx context.Context) error {
	s.closeMu.Lock()
	if s.closed {
		s.closeMu.Unlock()
		return nil
	}
	s.closed = true
	s.closeMu.Unlock()
	close(s.quit)

	var err error
	select {
	case <-s.wdone:
	case <-ctx.Done():
		err = fmt.Errorf("quota: close: write queue not drained: %w", ctx.Err())
	}
	<-s.jdone
	return errors.Join(err, s.be.close())
}
