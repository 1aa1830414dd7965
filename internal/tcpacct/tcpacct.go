// Package tcpacct reads how many bytes a TCP peer has acknowledged, so a download is charged for
// what the client's TCP stack received (docs/contract.md §9) rather than for what our kernel accepted into
// its send buffer: a client that aborts leaves megabytes queued on our side that it never got.
//
// The counters come from TCP_INFO (tcpi_bytes_acked, Linux 4.1+) and SIOCOUTQ, read through the
// connection's own descriptor (SyscallConn, no dup). Where they are not available (another OS, an
// older kernel, a unix socket, HTTP/2 whose streams share one connection) FromContext returns
// nil and callers keep charging what they wrote.
package tcpacct

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync/atomic"
	"syscall"
)

type ctxKey struct{}

// ConnContext is an http.Server.ConnContext hook: it keeps the accepted connection in the
// context so a handler can later ask what its peer acknowledged. It costs one context value per
// connection and no system call.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, ctxKey{}, c)
}

// Listener wraps ln so that its TCP connections take a last reading of their counters as they
// close. net/http closes a connection as soon as a buffered write to it fails (a client that
// reset), before the handler learns that the client left and could ask what it acknowledged;
// the reading taken in Close answers instead. Other connections pass through untouched.
func Listener(ln net.Listener) net.Listener { return listener{ln} }

type listener struct{ net.Listener }

func (l listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok && supported() {
		return &tcpConn{TCPConn: tc}, err
	}
	return c, err
}

// tcpConn keeps every method of *net.TCPConn (ReadFrom for sendfile and splice, CloseWrite).
type tcpConn struct {
	*net.TCPConn
	acct atomic.Pointer[Conn] // made by the first FromContext; Close then takes a reading
	last atomic.Pointer[Counters]
}

func (c *tcpConn) Close() error {
	if c.acct.Load() != nil && c.last.Load() == nil {
		if rc, err := c.TCPConn.SyscallConn(); err == nil {
			var s Counters
			var serr error
			var ti scratch
			if err := rc.Control(func(fd uintptr) { s, serr = sample(int(fd), &ti) }); err == nil && serr == nil {
				s.Closed = true
				c.last.Store(&s)
			}
		}
	}
	return c.TCPConn.Close()
}

// Conn reads one TCP connection's counters. It serves one request at a time (HTTP/1.1), so a
// kept-alive connection reuses it and a reading allocates nothing.
type Conn struct {
	rc      syscall.RawConn
	closed  *tcpConn // nil: accepted outside Listener, no reading after close
	control func(fd uintptr)
	s       Counters
	serr    error
	ti      scratch
	// TLS: the counters include TLS record framing (a few bytes per 16 KiB record).
	TLS bool
}

// Counters are a connection's data bytes since it opened. Sent is every byte handed to the
// kernel (acknowledged or still queued), Acked those the peer acknowledged; only differences
// between two samples of one connection mean anything. Closed: the peer reset the connection
// or it was closed; the counters will not move again.
type Counters struct {
	Sent, Acked int64
	Closed      bool
}

// ErrUnsupported: the counters cannot be read on this system.
var ErrUnsupported = errors.New("tcpacct: TCP counters not available")

// FromContext returns the counters of the connection a request arrived on (installed by
// ConnContext), or nil when they are not available: no hook, not TCP, HTTP/2 over TLS, or a
// system without tcpi_bytes_acked. Call it from the handler (after the TLS handshake).
func FromContext(ctx context.Context) *Conn {
	c, _ := ctx.Value(ctxKey{}).(net.Conn)
	if c == nil || !supported() {
		return nil
	}
	isTLS := false
	if tc, ok := c.(*tls.Conn); ok {
		// HTTP/2 multiplexes requests on one connection: its counters are not one answer's.
		if p := tc.ConnectionState().NegotiatedProtocol; p != "" && p != "http/1.1" {
			return nil
		}
		c, isTLS = tc.NetConn(), true
	}
	var tcp *net.TCPConn
	var tracked *tcpConn
	switch x := c.(type) {
	case *tcpConn:
		if a := x.acct.Load(); a != nil {
			return a
		}
		tcp, tracked = x.TCPConn, x
	case *net.TCPConn:
		tcp = x
	default:
		return nil
	}
	rc, err := tcp.SyscallConn()
	if err != nil {
		return nil
	}
	a := &Conn{rc: rc, closed: tracked, TLS: isTLS}
	a.control = a.read
	if tracked != nil {
		tracked.acct.Store(a)
	}
	return a
}

// Sample reads the counters. After the connection closed it answers the reading taken as it
// closed (connections accepted by Listener), else it fails.
func (c *Conn) Sample() (Counters, error) {
	err := c.rc.Control(c.control)
	if err == nil {
		err = c.serr
	}
	if err != nil && c.closed != nil {
		if last := c.closed.last.Load(); last != nil {
			return *last, nil
		}
	}
	if err != nil {
		return Counters{}, err
	}
	return c.s, nil
}

func (c *Conn) read(fd uintptr) { c.s, c.serr = sample(int(fd), &c.ti) }
