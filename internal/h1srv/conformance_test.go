package h1srv

// Request-side conformance tests: every strictness rule of the package comment, the accepted
// request shapes a handler must see exactly as net/http would show them, request smuggling
// shapes, the body / 100-continue / pipelining paths, the timeouts and the head size limit,
// and a differential fuzz test against net/http's request parser.
//
// Every test speaks raw bytes over a real TCP connection to a real Server, so what is pinned is
// the wire behaviour, not an internal function.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// seenRequest is what the recording handler saw of one request.
type seenRequest struct {
	Method, RequestURI, Path, RawQuery, Host, Proto string
	Header                                          http.Header
	ContentLength                                   int64
	Body                                            string
	BodyErr                                         error
	Close                                           bool
}

// recorder is the handler of the conformance server: it records the request, reads the body
// fully unless the path starts with /noread, and answers 200 "ok" with X-Seq, the 1-based
// number of the request on this server (to check the order of pipelined answers).
type recorder struct {
	mu   sync.Mutex
	reqs []seenRequest
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := seenRequest{Method: r.Method, RequestURI: r.RequestURI, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
		Host: r.Host, Proto: r.Proto, Header: r.Header.Clone(), ContentLength: r.ContentLength, Close: r.Close}
	if !strings.HasPrefix(r.URL.Path, "/noread") {
		b, err := io.ReadAll(r.Body)
		s.Body, s.BodyErr = string(b), err
	}
	rec.mu.Lock()
	rec.reqs = append(rec.reqs, s)
	n := len(rec.reqs)
	rec.mu.Unlock()
	w.Header().Set("X-Seq", strconv.Itoa(n))
	_, _ = io.WriteString(w, "ok")
}

func (rec *recorder) seen() []seenRequest {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]seenRequest(nil), rec.reqs...)
}

// startServer runs a Server for h on a loopback listener; configure may set its fields.
func startServer(t testing.TB, h http.Handler, configure func(*Server)) (string, *Server) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &Server{Handler: h, Logger: slog.New(slog.DiscardHandler)}
	if configure != nil {
		configure(srv)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })
	return ln.Addr().String(), srv
}

// client is one raw connection to the server.
type client struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

func dialServer(t testing.TB, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return &client{t: t, c: c, br: bufio.NewReader(c)}
}

// write sends raw bytes; a write error is only logged (the server may legitimately have closed).
func (cl *client) write(s string) {
	if _, err := io.WriteString(cl.c, s); err != nil {
		cl.t.Logf("write: %v", err)
	}
}

// readResponse reads one answer (to a request of method) and its body.
func (cl *client) readResponse(method string) (*http.Response, string) {
	cl.t.Helper()
	resp, err := http.ReadResponse(cl.br, &http.Request{Method: method})
	if err != nil {
		cl.t.Fatalf("reading the answer: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		cl.t.Fatalf("reading the answer's body: %v", err)
	}
	return resp, string(b)
}

// closedByServer reports whether the server ended the connection (EOF or reset) within wait,
// with no further byte sent.
func (cl *client) closedByServer(wait time.Duration) bool {
	cl.t.Helper()
	_ = cl.c.SetReadDeadline(time.Now().Add(wait))
	defer func() { _ = cl.c.SetReadDeadline(time.Now().Add(10 * time.Second)) }()
	var b [64]byte
	n, err := cl.br.Read(b[:])
	if n > 0 {
		cl.t.Errorf("unexpected bytes after the answer: %q", b[:n])
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return err != nil
}

const host = "Host: example.com\r\n"

// smuggled is appended to smuggling attempts: if any part of it reached the handler, the
// refused request was not the end of the connection.
const smuggled = "GET /smuggled HTTP/1.1\r\nHost: evil\r\n\r\n"

type reqCase struct {
	name   string
	raw    string
	status int                                     // expected answer; 0 means 200 (accepted)
	check  func(t *testing.T, r seenRequest)       // accepted: what the handler must have seen
	method string                                  // of the request, for reading the answer (HEAD); default GET
	close  bool                                    // accepted, but the server must close after answering
	next   string                                  // accepted and kept: the request sent next (default GET /next)
	body   string                                  // accepted: the answer body expected (default "ok")
	extra  func(t *testing.T, resp *http.Response) // accepted: more checks on the answer
}

func bigHeaders(n, size int) (string, []string) {
	var b strings.Builder
	var names []string
	for i := range n {
		name := fmt.Sprintf("X-Big-%03d", i)
		names = append(names, name)
		b.WriteString(name + ": " + strings.Repeat(string(rune('a'+i%26)), size) + "\r\n")
	}
	return b.String(), names
}

var (
	longPath              = "/" + strings.Repeat("p", 20<<10)
	bigHead, bigHeadNames = bigHeaders(60, 200) // about 12 KiB: three read buffers
	tooLargeHead          = "GET / HTTP/1.1\r\n" + host + "X-Pad: " + strings.Repeat("x", 70<<10) + "\r\n\r\n"
	nineteenDigits        = strings.Repeat("9", 19)
)

func eq[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %q, want %q", what, fmt.Sprint(got), fmt.Sprint(want))
	}
}

func headerEq(t *testing.T, h http.Header, key string, want ...string) {
	t.Helper()
	got, ok := h[key]
	if !ok {
		t.Errorf("header %q missing; header is %q", key, h)
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("header %q = %q, want %q", key, got, want)
	}
}

// basic checks the request line fields and the absence of Host in Header.
func basic(method, uri, path, query, hst, proto string) func(t *testing.T, r seenRequest) {
	return func(t *testing.T, r seenRequest) {
		t.Helper()
		eq(t, "Method", r.Method, method)
		eq(t, "RequestURI", r.RequestURI, uri)
		eq(t, "URL.Path", r.Path, path)
		eq(t, "URL.RawQuery", r.RawQuery, query)
		eq(t, "Host", r.Host, hst)
		eq(t, "Proto", r.Proto, proto)
		if _, ok := r.Header["Host"]; ok {
			t.Errorf("Host left in Header: %q", r.Header)
		}
	}
}

func all(fs ...func(t *testing.T, r seenRequest)) func(t *testing.T, r seenRequest) {
	return func(t *testing.T, r seenRequest) {
		t.Helper()
		for _, f := range fs {
			f(t, r)
		}
	}
}

// requestCases is the conformance table; its raw requests also seed the fuzz test.
var requestCases = []reqCase{
	// ---- accepted ----
	{name: "GET", raw: "GET /a/b?x=1&y=2 HTTP/1.1\r\n" + host + "User-Agent: t/1\r\n\r\n",
		check: all(basic("GET", "/a/b?x=1&y=2", "/a/b", "x=1&y=2", "example.com", "HTTP/1.1"),
			func(t *testing.T, r seenRequest) {
				headerEq(t, r.Header, "User-Agent", "t/1")
				eq(t, "ContentLength", r.ContentLength, 0)
				eq(t, "Close", r.Close, false)
				eq(t, "Body", r.Body, "")
				eq(t, "len(Header)", len(r.Header), 1)
			})},
	{name: "HEAD", raw: "HEAD /h HTTP/1.1\r\n" + host + "\r\n", method: "HEAD", body: "",
		check: basic("HEAD", "/h", "/h", "", "example.com", "HTTP/1.1")},
	{name: "OPTIONS *", raw: "OPTIONS * HTTP/1.1\r\n" + host + "\r\n",
		check: basic("OPTIONS", "*", "*", "", "example.com", "HTTP/1.1")},
	{name: "absolute-form target", raw: "GET http://target.example:8080/p?q=1 HTTP/1.1\r\nHost: other.example\r\n\r\n",
		check: basic("GET", "http://target.example:8080/p?q=1", "/p", "q=1", "target.example:8080", "HTTP/1.1")},
	{name: "absolute-form without path", raw: "GET http://target.example HTTP/1.1\r\nHost: other.example\r\n\r\n",
		check: basic("GET", "http://target.example", "", "", "target.example", "HTTP/1.1")},
	{name: "HTTP/1.0 without keep-alive", raw: "GET /old HTTP/1.0\r\n\r\n", close: true,
		check: all(basic("GET", "/old", "/old", "", "", "HTTP/1.0"),
			func(t *testing.T, r seenRequest) { eq(t, "Close", r.Close, true) })},
	{name: "HTTP/1.0 with Host, without keep-alive", raw: "GET /old HTTP/1.0\r\n" + host + "\r\n", close: true,
		check: all(basic("GET", "/old", "/old", "", "example.com", "HTTP/1.0"),
			func(t *testing.T, r seenRequest) { eq(t, "Close", r.Close, true) })},
	{name: "HTTP/1.0 keep-alive", raw: "GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		next: "GET /next HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
		check: all(basic("GET", "/old", "/old", "", "", "HTTP/1.0"),
			func(t *testing.T, r seenRequest) { eq(t, "Close", r.Close, false) }),
		extra: func(t *testing.T, resp *http.Response) {
			eq(t, "answer Connection", resp.Header.Get("Connection"), "keep-alive")
		}},
	{name: "HTTP/1.0 keep-alive in a token list", raw: "GET /old HTTP/1.0\r\nConnection: foo ,\tKEEP-ALIVE\r\n\r\n",
		next:  "GET /next HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		check: func(t *testing.T, r seenRequest) { eq(t, "Close", r.Close, false) }},
	{name: "Connection close", raw: "GET /c HTTP/1.1\r\n" + host + "Connection: close\r\n\r\n", close: true,
		check: func(t *testing.T, r seenRequest) {
			eq(t, "Close", r.Close, true)
			headerEq(t, r.Header, "Connection", "close")
		},
		extra: func(t *testing.T, resp *http.Response) { eq(t, "answer Close", resp.Close, true) }},
	{name: "Connection close in a token list", raw: "GET /c HTTP/1.1\r\n" + host + "Connection: keep-alive, Close\r\n\r\n",
		close: true, check: func(t *testing.T, r seenRequest) { eq(t, "Close", r.Close, true) }},
	{name: "Connection close with a Unicode lookalike is not close", raw: "GET /c HTTP/1.1\r\n" + host + "Connection: clo\u017fe\r\n\r\n",
		check: func(t *testing.T, r seenRequest) { eq(t, "Close", r.Close, false) }},
	{name: "HTTP/1.0 keep-alive with a Unicode lookalike is not keep-alive", raw: "GET /old HTTP/1.0\r\nConnection: \u212aeep-alive\r\n\r\n",
		close: true, check: func(t *testing.T, r seenRequest) { eq(t, "Close", r.Close, true) }},
	{name: "percent-encoded path", raw: "GET /a%20b/%E2%82%AC/c%2Fd?q=%26 HTTP/1.1\r\n" + host + "\r\n",
		check: basic("GET", "/a%20b/%E2%82%AC/c%2Fd?q=%26", "/a b/€/c/d", "q=%26", "example.com", "HTTP/1.1")},
	{name: "raw UTF-8 path", raw: "GET /d\xc3\xa9j\xc3\xa0/\xe2\x82\xac?q=\xc3\xa9 HTTP/1.1\r\n" + host + "\r\n",
		check: basic("GET", "/déjà/€?q=é", "/déjà/€", "q=é", "example.com", "HTTP/1.1")},
	{name: "20 KiB target", raw: "GET " + longPath + "?x HTTP/1.1\r\n" + host + "\r\n",
		check: basic("GET", longPath+"?x", longPath, "x", "example.com", "HTTP/1.1")},
	{name: "head larger than the read buffer", raw: "GET /big HTTP/1.1\r\n" + host + bigHead + "X-Last: end\r\n\r\n",
		check: func(t *testing.T, r seenRequest) {
			eq(t, "len(Header)", len(r.Header), len(bigHeadNames)+1)
			for i, name := range bigHeadNames {
				headerEq(t, r.Header, name, strings.Repeat(string(rune('a'+i%26)), 200))
			}
			headerEq(t, r.Header, "X-Last", "end")
		}},
	{name: "Content-Length body", raw: "POST /up HTTP/1.1\r\n" + host + "Content-Length: 11\r\n\r\nhello world",
		check: func(t *testing.T, r seenRequest) {
			eq(t, "Method", r.Method, "POST")
			eq(t, "ContentLength", r.ContentLength, 11)
			eq(t, "Body", r.Body, "hello world")
			if r.BodyErr != nil {
				t.Errorf("body read error: %v", r.BodyErr)
			}
			headerEq(t, r.Header, "Content-Length", "11")
		}},
	{name: "Content-Length with OWS", raw: "POST /up HTTP/1.1\r\n" + host + "Content-Length: \t 5 \t\r\n\r\nhello",
		check: func(t *testing.T, r seenRequest) {
			eq(t, "ContentLength", r.ContentLength, 5)
			eq(t, "Body", r.Body, "hello")
		}},
	{name: "Content-Length with leading zeros", raw: "POST /up HTTP/1.1\r\n" + host + "Content-Length: 0005\r\n\r\nhello",
		check: func(t *testing.T, r seenRequest) {
			eq(t, "ContentLength", r.ContentLength, 5)
			eq(t, "Body", r.Body, "hello")
		}},
	{name: "Content-Length zero", raw: "POST /up HTTP/1.1\r\n" + host + "Content-Length: 0\r\n\r\n",
		check: func(t *testing.T, r seenRequest) {
			eq(t, "ContentLength", r.ContentLength, 0)
			eq(t, "Body", r.Body, "")
		}},
	{name: "Expect 100-continue without a body", raw: "GET /e HTTP/1.1\r\n" + host + "Expect: 100-Continue\r\n\r\n",
		check: func(t *testing.T, r seenRequest) { headerEq(t, r.Header, "Expect", "100-Continue") }},
	{name: "duplicate headers kept in order",
		raw: "GET /d HTTP/1.1\r\n" + host + "X-Dup: 1\r\nX-Other: o\r\nx-dup: 2\r\nX-DUP: 3\r\n\r\n",
		check: func(t *testing.T, r seenRequest) {
			headerEq(t, r.Header, "X-Dup", "1", "2", "3")
			headerEq(t, r.Header, "X-Other", "o")
		}},
	{name: "OWS around values trimmed", raw: "GET /o HTTP/1.1\r\nHost: \t example.com \t\r\nX-Ows: \t  a b\t c \t  \r\nX-Tab:\tv\r\n\r\n",
		check: func(t *testing.T, r seenRequest) {
			eq(t, "Host", r.Host, "example.com")
			headerEq(t, r.Header, "X-Ows", "a b\t c")
			headerEq(t, r.Header, "X-Tab", "v")
		}},
	{name: "empty values", raw: "GET /o HTTP/1.1\r\n" + host + "X-Empty:\r\nX-Blank:   \t\r\n\r\n",
		check: func(t *testing.T, r seenRequest) {
			headerEq(t, r.Header, "X-Empty", "")
			headerEq(t, r.Header, "X-Blank", "")
		}},
	{name: "obs-text in a value", raw: "GET /o HTTP/1.1\r\n" + host + "X-Obs: caf\xe9 \x80\xff\r\n\r\n",
		check: func(t *testing.T, r seenRequest) { headerEq(t, r.Header, "X-Obs", "caf\xe9 \x80\xff") }},
	{name: "header names canonicalised", raw: "GET /o HTTP/1.1\r\nhost: example.com\r\nx-foo-bar: 1\r\ncontent-TYPE: text/plain\r\nACCEPT: */*\r\nx_under_score: u\r\n\r\n",
		check: func(t *testing.T, r seenRequest) {
			eq(t, "Host", r.Host, "example.com")
			headerEq(t, r.Header, "X-Foo-Bar", "1")
			headerEq(t, r.Header, "Content-Type", "text/plain")
			headerEq(t, r.Header, "Accept", "*/*")
			headerEq(t, r.Header, "X_under_score", "u")
			eq(t, "len(Header)", len(r.Header), 4)
		}},
	{name: "one leading CRLF", raw: "\r\nGET /l HTTP/1.1\r\n" + host + "\r\n",
		check: basic("GET", "/l", "/l", "", "example.com", "HTTP/1.1")},
	{name: "four leading CRLFs", raw: "\r\n\r\n\r\n\r\nGET /l HTTP/1.1\r\n" + host + "\r\n",
		check: basic("GET", "/l", "/l", "", "example.com", "HTTP/1.1")},
	{name: "Host with port", raw: "GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
		check: func(t *testing.T, r seenRequest) { eq(t, "Host", r.Host, "example.com:8080") }},
	{name: "IPv6 Host", raw: "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
		check: func(t *testing.T, r seenRequest) { eq(t, "Host", r.Host, "[::1]:8080") }},
	{name: "empty Host", raw: "GET / HTTP/1.1\r\nHost:\r\n\r\n",
		check: func(t *testing.T, r seenRequest) { eq(t, "Host", r.Host, "") }},
	{name: "extension method", raw: "PURGE /x HTTP/1.1\r\n" + host + "\r\n",
		check: basic("PURGE", "/x", "/x", "", "example.com", "HTTP/1.1")},
	{name: "Pragma no-cache implies Cache-Control as in net/http", raw: "GET / HTTP/1.1\r\n" + host + "Pragma: no-cache\r\n\r\n",
		check: func(t *testing.T, r seenRequest) {
			headerEq(t, r.Header, "Pragma", "no-cache")
			headerEq(t, r.Header, "Cache-Control", "no-cache")
		}},

	// ---- request smuggling shapes: each refused, nothing after it served ----
	{name: "smuggle/CL+TE", status: 501,
		raw: "POST / HTTP/1.1\r\n" + host + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled},
	{name: "smuggle/TE+CL", status: 501,
		raw: "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + smuggled},
	{name: "smuggle/TE chunked alone", status: 501,
		raw: "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled},
	{name: "smuggle/TE lowercase name", status: 501,
		raw: "POST / HTTP/1.1\r\n" + host + "transfer-encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled},
	{name: "smuggle/TE identity", status: 501,
		raw: "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: identity\r\nContent-Length: 5\r\n\r\nhello" + smuggled},
	{name: "smuggle/TE empty", status: 501,
		raw: "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding:\r\nContent-Length: 5\r\n\r\nhello" + smuggled},
	{name: "smuggle/TE in HTTP/1.0", status: 501,
		raw: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled},
	{name: "smuggle/TE space before colon", status: 400,
		raw: "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + smuggled},
	{name: "smuggle/TE tab before colon", status: 400,
		raw: "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding\t: chunked\r\n\r\n0\r\n\r\n" + smuggled},
	{name: "smuggle/duplicate CL same value", status: 400,
		raw: "POST / HTTP/1.1\r\n" + host + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello" + smuggled},
	{name: "smuggle/duplicate CL different values", status: 400,
		raw: "POST / HTTP/1.1\r\n" + host + "Content-Length: 5\r\nContent-Length: 41\r\n\r\nhello" + smuggled},
	{name: "smuggle/CL list", status: 400,
		raw: "POST / HTTP/1.1\r\n" + host + "Content-Length: 5, 5\r\n\r\nhello" + smuggled},
	{name: "smuggle/CL plus sign", status: 400,
		raw: "POST / HTTP/1.1\r\n" + host + "Content-Length: +5\r\n\r\nhello" + smuggled},
	{name: "smuggle/CL minus sign", status: 400,
		raw: "POST / HTTP/1.1\r\n" + host + "Content-Length: -5\r\n\r\nhello" + smuggled},
	{name: "smuggle/CL inner space", status: 400,
		raw: "POST / HTTP/1.1\r\n" + host + "Content-Length: 5 5\r\n\r\nhello" + smuggled},
	{name: "smuggle/CL hex", status: 400,
		raw: "POST / HTTP/1.1\r\n" + host + "Content-Length: 0x5\r\n\r\nhello" + smuggled},
	{name: "smuggle/CL underscore", status: 400,
		raw: "POST / HTTP/1.1\r\n" + host + "Content-Length: 1_0\r\n\r\nhello" + smuggled},
	{name: "smuggle/CL empty", status: 400,
		raw: "POST / HTTP/1.1\r\n" + host + "Content-Length:\r\n\r\nhello" + smuggled},
	{name: "smuggle/CL 19 digits", status: 400,
		raw: "POST / HTTP/1.1\r\n" + host + "Content-Length: " + nineteenDigits + "\r\n\r\nhello" + smuggled},
	{name: "smuggle/CL space before colon", status: 400,
		raw: "POST / HTTP/1.1\r\n" + host + "Content-Length : 5\r\n\r\nhello" + smuggled},
	{name: "smuggle/bare LF line ends", status: 400, raw: "GET / HTTP/1.1\nHost: example.com\n\n" + smuggled},
	{name: "smuggle/bare LF after request line", status: 400, raw: "GET / HTTP/1.1\n" + host + "\r\n" + smuggled},
	{name: "smuggle/bare LF in one header line", status: 400,
		raw: "GET / HTTP/1.1\r\n" + host + "X-A: 1\nContent-Length: 5\r\n\r\nhello" + smuggled},
	{name: "smuggle/bare LF ending the head", status: 400, raw: "GET / HTTP/1.1\r\n" + host + "\n" + smuggled},
	{name: "smuggle/bare CR in a header value", status: 400,
		raw: "GET / HTTP/1.1\r\n" + host + "X-A: 1\rContent-Length: 5\r\n\r\nhello" + smuggled},
	{name: "smuggle/bare CR in a header name", status: 400, raw: "GET / HTTP/1.1\r\n" + host + "X-A\r: 1\r\n\r\n" + smuggled},
	{name: "smuggle/bare CR before CRLF", status: 400, raw: "GET / HTTP/1.1\r\n" + host + "X-A: 1\r\r\n\r\n" + smuggled},
	{name: "smuggle/bare CR line", status: 400, raw: "GET / HTTP/1.1\r\n" + host + "\r\r\n\r\n" + smuggled},
	{name: "smuggle/bare CR in the request line", status: 400, raw: "GET /\r HTTP/1.1\r\n" + host + "\r\n" + smuggled},
	{name: "smuggle/bare CR after the version", status: 400, raw: "GET / HTTP/1.1\r\r\n" + host + "\r\n" + smuggled},
	{name: "smuggle/obs-fold", status: 400,
		raw: "GET / HTTP/1.1\r\n" + host + "X-A: 1\r\n Content-Length: 5\r\n\r\nhello" + smuggled},
	{name: "smuggle/obs-fold tab", status: 400, raw: "GET / HTTP/1.1\r\n" + host + "X-A: 1\r\n\tmore\r\n\r\n" + smuggled},
	{name: "smuggle/obs-fold first header line", status: 400, raw: "GET / HTTP/1.1\r\n " + host + "\r\n" + smuggled},
	{name: "smuggle/space before colon", status: 400, raw: "GET / HTTP/1.1\r\nHost : example.com\r\n\r\n" + smuggled},
	{name: "smuggle/NUL in the request line", status: 400, raw: "GET /a\x00b HTTP/1.1\r\n" + host + "\r\n" + smuggled},
	{name: "smuggle/NUL in the method", status: 400, raw: "GE\x00T / HTTP/1.1\r\n" + host + "\r\n" + smuggled},
	{name: "smuggle/NUL in a header value", status: 400, raw: "GET / HTTP/1.1\r\n" + host + "X-A: a\x00b\r\n\r\n" + smuggled},
	{name: "smuggle/NUL in a header name", status: 400, raw: "GET / HTTP/1.1\r\n" + host + "X-\x00A: a\r\n\r\n" + smuggled},
	{name: "smuggle/two Hosts", status: 400,
		raw: "GET / HTTP/1.1\r\nHost: good.example\r\nHost: evil.example\r\n\r\n" + smuggled},

	// ---- other refusals ----
	{name: "CONNECT", status: 405, raw: "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n" + smuggled},
	{name: "HTTP/2.0", status: 505, raw: "GET / HTTP/2.0\r\n" + host + "\r\n"},
	{name: "HTTP/1.2", status: 505, raw: "GET / HTTP/1.2\r\n" + host + "\r\n"},
	{name: "HTTP/0.9", status: 505, raw: "GET / HTTP/0.9\r\n" + host + "\r\n"},
	{name: "HTTP/3.0", status: 505, raw: "GET / HTTP/3.0\r\n" + host + "\r\n"},
	{name: "PRI preface", status: 505, raw: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"},
	{name: "version 1.10", status: 400, raw: "GET / HTTP/1.10\r\n" + host + "\r\n"},
	{name: "lowercase version", status: 400, raw: "GET / http/1.1\r\n" + host + "\r\n"},
	{name: "version without minor", status: 400, raw: "GET / HTTP/1\r\n" + host + "\r\n"},
	{name: "trailing space after version", status: 400, raw: "GET / HTTP/1.1 \r\n" + host + "\r\n"},
	{name: "no version", status: 400, raw: "GET /\r\n" + host + "\r\n"},
	{name: "Expect other than 100-continue", status: 417, raw: "GET / HTTP/1.1\r\n" + host + "Expect: 200-ok\r\n\r\n"},
	{name: "Expect list", status: 417, raw: "GET / HTTP/1.1\r\n" + host + "Expect: 100-continue, foo\r\n\r\n"},
	{name: "no Host in HTTP/1.1", status: 400, raw: "GET / HTTP/1.1\r\nX-A: 1\r\n\r\n"},
	{name: "two Hosts with the same value", status: 400, raw: "GET / HTTP/1.1\r\n" + host + host + "\r\n"},
	{name: "two Hosts in HTTP/1.0", status: 400, raw: "GET / HTTP/1.0\r\n" + host + host + "\r\n"},
	{name: "Host with a space", status: 400, raw: "GET / HTTP/1.1\r\nHost: exa mple.com\r\n\r\n"},
	{name: "Host with a slash", status: 400, raw: "GET / HTTP/1.1\r\nHost: example.com/x\r\n\r\n"},
	{name: "Host with userinfo", status: 400, raw: "GET / HTTP/1.1\r\nHost: user@example.com\r\n\r\n"},
	{name: "absolute-form with a bad host", status: 400, raw: "GET http://a\"b/ HTTP/1.1\r\n" + host + "\r\n"},
	{name: "space in the target", status: 400, raw: "GET /a b HTTP/1.1\r\n" + host + "\r\n"},
	{name: "tab in the target", status: 400, raw: "GET /a\tb HTTP/1.1\r\n" + host + "\r\n"},
	{name: "DEL in the target", status: 400, raw: "GET /a\x7fb HTTP/1.1\r\n" + host + "\r\n"},
	{name: "two spaces after the method", status: 400, raw: "GET  / HTTP/1.1\r\n" + host + "\r\n"},
	{name: "empty method", status: 400, raw: " / HTTP/1.1\r\n" + host + "\r\n"},
	{name: "method not a token", status: 400, raw: "GE\"T / HTTP/1.1\r\n" + host + "\r\n"},
	{name: "asterisk for GET", status: 400, raw: "GET * HTTP/1.1\r\n" + host + "\r\n"},
	{name: "relative target", status: 400, raw: "GET a/b HTTP/1.1\r\n" + host + "\r\n"},
	{name: "bad percent-encoding", status: 400, raw: "GET /%zz HTTP/1.1\r\n" + host + "\r\n"},
	{name: "header without colon", status: 400, raw: "GET / HTTP/1.1\r\n" + host + "X-A 1\r\n\r\n"},
	{name: "empty header name", status: 400, raw: "GET / HTTP/1.1\r\n" + host + ": 1\r\n\r\n"},
	{name: "header name not a token", status: 400, raw: "GET / HTTP/1.1\r\n" + host + "X(A): 1\r\n\r\n"},
	{name: "SOH in a value", status: 400, raw: "GET / HTTP/1.1\r\n" + host + "X-A: a\x01\r\n\r\n"},
	{name: "ESC in a value", status: 400, raw: "GET / HTTP/1.1\r\n" + host + "X-A: \x1b[0m\r\n\r\n"},
	{name: "DEL in a value", status: 400, raw: "GET / HTTP/1.1\r\n" + host + "X-A: a\x7f\r\n\r\n"},
	{name: "VT in a value", status: 400, raw: "GET / HTTP/1.1\r\n" + host + "X-A: \x0ba\r\n\r\n"},
	{name: "FF at the end of a value", status: 400, raw: "GET / HTTP/1.1\r\n" + host + "X-A: a\x0c\r\n\r\n"},
	{name: "five leading CRLFs", status: 400, raw: "\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n" + host + "\r\n"},
	{name: "leading CR without LF", status: 400, raw: "\rGET / HTTP/1.1\r\n" + host + "\r\n"},
	{name: "leading bare LF", status: 400, raw: "\nGET / HTTP/1.1\r\n" + host + "\r\n"},
	{name: "head too large", status: 431, raw: tooLargeHead},
}

// TestConformance sends each raw request on a new connection and checks the answer, what the
// handler saw (or that it never ran), and whether the connection was kept or closed.
func TestConformance(t *testing.T) {
	t.Parallel()
	for _, tc := range requestCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{}
			addr, _ := startServer(t, rec, nil)
			cl := dialServer(t, addr)
			cl.write(tc.raw)
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			resp, body := cl.readResponse(method)
			want := tc.status
			if want == 0 {
				want = http.StatusOK
			}
			if resp.StatusCode != want {
				t.Fatalf("status %d (%q), want %d", resp.StatusCode, body, want)
			}
			seen := rec.seen()
			if tc.status != 0 {
				if len(seen) != 0 {
					t.Errorf("handler ran for a refused request: %+v", seen)
				}
				if !resp.Close {
					t.Errorf("refusal without Connection: close")
				}
				if !cl.closedByServer(3 * time.Second) {
					t.Errorf("connection still open after a refusal")
				}
				if seen := rec.seen(); len(seen) != 0 { // nothing after the refusal either
					t.Errorf("handler ran after the refusal: %+v", seen)
				}
				return
			}
			if len(seen) != 1 {
				t.Fatalf("handler ran %d times, want 1", len(seen))
			}
			wantBody := "ok"
			if tc.body != "" || method == http.MethodHead {
				wantBody = tc.body
			}
			if body != wantBody {
				t.Errorf("answer body %q, want %q", body, wantBody)
			}
			if tc.check != nil {
				tc.check(t, seen[0])
			}
			if tc.extra != nil {
				tc.extra(t, resp)
			}
			if tc.close {
				if !cl.closedByServer(3 * time.Second) {
					t.Errorf("connection kept, want it closed")
				}
				return
			}
			next := tc.next
			if next == "" {
				next = "GET /next HTTP/1.1\r\n" + host + "\r\n"
			}
			cl.write(next)
			resp, body = cl.readResponse(http.MethodGet)
			if resp.StatusCode != http.StatusOK || body != "ok" {
				t.Fatalf("next request on the kept connection: %d %q", resp.StatusCode, body)
			}
			seen = rec.seen()
			if len(seen) != 2 || seen[1].Path != "/next" {
				t.Fatalf("next request not seen as /next: %+v", seen)
			}
		})
	}
}

// TestOneBytePerWrite sends a request with a body one byte per TCP write.
func TestOneBytePerWrite(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	addr, _ := startServer(t, rec, nil)
	cl := dialServer(t, addr)
	if tc, ok := cl.c.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	raw := "\r\nPOST /split?a=b HTTP/1.1\r\n" + host + "X-Dup: 1\r\nX-Dup: 2\r\nContent-Length: 6\r\n\r\nbodies"
	for i := range len(raw) {
		cl.write(raw[i : i+1])
		if i%4 == 0 {
			time.Sleep(200 * time.Microsecond)
		}
	}
	resp, body := cl.readResponse(http.MethodPost)
	if resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("answer %d %q", resp.StatusCode, body)
	}
	seen := rec.seen()
	if len(seen) != 1 {
		t.Fatalf("handler ran %d times", len(seen))
	}
	r := seen[0]
	basic("POST", "/split?a=b", "/split", "a=b", "example.com", "HTTP/1.1")(t, r)
	headerEq(t, r.Header, "X-Dup", "1", "2")
	eq(t, "Body", r.Body, "bodies")
}

// TestPipelined sends several requests in one write; they are answered in order and each
// handler saw its own request, bodies included.
func TestPipelined(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	addr, _ := startServer(t, rec, nil)
	cl := dialServer(t, addr)
	cl.write("GET /one HTTP/1.1\r\n" + host + "\r\n" +
		"POST /two HTTP/1.1\r\n" + host + "Content-Length: 3\r\n\r\nabc" +
		"\r\n" + // a stray CRLF after a body, as old clients send
		"POST /noread-three HTTP/1.1\r\n" + host + "Content-Length: 4\r\n\r\nwxyz" +
		"HEAD /four HTTP/1.1\r\n" + host + "\r\n" +
		"GET /five HTTP/1.1\r\n" + host + "Connection: close\r\n\r\n")
	for i, m := range []string{"GET", "POST", "POST", "HEAD", "GET"} {
		resp, body := cl.readResponse(m)
		if resp.StatusCode != 200 || resp.Header.Get("X-Seq") != strconv.Itoa(i+1) {
			t.Fatalf("answer %d: %d X-Seq %q %q", i+1, resp.StatusCode, resp.Header.Get("X-Seq"), body)
		}
	}
	if !cl.closedByServer(3 * time.Second) {
		t.Error("connection kept after Connection: close")
	}
	seen := rec.seen()
	var paths []string
	for _, s := range seen {
		paths = append(paths, s.Method+" "+s.Path+" "+s.Body)
	}
	want := []string{"GET /one ", "POST /two abc", "POST /noread-three ", "HEAD /four ", "GET /five "}
	if !reflect.DeepEqual(paths, want) {
		t.Fatalf("handler saw %q, want %q", paths, want)
	}
}

// TestUnreadBody: a small body the handler left unread is skipped and the connection kept; a
// large one ends the connection after the answer.
func TestUnreadBody(t *testing.T) {
	t.Parallel()
	t.Run("small", func(t *testing.T) {
		t.Parallel()
		rec := &recorder{}
		addr, _ := startServer(t, rec, nil)
		cl := dialServer(t, addr)
		// The body looks like a request: if it were not skipped it would be served.
		bodyReq := "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
		cl.write("POST /noread HTTP/1.1\r\n" + host + "Content-Length: " + strconv.Itoa(len(bodyReq)) + "\r\n\r\n")
		resp, _ := cl.readResponse("POST") // answered before the body was even sent
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		cl.write(bodyReq)
		cl.write("GET /next HTTP/1.1\r\n" + host + "\r\n")
		resp, _ = cl.readResponse("GET")
		if resp.StatusCode != 200 || resp.Header.Get("X-Seq") != "2" {
			t.Fatalf("next: %d X-Seq %q", resp.StatusCode, resp.Header.Get("X-Seq"))
		}
		seen := rec.seen()
		if len(seen) != 2 || seen[1].Path != "/next" {
			t.Fatalf("handler saw %+v", seen)
		}
	})
	t.Run("large", func(t *testing.T) {
		t.Parallel()
		rec := &recorder{}
		addr, _ := startServer(t, rec, nil)
		cl := dialServer(t, addr)
		cl.write("POST /noread HTTP/1.1\r\n" + host + "Content-Length: 10000000\r\n\r\n" + strings.Repeat("z", 1000))
		resp, _ := cl.readResponse("POST")
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if !cl.closedByServer(3 * time.Second) {
			t.Fatal("connection kept with 10 MB of unread body")
		}
	})
}

// TestExpectContinue: 100 Continue is sent when the handler reads the body (HTTP/1.1 only),
// not when it answers without reading; then the connection cannot be reused.
func TestExpectContinue(t *testing.T) {
	t.Parallel()
	t.Run("handler reads", func(t *testing.T) {
		t.Parallel()
		rec := &recorder{}
		addr, _ := startServer(t, rec, nil)
		cl := dialServer(t, addr)
		cl.write("PUT /up HTTP/1.1\r\n" + host + "Expect: 100-continue\r\nContent-Length: 5\r\n\r\n")
		resp, _ := cl.readResponse("PUT")
		if resp.StatusCode != http.StatusContinue {
			t.Fatalf("status %d, want 100", resp.StatusCode)
		}
		cl.write("hello")
		resp, body := cl.readResponse("PUT")
		if resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("final answer %d %q", resp.StatusCode, body)
		}
		seen := rec.seen()
		if len(seen) != 1 || seen[0].Body != "hello" {
			t.Fatalf("handler saw %+v", seen)
		}
		// The connection stays usable.
		cl.write("GET /next HTTP/1.1\r\n" + host + "\r\n")
		if resp, _ := cl.readResponse("GET"); resp.StatusCode != 200 {
			t.Fatalf("next: %d", resp.StatusCode)
		}
	})
	t.Run("handler does not read", func(t *testing.T) {
		t.Parallel()
		rec := &recorder{}
		addr, _ := startServer(t, rec, nil)
		cl := dialServer(t, addr)
		cl.write("PUT /noread HTTP/1.1\r\n" + host + "Expect: 100-continue\r\nContent-Length: 5\r\n\r\n")
		resp, _ := cl.readResponse("PUT")
		if resp.StatusCode != 200 {
			t.Fatalf("status %d, want 200 and no 100 Continue", resp.StatusCode)
		}
		if !cl.closedByServer(3 * time.Second) {
			t.Fatal("connection kept although the client never sent its body")
		}
	})
	t.Run("HTTP/1.0 expectation ignored", func(t *testing.T) {
		// RFC 9110 §10.1.1: a server that receives 100-continue in an HTTP/1.0 request MUST
		// ignore it; an HTTP/1.0 client does not understand 1xx answers.
		t.Parallel()
		rec := &recorder{}
		addr, _ := startServer(t, rec, nil)
		cl := dialServer(t, addr)
		cl.write("PUT /up HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello")
		resp, _ := cl.readResponse("PUT")
		if resp.StatusCode != 200 {
			t.Fatalf("status %d, want 200 without 100 Continue", resp.StatusCode)
		}
		if seen := rec.seen(); len(seen) != 1 || seen[0].Body != "hello" {
			t.Fatalf("handler saw %+v", seen)
		}
	})
	t.Run("HTTP/1.0 keep-alive, unread body", func(t *testing.T) {
		// Ignoring the expectation also means a small unread body is skipped as usual.
		t.Parallel()
		rec := &recorder{}
		addr, _ := startServer(t, rec, nil)
		cl := dialServer(t, addr)
		cl.write("PUT /noread HTTP/1.0\r\nConnection: keep-alive\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello" +
			"GET /next HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
		for i := range 2 {
			if resp, _ := cl.readResponse("GET"); resp.StatusCode != 200 {
				t.Fatalf("answer %d: status %d", i+1, resp.StatusCode)
			}
		}
	})
}

// TestBodyReadAfterHandlerReturns: a handler may leave r.Body to a goroutine still reading it
// after the handler returned (http.RoundTripper implementations may read and close a request
// body after RoundTrip returns). Such a read must never consume bytes of the next request nor
// touch the connection's reader once the server moved on: it gets an error instead.
func TestBodyReadAfterHandlerReturns(t *testing.T) {
	t.Parallel()
	type leak struct {
		data string
		err  error
	}
	t.Run("concurrent with the server skipping the body", func(t *testing.T) {
		t.Parallel()
		rec := &recorder{}
		leaked := make(chan leak, 1)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/leak" {
				go func() {
					b, err := io.ReadAll(r.Body)
					leaked <- leak{string(b), err}
				}()
				time.Sleep(20 * time.Millisecond) // let the goroutine block in Read
				_, _ = io.WriteString(w, "leaked")
				return
			}
			rec.ServeHTTP(w, r)
		})
		addr, _ := startServer(t, h, nil)
		cl := dialServer(t, addr)
		cl.write("POST /leak HTTP/1.1\r\n" + host + "Content-Length: 5\r\n\r\n")
		if resp, body := cl.readResponse("POST"); resp.StatusCode != 200 || body != "leaked" {
			t.Fatalf("first answer %d %q", resp.StatusCode, body)
		}
		time.Sleep(20 * time.Millisecond) // the server is now skipping the body
		cl.write("hello" + "GET /next HTTP/1.1\r\n" + host + "\r\n")
		resp, _ := cl.readResponse("GET")
		if resp.StatusCode != 200 {
			t.Fatalf("next request: status %d", resp.StatusCode)
		}
		if seen := rec.seen(); len(seen) != 1 || seen[0].Path != "/next" {
			t.Fatalf("handler saw %+v", seen)
		}
		l := <-leaked
		if !strings.HasPrefix("hello", l.data) {
			t.Fatalf("leaked reader got %q (%v): bytes past the body", l.data, l.err)
		}
	})
	t.Run("after the connection ended", func(t *testing.T) {
		t.Parallel()
		release := make(chan struct{})
		leaked := make(chan leak, 1)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			go func() {
				defer func() {
					if v := recover(); v != nil {
						leaked <- leak{err: fmt.Errorf("panic: %v", v)}
					}
				}()
				<-release
				var b [16]byte
				n, err := r.Body.Read(b[:])
				leaked <- leak{string(b[:n]), err}
			}()
			_, _ = io.WriteString(w, "leaked")
		})
		addr, srv := startServer(t, h, nil)
		cl := dialServer(t, addr)
		// Too large a body to skip: the connection ends after the answer.
		cl.write("POST /leak HTTP/1.1\r\n" + host + "Content-Length: 10000000\r\n\r\n" + strings.Repeat("z", 100))
		if resp, _ := cl.readResponse("POST"); resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if !cl.closedByServer(3 * time.Second) {
			t.Fatal("connection kept")
		}
		waitNoConns(t, srv)
		// Another connection may now own the pooled reader.
		cl2 := dialServer(t, addr)
		cl2.write("GET /other HTTP/1.1\r\n" + host + "Content-Length: 0\r\n\r\n")
		close(release)
		l := <-leaked
		if l.err == nil || l.data != "" {
			t.Fatalf("read after the connection ended: %q, %v; want no data and an error", l.data, l.err)
		}
		if strings.HasPrefix(l.err.Error(), "panic") {
			t.Fatal(l.err)
		}
		if resp, _ := cl2.readResponse("GET"); resp.StatusCode != 200 {
			t.Fatalf("other connection: status %d", resp.StatusCode)
		}
	})
}

// TestBodyReadDuringAnswer: a goroutine the handler left reading r.Body keeps reading while the
// server finishes the answer and then skips the rest of the body (under -race: no data race
// between that Read and the server's look at the body), and the connection stays in step.
func TestBodyReadDuringAnswer(t *testing.T) {
	t.Parallel()
	const size = 20000
	rec := &recorder{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/leak" {
			rec.ServeHTTP(w, r)
			return
		}
		go func() { _, _ = io.Copy(io.Discard, r.Body) }()
		time.Sleep(10 * time.Millisecond)
		_, _ = io.WriteString(w, "ok")
	})
	addr, _ := startServer(t, h, nil)
	cl := dialServer(t, addr)
	cl.write("POST /leak HTTP/1.1\r\n" + host + "Content-Length: " + strconv.Itoa(size) + "\r\n\r\n")
	sent := make(chan struct{})
	go func() { // the body in small writes, while the answer is being made
		defer close(sent)
		for i := 0; i < size; i += 10 {
			if _, err := cl.c.Write([]byte("zzzzzzzzzz")); err != nil {
				return
			}
		}
	}()
	if resp, _ := cl.readResponse("POST"); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	<-sent
	cl.write("GET /next HTTP/1.1\r\n" + host + "\r\n")
	if resp, _ := cl.readResponse("GET"); resp.StatusCode != 200 {
		t.Fatalf("next: status %d", resp.StatusCode)
	}
	if seen := rec.seen(); len(seen) != 1 || seen[0].Path != "/next" {
		t.Fatalf("handler saw %+v", seen)
	}
}

func waitNoConns(t *testing.T, srv *Server) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		srv.mu.Lock()
		n := len(srv.conns)
		srv.mu.Unlock()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still tracked", n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestReadHeaderTimeout: a head not complete within ReadHeaderTimeout ends the connection, with
// no answer and no handler call; a slow trickle does not extend the deadline.
func TestReadHeaderTimeout(t *testing.T) {
	t.Parallel()
	const rht = 200 * time.Millisecond
	cases := []struct {
		name  string
		drive func(cl *client)
	}{
		{"half a head", func(cl *client) { cl.write("GET / HTTP/1.1\r\n" + host) }},
		{"nothing sent", func(cl *client) {}},
		{"trickle", func(cl *client) {
			go func() {
				// 200 bytes over 5 s: a deadline renewed by each read would never expire.
				for _, b := range []byte("GET / HTTP/1.1\r\nHost: example.com\r\nX-Slow: " + strings.Repeat("s", 160)) {
					if _, err := cl.c.Write([]byte{b}); err != nil {
						return
					}
					time.Sleep(25 * time.Millisecond)
				}
			}()
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{}
			addr, _ := startServer(t, rec, func(s *Server) { s.ReadHeaderTimeout = rht })
			cl := dialServer(t, addr)
			start := time.Now()
			tc.drive(cl)
			if !cl.closedByServer(3 * time.Second) {
				t.Fatal("connection still open")
			}
			elapsed := time.Since(start)
			if elapsed < rht*3/4 || elapsed > 2*time.Second {
				t.Errorf("closed after %v, want about %v", elapsed, rht)
			}
			if len(rec.seen()) != 0 {
				t.Error("handler ran")
			}
		})
	}
}

// TestIdleTimeout: a kept-alive connection with no next request is closed after IdleTimeout,
// not after ReadHeaderTimeout; a request before it is still served.
func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	const idle = 200 * time.Millisecond
	rec := &recorder{}
	addr, _ := startServer(t, rec, func(s *Server) { s.IdleTimeout = idle; s.ReadHeaderTimeout = 5 * time.Second })
	cl := dialServer(t, addr)
	cl.write("GET /1 HTTP/1.1\r\n" + host + "\r\n")
	cl.readResponse("GET")
	time.Sleep(idle / 2)
	cl.write("GET /2 HTTP/1.1\r\n" + host + "\r\n")
	if resp, _ := cl.readResponse("GET"); resp.StatusCode != 200 {
		t.Fatalf("second request: %d", resp.StatusCode)
	}
	start := time.Now()
	if !cl.closedByServer(3 * time.Second) {
		t.Fatal("idle connection still open")
	}
	if elapsed := time.Since(start); elapsed < idle*3/4 || elapsed > 2*time.Second {
		t.Errorf("closed after %v, want about %v", elapsed, idle)
	}
	if n := len(rec.seen()); n != 2 {
		t.Errorf("handler ran %d times, want 2", n)
	}
}

// headOfSize is a GET head of exactly n bytes (n >= 64).
func headOfSize(n int) string {
	pre := "GET / HTTP/1.1\r\n" + host + "X-Pad: "
	return pre + strings.Repeat("x", n-len(pre)-4) + "\r\n\r\n"
}

// TestMaxHeaderBytes: a head up to MaxHeaderBytes is served, one byte more gets 431 however it
// arrives (one write under the read buffer size, or many writes past it).
func TestMaxHeaderBytes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		limit  int
		head   string
		split  bool
		status int
	}{
		{"at the limit", 1024, headOfSize(1024), false, 200},
		{"one over, one write", 1024, headOfSize(1025), false, 431},
		{"one over, many writes", 1024, headOfSize(1025), true, 431},
		{"far over", 1024, headOfSize(20 << 10), true, 431},
		{"incomplete far over", 1024, headOfSize(20 << 10)[:10<<10], false, 431},
		{"default at the limit", 0, headOfSize(64 << 10), true, 200},
		{"default one over", 0, headOfSize(64<<10 + 1), false, 431},
		{"leading CRLFs not counted", 1024, "\r\n\r\n" + headOfSize(1024), false, 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{}
			addr, _ := startServer(t, rec, func(s *Server) { s.MaxHeaderBytes = tc.limit })
			cl := dialServer(t, addr)
			if tc.split {
				for s := tc.head; s != ""; {
					n := min(len(s), 700)
					cl.write(s[:n])
					s = s[n:]
					time.Sleep(time.Millisecond)
				}
			} else {
				cl.write(tc.head)
			}
			resp, _ := cl.readResponse("GET")
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if n := len(rec.seen()); (n == 1) != (tc.status == 200) {
				t.Fatalf("handler ran %d times", n)
			}
			if tc.status != 200 && !cl.closedByServer(3*time.Second) {
				t.Fatal("connection kept after 431")
			}
		})
	}
}

// ---- differential fuzzing against net/http ----

// readHeadFrom runs readHead over data through a bufio.Reader of bufSize bytes and reports the
// bytes it took from the stream (leading CRLFs included).
func readHeadFrom(data []byte, bufSize, limit int) (head string, consumed int, err error) {
	rd := bytes.NewReader(data)
	br := bufio.NewReaderSize(rd, bufSize)
	head, err = readHead(br, limit)
	return head, len(data) - rd.Len() - br.Buffered(), err
}

func errKey(err error) string {
	var pe *protoError
	if errors.As(err, &pe) {
		return strconv.Itoa(pe.status)
	}
	if err == nil {
		return "ok"
	}
	return "io: " + err.Error()
}

func FuzzParseAgainstNetHTTP(f *testing.F) {
	for _, tc := range requestCases {
		if len(tc.raw) < 8<<10 {
			f.Add([]byte(tc.raw))
		}
	}
	f.Add([]byte("GET http://u:p@h:1/p?q#f HTTP/1.1\r\nHost: x\r\n\r\n"))
	f.Add([]byte("GET //x/y HTTP/1.1\r\nHost: x\r\nPragma: no-cache, x\r\nCache-Control: max-age=0\r\n\r\n"))
	f.Add([]byte("OPTIONS * HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		// The reader's buffer size must not change the outcome (heads larger than the buffer
		// take another path), at the default limit and at a small one.
		for _, limit := range []int{64 << 10, 100} {
			h1, c1, e1 := readHeadFrom(data, 4096, limit)
			h2, c2, e2 := readHeadFrom(data, 16, limit)
			if errKey(e1) != errKey(e2) || h1 != h2 || (e1 == nil && c1 != c2) {
				t.Fatalf("limit %d: buffer 4096 gives %q %d %v, buffer 16 gives %q %d %v", limit, h1, c1, e1, h2, c2, e2)
			}
			if e1 == nil && len(h1) > limit {
				t.Fatalf("limit %d: head of %d bytes accepted", limit, len(h1))
			}
		}
		head, consumed, err := readHeadFrom(data, 4096, 64<<10)
		if err != nil {
			var pe *protoError
			if !errors.As(err, &pe) && err != io.EOF && err != io.ErrUnexpectedEOF {
				t.Fatalf("readHead: unexpected error %v", err)
			}
			return
		}
		c := &conn{remoteAddr: "1.2.3.4:5", s: &Server{}}
		req, body, err := parseRequest(context.Background(), head, c)
		if err != nil {
			var pe *protoError
			if !errors.As(err, &pe) {
				t.Fatalf("parseRequest: error %v is not a refusal", err)
			}
			return
		}

		// h1srv accepted: net/http must accept the same bytes and see the same request. The
		// leading empty lines h1srv skipped (at most four) are not given to ReadRequest, which
		// never skips any; net/http's Server skips up to four CR/LF bytes, after a POST only.
		skipped := consumed - len(head)
		rest := data[skipped:]
		rd := bytes.NewReader(rest)
		nbr := bufio.NewReader(rd)
		nreq, err := http.ReadRequest(nbr)
		if err != nil {
			t.Fatalf("h1srv accepted a request net/http refuses (%v):\n%q", err, head)
		}
		// Where the body starts: the core of request smuggling.
		if n := len(rest) - rd.Len() - nbr.Buffered(); n != len(head) {
			t.Fatalf("head ends at %d for h1srv, %d for net/http:\n%q", len(head), n, rest)
		}
		// net/http's Server (not ReadRequest) deletes Host from Header after reading it.
		delete(nreq.Header, "Host")
		if req.Method != nreq.Method || req.RequestURI != nreq.RequestURI || req.Host != nreq.Host ||
			req.Proto != nreq.Proto || req.ProtoMajor != nreq.ProtoMajor || req.ProtoMinor != nreq.ProtoMinor ||
			req.ContentLength != nreq.ContentLength || req.Close != nreq.Close {
			t.Fatalf("request line / framing differ:\nh1srv    %s %q %q %s %d.%d cl=%d close=%v\nnet/http %s %q %q %s %d.%d cl=%d close=%v\n%q",
				req.Method, req.RequestURI, req.Host, req.Proto, req.ProtoMajor, req.ProtoMinor, req.ContentLength, req.Close,
				nreq.Method, nreq.RequestURI, nreq.Host, nreq.Proto, nreq.ProtoMajor, nreq.ProtoMinor, nreq.ContentLength, nreq.Close, head)
		}
		if req.URL.String() != nreq.URL.String() || !reflect.DeepEqual(req.URL, nreq.URL) {
			t.Fatalf("URL differs: h1srv %#v, net/http %#v\n%q", req.URL, nreq.URL, head)
		}
		if !reflect.DeepEqual(map[string][]string(req.Header), map[string][]string(nreq.Header)) {
			t.Fatalf("Header differs:\nh1srv    %q\nnet/http %q\n%q", req.Header, nreq.Header, head)
		}
		if (body != nil) != (req.ContentLength > 0) || (body != nil && body.remaining != req.ContentLength) {
			t.Fatalf("body reader %+v for Content-Length %d", body, req.ContentLength)
		}
		if body == nil && req.Body != http.NoBody {
			t.Fatalf("no body but Body is %T", req.Body)
		}
	})
}

// TestServerBugsFixed holds the reproductions of two server.go bugs found while writing these
// tests (a body reader outliving a panicking handler; the first head timed from its first byte
// instead of the accept), now fixed.
func TestServerBugsFixed(t *testing.T) {
	// handle() skips body.finish when the handler panics, so nothing stops a goroutine the
	// handler left reading r.Body: c.close() then resets and pools c.br under it (a data race,
	// and the reader may be serving another connection by the time the Read resumes).
	t.Run("body read after handler panic", func(t *testing.T) {
		started := make(chan struct{})
		done := make(chan error, 1)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			go func() {
				defer func() {
					if v := recover(); v != nil {
						done <- fmt.Errorf("panic: %v", v)
					}
				}()
				close(started)
				_, err := io.ReadAll(r.Body)
				done <- err
			}()
			<-started
			time.Sleep(20 * time.Millisecond) // the goroutine is blocked in Read
			panic(http.ErrAbortHandler)
		})
		addr, srv := startServer(t, h, nil)
		cl := dialServer(t, addr)
		cl.write("POST /p HTTP/1.1\r\n" + host + "Content-Length: 100\r\n\r\n")
		if !cl.closedByServer(3 * time.Second) {
			t.Fatal("connection kept after a panic")
		}
		waitNoConns(t, srv)
		if err := <-done; err == nil || strings.HasPrefix(err.Error(), "panic") {
			t.Fatalf("leaked read: %v", err)
		}
	})
	// Server.ReadHeaderTimeout's doc (and net/http) bound a connection's first head from the
	// accept; serve() renews the deadline when the first byte arrives, so a client that sends
	// one byte just before the deadline gets a second full period (2x per connection).
	t.Run("first head bounded from the accept", func(t *testing.T) {
		const rht = 300 * time.Millisecond
		addr, _ := startServer(t, &recorder{}, func(s *Server) { s.ReadHeaderTimeout = rht })
		cl := dialServer(t, addr)
		start := time.Now()
		time.Sleep(rht * 2 / 3)
		cl.write("GET / HTTP/1.1\r\n")
		if !cl.closedByServer(3 * time.Second) {
			t.Fatal("connection still open")
		}
		if elapsed := time.Since(start); elapsed > rht*3/2 {
			t.Errorf("closed %v after the accept, want about %v", elapsed, rht)
		}
	})
}
