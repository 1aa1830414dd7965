package h1srv

import (
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// response is the handler's http.ResponseWriter. It keeps net/http's observable rules
// (response_test.go runs each against net/http):
//   - the status line is HTTP/1.1, or HTTP/1.0 for an HTTP/1.0 request; a Date header is added
//     unless the handler set one;
//   - a body written entirely before the handler returns and no longer than 2 KiB (net/http's
//     buffer before chunking) gets a Content-Length; a longer one, or one flushed early, without
//     a declared Content-Length is chunked (HTTP/1.1) or delimited by closing the connection
//     (HTTP/1.0); a handler's Transfer-Encoding turns the automatic Content-Length and sniffing
//     off, and "identity" means close-delimited;
//   - Content-Type is sniffed from the first 512 body bytes when unset and there is no
//     Content-Encoding; ReadFrom reads those bytes through Write first, as net/http does;
//   - 1xx, 204 and 304 carry no body and no Content-Length; 304 no Content-Type either; a HEAD
//     answer's body is dropped (its length still sets Content-Length when small);
//   - writing past the declared Content-Length is http.ErrContentLength (and the connection is
//     closed after the answer), a body shorter than declared closes the connection;
//   - HTTP/1.0 keep-alive: "Connection: keep-alive" when the client asked for it and the length
//     is known; "Connection: close" is sent only to HTTP/1.1 clients; a handler's Connection
//     header without "close" is dropped when the connection is closing; a request body the
//     handler left unread and too large to skip (or never sent: 100-continue) is announced with
//     "Connection: close";
//   - header values are written trimmed with CR and LF replaced by spaces, invalid header names
//     are skipped, so a handler cannot split the answer.
//
// Deliberate differences from net/http:
//   - the header map is read when the head is formatted (first flush, or when the handler
//     returns), not frozen at WriteHeader, so late changes are sent. The framing headers are the
//     server's alone: Content-Length is the value parsed at WriteHeader (or the automatic one)
//     and a handler's Transfer-Encoding is never copied, so a late Content-Length cannot
//     contradict the framing;
//   - no 1xx answer is sent to an HTTP/1.0 client (RFC 9110 §15.2), net/http sends one;
//   - ReadFrom never sends more than the declared Content-Length (net/http's sendfile path
//     does): the excess is http.ErrContentLength;
//   - an invalid Content-Length the handler set is dropped and the answer framed as if it had
//     set none (net/http still sends the invalid value to an HTTP/1.0 client);
//   - a write deadline the handler set (http.ResponseController) ends with its request instead
//     of applying to the next requests on the connection;
//   - the request body stays readable after the head was flushed (net/http discards it then,
//     unless EnableFullDuplex); there are no trailers, no Hijack and no 101 Switching Protocols.
//
// response_test.go's table marks each of these where a case meets it.
type response struct {
	c      *conn
	req    *http.Request
	body   *requestBody // nil without a request body
	header http.Header
	isHEAD bool

	status        int
	wroteHeader   bool
	headSent      bool  // the head is in c.wbuf or on the wire
	contentLength int64 // declared (handler's Content-Length at WriteHeader, or automatic) or -1
	written       int64 // body bytes the handler wrote, including refused ones (as net/http)
	chunked       bool
	closeAfter    bool
	handlerDone   bool
	deadlineSet   bool // the handler set a write deadline: cleared when the request ends
	// finalStatus is set once the final status is chosen: a body read after it sends no
	// "100 Continue" (as net/http). Atomic: the body may be read on another goroutine.
	finalStatus atomic.Bool
}

// sniffLen is how many body bytes Content-Type detection looks at.
const sniffLen = 512

func (w *response) Header() http.Header { return w.header }

func (w *response) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic("h1srv: invalid WriteHeader code " + strconv.Itoa(code))
	}
	if w.wroteHeader {
		return
	}
	if code < 200 { // informational: sent at once, the final status is still to come
		if code == http.StatusSwitchingProtocols || w.req.ProtoMinor == 0 || w.c.werr != nil {
			return
		}
		b := appendStatusLine(w.c.wbuf, true, code)
		b = w.appendHeaderFields(b, false, false)
		w.c.wbuf = append(b, "\r\n"...)
		w.c.write(nil)
		return
	}
	w.status, w.wroteHeader = code, true
	w.finalStatus.Store(true)
	if cl := w.header["Content-Length"]; len(cl) > 0 {
		if v, err := strconv.ParseInt(cl[0], 10, 64); err == nil && v >= 0 {
			w.contentLength = v
		} else {
			w.c.s.logger().Debug("handler set an invalid Content-Length; dropped", "value", cl[0])
			delete(w.header, "Content-Length")
		}
	}
}

func bodyAllowedForStatus(code int) bool {
	return !(code >= 100 && code <= 199) && code != http.StatusNoContent && code != http.StatusNotModified
}

func (w *response) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if !bodyAllowedForStatus(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	// Counted even when refused, as net/http does: the answer is then known to be wrong and the
	// connection is not reused, and later writes are refused too.
	w.written += int64(len(p))
	if w.contentLength != -1 && w.written > w.contentLength {
		return 0, http.ErrContentLength
	}
	c := w.c
	if w.isHEAD { // dropped, but kept for Content-Type sniffing and the automatic Content-Length
		if !w.headSent {
			if len(c.pre)+len(p) <= cap(c.pre) {
				c.pre = append(c.pre, p...)
			} else {
				w.sendHead(p)
			}
		}
		return len(p), nil
	}
	if c.werr != nil {
		return 0, c.werr
	}
	if !w.headSent {
		if len(c.pre)+len(p) <= cap(c.pre) {
			c.pre = append(c.pre, p...)
			return len(p), nil
		}
		w.sendHead(p)
	}
	w.emitBody(p)
	if c.werr != nil {
		return 0, c.werr
	}
	return len(p), nil
}

// emitBody queues body bytes, framed as a chunk when chunking.
func (w *response) emitBody(p []byte) {
	if len(p) == 0 {
		return
	}
	c := w.c
	if !w.chunked {
		c.emit(p)
		return
	}
	c.wbuf = strconv.AppendInt(c.wbuf, int64(len(p)), 16)
	c.wbuf = append(c.wbuf, "\r\n"...)
	c.emit(p)
	c.wbuf = append(c.wbuf, "\r\n"...)
}

// sendHead formats the status line and headers into c.wbuf, then queues the body bytes held in
// c.pre. Framing (Content-Length, chunked or close) is decided here. next is the write that did
// not fit in c.pre, if any: Content-Type is sniffed from c.pre and next, as net/http sniffs the
// first chunk it sends.
func (w *response) sendHead(next []byte) {
	c := w.c
	w.headSent = true
	h := w.header
	bodyOK := bodyAllowedForStatus(w.status)
	proto11 := w.req.ProtoMinor >= 1
	var te string
	if v := h["Transfer-Encoding"]; len(v) > 0 {
		te = v[0]
	}
	hasTE := te != ""
	if w.handlerDone && w.contentLength == -1 && !hasTE && bodyOK && (!w.isHEAD || w.written > 0) {
		w.contentLength = w.written // all of it was written before the answer left: say how much
	}
	// A handler's chunked Transfer-Encoding beats its Content-Length (net/http logs and drops the
	// latter); the declared length is still enforced on writes.
	sendCL := w.contentLength != -1 && bodyOK && !(hasTE && te != "identity")
	if w.headerHas("Connection", "close") || c.s.closing.Load() {
		w.closeAfter = true
	}
	if w.handlerDone && w.body != nil && unreadBodyEndsConn(w.body) {
		w.closeAfter = true // the unread request body is not worth reading past: tell the client
	}
	if !w.isHEAD && bodyOK && !sendCL {
		if proto11 && te != "identity" {
			w.chunked = true
		} else {
			w.closeAfter = true // the end of the body is the end of the connection
		}
	}
	// When closing, a handler's Connection header without "close" is replaced by
	// "Connection: close" (HTTP/1.1) or dropped (HTTP/1.0, where closing is the default).
	_, hasConn := h["Connection"]
	dropConn := w.closeAfter && hasConn && !w.headerHas("Connection", "close")
	b := appendStatusLine(c.wbuf, proto11, w.status)
	b = w.appendHeaderFields(b, w.status == http.StatusNotModified, dropConn)
	if !hasTE && !w.hasSetContentType() { // (no body bytes when the status allows none)
		if s := sniffBytes(c.pre, next); len(s) > 0 {
			b = append(b, "Content-Type: "...)
			b = append(b, http.DetectContentType(s)...)
			b = append(b, "\r\n"...)
		}
	}
	if sendCL {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, w.contentLength, 10)
		b = append(b, "\r\n"...)
	}
	if _, ok := h["Date"]; !ok {
		b = append(b, "Date: "...)
		b = append(b, c.dateValue()...)
		b = append(b, "\r\n"...)
	}
	if w.chunked {
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	}
	switch {
	case w.closeAfter:
		if proto11 && (!hasConn || dropConn) {
			b = append(b, "Connection: close\r\n"...)
		}
	case !proto11 && !hasConn:
		b = append(b, "Connection: keep-alive\r\n"...)
	}
	c.wbuf = append(b, "\r\n"...)
	pre := c.pre
	c.pre = c.pre[:0]
	if len(pre) > 0 && !w.isHEAD {
		w.emitBody(pre)
	}
}

// unreadBodyEndsConn reports whether what the handler left of the request body will end the
// connection (requestBody.finish will not read past it), as net/http announces with
// "Connection: close". A Read in progress in a goroutine the handler left behind holds the
// body's lock, possibly for long: then nothing is known and nothing is announced.
func unreadBodyEndsConn(b *requestBody) bool {
	if !b.mu.TryLock() {
		return false
	}
	defer b.mu.Unlock()
	return b.remaining > 0 && ((b.expectContinue && !b.sawRead) || b.remaining > maxDiscard)
}

// sniffBytes returns the first sniffLen bytes of pre followed by next, copying only when both
// contribute.
func sniffBytes(pre, next []byte) []byte {
	switch {
	case len(pre) >= sniffLen || len(next) == 0:
		return pre[:min(len(pre), sniffLen)]
	case len(pre) == 0:
		return next[:min(len(next), sniffLen)]
	}
	s := make([]byte, 0, sniffLen)
	s = append(s, pre...)
	return append(s, next[:min(len(next), sniffLen-len(pre))]...)
}

// hasSetContentType: a Content-Type key (even empty) or a Content-Encoding turns sniffing off.
func (w *response) hasSetContentType() bool {
	if _, ok := w.header["Content-Type"]; ok {
		return true
	}
	return len(w.header["Content-Encoding"]) > 0 && w.header["Content-Encoding"][0] != ""
}

func (w *response) headerHas(key, token string) bool {
	for _, v := range w.header[key] {
		if hasToken(v, token) {
			return true
		}
	}
	return false
}

func hasToken(v, token string) bool {
	for v != "" {
		var t string
		t, v, _ = strings.Cut(v, ",")
		if strings.EqualFold(trimOWS(t), token) {
			return true
		}
	}
	return false
}

var keysPool = sync.Pool{New: func() any { s := make([]string, 0, 32); return &s }}

// appendHeaderFields writes the handler's headers, sorted as net/http does. Content-Length and
// Transfer-Encoding are never copied: framing is the server's decision alone (sendHead writes
// the Content-Length it enforces). skipType drops Content-Type (304), skipConn Connection. An
// invalid name could smuggle a line into the answer: skipped, as net/http does.
func (w *response) appendHeaderFields(b []byte, skipType, skipConn bool) []byte {
	kp := keysPool.Get().(*[]string)
	keys := (*kp)[:0]
	for k := range w.header {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		switch {
		case k == "Transfer-Encoding" || k == "Content-Length" || !isToken(k),
			skipType && k == "Content-Type",
			skipConn && k == "Connection":
			continue
		}
		for _, v := range w.header[k] {
			b = append(b, k...)
			b = append(b, ": "...)
			b = appendFieldValue(b, v)
			b = append(b, "\r\n"...)
		}
	}
	clear(keys)
	*kp = keys[:0]
	keysPool.Put(kp)
	return b
}

// appendFieldValue writes v with CR and LF as spaces, trimmed of spaces and tabs (net/http's
// headerNewlineToSpace and textproto.TrimString).
func appendFieldValue(b []byte, v string) []byte {
	for len(v) > 0 && isTrimByte(v[0]) {
		v = v[1:]
	}
	for len(v) > 0 && isTrimByte(v[len(v)-1]) {
		v = v[:len(v)-1]
	}
	for i := 0; i < len(v); i++ {
		ch := v[i]
		if ch == '\r' || ch == '\n' {
			ch = ' '
		}
		b = append(b, ch)
	}
	return b
}

func isTrimByte(b byte) bool { return b == ' ' || b == '\t' || b == '\r' || b == '\n' }

func appendStatusLine(b []byte, proto11 bool, code int) []byte {
	if proto11 {
		b = append(b, "HTTP/1.1 "...)
	} else {
		b = append(b, "HTTP/1.0 "...)
	}
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, ' ')
	if text := http.StatusText(code); text != "" {
		b = append(b, text...)
	} else {
		b = append(b, "status code "...)
		b = strconv.AppendInt(b, int64(code), 10)
	}
	return append(b, "\r\n"...)
}

// Flush sends the head and everything written so far.
func (w *response) Flush() { _ = w.FlushError() }

// FlushError is Flush for http.ResponseController, with the connection's write error.
func (w *response) FlushError() error {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.headSent {
		w.sendHead(nil)
	}
	w.c.write(nil)
	return w.c.werr
}

// SetWriteDeadline and SetReadDeadline serve http.ResponseController.
func (w *response) SetWriteDeadline(t time.Time) error {
	w.deadlineSet = true
	return w.c.rwc.SetWriteDeadline(t)
}
func (w *response) SetReadDeadline(t time.Time) error { return w.c.rwc.SetReadDeadline(t) }

// copyBufPool serves ReadFrom's copies.
var copyBufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// ReadFrom hands a body from a file or a socket to the connection's own ReadFrom after the head,
// so a file goes out with sendfile(2) and a TCP upstream with splice(2); anything else, and a
// chunked or HEAD answer, is copied through Write. As in net/http, the first 512 bytes go
// through Write first: a short source still gets an automatic Content-Length, and Content-Type
// can be sniffed. Never more than the declared Content-Length is sent.
func (w *response) ReadFrom(src io.Reader) (n int64, err error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	c := w.c
	bp := copyBufPool.Get().(*[]byte)
	defer copyBufPool.Put(bp)
	if !w.headSent {
		n0, err := io.CopyBuffer(writerOnly{w}, io.LimitReader(src, sniffLen), *bp)
		n += n0
		if err != nil || n0 < sniffLen {
			return n, err
		}
		if !w.headSent {
			w.sendHead(nil)
		}
	}
	inner := src
	lr, isLR := src.(*io.LimitedReader)
	if isLR {
		inner = lr.R
	}
	if _, kernel := inner.(syscall.Conn); !kernel || c.rf == nil || w.isHEAD || w.chunked || !bodyAllowedForStatus(w.status) {
		n0, err := io.CopyBuffer(writerOnly{w}, src, *bp)
		return n + n0, err
	}
	c.write(nil)
	if c.werr != nil {
		return n, c.werr
	}
	// The kernel paths see through one io.LimitedReader: bound the copy by the declared length
	// in that same one.
	r, left := src, int64(-1)
	if w.contentLength != -1 {
		left = max(w.contentLength-w.written, 0)
		if !isLR || left < lr.N {
			r = &io.LimitedReader{R: inner, N: left}
		} else {
			left = -1 // src ends first
		}
	}
	n0, err := c.rf.ReadFrom(r)
	n += n0
	w.written += n0
	if isLR && r != src {
		lr.N -= n0
	}
	if err != nil {
		c.werr = err // part of the body may be out: the connection cannot be trusted any more
		return n, err
	}
	if left >= 0 && n0 == left {
		// The declared length is reached; more in src is the handler's mistake, as in Write.
		var one [1]byte
		if k, _ := src.Read(one[:]); k > 0 {
			w.written += int64(k)
			return n, http.ErrContentLength
		}
	}
	return n, nil
}

type writerOnly struct{ io.Writer }

// finish completes the answer after the handler returned.
func (w *response) finish() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	w.handlerDone = true
	if !w.headSent {
		w.sendHead(nil)
	}
	if w.chunked {
		w.c.wbuf = append(w.c.wbuf, "0\r\n\r\n"...)
	}
	if !w.isHEAD && w.contentLength != -1 && bodyAllowedForStatus(w.status) && w.written != w.contentLength {
		w.closeAfter = true // a short body: the client must not read the next answer as its rest
	}
	w.c.write(nil)
}
