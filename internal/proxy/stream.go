package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/alist-edge/alist-edge/internal/httpx"
	"github.com/alist-edge/alist-edge/internal/origin"
	"github.com/alist-edge/alist-edge/internal/tcpacct"
	"github.com/alist-edge/alist-edge/pkg/quota"
)

// bufSize is the copy buffer of one stream: large enough that a fast upstream fills few
// syscalls, small enough that thousands of streams fit in memory. Buffers are pooled, so a
// stream allocates nothing in proportion to the file.
const bufSize = 256 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

// Every stream starts on a small buffer and moves to a large one only while its client keeps up:
// a thousand slow downloads then hold a thousand small buffers (the upstream is paced by TCP
// behind them), while a fast client gets few large reads and writes (see copyAdaptive).
const (
	smallBufSize = 16 << 10
	// upgradeBytes sent in less than upgradeWithin (small buffer) switch to the large one.
	upgradeBytes  = 2 << 20
	upgradeWithin = 20 * time.Millisecond
	// a large-buffer write slower than downgradeAfter means the client is slow: back to small.
	downgradeAfter = 50 * time.Millisecond
	// shortBody: answers up to this size start on the large buffer.
	shortBody = 4 << 20
)

var smallPool = sync.Pool{New: func() any { b := make([]byte, smallBufSize); return &b }}

// relayHeaders is the allowlist of docs/contract.md §9: the only upstream response headers a client sees
// (then the CORS headers). Everything else (Set-Cookie, Server, storage-internal headers,
// hop-by-hop headers) stays behind.
var relayHeaders = [...]string{
	"Content-Type",        // what the bytes are
	"Content-Disposition", // download name (a default is added when absent, see below)
	"Content-Length",      // size of this answer's body
	"Cache-Control",       // upstream caching rules
	"Content-Encoding",    // passed through untouched (the transport never decompresses)
	"Accept-Ranges",       // tells download managers they may resume
	"Content-Range",       // the part a 206 or 416 covers
	"Content-Language",    //
	"Expires",             //
	"Pragma",              //
	"Etag",                // validators for If-Range / If-None-Match
	"Last-Modified",       // validator for If-Range / If-Modified-Since
}

// staleStatus: a cached link answering one of these has probably expired; it is fetched from
// AList once more before the client gets the answer.
func staleStatus(s int) bool {
	return s == http.StatusUnauthorized || s == http.StatusForbidden || s == http.StatusNotFound || s == http.StatusGone
}

// serveUpstream gets the link (cache or AList), fetches it and streams the answer; meter holds
// what the check reserved for it.
func (h *Handler) serveUpstream(rq *request, r *http.Request, st *state, path, pathHash string, cached *quota.Link, meter *quota.Meter) error {
	ctx := r.Context()
	link := cached
	if cached != nil {
		h.linkHit.Inc()
	} else {
		h.linkMiss.Inc()
	}
	refetched := false
	for {
		fresh := false
		if link == nil {
			l, err := h.fetchLink(ctx, st, path, rq.client.Text)
			if err != nil {
				return err
			}
			link, fresh = l, true
		}
		bp := smallPool.Get().(*[]byte)
		resp, err := st.fetcher.Fetch(ctx, &origin.Request{URL: link.URL, Method: r.Method, Header: link.Header,
			Client: r.Header, Self: st.self, Redirects: rq.redirects, Buf: *bp})
		if !fresh && !refetched && isStale(resp, err) {
			// A cached link that stopped working: drop it and ask AList again, once.
			resp.Close()
			smallPool.Put(bp)
			h.store.InvalidateLink(pathHash)
			link, refetched = nil, true
			continue
		}
		if err != nil {
			smallPool.Put(bp)
			if ctx.Err() != nil {
				return errClientGone
			}
			return err
		}
		if fresh && !staleStatus(resp.Status) {
			h.store.SaveLink(pathHash, *link)
		}
		if resp.Self != nil {
			smallPool.Put(bp)
			meter.Close() // the redirected request reserves for itself
			return h.serveSelf(rq, r, resp.Self, resp.RedirectsLeft)
		}
		defer smallPool.Put(bp)
		return h.stream(rq, r, resp, *bp, path, meter, st.cfg.ClientIdleTimeout)
	}
}

func isStale(resp *origin.Response, err error) bool {
	if err != nil {
		var e *httpx.Error
		return errors.As(err, &e) && e.Reason == "alist" // AList's error envelope from the link
	}
	return resp.Self == nil && staleStatus(resp.Status)
}

// fetchLink asks AList's /api/fs/link, bounded by ALIST_TIMEOUT.
func (h *Handler) fetchLink(ctx context.Context, st *state, path, clientIP string) (*quota.Link, error) {
	actx, cancel := context.WithTimeout(ctx, st.cfg.AlistTimeout)
	defer cancel()
	l, err := st.alist.Link(actx, path, clientIP)
	if err != nil {
		if ctx.Err() != nil {
			return nil, errClientGone
		}
		return nil, err
	}
	u := l.URL
	if strings.HasPrefix(u, "/") && !strings.HasPrefix(u, "//") {
		u = st.cfg.D.AlistURL + u // a link relative to AList itself
	}
	return &quota.Link{URL: u, Header: l.Header, FetchedAt: h.now()}, nil
}

// serveSelf handles an upstream redirect to the proxy's own address as a new request to
// itself: every check runs again for the new URL, nothing goes over the network.
func (h *Handler) serveSelf(rq *request, r *http.Request, u *url.URL, left int) error {
	if left <= 0 {
		return origin.ErrTooManyRedirects
	}
	rq.redirects = left - 1
	r2 := r.Clone(r.Context())
	r2.URL = &url.URL{Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery}
	r2.RequestURI = u.EscapedPath()
	if u.RawQuery != "" {
		r2.RequestURI += "?" + u.RawQuery
	}
	r2.Host = u.Host
	return h.serve(rq, r2, h.state.Load())
}

// stream relays the upstream answer: allowlisted headers, a default Content-Disposition, CORS,
// then the body through the pooled buffer, counting what the client accepted.
func (h *Handler) stream(rq *request, r *http.Request, resp *origin.Response, buf []byte, path string, meter *quota.Meter, idle time.Duration) error {
	defer resp.Close()
	body := io.Reader(resp.Body)
	if r.Method != http.MethodHead {
		// Under a bandwidth quota the grant must cover the answer before its headers go out.
		b, err := capUpstream(r.Context(), meter, resp.Head, resp.HeadErr, resp.ContentLength, resp.Body)
		if err != nil {
			return err
		}
		body = b
	}
	hdr := rq.Header()
	for _, k := range relayHeaders {
		if vs := resp.Header[k]; len(vs) > 0 {
			hdr[k] = vs
		}
	}
	if (resp.Status == http.StatusOK || resp.Status == http.StatusPartialContent) && len(resp.Header["Content-Disposition"]) == 0 {
		hdr["Content-Disposition"] = []string{contentDisposition(baseName(path))}
	}
	httpx.SetCORS(hdr, r)
	rq.WriteHeader(resp.Status)
	if resp.HeadErr == io.EOF && len(resp.Head) == 0 || r.Method == http.MethodHead {
		return nil
	}

	rq.startStream(meter, idle)
	h.m.ActiveStreams.Inc()
	defer func() {
		rq.endStream()
		meter.Close()
		h.m.ActiveStreams.Dec()
	}()

	gone := func() error {
		if r.Context().Err() != nil {
			return errClientGone
		}
		return nil
	}
	if resp.HeadErr == nil && resp.ContentLength >= 0 && resp.ContentLength <= bufSize {
		// The typical Range answer: collected, then headers and body in one Write (see relayShort).
		if more, err := relayShort(rq, resp.Head, body, gone); !more {
			return err
		}
	} else {
		if len(resp.Head) > 0 {
			if _, err := rq.Write(resp.Head); err != nil {
				return errClientGone
			}
		}
		if err := resp.HeadErr; err != nil {
			if err == io.EOF {
				return nil
			}
			return fmt.Errorf("%w: %w", errAborted, err)
		}
	}
	rq.Flush()
	// A short answer (a Range, a small file) goes on the large buffer at once: few syscalls, and
	// the buffer is back in the pool soon whatever the client's speed.
	short := resp.ContentLength >= 0 && resp.ContentLength <= shortBody
	return copyAdaptive(rq, body, buf, short, gone)
}

// collectWithin bounds how long relayShort holds back an answer that is still arriving: a
// healthy upstream delivers bufSize in a few milliseconds, and a slow one must not keep the
// client (or a CDN's time-to-first-byte limit in front of us) waiting for the whole body before
// it sees the headers. The bound is checked between reads; one stalled read is bounded by the
// upstream idle timeout, as the head read before it was.
const collectWithin = 100 * time.Millisecond

// relayShort sends an answer that fits in one large buffer with a single Write: head and the
// rest of body are collected first, so net/http puts the headers and the body on the wire in
// at most two write(2)s (its 4 KiB buffer, then the rest) instead of one for the headers and
// the head and one per upstream read, each of which costs about as much CPU as the rest of the
// request. The large buffer is borrowed only until that Write returns.
//
// If the upstream fails while the body is collected, what arrived is still written before
// errAborted is returned: the status is already committed (WriteHeader), so the client must see
// a transfer that stops short of its Content-Length and is then aborted, exactly as if the
// bytes had been relayed as they came, and usage counts what it got. more reports that the body
// did not end within the buffer or within collectWithin: what was collected has been written,
// and the caller relays the rest.
func relayShort(w io.Writer, head []byte, body io.Reader, gone func() error) (more bool, err error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	n := copy(buf, head)
	start := time.Now()
	var rerr error
	for n < len(buf) && time.Since(start) < collectWithin {
		var m int
		m, rerr = body.Read(buf[n:])
		n += m
		if rerr != nil {
			break
		}
	}
	if rerr != nil && rerr != io.EOF {
		if gerr := gone(); gerr != nil {
			return false, gerr
		}
	}
	if _, werr := w.Write(buf[:n]); werr != nil {
		return false, errClientGone
	}
	switch {
	case rerr == io.EOF:
		return false, nil
	case rerr != nil:
		return false, fmt.Errorf("%w: %w", errAborted, rerr)
	}
	return true, nil
}

// copyAdaptive relays body to w starting with small (the caller's small buffer): after
// upgradeBytes went out within upgradeWithin it borrows a large pooled buffer, and gives it back
// as soon as one write takes longer than downgradeAfter (the client, not the upstream, is the
// limit, and a blocked write would pin the large buffer). gone tells a client that left from an
// upstream failure.
func copyAdaptive(w interface {
	io.Writer
	Flush()
}, body io.Reader, small []byte, startLarge bool, gone func() error) error {
	buf := small
	var large *[]byte
	if startLarge {
		large = bufPool.Get().(*[]byte)
		buf = *large
	}
	defer func() {
		if large != nil {
			bufPool.Put(large)
		}
	}()
	var sent int64
	mark := time.Now()
	for {
		n, err := body.Read(buf)
		if n > 0 {
			t0 := time.Now()
			if _, werr := w.Write(buf[:n]); werr != nil {
				return errClientGone
			}
			if n < len(buf) {
				// The upstream had no more for now: do not let the tail sit in a buffer.
				w.Flush()
			}
			if large == nil {
				if sent += int64(n); sent >= upgradeBytes {
					if time.Since(mark) < upgradeWithin {
						large = bufPool.Get().(*[]byte)
						buf = *large
					}
					sent, mark = 0, time.Now()
				}
			} else if time.Since(t0) > downgradeAfter {
				bufPool.Put(large)
				large, buf = nil, small
				sent, mark = 0, time.Now()
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if gerr := gone(); gerr != nil {
				return gerr
			}
			return fmt.Errorf("%w: %w", errAborted, err)
		}
	}
}

// serveLocal serves a file of the local folder with http.ServeContent: Range (single and
// multiple), HEAD, If-Range and the conditional headers, and sendfile through ReadFrom. Under a
// bandwidth quota a localGate makes sure the grant covers the exact answer first.
func (h *Handler) serveLocal(rq *request, r *http.Request, path string, meter *quota.Meter, idle time.Duration) error {
	f, fi, err := h.local.Open(path)
	switch {
	case errors.Is(err, origin.ErrNotFound):
		return errNotFound
	case errors.Is(err, origin.ErrForbidden):
		return errForbidden
	case err != nil:
		return err
	}
	defer f.Close()
	name := baseName(path)
	hdr := rq.Header()
	httpx.SetCORS(hdr, r)
	hdr["Content-Disposition"] = []string{contentDisposition(name)}
	hdr["Etag"] = []string{etag(fi.ModTime().UnixNano(), fi.Size())}
	hdr["Accept-Ranges"] = []string{"bytes"}
	var w http.ResponseWriter = &rq.countingWriter
	var gate *localGate
	if r.Method != http.MethodHead {
		rq.startStream(meter, idle)
		h.m.ActiveStreams.Inc()
		defer func() {
			rq.endStream()
			meter.Close()
			h.m.ActiveStreams.Dec()
		}()
		if meter.Grant() >= 0 {
			gate = &localGate{countingWriter: &rq.countingWriter, ctx: r.Context(), m: meter}
			w = gate
		}
	}
	http.ServeContent(w, r, name, fi.ModTime(), f)
	if gate != nil && gate.refused != nil {
		localRefusal(hdr)
		return gate.refused
	}
	return nil
}

func etag(mtimeNS, size int64) string {
	b := make([]byte, 0, 36)
	b = append(b, '"')
	b = strconv.AppendInt(b, mtimeNS, 36)
	b = append(b, '-')
	b = strconv.AppendInt(b, size, 36)
	return string(append(b, '"'))
}

func baseName(p string) string { return p[strings.LastIndexByte(p, '/')+1:] }

// contentDisposition is `attachment` with an ASCII `filename` fallback and the exact name in
// an RFC 5987 `filename*` (RFC 6266), so CJK and emoji names survive every browser.
func contentDisposition(name string) string {
	if name == "" {
		return "attachment"
	}
	b := make([]byte, 0, 40+4*len(name))
	b = append(b, `attachment; filename="`...)
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 0x80:
			// one '_' per character, not per byte
			if c >= 0xC0 || i == 0 {
				b = append(b, '_')
			}
		case c < 0x20 || c == 0x7f || c == '"' || c == '\\':
			b = append(b, '_')
		default:
			b = append(b, c)
		}
	}
	b = append(b, '"')
	b = append(b, `; filename*=UTF-8''`...)
	const hexDigits = "0123456789ABCDEF"
	for i := 0; i < len(name); i++ {
		c := name[i]
		if isAttrChar(c) {
			b = append(b, c)
		} else {
			b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
		}
	}
	return string(b)
}

// isAttrChar is RFC 5987's attr-char: what may stand unescaped in filename*.
func isAttrChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$&+-.^_`|~", c) >= 0
}

// countingWriter counts the body bytes written to the client (the access line's and the
// bytes_streamed_total figure) and, while a stream runs, charges the usage Meter with what the
// client received: what its TCP stack acknowledged where the connection's counters can be read
// (see delivery), else what was written. It keeps the underlying writer's ReadFrom (sendfile for
// the local origin), Flush, and Unwrap for http.ResponseController.
type countingWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
	written     int64
	writeErr    error // the first failed write: the client is gone (or stopped reading)
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

func (c *countingWriter) startStream(m *quota.Meter, idle time.Duration) {
	c.meter, c.streaming, c.idle = m, true, idle
	if idle > 0 {
		c.rc = http.NewResponseController(c.ResponseWriter)
	}
	if c.ctx != nil {
		if conn := tcpacct.FromContext(c.ctx); conn != nil {
			c.del.start(conn, conn.TLS)
		}
	}
}

// endStream stops metering; the rest of the answer (net/http's final flush) keeps one more
// CLIENT_IDLE_TIMEOUT to leave, so no write is ever without a deadline. The next request on the
// connection starts with its own (internal/server).
func (c *countingWriter) endStream() {
	if c.streaming && c.del.on() {
		gone := c.writeErr != nil || c.ctx.Err() != nil
		if !gone && c.wroteHeader {
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
func (c *countingWriter) armDeadline() {
	if c.rc != nil {
		_ = c.rc.SetWriteDeadline(time.Now().Add(c.idle))
	}
}

func (c *countingWriter) WriteHeader(code int) {
	if !c.wroteHeader && code >= 200 {
		c.status, c.wroteHeader = code, true
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if !c.wroteHeader {
		c.status, c.wroteHeader = http.StatusOK, true
	}
	c.armDeadline()
	n, err := c.ResponseWriter.Write(p)
	c.count(int64(n))
	c.noteWriteErr(err)
	return n, err
}

// noteWriteErr keeps the first failed write (sendfile's errors are the socket's: a local file
// that was opened and stat'ed does not fail to read).
func (c *countingWriter) noteWriteErr(err error) {
	if err != nil && c.writeErr == nil {
		c.writeErr = err
	}
}

func (c *countingWriter) count(n int64) { c.countAt(n, false) }

// countAt counts n body bytes; flushed: net/http holds none of them in its buffers.
func (c *countingWriter) countAt(n int64, flushed bool) {
	if n < 0 || n == 0 && !flushed {
		return
	}
	c.written += n
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

func (c *countingWriter) headerEstimate() int64 { return headerEstimate(c.Header(), c.status) }

// sendfileChunk bounds one ReadFrom call on a file so usage is metered progressively while the
// kernel copies.
const sendfileChunk = 4 << 20

// smallCopy: bodies up to this size are copied rather than sent with sendfile.
const smallCopy = 32 << 10

// ReadFrom keeps zero-copy: an *os.File (alone or in the *io.LimitedReader http.ServeContent
// makes) reaches the connection's ReadFrom (sendfile) in chunks that are counted as they go.
func (c *countingWriter) ReadFrom(src io.Reader) (int64, error) {
	if !c.wroteHeader {
		c.status, c.wroteHeader = http.StatusOK, true
	}
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
		c.noteWriteErr(err)
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
		c.noteWriteErr(err)
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

func (c *countingWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	} else {
		_ = http.NewResponseController(c.ResponseWriter).Flush()
	}
	c.countAt(0, true)
}

// Unwrap lets http.ResponseController reach the server's writer.
func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
