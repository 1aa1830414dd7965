package proxy

import (
	"context"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/alist-edge/alist-edge/internal/pipeline"
	"github.com/alist-edge/alist-edge/internal/tcpacct"
	"github.com/alist-edge/alist-edge/pkg/quota"
	"github.com/prometheus/client_golang/prometheus"
)

// meterWriter sits on the pipeline's writer (which counts the status and the bytes for the
// access line) and, while a stream runs, feeds bytes_streamed_total, moves the write deadline
// forward after each write, and charges the usage Meter with what the client received: what its TCP stack acknowledged where the connection's counters can be read
// (see delivery), else what was written. It keeps the underlying writer's ReadFrom (sendfile for
// the local origin), Flush, and Unwrap for http.ResponseController.
type meterWriter struct {
	http.ResponseWriter
	// base is the pipeline's writer under it: the status, the bytes written and the first failed
	// write (the client is gone or stopped reading) are kept there, once for every service.
	base        *pipeline.Writer
	streaming   bool
	meter       *quota.Meter
	bytesMetric prometheus.Counter
	// idle bounds each write of a stream (CLIENT_IDLE_TIMEOUT) through rc's write deadline.
	idle time.Duration
	rc   *http.ResponseController
	// ctx is the request's: its connection's counters, and whether the client left.
	ctx context.Context
	// del charges by acknowledged bytes while del.on(), else by written bytes.
	del delivery
}

// startStream starts metering an answer of at most size body bytes (-1: unknown). An answer of
// at most settleAbove is charged what was written, without reading the connection's counters:
// it would be charged in full at its end anyway (settleAbove), and for a client that leaves
// the difference is at most that much, while the readings would cost more system calls than
// the answer itself.
func (c *meterWriter) startStream(m *quota.Meter, idle time.Duration, size int64) {
	c.meter, c.streaming, c.idle = m, true, idle
	if idle > 0 {
		c.rc = http.NewResponseController(c.ResponseWriter)
	}
	if c.ctx != nil && (size < 0 || size > settleAbove) {
		if conn := tcpacct.FromContext(c.ctx); conn != nil {
			c.del.start(conn, conn.TLS)
		}
	}
}

// endStream stops metering; the rest of the answer (net/http's final flush) keeps one more
// CLIENT_IDLE_TIMEOUT to leave, so no write is ever without a deadline. The next request on the
// connection starts with its own (internal/server).
func (c *meterWriter) endStream() {
	if c.streaming && c.del.on() {
		gone := c.base.WriteErr != nil || c.ctx.Err() != nil
		if !gone && c.base.WroteHeader() {
			// All of it on the socket: the wait for its acknowledgment starts now. (Nothing
			// written yet: the answer may still become a refusal, whose status must not be
			// committed as a 200 by a flush.)
			c.Flush()
		}
		c.meter.Add(c.del.final(c.ctx, gone, c.idle, c.headerEstimate))
		c.del = delivery{}
	}
	c.streaming = false
	if c.rc != nil {
		_ = c.rc.SetWriteDeadline(time.Now().Add(c.idle))
		c.rc = nil
	}
}

// armDeadline gives the next write CLIENT_IDLE_TIMEOUT to make progress.
func (c *meterWriter) armDeadline() {
	if c.rc != nil {
		_ = c.rc.SetWriteDeadline(time.Now().Add(c.idle))
	}
}

func (c *meterWriter) Write(p []byte) (int, error) {
	c.armDeadline()
	n, err := c.ResponseWriter.Write(p)
	c.count(int64(n))
	return n, err
}

func (c *meterWriter) count(n int64) { c.countAt(n, false) }

// countAt counts n body bytes; flushed: net/http holds none of them in its buffers.
func (c *meterWriter) countAt(n int64, flushed bool) {
	if n < 0 || n == 0 && !flushed {
		return
	}
	if !c.streaming {
		return
	}
	c.bytesMetric.Add(float64(n))
	if !c.del.on() {
		c.meter.Add(n)
		return
	}
	c.meter.Add(c.del.progress(n, flushed, c.headerEstimate))
}

func (c *meterWriter) headerEstimate() int64 { return headerEstimate(c.Header(), c.base.Status) }

// sendfileChunk bounds one ReadFrom call on a file so usage is metered progressively while the
// kernel copies.
const sendfileChunk = 4 << 20

// smallCopy: bodies up to this size are copied rather than sent with sendfile.
const smallCopy = 32 << 10

// ReadFrom keeps zero-copy: an *os.File (alone or in the *io.LimitedReader http.ServeContent
// makes) reaches the connection's ReadFrom (sendfile) in chunks that are counted as they go.
func (c *meterWriter) ReadFrom(src io.Reader) (int64, error) {
	rf, ok := c.ResponseWriter.(io.ReaderFrom)
	if !ok {
		bp := bufPool.Get().(*[]byte)
		defer bufPool.Put(bp)
		return io.CopyBuffer(writerOnly{c}, src, *bp)
	}
	var f *os.File
	remaining := int64(-1)
	switch s := src.(type) {
	case *io.LimitedReader:
		if s.N <= smallCopy {
			// Small: one buffered write with the headers beats write + sendfile.
			bp := bufPool.Get().(*[]byte)
			defer bufPool.Put(bp)
			return io.CopyBuffer(writerOnly{c}, src, (*bp)[:s.N+1])
		}
		if ff, ok := s.R.(*os.File); ok {
			f, remaining = ff, s.N
			defer func() { s.N = remaining }()
		}
	case *os.File:
		f = s
	}
	if f == nil {
		c.armDeadline()
		n, err := rf.ReadFrom(src)
		c.count(n)
		return n, err
	}
	var total int64
	for remaining != 0 {
		chunk := int64(sendfileChunk)
		if remaining > 0 && remaining < chunk {
			chunk = remaining
		}
		c.armDeadline()
		n, err := rf.ReadFrom(&io.LimitedReader{R: f, N: chunk})
		// sendfile leaves nothing in net/http's buffers; TLS has no sendfile and buffers the copy.
		c.countAt(n, !c.del.tls)
		total += n
		if remaining > 0 {
			remaining -= n
		}
		if err != nil || n < chunk {
			return total, err
		}
	}
	return total, nil
}

// writerOnly hides ReadFrom so io.CopyBuffer does not recurse.
type writerOnly struct{ io.Writer }

func (c *meterWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	} else {
		_ = http.NewResponseController(c.ResponseWriter).Flush()
	}
	c.countAt(0, true)
}

// Unwrap lets http.ResponseController reach the server's writer.
func (c *meterWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
