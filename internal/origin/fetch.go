package origin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/alist-edge/alist-edge/internal/alist"
	"github.com/alist-edge/alist-edge/internal/httpx"
)

// Fetcher gets one file from an upstream URL: bounded redirects (a redirect to the proxy's own
// address is handed back instead of fetched), retries of failures that happen before any byte
// could have reached the client, and an idle timeout on every body read.
type Fetcher struct {
	Transport    http.RoundTripper
	Retries      int           // UPSTREAM_RETRIES: extra attempts after a retryable failure
	RetryDelay   time.Duration // UPSTREAM_RETRY_DELAY: first backoff, doubled per attempt
	IdleTimeout  time.Duration // UPSTREAM_IDLE_TIMEOUT: longest wait for one body read
	MaxRedirects int           // MAX_REDIRECTS

	// Report is told every upstream answer's host and status (throttle protection).
	Report func(host string, status int)
	// OnRetry counts retried attempts; OnTTFB observes request → response headers.
	OnRetry func()
	OnTTFB  func(time.Duration)
}

// Request is one file fetch.
type Request struct {
	URL    string
	Method string // GET or HEAD
	// Header is AList's data.header for the link; credentials in it (Authorization, Cookie)
	// are not carried to another host on a redirect.
	Header http.Header
	// Client is the client's request header; only forwardHeaders are taken from it.
	Client http.Header
	// Self is the proxy's own origin (scheme://host[:port], lower case, no default port); a
	// redirect there is returned in Response.Self. "" disables the detection.
	Self string
	// Redirects is the redirect budget left (MAX_REDIRECTS on the first fetch).
	Redirects int
	// Buf receives the first bytes of the body (the bytes read before the client is answered).
	Buf []byte
}

// forwardHeaders are the client headers sent upstream (docs/contract.md §9, plus If-None-Match so a 304
// can be answered for ETag validators too).
var forwardHeaders = [...]string{"Range", "If-Range", "If-Modified-Since", "If-None-Match"}

// sensitiveHeaders are not carried across hosts on a redirect (as net/http's client does).
var sensitiveHeaders = [...]string{"Authorization", "Www-Authenticate", "Cookie", "Cookie2", "Proxy-Authorization"}

// Response is the upstream's answer, with the first bytes of its body already read.
type Response struct {
	Status        int
	Header        http.Header
	ContentLength int64 // -1 when unknown
	// Head is the first bytes of the body (a prefix of Request.Buf); HeadErr is the error that
	// ended that first read: nil (more follows in Body), io.EOF (Head is the whole body), or a
	// failure that happened after some bytes arrived.
	Head    []byte
	HeadErr error
	// Body yields the rest; Close it. Reads are bounded by the idle timeout.
	Body io.ReadCloser
	Host string
	// Self is set (and nothing else) when the upstream redirected to the proxy itself.
	Self          *url.URL
	RedirectsLeft int
}

// Close releases the response's connection.
func (r *Response) Close() {
	if r != nil && r.Body != nil {
		r.Body.Close()
	}
}

// envelopeLimit bounds how much of a JSON answer is read to recognise AList's error envelope.
const envelopeLimit = 64 << 10

// Errors of a fetch, as the client sees them.
var (
	ErrTooManyRedirects = &httpx.Error{Status: http.StatusBadGateway, Reason: "upstream_redirects", Message: "too many upstream redirects"}
	ErrUpstreamTimeout  = &httpx.Error{Status: http.StatusGatewayTimeout, Reason: "upstream_timeout", Message: "upstream timeout"}
	ErrUpstreamFailed   = &httpx.Error{Status: http.StatusBadGateway, Reason: "upstream_error", Message: "upstream unreachable"}
	ErrBadLink          = &httpx.Error{Status: http.StatusBadGateway, Reason: "upstream_error", Message: "invalid upstream URL"}
)

// Fetch gets req. The error is an *httpx.Error for answers the client should get, or the
// context's error when the client went away.
func (f *Fetcher) Fetch(ctx context.Context, req *Request) (*Response, error) {
	u, err := url.Parse(req.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, ErrBadLink
	}
	hdr := req.Header
	budget := req.Redirects
	linkHost := u.Host
	for {
		if req.Self != "" && originOf(u) == req.Self {
			return &Response{Self: u, RedirectsLeft: budget}, nil
		}
		resp, err := f.attempts(ctx, req, u, hdr)
		if err != nil {
			return nil, err
		}
		loc := resp.Header.Get("Location")
		if !isRedirect(resp.Status) || loc == "" {
			resp.RedirectsLeft = budget
			return resp, nil
		}
		resp.Close()
		if budget <= 0 {
			return nil, ErrTooManyRedirects
		}
		budget--
		next, err := u.Parse(loc)
		if err != nil || (next.Scheme != "http" && next.Scheme != "https") || next.Host == "" {
			return nil, ErrBadLink
		}
		if !strings.EqualFold(next.Host, linkHost) && hdr != nil {
			hdr = withoutSensitive(hdr)
		}
		u = next
	}
}

func isRedirect(status int) bool {
	switch status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

func withoutSensitive(h http.Header) http.Header {
	out := h.Clone()
	for _, k := range sensitiveHeaders {
		delete(out, k)
	}
	return out
}

// attempts runs one hop with retries: a connect failure, a connection reset or closed before
// the first body byte, or a 502/503/504 answer is tried again (with backoff) while nothing has
// reached the client. Nothing is retried once Fetch has returned.
func (f *Fetcher) attempts(ctx context.Context, req *Request, u *url.URL, hdr http.Header) (*Response, error) {
	for try := 0; ; try++ {
		if try > 0 {
			if f.OnRetry != nil {
				f.OnRetry()
			}
			if err := sleep(ctx, backoff(f.RetryDelay, try)); err != nil {
				return nil, err
			}
		}
		resp, retry, err := f.attempt(ctx, req, u, hdr, try < f.Retries)
		if retry {
			continue
		}
		return resp, err
	}
}

func backoff(d time.Duration, try int) time.Duration {
	for i := 1; i < try && d < 5*time.Second; i++ {
		d *= 2
	}
	return min(d, 5*time.Second)
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (f *Fetcher) attempt(ctx context.Context, req *Request, u *url.URL, hdr http.Header, canRetry bool) (resp *Response, retry bool, err error) {
	actx, cancel := context.WithCancelCause(ctx)
	hreq := &http.Request{
		Method:     req.Method,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     make(http.Header, len(hdr)+len(forwardHeaders)+1),
		Host:       u.Host,
	}
	hreq = hreq.WithContext(actx)
	for k, vs := range hdr {
		hreq.Header[http.CanonicalHeaderKey(k)] = vs
	}
	for _, k := range forwardHeaders {
		if vs := req.Client[k]; len(vs) > 0 {
			hreq.Header[k] = vs
		}
	}
	if _, ok := hreq.Header["User-Agent"]; !ok {
		if ua := req.Client["User-Agent"]; len(ua) > 0 {
			hreq.Header["User-Agent"] = ua
		}
	}
	start := time.Now()
	hr, err := f.Transport.RoundTrip(hreq)
	if err != nil {
		cancel(nil)
		if ctx.Err() != nil {
			return nil, false, ctx.Err()
		}
		if canRetry && retryable(err) {
			return nil, true, nil
		}
		return nil, false, mapError(err, nil)
	}
	if f.OnTTFB != nil {
		f.OnTTFB(time.Since(start))
	}
	if f.Report != nil {
		f.Report(u.Host, hr.StatusCode)
	}
	body := &idleBody{rc: hr.Body, d: f.IdleTimeout, cancel: cancel}
	resp = &Response{Status: hr.StatusCode, Header: hr.Header, ContentLength: hr.ContentLength, Body: body, Host: u.Host}
	switch hr.StatusCode {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		if canRetry {
			discard(body)
			return nil, true, nil
		}
	}
	if req.Method == http.MethodHead || !bodyAllowed(hr.StatusCode) || hr.ContentLength == 0 || isRedirect(hr.StatusCode) {
		resp.HeadErr = io.EOF // nothing (more) to stream
		return resp, false, nil
	}
	jsonMode := hr.StatusCode >= 200 && hr.StatusCode < 300 && isJSON(hr.Header.Get("Content-Type")) &&
		hr.ContentLength <= envelopeLimit
	n, herr := readHead(body, req.Buf, jsonMode)
	resp.Head, resp.HeadErr = req.Buf[:n], herr
	if herr != nil && herr != io.EOF && n == 0 {
		body.Close()
		if ctx.Err() != nil {
			return nil, false, ctx.Err()
		}
		if canRetry && retryable(herr) && context.Cause(actx) != errIdle {
			return nil, true, nil
		}
		return nil, false, mapError(herr, actx)
	}
	if jsonMode && herr == io.EOF {
		if e := envelopeError(resp.Head); e != nil {
			body.Close()
			return nil, false, e
		}
	}
	return resp, false, nil
}

func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

func isJSON(ct string) bool {
	ct = strings.ToLower(ct)
	return strings.Contains(ct, "application/json") || strings.Contains(ct, "+json")
}

// readHead reads the first bytes: one read normally; in JSON mode up to envelopeLimit+1 bytes
// or the end, enough to recognise an error envelope.
func readHead(r io.Reader, buf []byte, jsonMode bool) (int, error) {
	if !jsonMode {
		for {
			n, err := r.Read(buf)
			if n > 0 || err != nil {
				return n, err
			}
		}
	}
	limit := min(len(buf), envelopeLimit+1)
	n := 0
	for n < limit {
		m, err := r.Read(buf[n:limit])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// envelopeError recognises AList's error envelope in a download's body: a JSON object with a
// numeric code other than 200 and a string message (docs/contract.md §7). A download manager must never
// save such an answer as the file.
func envelopeError(body []byte) error {
	var env struct {
		Code    *int    `json:"code"`
		Message *string `json:"message"`
	}
	if json.Unmarshal(body, &env) != nil || env.Code == nil || env.Message == nil || *env.Code == http.StatusOK {
		return nil
	}
	return alist.EnvelopeError(*env.Code, body)
}

func discard(rc io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, rc, 64<<10)
	rc.Close()
}

// retryable: nothing of the answer can have been used yet and trying again may work.
func retryable(err error) bool {
	if isAddrRefused(err) {
		return false
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	return strings.Contains(err.Error(), "TLS handshake timeout") || strings.Contains(err.Error(), "server closed")
}

// mapError turns a transport failure into the client's answer: 504 for timeouts, else 502.
func mapError(err error, actx context.Context) error {
	if isAddrRefused(err) {
		return ErrAddressRefused
	}
	if actx != nil && context.Cause(actx) == errIdle {
		return ErrUpstreamTimeout
	}
	var te interface{ Timeout() bool }
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &te) && te.Timeout()) {
		return ErrUpstreamTimeout
	}
	return ErrUpstreamFailed
}

// originOf is scheme://host[:port] lower case without the default port, as sign.Origin writes
// WORKER_ADDRESS.
func originOf(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	port := u.Port()
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host
}
