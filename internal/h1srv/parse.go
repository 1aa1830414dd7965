package h1srv

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"time"
)

// protoError is a request this server refuses before any handler sees it.
type protoError struct {
	status int
	reason string
}

func (e *protoError) Error() string { return e.reason }

func refusal(status int, reason string) *protoError { return &protoError{status, reason} }

var (
	errBareLF       = refusal(http.StatusBadRequest, "line not terminated by CRLF")
	errHeadTooLarge = refusal(http.StatusRequestHeaderFieldsTooLarge, "request head too large")
)

// maxLeadingCRLF is how many empty lines before a request line are skipped (RFC 9112 §2.2 says
// at least one should be, for clients that end a body with an extra CRLF).
const maxLeadingCRLF = 4

// readHead returns the request head, request line through the empty line, as one string: every
// header name and value the handler sees is a substring of it, one allocation per request. Lines
// must end in CRLF; a bare LF is refused as soon as it is seen rather than waited on. A head
// longer than limit bytes (the skipped empty lines not counted) is refused with 431.
func readHead(br *bufio.Reader, limit int) (string, error) {
	for skipped := 0; ; skipped++ {
		b, err := br.Peek(1)
		if err != nil {
			return "", err
		}
		if b[0] != '\r' {
			break
		}
		if b, err = br.Peek(2); err != nil {
			return "", err
		}
		if b[1] != '\n' || skipped == maxLeadingCRLF {
			return "", refusal(http.StatusBadRequest, "malformed request line")
		}
		_, _ = br.Discard(2)
	}
	var acc []byte // bytes taken out of the reader, for heads larger than its buffer
	lineStart, scanned := 0, 0
	for {
		buf, _ := br.Peek(br.Buffered())
		// Only the first limit bytes can belong to an acceptable head: looking no further makes
		// the outcome independent of how the bytes arrived (a head over the limit delivered in
		// one read is refused like one delivered in many, and a bare LF past the limit is 431 too).
		end := min(len(buf), limit-len(acc))
		for i := scanned - len(acc); i < end; i++ {
			if buf[i] != '\n' {
				continue
			}
			pos := len(acc) + i
			var prev byte
			if i > 0 {
				prev = buf[i-1]
			} else if len(acc) > 0 {
				prev = acc[len(acc)-1]
			}
			if pos == 0 || prev != '\r' {
				return "", errBareLF
			}
			if pos-1 != lineStart || lineStart == 0 {
				lineStart = pos + 1
				continue
			}
			n := i + 1
			var head string
			if acc == nil {
				head = string(buf[:n])
			} else {
				head = string(append(acc, buf[:n]...))
			}
			_, _ = br.Discard(n)
			return head, nil
		}
		scanned = len(acc) + end
		if scanned >= limit { // limit bytes and no end of head among them
			return "", errHeadTooLarge
		}
		if len(buf) == br.Size() { // the reader is full: keep its bytes and read on
			acc = append(acc, buf...)
			_, _ = br.Discard(len(buf))
		}
		if _, err := br.Peek(br.Buffered() + 1); err != nil && err != bufio.ErrBufferFull {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return "", err
		}
	}
}

// parseRequest turns a head from readHead into the handler's request. Everything a front proxy
// and this server could read differently is refused (see the package comment).
func parseRequest(ctx context.Context, head string, c *conn) (*http.Request, *requestBody, error) {
	eol := strings.Index(head, "\r\n")
	line := head[:eol]
	rest := head[eol+2 : len(head)-2] // header lines, each ending in CRLF; the final CRLF dropped

	sp1 := strings.IndexByte(line, ' ')
	if sp1 <= 0 {
		return nil, nil, refusal(http.StatusBadRequest, "malformed request line")
	}
	method := line[:sp1]
	sp2 := strings.IndexByte(line[sp1+1:], ' ')
	if sp2 <= 0 {
		return nil, nil, refusal(http.StatusBadRequest, "malformed request line")
	}
	target := line[sp1+1 : sp1+1+sp2]
	proto := line[sp1+2+sp2:]
	if !isToken(method) {
		return nil, nil, refusal(http.StatusBadRequest, "malformed request method")
	}
	for i := 0; i < len(target); i++ {
		if b := target[i]; b <= ' ' || b == 0x7f {
			return nil, nil, refusal(http.StatusBadRequest, "malformed request target")
		}
	}
	var minor int
	switch proto {
	case "HTTP/1.1":
		minor = 1
	case "HTTP/1.0":
		minor = 0
	default:
		if len(proto) == 8 && strings.HasPrefix(proto, "HTTP/") && isDigit(proto[5]) && proto[6] == '.' && isDigit(proto[7]) {
			return nil, nil, refusal(http.StatusHTTPVersionNotSupported, "only HTTP/1.0 and HTTP/1.1 are served")
		}
		return nil, nil, refusal(http.StatusBadRequest, "malformed protocol version")
	}
	if method == http.MethodConnect {
		return nil, nil, refusal(http.StatusMethodNotAllowed, "CONNECT is not served")
	}

	n := strings.Count(rest, "\n")
	h := make(http.Header, n)
	vals := make([]string, n) // one backing array for the usual one value per name
	var host, cl string
	hosts, cls := 0, 0
	closeConn, keepAlive, expectContinue := false, false, false
	for i := 0; len(rest) > 0; i++ {
		e := strings.Index(rest, "\r\n")
		hl := rest[:e]
		rest = rest[e+2:]
		colon := strings.IndexByte(hl, ':')
		if colon <= 0 {
			return nil, nil, refusal(http.StatusBadRequest, "malformed header line")
		}
		name := hl[:colon]
		if !isToken(name) { // also refuses obs-fold and whitespace before the colon
			return nil, nil, refusal(http.StatusBadRequest, "malformed header name")
		}
		v := trimOWS(hl[colon+1:])
		for j := 0; j < len(v); j++ {
			if b := v[j]; (b < ' ' && b != '\t') || b == 0x7f {
				return nil, nil, refusal(http.StatusBadRequest, "control character in header value")
			}
		}
		key := textproto.CanonicalMIMEHeaderKey(name)
		switch key {
		case "Host":
			hosts++
			host = v
			continue // net/http keeps Host in r.Host only
		case "Content-Length":
			cls++
			cl = v
		case "Transfer-Encoding":
			return nil, nil, refusal(http.StatusNotImplemented, "request bodies with Transfer-Encoding are not accepted")
		case "Connection":
			for toks := v; toks != ""; {
				var tok string
				tok, toks, _ = strings.Cut(toks, ",")
				switch tok = trimOWS(tok); {
				case asciiEqualFold(tok, "close"):
					closeConn = true
				case asciiEqualFold(tok, "keep-alive"):
					keepAlive = true
				}
			}
		case "Expect":
			if !asciiEqualFold(v, "100-continue") {
				return nil, nil, refusal(http.StatusExpectationFailed, "unsupported Expect")
			}
			// RFC 9110 §10.1.1: an HTTP/1.0 request's 100-continue MUST be ignored (its client
			// cannot read a 1xx answer); net/http ignores it too.
			expectContinue = minor == 1
		}
		if old, ok := h[key]; ok {
			h[key] = append(old, v)
		} else {
			vals[i] = v
			h[key] = vals[i : i+1 : i+1]
		}
	}
	if hosts > 1 || (hosts == 0 && minor == 1) {
		return nil, nil, refusal(http.StatusBadRequest, "exactly one Host header is required")
	}
	if !validHost(host) {
		return nil, nil, refusal(http.StatusBadRequest, "malformed Host header")
	}
	// As net/http's readRequest: "Pragma: no-cache" without Cache-Control reads as both, so a
	// handler sees the same header map under either server.
	if p := h["Pragma"]; len(p) > 0 && p[0] == "no-cache" {
		if _, ok := h["Cache-Control"]; !ok {
			h["Cache-Control"] = []string{"no-cache"}
		}
	}
	var contentLength int64
	if cls > 1 {
		return nil, nil, refusal(http.StatusBadRequest, "more than one Content-Length")
	}
	if cls == 1 {
		if len(cl) == 0 || len(cl) > 18 {
			return nil, nil, refusal(http.StatusBadRequest, "malformed Content-Length")
		}
		for j := 0; j < len(cl); j++ {
			if !isDigit(cl[j]) {
				return nil, nil, refusal(http.StatusBadRequest, "malformed Content-Length")
			}
			contentLength = contentLength*10 + int64(cl[j]-'0')
		}
	}

	var u *url.URL
	if target == "*" {
		if method != http.MethodOptions {
			return nil, nil, refusal(http.StatusBadRequest, "* is a target for OPTIONS only")
		}
		u = &url.URL{Path: "*"}
	} else {
		var err error
		if u, err = url.ParseRequestURI(target); err != nil {
			return nil, nil, refusal(http.StatusBadRequest, "malformed request target")
		}
		if u.Host != "" { // absolute-form: the target's authority wins, as in net/http
			// net/url lets '"', '<' and '>' through in a host; r.Host gets the Host header's
			// rules whichever way it came (net/http checks only the header).
			if !validHost(u.Host) {
				return nil, nil, refusal(http.StatusBadRequest, "malformed host in request target")
			}
			host = u.Host
		}
	}

	r := (&http.Request{
		Method:        method,
		URL:           u,
		Proto:         proto,
		ProtoMajor:    1,
		ProtoMinor:    minor,
		Header:        h,
		Host:          host,
		RequestURI:    target,
		RemoteAddr:    c.remoteAddr,
		ContentLength: contentLength,
		Body:          http.NoBody,
		Close:         closeConn || (minor == 0 && !keepAlive),
	}).WithContext(ctx)
	var body *requestBody
	if contentLength > 0 {
		body = &requestBody{c: c, ctx: ctx, remaining: contentLength, expectContinue: expectContinue}
		r.Body = body
	}
	return r, body, nil
}

// requestBody reads exactly Content-Length bytes of the request from the connection.
//
// A handler may leave the body to a goroutine that outlives it (an http.RoundTripper may read
// and close a request body after RoundTrip returned), so Read, Close and finish are serialized
// by mu, and once the server is done with the request (finish, or the request's context ended)
// Read fails without touching the connection: the bytes that follow belong to the next request,
// and the connection's reader may already serve another connection.
type requestBody struct {
	c              *conn
	w              *response
	ctx            context.Context // the request's: done when the server is done with the request
	mu             sync.Mutex
	remaining      int64
	expectContinue bool // the client waits for "100 Continue" before sending
	sawRead        bool
	closed         bool // by the handler (Close)
	finished       bool // by the server: Read must not touch the connection any more
}

func (b *requestBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || b.finished || (b.ctx != nil && b.ctx.Err() != nil) {
		return 0, http.ErrBodyReadAfterClose
	}
	if b.remaining == 0 {
		return 0, io.EOF
	}
	if b.expectContinue && !b.sawRead {
		if b.w != nil && !b.w.finalStatus.Load() {
			_ = writeAll(b.c, []byte("HTTP/1.1 100 Continue\r\n\r\n"))
		}
	}
	b.sawRead = true
	if int64(len(p)) > b.remaining {
		p = p[:b.remaining]
	}
	n, err := b.c.br.Read(p)
	b.remaining -= int64(n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if b.remaining == 0 && err == nil {
		err = io.EOF
	}
	return n, err
}

func (b *requestBody) Close() error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	return nil
}

// detach ends the body without reading past it, for a connection about to close (the handler
// panicked): a Read a leftover goroutine is blocked in is cut short by a past read deadline,
// and any later Read fails, so the connection's reader can be reset and pooled safely.
func (b *requestBody) detach() {
	_ = b.c.rwc.SetReadDeadline(time.Unix(1, 0))
	b.mu.Lock()
	b.finished = true
	b.mu.Unlock()
}

// maxDiscard is how much of a request body the handler left unread is read past to keep the
// connection; more, or a client still waiting for 100 Continue, closes it instead.
const maxDiscard = 256 << 10

// finish consumes what the handler left of the body; false means the connection cannot be
// reused. After it, the body is the server's no more: a Read from a goroutine the handler left
// behind fails.
func (b *requestBody) finish() bool {
	// Bound a Read such a goroutine may be blocked in (the body has no read deadline): it holds
	// mu until it returns.
	_ = b.c.rwc.SetReadDeadline(time.Now().Add(b.c.s.readHeaderTimeout()))
	b.mu.Lock()
	defer b.mu.Unlock()
	b.finished = true
	if b.remaining == 0 {
		return true
	}
	if (b.expectContinue && !b.sawRead) || b.remaining > maxDiscard {
		return false
	}
	n, err := b.c.br.Discard(int(b.remaining))
	b.remaining -= int64(n)
	return err == nil && b.remaining == 0
}

func writeAll(c *conn, p []byte) error {
	_, err := c.rwc.Write(p)
	return err
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

// asciiEqualFold is strings.EqualFold for ASCII only, as net/http matches tokens: EqualFold would
// also fold U+017F to 's' and U+212A to 'k', reading "clo\u017fe" as close where net/http (and
// any front proxy) does not.
func asciiEqualFold(s, t string) bool {
	if len(s) != len(t) {
		return false
	}
	for i := 0; i < len(s); i++ {
		a, b := s[i], t[i]
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if a != b {
			return false
		}
	}
	return true
}

// isToken reports whether s is a non-empty RFC 9110 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenByte[s[i]] {
			return false
		}
	}
	return true
}

var tokenByte = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// validHost mirrors net/http's Host check: the bytes a host[:port] may hold, nothing more.
func validHost(h string) bool {
	for i := 0; i < len(h); i++ {
		if !hostByte[h[i]] {
			return false
		}
	}
	return true
}

var hostByte = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!$%&'()*+,-.:;=[]_~" {
		t[c] = true
	}
	return t
}()

func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}
