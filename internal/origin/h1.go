package origin

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// H1Transport is the download path's HTTP/1.1 client: a GET or HEAD without a body, sent
// straight to the upstream (no outbound proxy), on a pooled keep-alive connection, written with
// one write(2) and parsed with net/http's own response reader (http.ReadResponse: status line,
// headers, Content-Length, chunked, trailers).
//
// Why not http.Transport for this: its per-connection reader and writer goroutines hand every
// request and response over channels, which under load cost about a quarter of the proxy's CPU
// per small download (profiled: persistConn.readLoop/writeLoop, select, futex wake-ups; see
// docs/benchmarks.md). Here the request's own goroutine writes the request and reads the answer.
// Everything else — requests with a body (AList's JSON API), an outbound proxy
// (HTTPS_PROXY/ALL_PROXY), other methods — goes to Fallback, the tuned http.Transport.
type H1Transport struct {
	// Fallback serves what this transport does not (see above); required.
	Fallback http.RoundTripper
	// Proxy is the outbound-proxy choice (ProxyFromEnviron); a request it sends through a proxy
	// goes to Fallback. nil: always direct.
	Proxy func(*http.Request) (*url.URL, error)
	// Dialer connects (its Control is the SSRF guard, SafeControl).
	Dialer *net.Dialer
	// TLSConfig is cloned for every TLS connection; nil: system roots.
	TLSConfig *tls.Config
	// TLSTimeout bounds the TLS handshake; HeaderTimeout bounds request written → response
	// headers read (UPSTREAM_TLS_TIMEOUT, UPSTREAM_HEADER_TIMEOUT; 0: no bound but the context).
	TLSTimeout    time.Duration
	HeaderTimeout time.Duration
	// IdleConnTimeout closes a pooled connection unused for this long (default 90 s);
	// MaxIdlePerHost bounds the pool per host (default 256); MaxHeaderBytes bounds the status
	// line and headers of an answer (default 256 KiB).
	IdleConnTimeout time.Duration
	MaxIdlePerHost  int
	MaxHeaderBytes  int
	// ReadBufferSize is each connection's read buffer (default 16 KiB; reads as large as the
	// buffer bypass it).
	ReadBufferSize int

	mu        sync.Mutex
	idle      map[string][]*h1Conn
	lastSweep time.Time
}

// h1Conn is one upstream connection and its read buffer.
type h1Conn struct {
	net.Conn
	key string
	br  *bufio.Reader
	// budget counts down the bytes the header phase may read (headerBudget reads through it);
	// -1 while the body is read.
	budget    int
	got       int // bytes read from the socket for the current request
	idleSince time.Time
}

// headerBudget is what br reads from: it enforces MaxHeaderBytes while an answer's head is
// parsed and counts what arrived (a reused connection that fails before any byte is retried).
type headerBudget struct{ c *h1Conn }

var errHeadersTooLarge = errors.New("upstream response headers too large")

func (hb headerBudget) Read(p []byte) (int, error) {
	c := hb.c
	if c.budget >= 0 {
		if c.budget == 0 {
			return 0, errHeadersTooLarge
		}
		if len(p) > c.budget {
			p = p[:c.budget]
		}
	}
	n, err := c.Conn.Read(p)
	c.got += n
	if c.budget >= 0 {
		c.budget -= n
	}
	return n, err
}

// aLongTimeAgo is a deadline in the past: it wakes a blocked read or write at once.
var aLongTimeAgo = time.Unix(1, 0)

// RoundTrip implements http.RoundTripper.
func (t *H1Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !t.handles(req) {
		return t.Fallback.RoundTrip(req)
	}
	if t.Proxy != nil {
		if p, err := t.Proxy(req); err != nil || p != nil {
			return t.Fallback.RoundTrip(req) // it asks the proxy function again and reports its error
		}
	}
	key, addr, host, err := connKey(req.URL)
	if err != nil {
		return nil, err
	}
	head, err := t.appendRequest(nil, req)
	if err != nil {
		return nil, err
	}
	ctx := req.Context()
	for {
		pc, reused, err := t.getConn(ctx, key, addr, host, req.URL.Scheme == "https")
		if err != nil {
			return nil, err
		}
		resp, err := t.exchange(ctx, pc, req, head)
		if err == nil {
			return resp, nil
		}
		pc.Close()
		if reused && pc.got == 0 && ctx.Err() == nil {
			// The upstream closed a kept-alive connection while it sat in the pool: nothing of
			// the answer arrived, so asking again on another connection is safe (GET/HEAD).
			continue
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
}

// handles reports whether req is a bodiless GET/HEAD to an http(s) URL.
func (t *H1Transport) handles(req *http.Request) bool {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		return false
	}
	if req.Body != nil && req.Body != http.NoBody {
		return false
	}
	if req.URL == nil || (req.URL.Scheme != "http" && req.URL.Scheme != "https") || req.URL.Host == "" || req.URL.User != nil {
		return false
	}
	return req.Close == false && len(req.TransferEncoding) == 0
}

// connKey is the pool key (scheme://host:port), the address to dial and the TLS server name.
func connKey(u *url.URL) (key, addr, host string, err error) {
	host = u.Hostname()
	if host == "" {
		return "", "", "", ErrBadLink
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	addr = net.JoinHostPort(host, port)
	return u.Scheme + "://" + addr, addr, host, nil
}

// appendRequest writes the request head: request line, Host, the caller's headers in their
// map order (HTTP does not order distinct fields), and net/http's default User-Agent when none
// is given. A header that would split the request (CR, LF, other control bytes) is refused, as
// net/http refuses it.
func (t *H1Transport) appendRequest(b []byte, req *http.Request) ([]byte, error) {
	uri := req.URL.RequestURI()
	if !validURI(uri) {
		return nil, fmt.Errorf("net/http: invalid request URI %q", uri)
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	if !validHeaderValue(host) || strings.ContainsAny(host, " \t/") {
		return nil, fmt.Errorf("net/http: invalid Host header %q", host)
	}
	b = append(b, req.Method...)
	b = append(b, ' ')
	b = append(b, uri...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\n"...)
	hasUA := false
	for k, vs := range req.Header {
		if !validHeaderName(k) {
			return nil, fmt.Errorf("net/http: invalid header field name %q", k)
		}
		switch http.CanonicalHeaderKey(k) {
		case "Host", "Content-Length", "Transfer-Encoding", "Connection", "Trailer", "Upgrade", "Keep-Alive", "Te":
			continue // framing and hop-by-hop fields are this transport's, not the caller's
		case "User-Agent":
			hasUA = true
		}
		for _, v := range vs {
			if !validHeaderValue(v) {
				return nil, fmt.Errorf("net/http: invalid header field value for %q", k)
			}
			b = append(b, k...)
			b = append(b, ": "...)
			b = append(b, strings.TrimSpace(v)...)
			b = append(b, "\r\n"...)
		}
	}
	if !hasUA {
		b = append(b, "User-Agent: Go-http-client/1.1\r\n"...)
	}
	return append(b, "\r\n"...), nil
}

func validURI(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return false
		}
	}
	return true
}

// validHeaderName: RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validHeaderValue: no control bytes but horizontal tab.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// exchange sends head on pc and reads the answer's head. The context (the client's request, the
// idle timeout) interrupts it at any point by moving the connection's deadline into the past.
func (t *H1Transport) exchange(ctx context.Context, pc *h1Conn, req *http.Request, head []byte) (*http.Response, error) {
	stop := context.AfterFunc(ctx, func() { _ = pc.SetDeadline(aLongTimeAgo) })
	pc.got = 0
	pc.budget = t.maxHeaderBytes()
	if t.HeaderTimeout > 0 {
		_ = pc.SetReadDeadline(time.Now().Add(t.HeaderTimeout))
	}
	fail := func(err error) (*http.Response, error) {
		stop()
		var ne net.Error
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, headerTimeoutError{}
		}
		return nil, err
	}
	if _, err := pc.Write(head); err != nil {
		return fail(err)
	}
	var resp *http.Response
	for {
		r, err := http.ReadResponse(pc.br, req)
		if err != nil {
			return fail(err)
		}
		if r.StatusCode >= 100 && r.StatusCode < 200 {
			if r.StatusCode == http.StatusSwitchingProtocols {
				return fail(errors.New("upstream switched protocols"))
			}
			continue // 100 Continue, 103 Early Hints: the final answer follows
		}
		resp = r
		break
	}
	pc.budget = -1
	if t.HeaderTimeout > 0 {
		_ = pc.SetReadDeadline(time.Time{})
	}
	b := &h1Body{t: t, pc: pc, rc: resp.Body, stop: stop, reusable: !resp.Close, length: -1}
	if len(resp.TransferEncoding) == 0 && resp.ContentLength >= 0 {
		b.length = resp.ContentLength
	}
	if resp.Body == http.NoBody {
		b.finish(true) // HEAD, 204, 304, Content-Length: 0: the connection is free now
		return resp, nil
	}
	resp.Body = b
	return resp, nil
}

func (t *H1Transport) maxHeaderBytes() int {
	if t.MaxHeaderBytes > 0 {
		return t.MaxHeaderBytes
	}
	return 256 << 10
}

// headerTimeoutError is UPSTREAM_HEADER_TIMEOUT running out (a net.Error with Timeout, so the
// fetcher answers 504).
type headerTimeoutError struct{}

func (headerTimeoutError) Error() string   { return "timeout awaiting upstream response headers" }
func (headerTimeoutError) Timeout() bool   { return true }
func (headerTimeoutError) Temporary() bool { return true }

// h1Body returns the connection to the pool when the body has been read to its end, and closes
// it otherwise (an unread rest would have to be drained first).
type h1Body struct {
	t        *H1Transport
	pc       *h1Conn
	rc       io.ReadCloser
	stop     func() bool
	reusable bool
	done     bool
	// length is the answer's Content-Length (-1: chunked or until close); read counts the body
	// bytes delivered so far, by Read or by SpliceTo.
	length, read int64
	spliced      bool
}

var errBodyClosed = errors.New("http: read on closed response body")

func (b *h1Body) Read(p []byte) (int, error) {
	if b.done {
		if b.length >= 0 && b.read == b.length {
			return 0, io.EOF // SpliceTo moved the last byte
		}
		return 0, errBodyClosed
	}
	var n int
	var err error
	if b.spliced {
		// net/http's body reader no longer knows where the body stands: read the rest here.
		left := b.length - b.read
		if int64(len(p)) > left {
			p = p[:left]
		}
		n, err = b.pc.br.Read(p)
		if b.read+int64(n) == b.length {
			err = io.EOF
		} else if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
	} else {
		n, err = b.rc.Read(p)
	}
	b.read += int64(n)
	if err == io.EOF {
		b.finish(true)
	} else if err != nil {
		b.finish(false)
	}
	return n, err
}

// SpliceTo moves up to max bytes of the body straight from the upstream socket into w's
// ReadFrom, which for a client TCP connection is splice(2): the bytes go socket → pipe → socket
// inside the kernel, never through a user-space buffer. It applies only to a plain-TCP,
// Content-Length-framed body whose read buffer is empty (call Read until then); ok is false
// otherwise and nothing happened. idle bounds the upstream side of the copy (a read deadline).
// The connection goes back to the pool when the last byte has been spliced.
func (b *h1Body) SpliceTo(w io.ReaderFrom, max int64, idle time.Duration) (n int64, ok bool, err error) {
	if b.done || b.length < 0 || b.pc.br.Buffered() > 0 {
		return 0, false, nil
	}
	tc, isTCP := b.pc.Conn.(*net.TCPConn)
	if !isTCP {
		return 0, false, nil
	}
	left := b.length - b.read
	if left <= 0 {
		return 0, false, nil
	}
	if idle > 0 {
		_ = tc.SetReadDeadline(time.Now().Add(idle))
	}
	b.spliced = true
	n, err = w.ReadFrom(&io.LimitedReader{R: tc, N: min(max, left)})
	b.read += n
	if idle > 0 {
		_ = tc.SetReadDeadline(time.Time{})
	}
	switch {
	case err != nil:
		b.finish(false)
	case n < min(max, left):
		err = io.ErrUnexpectedEOF // the upstream closed early
		b.finish(false)
	case b.read == b.length:
		b.finish(true)
	}
	return n, true, err
}

func (b *h1Body) Close() error {
	if !b.done {
		b.finish(false)
	}
	return nil
}

// finish releases the connection: back to the pool when the answer ended cleanly, the upstream
// keeps it alive, no byte beyond the answer is buffered and the context never fired (its
// deadline would poison the next request); closed otherwise.
func (b *h1Body) finish(complete bool) {
	b.done = true
	fired := !b.stop()
	if complete && b.reusable && !fired && b.pc.br.Buffered() == 0 {
		b.t.putConn(b.pc)
		return
	}
	b.pc.Close()
}

// getConn takes the most recently used idle connection for key, or dials one.
func (t *H1Transport) getConn(ctx context.Context, key, addr, host string, useTLS bool) (*h1Conn, bool, error) {
	now := time.Now()
	t.mu.Lock()
	for list := t.idle[key]; len(list) > 0; list = t.idle[key] {
		pc := list[len(list)-1]
		list[len(list)-1] = nil
		t.idle[key] = list[:len(list)-1]
		if now.Sub(pc.idleSince) < t.idleTimeout() {
			t.mu.Unlock()
			return pc, true, nil
		}
		pc.Close()
	}
	t.mu.Unlock()
	pc, err := t.dial(ctx, key, addr, host, useTLS)
	return pc, false, err
}

func (t *H1Transport) idleTimeout() time.Duration {
	if t.IdleConnTimeout > 0 {
		return t.IdleConnTimeout
	}
	return 90 * time.Second
}

func (t *H1Transport) dial(ctx context.Context, key, addr, host string, useTLS bool) (*h1Conn, error) {
	d := t.Dialer
	if d == nil {
		d = &net.Dialer{Timeout: 30 * time.Second, Control: SafeControl}
	}
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	conn := raw
	if useTLS {
		cfg := &tls.Config{}
		if t.TLSConfig != nil {
			cfg = t.TLSConfig.Clone()
		}
		if cfg.ServerName == "" {
			cfg.ServerName = host
		}
		cfg.NextProtos = []string{"http/1.1"}
		tc := tls.Client(raw, cfg)
		hctx := ctx
		if t.TLSTimeout > 0 {
			var cancel context.CancelFunc
			hctx, cancel = context.WithTimeout(ctx, t.TLSTimeout)
			defer cancel()
		}
		if err := tc.HandshakeContext(hctx); err != nil {
			raw.Close()
			if ctx.Err() == nil && hctx.Err() != nil {
				return nil, errors.New("net/http: TLS handshake timeout")
			}
			return nil, err
		}
		conn = tc
	}
	size := t.ReadBufferSize
	if size <= 0 {
		size = 16 << 10
	}
	pc := &h1Conn{Conn: conn, key: key}
	pc.br = bufio.NewReaderSize(headerBudget{pc}, size)
	return pc, nil
}

// putConn pools pc (LIFO: the warmest connection is reused first, the coldest ones age out).
func (t *H1Transport) putConn(pc *h1Conn) {
	max := t.MaxIdlePerHost
	if max <= 0 {
		max = 256
	}
	now := time.Now()
	pc.idleSince = now
	t.mu.Lock()
	if t.idle == nil {
		t.idle = make(map[string][]*h1Conn)
		t.lastSweep = now
	}
	if len(t.idle[pc.key]) >= max {
		t.mu.Unlock()
		pc.Close()
		return
	}
	t.idle[pc.key] = append(t.idle[pc.key], pc)
	var expired []*h1Conn
	if now.Sub(t.lastSweep) > t.idleTimeout()/2 {
		t.lastSweep = now
		expired = t.sweepLocked(now)
	}
	t.mu.Unlock()
	for _, c := range expired {
		c.Close()
	}
}

// sweepLocked drops the connections idle longer than the idle timeout (oldest first in each
// list) so hosts that are no longer asked do not keep sockets open.
func (t *H1Transport) sweepLocked(now time.Time) []*h1Conn {
	var out []*h1Conn
	for k, list := range t.idle {
		i := 0
		for i < len(list) && now.Sub(list[i].idleSince) >= t.idleTimeout() {
			out = append(out, list[i])
			i++
		}
		if i == len(list) {
			delete(t.idle, k)
			continue
		}
		if i > 0 {
			t.idle[k] = append(list[:0], list[i:]...)
		}
	}
	return out
}

// CloseIdleConnections closes the pooled connections, here and in Fallback.
func (t *H1Transport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = nil
	t.mu.Unlock()
	for _, list := range idle {
		for _, pc := range list {
			pc.Close()
		}
	}
	if f, ok := t.Fallback.(interface{ CloseIdleConnections() }); ok {
		f.CloseIdleConnections()
	}
}

// idleConns is the number of pooled connections (tests).
func (t *H1Transport) idleConns() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, l := range t.idle {
		n += len(l)
	}
	return n
}
