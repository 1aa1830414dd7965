package proxy

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/alist-edge/alist-edge/internal/tcpacct"
)

// fakeCounters is a connection whose counters the test sets; onSample, when set, moves them
// (a client draining the send queue) before each reading.
type fakeCounters struct {
	c        tcpacct.Counters
	err      error
	reads    int
	onSample func(f *fakeCounters)
}

func (f *fakeCounters) Sample() (tcpacct.Counters, error) {
	f.reads++
	if f.onSample != nil {
		f.onSample(f)
	}
	return f.c, f.err
}

const mib = 1 << 20

func started(t *testing.T, f *fakeCounters) *delivery {
	t.Helper()
	d := &delivery{}
	if !d.start(f, false) || !d.on() {
		t.Fatal("start failed")
	}
	return d
}

// written puts headers (flushed) and body bytes of body on the fake wire through d and returns
// what d charged meanwhile.
func written(d *delivery, f *fakeCounters, hdr, body int64) int64 {
	f.c.Sent += hdr
	n := d.progress(0, true, estimate)
	for body > 0 {
		step := min(body, mib)
		f.c.Sent += step
		n += d.progress(step, false, estimate)
		body -= step
	}
	return n
}

func estimate() int64 { return 250 }

// TestDeliveryCharges drives delivery through the situations of a stream: what it charges in
// total must be what the client acknowledged of the body, and never more than was written.
func TestDeliveryCharges(t *testing.T) {
	const hdr = 300 // header bytes on the wire
	open := context.Background()
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, f *fakeCounters) (charged, want int64)
	}{
		{"client left: only what it acknowledged", func(t *testing.T, f *fakeCounters) (int64, int64) {
			// 400 bytes of the previous answer on this kept-alive connection are still unacknowledged.
			f.c = tcpacct.Counters{Sent: 1000, Acked: 600}
			d := started(t, f)
			n := written(d, f, hdr, 5*mib)
			f.c.Acked = 1000 + hdr + 2*mib // the rest was queued when the client reset
			return n + d.final(open, true, time.Minute, estimate), 2 * mib
		}},
		{"charged as acknowledged while it runs", func(t *testing.T, f *fakeCounters) (int64, int64) {
			d := started(t, f)
			f.c.Sent += hdr
			d.progress(0, true, estimate)
			var n int64
			for range 8 { // the client acknowledges 3 MiB behind
				f.c.Sent += mib / 2
				f.c.Acked = max(0, f.c.Sent-3*mib)
				n += d.progress(mib/2, false, estimate)
			}
			if f.reads != 1+1+4 { // start, flushed headers, every 1 MiB
				t.Errorf("%d readings, want 6", f.reads)
			}
			return n, mib // acknowledged at the last reading (4 MiB written), less the headers
		}},
		{"written in full and acknowledged: everything", func(t *testing.T, f *fakeCounters) (int64, int64) {
			d := started(t, f)
			n := written(d, f, hdr, 5*mib)
			f.onSample = func(f *fakeCounters) { f.c.Acked = min(f.c.Sent, f.c.Acked+mib) } // draining
			return n + d.final(open, false, time.Minute, estimate), 5 * mib
		}},
		{"written in full, reset while draining: what it acknowledged", func(t *testing.T, f *fakeCounters) (int64, int64) {
			d := started(t, f)
			n := written(d, f, hdr, 5*mib)
			f.onSample = func(f *fakeCounters) {
				if f.c.Acked += mib / 2; f.c.Acked >= hdr+2*mib {
					f.c.Acked, f.c.Closed = hdr+2*mib, true
				}
			}
			return n + d.final(open, false, time.Minute, estimate), 2 * mib
		}},
		{"written in full, client stalls: what it acknowledged", func(t *testing.T, f *fakeCounters) (int64, int64) {
			d := started(t, f)
			n := written(d, f, hdr, 5*mib)
			f.c.Acked = hdr + 3*mib
			start := time.Now()
			n += d.final(open, false, 30*time.Millisecond, estimate)
			if time.Since(start) > 2*time.Second {
				t.Errorf("stalled client held the stream %v", time.Since(start))
			}
			return n, 3 * mib
		}},
		{"written in full, client goes away while draining", func(t *testing.T, f *fakeCounters) (int64, int64) {
			d := started(t, f)
			n := written(d, f, hdr, 5*mib)
			f.c.Acked = hdr + mib
			done, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			defer cancel()
			return n + d.final(done, false, time.Minute, estimate), mib
		}},
		{"written in full, little unacknowledged: everything, no wait", func(t *testing.T, f *fakeCounters) (int64, int64) {
			d := started(t, f)
			n := written(d, f, hdr, 200000)
			f.c.Acked = f.c.Sent - settleAbove
			reads := f.reads
			n += d.final(open, false, time.Minute, estimate)
			if f.reads != reads+1 {
				t.Errorf("%d readings for a short answer, want 1", f.reads-reads)
			}
			return n, 200000
		}},
		{"short answer: everything, no reading at the end", func(t *testing.T, f *fakeCounters) (int64, int64) {
			d := started(t, f)
			n := written(d, f, hdr, 30000)
			reads := f.reads
			n += d.final(open, false, time.Minute, estimate)
			if f.reads != reads {
				t.Errorf("%d readings at the end of a short answer, want 0", f.reads-reads)
			}
			return n, 30000
		}},
		{"never more than written", func(t *testing.T, f *fakeCounters) (int64, int64) {
			d := started(t, f)
			f.c.Sent += hdr + 10
			d.progress(10, true, estimate)
			f.c.Acked = f.c.Sent + 5000 // chunk trailer, framing the estimate missed
			return d.progress(0, true, estimate) + d.final(open, true, time.Minute, estimate), 10
		}},
		{"never flushed: headers estimated", func(t *testing.T, f *fakeCounters) (int64, int64) {
			d := started(t, f)
			n := d.progress(100000, false, estimate) // one Write of headers and body, then the reset
			f.c.Sent += hdr + 100000
			f.c.Acked = hdr + 40000
			return n + d.final(open, true, time.Minute, estimate), 40000 + hdr - 250
		}},
		{"counters lost at the end: what was written", func(t *testing.T, f *fakeCounters) (int64, int64) {
			d := started(t, f)
			n := written(d, f, hdr, 3*mib)
			f.err = errors.New("closed")
			return n + d.final(open, true, time.Minute, estimate), 3 * mib
		}},
		{"counters lost while draining: what was written", func(t *testing.T, f *fakeCounters) (int64, int64) {
			d := started(t, f)
			n := written(d, f, hdr, 3*mib)
			f.onSample = func(f *fakeCounters) { f.err = errors.New("closed") }
			return n + d.final(open, false, time.Minute, estimate), 3 * mib
		}},
		{"counters lost mid-stream: what was written", func(t *testing.T, f *fakeCounters) (int64, int64) {
			d := started(t, f)
			f.err = errors.New("closed")
			n := d.progress(2*mib, false, estimate)
			f.err = nil
			f.c.Sent, f.c.Acked = hdr+3*mib, hdr+mib
			n += d.progress(mib, false, estimate)
			return n + d.final(open, true, time.Minute, estimate), 3 * mib
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeCounters{}
			got, want := tc.run(t, f)
			if got != want {
				t.Fatalf("charged %d, want %d", got, want)
			}
		})
	}
}

// TestDeliveryUnreadable: no counters at the start, no delivery (the writer charges what it
// writes).
func TestDeliveryUnreadable(t *testing.T) {
	var d delivery
	if d.start(&fakeCounters{err: tcpacct.ErrUnsupported}, false) || d.on() {
		t.Fatal("delivery without counters")
	}
}

// TestHeaderEstimate: what net/http writes before the body, less what it adds itself.
func TestHeaderEstimate(t *testing.T) {
	h := http.Header{"Content-Length": {"5"}, "Content-Type": {"text/plain"}}
	want := len("HTTP/1.1 206 Partial Content\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n" +
		"Date: Mon, 02 Jan 2006 15:04:05 GMT\r\n\r\n")
	if got := headerEstimate(h, http.StatusPartialContent); got != int64(want) {
		t.Fatalf("estimate %d, want %d", got, want)
	}
}
