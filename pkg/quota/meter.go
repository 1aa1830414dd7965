package quota

import (
	"sync"
	"time"
)

// Meter counts the bytes of one stream and hands them to the usage recorder in deltas: every
// flushBytes or flushEvery, and the remainder on Close. Progressive flushing is what makes a
// multi-hour or parallel download count against the quota before it finishes; charging only
// deltas means a client that disconnects is charged exactly what it received.
type Meter struct {
	mu         sync.Mutex
	sink       func(delta int64)
	flushBytes int64
	flushEvery time.Duration
	pending    int64
	total      int64
	lastFlush  time.Time
	closed     bool
	now        func() time.Time
}

// NewMeter returns a Meter that reports deltas to sink. sink must not block on I/O.
func NewMeter(sink func(delta int64), flushBytes int64, flushEvery time.Duration) *Meter {
	if flushBytes <= 0 {
		flushBytes = 4 << 20
	}
	if flushEvery <= 0 {
		flushEvery = 2 * time.Second
	}
	return &Meter{sink: sink, flushBytes: flushBytes, flushEvery: flushEvery, lastFlush: time.Now(), now: time.Now}
}

// Add records n bytes delivered to the client.
func (m *Meter) Add(n int64) {
	if m == nil || n <= 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	m.pending += n
	m.total += n
	if m.pending >= m.flushBytes {
		m.flushLocked()
		return
	}
	if now := m.now(); now.Sub(m.lastFlush) >= m.flushEvery {
		m.flushLocked()
	}
}

// Total is every byte added so far.
func (m *Meter) Total() int64 {
	if m == nil {
		return 0
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.total
}

// Close flushes the remainder; later Adds are ignored.
func (m *Meter) Close() {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	m.flushLocked()
	m.closed = true
}

func (m *Meter) flushLocked() {
	if m.pending > 0 && m.sink != nil {
		m.sink(m.pending)
	}
	m.pending = 0
	m.lastFlush = m.now()
}
