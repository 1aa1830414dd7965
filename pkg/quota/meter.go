package quota

import (
	"context"
	"sync"
	"time"
)

// Meter counts the bytes of one stream and hands them to the usage recorder in deltas: every
// flushBytes or flushEvery, and the remainder on Close. Progressive flushing is what makes a
// multi-hour or parallel download count against the quota before it finishes; charging only
// deltas means a client that disconnects is charged exactly what it received.
//
// A capped stream (a bandwidth quota applies) also holds a reservation: bytes the check already
// counted in the database before the first byte went out. Those are not charged again; Close
// settles the difference, charging bytes delivered beyond the reservation and releasing the
// part that was reserved but never delivered. At every moment the database holds
// reserved + charged for this stream, and after Close exactly the bytes delivered.
type Meter struct {
	mu         sync.Mutex
	sink       func(delta int64)
	flushBytes int64
	flushEvery time.Duration
	total      int64 // bytes delivered (Add)
	charged    int64 // bytes handed to sink
	lastFlush  time.Time
	closed     bool
	now        func() time.Time

	// Capped streams only (res != nil).
	res      *meterReservation
	reserved int64 // counted in the database ahead of delivery
	granted  int64 // bytes this stream may deliver: reserved, plus fail-open extensions
}

// meterReservation links a capped Meter to its store.
type meterReservation struct {
	extend  func(ctx context.Context, n int64) (extendResult, error)
	release func(n int64, e resEnds)
	// window ends of the rows the latest reservation went to: a release is applied only to
	// the window it was reserved in, never to a later one.
	ends resEnds
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
	m.total += n
	owed := m.owedLocked()
	if owed <= 0 {
		return
	}
	if owed >= m.flushBytes || m.now().Sub(m.lastFlush) >= m.flushEvery {
		m.flushLocked()
	}
}

// owedLocked: bytes delivered that are neither reserved nor charged yet.
func (m *Meter) owedLocked() int64 { return m.total - m.reserved - m.charged }

// Total is every byte added so far.
func (m *Meter) Total() int64 {
	if m == nil {
		return 0
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.total
}

// Grant is how many bytes this stream may deliver in all (what the check and every Extend
// granted); -1 when no bandwidth quota applies and the stream is not capped.
func (m *Meter) Grant() int64 {
	if m == nil {
		return -1
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.res == nil {
		return -1
	}
	return m.granted
}

// Extend asks for n more bytes for a capped stream, in one database round trip, under the same
// cap as the check: it grants what fits under every quota (0 to n) and counts it at once. When
// it grants less than n the error is a *LimitError saying which quota is spent; a database
// failure is an error wrapping ErrUnavailable (under fail-open n is granted, uncounted: the
// bytes are charged when delivered). A stream that is not capped gets n at once.
func (m *Meter) Extend(ctx context.Context, n int64) (int64, error) {
	if m == nil || n <= 0 {
		return max(n, 0), nil
	}
	m.mu.Lock()
	res, closed := m.res, m.closed
	m.mu.Unlock()
	if res == nil {
		return n, nil
	}
	if closed {
		return 0, nil
	}
	r, err := res.extend(ctx, n)
	if err != nil && !r.failOpen {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if r.failOpen {
		m.granted += n
		return n, nil
	}
	if m.closed {
		// Closed while the round trip ran: give the bytes back at once.
		if r.grant > 0 {
			res.release(r.grant, r.ends)
		}
		return 0, nil
	}
	if r.grant > 0 {
		m.reserved += r.grant
		m.granted += r.grant
		res.ends = r.ends
	}
	if r.grant < n {
		return r.grant, &LimitError{Decision: r.refusal}
	}
	return r.grant, nil
}

// Close settles the stream: bytes delivered beyond what was reserved are charged, the part of
// the reservation that was not delivered is released. Later Adds are ignored.
func (m *Meter) Close() {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	m.closed = true
	switch owed := m.owedLocked(); {
	case owed > 0:
		m.flushLocked()
	case owed < 0 && m.res != nil:
		m.res.release(-owed, m.res.ends)
		m.charged += owed
	}
}

func (m *Meter) flushLocked() {
	if owed := m.owedLocked(); owed > 0 {
		if m.sink != nil {
			m.sink(owed)
		}
		m.charged += owed
	}
	m.lastFlush = m.now()
}
