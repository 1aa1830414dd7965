package proxy

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/alist-edge/alist-edge/internal/tcpacct"
)

// sampleEvery is how many body bytes go out between two readings of the connection's counters
// (three system calls each) while a stream runs: usage still follows a long download closely
// and the cost disappears next to the writes.
const sampleEvery = 1 << 20

// counterSource is the connection a delivery reads: *tcpacct.Conn, a fake in tests.
type counterSource interface {
	Sample() (tcpacct.Counters, error)
}

// delivery charges one stream for what the client's TCP stack acknowledged (docs/contract.md §9) instead
// of what our kernel accepted: when a client aborts, the send buffer (up to 4 MiB on Linux) and
// whatever was in flight never reached it.
//
// The counters are per connection, so the stream keeps the connection's byte count at its
// start (base: a kept-alive connection may still be delivering the previous answer) and what
// of this answer on the wire is not body (over: status line, headers, chunk framing, TLS
// records). over is exact when measured right after net/http flushed everything to the socket
// (wire bytes minus body bytes written); until then it is estimated from the header map.
type delivery struct {
	src      counterSource
	base     int64
	over     int64
	overSeen bool
	body     int64 // body bytes written since the stream started
	charged  int64 // body bytes handed to the meter
	sampled  int64 // body at the last reading
	broken   bool  // a reading failed (connection closed under us): fall back to written bytes
	tls      bool  // the connection speaks TLS: no sendfile, net/http always buffers
}

// deliverySamples counts readings of the counters (tests prove the path is used).
var deliverySamples atomic.Int64

// start reads the counters at the start of a stream, before any byte of the answer reached
// the socket (net/http buffers the headers until the first body write or flush). It reports
// whether they could be read; if not, d stays off.
func (d *delivery) start(src counterSource, tls bool) bool {
	s, err := src.Sample()
	if err != nil {
		return false
	}
	deliverySamples.Add(1)
	*d = delivery{src: src, base: s.Sent, tls: tls}
	return true
}

// on: the stream is charged by acknowledged bytes.
func (d *delivery) on() bool { return d.src != nil }

// progress records n more body bytes written and returns how many may be charged now (never
// more than was acknowledged, nor than was written). flushed tells that net/http holds none of
// them in its buffers, so the non-body share of the wire can be measured. The counters are read
// when that share is still unmeasured at a flushed point, or every sampleEvery bytes.
func (d *delivery) progress(n int64, flushed bool, estimate func() int64) int64 {
	d.body += n
	if d.broken || (!flushed || d.overSeen) && d.body-d.sampled < sampleEvery {
		return 0
	}
	s, err := d.src.Sample()
	if err != nil {
		d.broken = true
		return 0
	}
	return d.update(s, flushed, estimate)
}

// final returns the rest to charge as the stream ends. A client that left (gone: a write
// failed or the request was cancelled) is charged what it acknowledged. An answer written in
// full (the caller flushed it to the socket) is charged as the client acknowledges it: see
// settle. If the counters cannot be read, what was written is charged, as without them.
func (d *delivery) final(ctx context.Context, gone bool, idle time.Duration, estimate func() int64) int64 {
	if d.broken {
		return d.rest()
	}
	if gone {
		return d.last(estimate)
	}
	return d.settle(ctx, idle, estimate)
}

// settleAbove: an answer written in full with at most this much of its body still
// unacknowledged is charged in full at once (short answers never wait); above it, settle waits.
const settleAbove = 64 << 10

// settlePollMax bounds the wait between two readings while an answer drains.
const settlePollMax = 100 * time.Millisecond

// settle waits until the client acknowledged the whole answer, reset, went away (ctx) or
// acknowledged nothing for idle (CLIENT_IDLE_TIMEOUT, the bound a blocked write has), and
// charges what it acknowledged. The send buffer holds megabytes, so without the wait a client
// killed while it drained (a download manager near the end of a file) would be charged for them
// all. The wait costs an HTTP/1.1 client nothing: it sends its next request on the connection
// once it has the answer, by when the answer is acknowledged. Readings are spaced by half the
// time the rest should take at the rate seen so far (1 ms to settlePollMax).
func (d *delivery) settle(ctx context.Context, idle time.Duration, estimate func() int64) int64 {
	if d.body-d.charged <= settleAbove {
		return d.rest() // no reading needed
	}
	s, err := d.src.Sample()
	if err != nil {
		return d.rest()
	}
	n := d.update(s, true, estimate)
	switch {
	case s.Closed:
		return n
	case d.body-d.charged <= settleAbove:
		return n + d.rest()
	}
	if idle <= 0 {
		idle = 2 * time.Minute
	}
	done := ctx.Done()
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	start, from := time.Now(), d.charged
	lastMove, wait := start, time.Millisecond
	for {
		t.Reset(wait)
		select {
		case <-done:
			return n + d.last(estimate)
		case <-t.C:
		}
		before := d.charged
		s, err := d.src.Sample()
		if err != nil {
			return n + d.rest()
		}
		n += d.update(s, false, estimate)
		now := time.Now()
		switch {
		case d.charged >= d.body || s.Closed:
			return n
		case d.charged > before:
			lastMove = now
		case now.Sub(lastMove) >= idle:
			return n // stalled: as a write blocked this long, only what it acknowledged
		}
		wait = min(2*wait, settlePollMax)
		if got := d.charged - from; got > 0 {
			eta := time.Duration(float64(now.Sub(start)) * float64(d.body-d.charged) / float64(got))
			wait = min(max(eta/2, time.Millisecond), settlePollMax)
		}
	}
}

// last charges what was acknowledged by now (what was written if that cannot be read).
func (d *delivery) last(estimate func() int64) int64 {
	if s, err := d.src.Sample(); err == nil {
		return d.update(s, false, estimate)
	}
	return d.rest()
}

// rest charges everything written.
func (d *delivery) rest() int64 {
	n := d.body - d.charged
	d.charged = d.body
	return n
}

func (d *delivery) update(s tcpacct.Counters, flushed bool, estimate func() int64) int64 {
	deliverySamples.Add(1)
	d.sampled = d.body
	switch {
	case flushed:
		d.over, d.overSeen = max(0, s.Sent-d.base-d.body), true
	case !d.overSeen:
		d.over = estimate()
	}
	acked := min(max(0, s.Acked-d.base-d.over), d.body)
	if acked <= d.charged {
		return 0
	}
	n := acked - d.charged
	d.charged = acked
	return n
}

// headerEstimate is a lower bound of the bytes net/http puts before the body: status line, the
// header map, Date and the blank line (it may add Content-Type, Content-Length or
// Transfer-Encoding, which makes the estimate short by a few dozen bytes, the only error).
func headerEstimate(h http.Header, status int) int64 {
	n := len("HTTP/1.1 200 \r\n") + len(http.StatusText(status)) + len("Date: Mon, 02 Jan 2006 15:04:05 GMT\r\n\r\n")
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(": \r\n") + len(v)
		}
	}
	return int64(n)
}
