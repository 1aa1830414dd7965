// Package h1srv is the proxy's public HTTP/1.1 server for plain (non-TLS) listeners.
//
// Why not net/http's Server: measured on the benchmark box (docs/benchmarks.md), net/http costs
// about 12 µs of CPU per request more than a plain read-parse-write loop, and in a proxy whose
// handler parks on the upstream the gap doubles: every request starts a background read
// goroutine on the client connection (for CloseNotify and context cancellation), which must be
// woken and joined when the handler returns, and the answer goes through two buffer layers. A
// 1 KiB download through net/http with no gateway work at all cost as much CPU as our whole
// gateway path. This server runs the same http.Handler with one goroutine per connection and
// nothing else.
//
// The price is a second HTTP/1.1 parser in front of a security gateway, so it is deliberately
// narrower and stricter than net/http (conformance_test.go pins each rule):
//   - the request head must use CRLF line ends; a bare LF, a bare CR, obs-fold, whitespace
//     before a header colon, a control character in a header value, a space in the target, or
//     more than one Host / Content-Length is refused with 400 and the connection closed;
//   - request bodies are accepted only with a plain Content-Length; any Transfer-Encoding is
//     refused (501), so there is no chunked request parsing to disagree with a front proxy about;
//   - CONNECT is refused (405) and only HTTP/1.0 and HTTP/1.1 are spoken (505 otherwise).
//
// Lifecycle differences from net/http's Server (lifecycle_test.go runs both): the request's
// context is not cancelled when the client goes away mid-request (that needs the background read
// net/http pays for), it carries http.LocalAddrContextKey but no http.ServerContextKey, and
// Shutdown closes a connection that never sent a request at once (net/http waits up to 5 s).
//
// TLS listeners (HTTP/2 by ALPN) keep net/http; internal/server picks.
package h1srv

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Server serves one http.Handler over HTTP/1.1. The zero value of every field but Handler
// means its default.
type Server struct {
	Handler http.Handler
	// ReadHeaderTimeout bounds reading one request head, from its first byte (from the accept
	// for a connection's first request). Default 10 s.
	ReadHeaderTimeout time.Duration
	// IdleTimeout bounds the wait for the next request on a kept-alive connection. Default 120 s.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds the request line plus headers; a larger head gets 431. Default 64 KiB.
	MaxHeaderBytes int
	// Logger receives handler panics (error) and refused requests (debug). Default slog.Default().
	Logger *slog.Logger
	// BaseContext is the parent of every request's context. Default context.Background().
	BaseContext context.Context
	// Refused, when set, is told the status of every request refused before the handler
	// (a metric: clients that trip the strictness should be visible).
	Refused func(status int)

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	closing   atomic.Bool
}

const (
	stateIdle int32 = iota // waiting for a request head (also a new connection)
	stateActive
	stateClosed
)

func (s *Server) readHeaderTimeout() time.Duration {
	if s.ReadHeaderTimeout > 0 {
		return s.ReadHeaderTimeout
	}
	return 10 * time.Second
}

func (s *Server) idleTimeout() time.Duration {
	if s.IdleTimeout > 0 {
		return s.IdleTimeout
	}
	return 120 * time.Second
}

func (s *Server) maxHeaderBytes() int {
	if s.MaxHeaderBytes > 0 {
		return s.MaxHeaderBytes
	}
	return 64 << 10
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// Serve accepts connections on ln until Shutdown or Close; it then returns http.ErrServerClosed.
func (s *Server) Serve(ln net.Listener) error {
	if !s.track(ln, true) {
		return http.ErrServerClosed
	}
	defer s.track(ln, false)
	base := s.BaseContext
	if base == nil {
		base = context.Background()
	}
	var backoff time.Duration
	for {
		rwc, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return http.ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// Out of file descriptors and the like: wait and retry, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.logger().Warn("accept failed; retrying", "err", err, "delay", backoff.String())
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		c := newConn(s, rwc, base)
		if !s.trackConn(c, true) {
			_ = rwc.Close()
			return http.ErrServerClosed
		}
		go c.serve()
	}
}

func (s *Server) track(ln net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.closing.Load() {
			return false
		}
		if s.listeners == nil {
			s.listeners = make(map[net.Listener]struct{})
		}
		s.listeners[ln] = struct{}{}
	} else {
		delete(s.listeners, ln)
	}
	return true
}

func (s *Server) trackConn(c *conn, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.closing.Load() {
			return false
		}
		if s.conns == nil {
			s.conns = make(map[*conn]struct{})
		}
		s.conns[c] = struct{}{}
	} else {
		delete(s.conns, c)
	}
	return true
}

// closeListeners stops accepting; the caller set closing first.
func (s *Server) closeListeners() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	for ln := range s.listeners {
		if e := ln.Close(); e != nil && err == nil {
			err = e
		}
	}
	return err
}

// closeIdle closes the connections waiting for a request and reports whether none are left.
func (s *Server) closeIdle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.state.CompareAndSwap(stateIdle, stateClosed) {
			_ = c.rwc.Close()
		}
	}
	return len(s.conns) == 0
}

// Shutdown stops accepting, closes idle connections, lets running requests finish (each
// connection closes after its current answer) and returns when none are left or ctx is done.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closing.Store(true)
	err := s.closeListeners()
	wait := time.Millisecond
	for {
		if s.closeIdle() {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, 100*time.Millisecond)
	}
}

// Close stops accepting and closes every connection at once (running streams are cut).
func (s *Server) Close() error {
	s.closing.Store(true)
	err := s.closeListeners()
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.state.Store(stateClosed)
		_ = c.rwc.Close()
		c.cancel() // as net/http's Close: handlers waiting on their request's context end now
	}
	return err
}

// conn is one client connection, served by one goroutine.
type conn struct {
	s          *Server
	rwc        net.Conn
	rf         io.ReaderFrom // rwc's ReaderFrom (sendfile / splice on TCP), or nil
	vw         vectorWriter  // rwc's vectored write when it is a wrapper that has one, or nil
	br         *bufio.Reader
	remoteAddr string
	ctx        context.Context // carries http.LocalAddrContextKey; cancelled when the connection ends
	cancel     context.CancelFunc
	state      atomic.Int32

	wbuf []byte // answer bytes not yet written
	pre  []byte // body bytes written before the head was formatted (sniffing, automatic Content-Length)
	iov  [2][]byte
	bufs net.Buffers
	werr error // first write error: the connection is done

	dateSec int64
	date    []byte
}

const (
	readBufSize  = 4 << 10
	writeBufSize = 8 << 10
	preBufSize   = 2 << 10 // net/http's bufferBeforeChunkingSize: the automatic Content-Length limit
)

var (
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufSize) }}
	wbufPool   = sync.Pool{New: func() any { b := make([]byte, 0, writeBufSize); return &b }}
	preBufPool = sync.Pool{New: func() any { b := make([]byte, 0, preBufSize); return &b }}
)

func newConn(s *Server, rwc net.Conn, base context.Context) *conn {
	c := &conn{s: s, rwc: rwc, remoteAddr: rwc.RemoteAddr().String()}
	if rf, ok := rwc.(io.ReaderFrom); ok {
		c.rf = rf
	}
	if vw, ok := rwc.(vectorWriter); ok {
		c.vw = vw
	}
	c.ctx, c.cancel = context.WithCancel(context.WithValue(base, http.LocalAddrContextKey, rwc.LocalAddr()))
	return c
}

func (c *conn) close() {
	c.state.Store(stateClosed)
	_ = c.rwc.Close()
	c.cancel()
	c.s.trackConn(c, false)
	if c.br != nil {
		c.br.Reset(nil)
		readerPool.Put(c.br)
		c.br = nil
	}
	if c.wbuf != nil {
		b := c.wbuf[:0]
		wbufPool.Put(&b)
		c.wbuf = nil
	}
	if c.pre != nil {
		b := c.pre[:0]
		preBufPool.Put(&b)
		c.pre = nil
	}
}

// serve reads requests and answers them, one at a time, until the connection is done.
func (c *conn) serve() {
	defer c.close()
	c.br = readerPool.Get().(*bufio.Reader)
	c.br.Reset(c.rwc)
	c.wbuf = (*wbufPool.Get().(*[]byte))[:0]
	c.pre = (*preBufPool.Get().(*[]byte))[:0]
	wait := c.s.readHeaderTimeout()
	first := true
	for {
		if c.br.Buffered() == 0 { // a pipelined request is already here otherwise
			_ = c.rwc.SetReadDeadline(time.Now().Add(wait))
			if _, err := c.br.Peek(1); err != nil {
				return
			}
		}
		if !c.state.CompareAndSwap(stateIdle, stateActive) {
			return // Shutdown closed it
		}
		if !first { // the first head is bounded from the accept; a later one from its first byte
			_ = c.rwc.SetReadDeadline(time.Now().Add(c.s.readHeaderTimeout()))
		}
		first = false
		head, err := readHead(c.br, c.s.maxHeaderBytes())
		if err != nil {
			c.refuse(err)
			return
		}
		ctx, cancel := context.WithCancel(c.ctx)
		req, body, err := parseRequest(ctx, head, c)
		if err != nil {
			cancel()
			c.refuse(err)
			return
		}
		if body != nil {
			_ = c.rwc.SetReadDeadline(time.Time{}) // the handler reads the body at its own pace
		}
		keep := c.handle(req, body)
		cancel() // as net/http: the request's context ends with its handler
		if !keep || c.s.closing.Load() {
			return
		}
		c.state.Store(stateIdle)
		if c.s.closing.Load() && c.state.CompareAndSwap(stateIdle, stateClosed) {
			return
		}
		wait = c.s.idleTimeout()
	}
}

// handle runs the handler for one request and finishes its answer; false ends the connection.
func (c *conn) handle(r *http.Request, body *requestBody) bool {
	w := &response{c: c, req: r, body: body, header: make(http.Header, 8), contentLength: -1,
		isHEAD: r.Method == http.MethodHead, closeAfter: r.Close}
	if body != nil {
		body.w = w
	}
	if c.runHandler(w, r) {
		if body != nil {
			body.detach() // a goroutine the handler left reading r.Body must not outlive c.br
		}
		return false
	}
	w.finish()
	if w.deadlineSet { // the handler's deadline was for its answer, not for the next requests
		_ = c.rwc.SetWriteDeadline(time.Time{})
	}
	if body != nil && !body.finish() {
		w.closeAfter = true
		// (finish is done with the body: its fields no longer change.)
		if c.werr == nil && body.remaining > 0 && !(body.expectContinue && !body.sawRead) {
			// The client may still be sending the body: closing now, with its bytes unread,
			// would reset the connection and could destroy the answer before it is read.
			c.lingerClose()
		}
	}
	return c.werr == nil && !w.closeAfter
}

// runHandler calls the handler and reports whether it panicked. A panic other than
// http.ErrAbortHandler is logged with its stack; either way the connection is closed without
// finishing the answer, so the client sees a cut transfer, not a complete-looking one. What
// was still buffered is dropped (net/http flushes its connection buffer first): a body that
// ends with the connection (HTTP/1.0) must not look complete.
func (c *conn) runHandler(w *response, r *http.Request) (panicked bool) {
	defer func() {
		if v := recover(); v != nil {
			panicked = true
			if v != http.ErrAbortHandler {
				buf := make([]byte, 64<<10)
				buf = buf[:runtime.Stack(buf, false)]
				c.s.logger().Error("panic serving request", "remote", c.remoteAddr, "panic", v, "stack", string(buf))
			}
		}
	}()
	c.s.Handler.ServeHTTP(w, r)
	return false
}

// vectorWriter is a connection wrapper (a listener middleware's conn, the tests' write counter)
// that writes several buffers in one call. net.Buffers uses writev only on the net package's own
// connections and falls back to one Write per buffer on any other net.Conn.
type vectorWriter interface {
	WriteBuffers(v *net.Buffers) (int64, error)
}

// write sends the buffered answer bytes, then p (one writev when both are there).
func (c *conn) write(p []byte) {
	if c.werr != nil {
		return
	}
	var err error
	switch {
	case len(p) == 0 && len(c.wbuf) == 0:
		return
	case len(p) == 0:
		_, err = c.rwc.Write(c.wbuf)
	case len(c.wbuf) == 0:
		_, err = c.rwc.Write(p)
	default:
		c.iov[0], c.iov[1] = c.wbuf, p
		c.bufs = c.iov[:]
		if c.vw != nil {
			_, err = c.vw.WriteBuffers(&c.bufs)
		} else {
			_, err = c.bufs.WriteTo(c.rwc) // writev on a *net.TCPConn or *net.UnixConn
		}
		c.iov[0], c.iov[1] = nil, nil
	}
	c.wbuf = c.wbuf[:0]
	if err != nil {
		c.werr = err
	}
}

// emit queues p for the client, writing when the buffer would overflow.
func (c *conn) emit(p []byte) {
	if len(c.wbuf)+len(p) <= cap(c.wbuf) {
		c.wbuf = append(c.wbuf, p...)
		return
	}
	c.write(p)
}

// dateValue is the Date header value, formatted once per second per connection.
func (c *conn) dateValue() []byte {
	now := time.Now()
	if sec := now.Unix(); sec != c.dateSec || c.date == nil {
		c.dateSec = sec
		c.date = now.UTC().AppendFormat(c.date[:0], http.TimeFormat)
	}
	return c.date
}

// refuse answers a request that cannot be served (status from err) and the connection ends.
func (c *conn) refuse(err error) {
	var pe *protoError
	if !errors.As(err, &pe) {
		return // read error or timeout: nothing sensible to answer
	}
	c.s.logger().Debug("refused request", "remote", c.remoteAddr, "status", pe.status, "reason", pe.reason)
	if c.s.Refused != nil {
		c.s.Refused(pe.status)
	}
	text := http.StatusText(pe.status)
	msg := make([]byte, 0, 256)
	msg = append(msg, "HTTP/1.1 "...)
	msg = appendInt(msg, int64(pe.status))
	msg = append(msg, ' ')
	msg = append(msg, text...)
	body := pe.reason
	msg = append(msg, "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: "...)
	msg = appendInt(msg, int64(len(body)+1))
	msg = append(msg, "\r\n\r\n"...)
	msg = append(msg, body...)
	msg = append(msg, '\n')
	_ = c.rwc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, _ = c.rwc.Write(msg)
	c.lingerClose()
}

// lingerClose lets the answer reach the client before the connection is closed: closing with
// unread request bytes in the socket would reset the connection and the client might never see
// the answer. It half-closes and reads (and drops) what the client still sends, for a moment.
func (c *conn) lingerClose() {
	if tc, ok := c.rwc.(interface{ CloseWrite() error }); ok {
		_ = tc.CloseWrite()
		_ = c.rwc.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		_, _ = io.Copy(io.Discard, io.LimitReader(c.rwc, 256<<10))
	}
}

func appendInt(b []byte, v int64) []byte {
	if v == 0 {
		return append(b, '0')
	}
	var tmp [20]byte
	i := len(tmp)
	for v > 0 {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, tmp[i:]...)
}
