package h1srv

// Response-side tests: a differential test that runs the same handlers under net/http's Server
// and this one and compares what a client sees on the wire (status line, headers, body, framing,
// connection reuse, what the handler's writes returned, whether a panic was logged), and the
// write-syscall counts of small and large answers.

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"github.com/alist-edge/alist-edge/internal/testutil"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// respProto is one way of asking: HTTP/1.1, HTTP/1.0, HTTP/1.0 with Connection: keep-alive.
type respProto struct {
	name      string
	proto     string
	keepAlive bool
}

var (
	rp11   = respProto{"1.1", "HTTP/1.1", false}
	rp10   = respProto{"1.0", "HTTP/1.0", false}
	rp10ka = respProto{"1.0ka", "HTTP/1.0", true}
	rpAll  = []respProto{rp11, rp10, rp10ka}
)

// respCase is one handler of the differential table.
type respCase struct {
	name      string
	method    string // GET when empty
	reqHeader string // extra request header lines, each ending in CRLF
	reqBody   []byte // sent after the head, with its Content-Length
	protos    []respProto
	handler   func(w http.ResponseWriter, r *http.Request, run *respRun)
	// check makes assertions on each server's outcome by itself, so that a case also fails when
	// both servers agree on something wrong (and pins what the case is about).
	check func(t *testing.T, p respProto, o *respOutcome)
	// checkH1Only: net/http fails check (a deliberate difference, see adjust).
	checkH1Only bool
	// adjust documents and normalizes a deliberate difference from net/http: it asserts the
	// difference is exactly the expected one, then makes the two outcomes comparable.
	adjust func(t *testing.T, p respProto, nh, h1 *respOutcome)
}

// respRun is one execution of a case on one server: what the handler recorded.
type respRun struct {
	c    *respCase
	mu   sync.Mutex
	recs []string
	once sync.Once
	done chan struct{}
}

func (r *respRun) add(format string, args ...any) {
	r.mu.Lock()
	r.recs = append(r.recs, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

func (r *respRun) finish() { r.once.Do(func() { close(r.done) }) }

// respOutcome is everything compared between the two servers.
type respOutcome struct {
	Informational []string // 1xx answers: status and headers
	RespErr       string   // reading the final answer's head failed
	Proto         string
	Status        string
	Header        http.Header // without Date (its presence is checked)
	Body          string
	BodyErr       string
	TE            []string
	CL            int64
	Close         bool
	Connection    []string // the Connection header lines of the final answer
	Next          string   // after the answer: "reused", "closed", "closed after N bytes", "open"
	Recs          []string // what the handler recorded (its Write errors...)
	Logged        bool     // a panic was logged
}

func (o *respOutcome) String() string {
	c := *o
	if len(c.Body) > 64 {
		c.Body = fmt.Sprintf("%d bytes sha256 %x", len(c.Body), sha256.Sum256([]byte(o.Body)))
	}
	return fmt.Sprintf("%+v", c)
}

// syncBuffer is a log sink shared by servers and the test.
type syncBuffer = testutil.SyncBuffer

// respErrClass turns a client-side error into a comparable word.
func respErrClass(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, io.ErrUnexpectedEOF), strings.Contains(err.Error(), "unexpected EOF"):
		return "unexpected EOF"
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET), errors.Is(err, net.ErrClosed):
		return "closed"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	if s := err.Error(); len(s) > 60 {
		return s[:60] + "..."
	}
	return err.Error()
}

// startH1 runs a Server for h on a loopback listener and logs to log.
func startH1(t testing.TB, h http.Handler, logw io.Writer) (string, *Server) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if logw == nil {
		logw = io.Discard
	}
	srv := &Server{Handler: h, Logger: slog.New(slog.NewTextHandler(logw, nil))}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })
	return ln.Addr().String(), srv
}

// respRequest formats a request of case c asked as p.
func respRequest(method, path string, p respProto, extra string, body []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s %s\r\nHost: example.com\r\n", method, path, p.proto)
	if p.keepAlive {
		b.WriteString("Connection: keep-alive\r\n")
	}
	b.WriteString(extra)
	if body != nil {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// runRespCase sends case c's request to addr and reports what came back.
func runRespCase(t *testing.T, cur *atomic.Pointer[respRun], addr string, logs *syncBuffer, c *respCase, p respProto) *respOutcome {
	t.Helper()
	run := &respRun{c: c, done: make(chan struct{})}
	cur.Store(run)
	logs.Reset()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	method := c.method
	if method == "" {
		method = http.MethodGet
	}
	if _, err := conn.Write(respRequest(method, "/case", p, c.reqHeader, c.reqBody)); err != nil {
		t.Fatal(err)
	}
	bodySent := make(chan struct{})
	if len(c.reqBody) > 0 {
		go func() { // may be more than the socket buffers hold
			defer close(bodySent)
			_, _ = conn.Write(c.reqBody)
		}()
	} else {
		close(bodySent)
	}
	raw := &respRecorder{r: conn}
	br := bufio.NewReader(raw)
	hreq, _ := http.NewRequest(method, "http://example.com/case", nil)
	o := &respOutcome{}
	for {
		resp, err := http.ReadResponse(br, hreq)
		if err != nil {
			o.RespErr = respErrClass(err)
			break
		}
		if resp.StatusCode >= 100 && resp.StatusCode < 200 {
			o.Informational = append(o.Informational, fmt.Sprintf("%s %s %v", resp.Proto, resp.Status, resp.Header))
			continue
		}
		o.Proto, o.Status, o.TE, o.CL, o.Close = resp.Proto, resp.Status, resp.TransferEncoding, resp.ContentLength, resp.Close
		if _, ok := resp.Header["Date"]; !ok {
			t.Errorf("%s: no Date header", addr)
		}
		o.Header = resp.Header.Clone()
		delete(o.Header, "Date")
		// http.ReadResponse removes "Connection: close": take it from the bytes.
		heads := strings.SplitN(raw.b.String(), "\r\n\r\n", len(o.Informational)+2)
		for _, line := range strings.Split(heads[len(o.Informational)], "\r\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "Connection") {
				o.Connection = append(o.Connection, strings.TrimSpace(v))
			}
		}
		body, err := io.ReadAll(resp.Body)
		o.Body, o.BodyErr = string(body), respErrClass(err)
		break
	}
	select {
	case <-run.done:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: the handler did not return", addr)
	}
	if o.RespErr != "" || o.BodyErr != "" || o.Close {
		o.Next = respClosedState(conn, br)
	} else {
		o.Next = "reused"
		<-bodySent // the second request must follow the first one's body on the wire
		if _, err := conn.Write(respRequest("GET", "/second", p, "", nil)); err != nil {
			o.Next = "write: " + respErrClass(err)
		} else if resp, err := http.ReadResponse(br, nil); err != nil {
			o.Next = "read: " + respErrClass(err)
		} else if b, err := io.ReadAll(resp.Body); err != nil || string(b) != "second" {
			o.Next = fmt.Sprintf("second answer %q, %v", b, err)
		}
	}
	run.mu.Lock()
	o.Recs = run.recs
	run.mu.Unlock()
	o.Logged = strings.Contains(logs.String(), "panic serving")
	return o
}

// respRecorder keeps the bytes read through it.
type respRecorder struct {
	r io.Reader
	b bytes.Buffer
}

func (r *respRecorder) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.b.Write(p[:n])
	return n, err
}

// respClosedState waits for the server to close the connection.
func respClosedState(conn net.Conn, br *bufio.Reader) string {
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, err := io.Copy(io.Discard, br)
	switch {
	case respErrClass(err) == "timeout":
		return "open"
	case n > 0:
		return fmt.Sprintf("closed after %d bytes", n)
	}
	return "closed"
}

var (
	respBig   = bytes.Repeat([]byte("0123456789abcdef"), 100<<10/16) // 100 KiB of text
	respHTML  = []byte("<!DOCTYPE html><html><body>hi</body></html>")
	respBin   = []byte{0x00, 0x01, 0x02, 0x03, 0xfe, 0xff, 0x00, 0x10}
	respFile  string // 100 KiB file with respBig
	respBig3K = bytes.Repeat([]byte("x"), 3<<10)
)

func respOpenFile(run *respRun) *os.File {
	f, err := os.Open(respFile)
	if err != nil {
		run.add("open: %v", err)
		return nil
	}
	return f
}

// Assertions shared by cases.
func wantBody(want string) func(t *testing.T, p respProto, o *respOutcome) {
	return func(t *testing.T, p respProto, o *respOutcome) {
		t.Helper()
		if o.Body != want || o.BodyErr != "" {
			t.Errorf("body %d bytes, err %q; want %d bytes", len(o.Body), o.BodyErr, len(want))
		}
	}
}

// wantFraming: "length" (Content-Length n), "chunked" (HTTP/1.1) or "close" (HTTP/1.0).
func wantFraming(kind string, n int64) func(t *testing.T, p respProto, o *respOutcome) {
	return func(t *testing.T, p respProto, o *respOutcome) {
		t.Helper()
		k := kind
		if k == "chunked" && p.proto == "HTTP/1.0" {
			k = "close"
		}
		switch k {
		case "length":
			if o.CL != n || o.TE != nil {
				t.Errorf("framing CL %d TE %v, want Content-Length %d", o.CL, o.TE, n)
			}
		case "chunked":
			if len(o.TE) != 1 || o.TE[0] != "chunked" {
				t.Errorf("framing CL %d TE %v, want chunked", o.CL, o.TE)
			}
		case "close":
			if o.CL != -1 || o.TE != nil || !o.Close {
				t.Errorf("framing CL %d TE %v close %v, want close-delimited", o.CL, o.TE, o.Close)
			}
		}
	}
}

func checks(fs ...func(t *testing.T, p respProto, o *respOutcome)) func(t *testing.T, p respProto, o *respOutcome) {
	return func(t *testing.T, p respProto, o *respOutcome) {
		t.Helper()
		for _, f := range fs {
			f(t, p, o)
		}
	}
}

func wantHeader(key string, vals ...string) func(t *testing.T, p respProto, o *respOutcome) {
	return func(t *testing.T, p respProto, o *respOutcome) {
		t.Helper()
		if got := o.Header[key]; !reflect.DeepEqual(got, vals) && !(len(got) == 0 && len(vals) == 0) {
			t.Errorf("%s: %q, want %q", key, got, vals)
		}
	}
}

// wantConnection: the final answer's Connection header lines (none when vals is empty).
func wantConnection(vals ...string) func(t *testing.T, p respProto, o *respOutcome) {
	return func(t *testing.T, p respProto, o *respOutcome) {
		t.Helper()
		if !reflect.DeepEqual(o.Connection, vals) && !(len(o.Connection) == 0 && len(vals) == 0) {
			t.Errorf("Connection: %q, want %q", o.Connection, vals)
		}
	}
}

func wantNext(next string) func(t *testing.T, p respProto, o *respOutcome) {
	return func(t *testing.T, p respProto, o *respOutcome) {
		t.Helper()
		if o.Next != next {
			t.Errorf("after the answer: %s, want %s", o.Next, next)
		}
	}
}

// wantBroken: the client must not see a clean, complete answer.
func wantBroken(t *testing.T, p respProto, o *respOutcome) {
	t.Helper()
	if o.RespErr == "" && o.BodyErr == "" {
		t.Errorf("a clean answer (%s, %d body bytes) after the handler panicked", o.Status, len(o.Body))
	}
}

func wantRecs(recs ...string) func(t *testing.T, p respProto, o *respOutcome) {
	return func(t *testing.T, p respProto, o *respOutcome) {
		t.Helper()
		if !reflect.DeepEqual(o.Recs, recs) && !(len(o.Recs) == 0 && len(recs) == 0) {
			t.Errorf("handler recorded %q, want %q", o.Recs, recs)
		}
	}
}

func respWrite(w io.Writer, run *respRun, p []byte) {
	n, err := w.Write(p)
	run.add("write %d: %d %v", len(p), n, err)
}

func respCases() []*respCase {
	return []*respCase{
		{name: "small body, no Content-Length",
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) { respWrite(w, run, []byte("hello world")) },
			check:   checks(wantBody("hello world"), wantFraming("length", 11), wantHeader("Content-Type", "text/plain; charset=utf-8"))},
		{name: "no body at all",
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {},
			check:   checks(wantBody(""), wantFraming("length", 0))},
		{name: "404 without body",
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) { w.WriteHeader(404) },
			check:   checks(wantBody(""), wantFraming("length", 0))},
		{name: "2 KiB body, no Content-Length (the automatic length's limit)",
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {
				respWrite(w, run, respBig[:1024])
				respWrite(w, run, respBig[:1024])
			},
			check: wantFraming("length", 2048)},
		{name: "3 KiB body, no Content-Length",
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) { respWrite(w, run, respBig3K) },
			check:   checks(wantBody(string(respBig3K)), wantFraming("chunked", 0))},
		{name: "3 KiB body in small writes, no Content-Length",
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {
				for i := 0; i < 3; i++ {
					respWrite(w, run, respBig3K[:1024])
				}
			},
			check: wantFraming("chunked", 0)},
		{name: "100 KiB body in several writes, no Content-Length",
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {
				for i := 0; i < len(respBig); i += 10 << 10 {
					respWrite(w, run, respBig[i:i+10<<10])
				}
			},
			check: checks(wantBody(string(respBig)), wantFraming("chunked", 0))},
		{name: "100 KiB HTML in one write, Content-Type sniffed",
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {
				respWrite(w, run, append(append([]byte(nil), respHTML...), respBig...))
			},
			check: checks(wantFraming("chunked", 0), wantHeader("Content-Type", "text/html; charset=utf-8"))},
		{name: "1 KiB then 100 KiB, sniffed across the two writes",
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {
				respWrite(w, run, []byte("<!DOCTYP"))
				respWrite(w, run, append([]byte("E html>"), respBig...))
			},
			check: wantHeader("Content-Type", "text/html; charset=utf-8")},
		{name: "declared Content-Length, exact",
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {
				w.Header().Set("Content-Length", "11")
				respWrite(w, run, []byte("hello "))
				respWrite(w, run, []byte("world"))
			},
			check: checks(wantBody("hello world"), wantFraming("length", 11))},
		{name: "declared Content-Length, large body",
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {
				w.Header().Set("Content-Length", fmt.Sprint(len(respBig)))
				for i := 0; i < len(respBig); i += 25 << 10 {
					respWrite(w, run, respBig[i:i+25<<10])
				}
			},
			check: checks(wantBody(string(respBig)), wantFraming("length", int64(len(respBig))))},
		{name: "declared Content-Length, short body closes",
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {
				w.Header().Set("Content-Length", "20")
				respWrite(w, run, []byte("hello"))
			},
			check: checks(wantNext("closed"), func(t *testing.T, p respProto, o *respOutcome) {
				if o.BodyErr != "unexpected EOF" {
					t.Errorf("body error %q", o.BodyErr)
				}
			})},
		{name: "declared Content-Length, too much in one write",
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {
				w.Header().Set("Content-Length", "5")
				respWrite(w, run, []byte("hello world"))
				respWrite(w, run, []byte("hello"))
			},
			check: checks(wantNext("closed"), wantRecs(
				"write 11: 0 http: wrote more than the declared Content-Length",
				"write 5: 0 http: wrote more than the declared Content-Length"))},
		{name: "declared Content-Length, too much in a later write",
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {
				w.Header().Set("Content-Length", "8")
				respWrite(w, run, []byte("hello"))
				respWrite(w, run, []byte("world"))
				respWrite(w, run, []byte("!!!"))
			},
			check: checks(wantNext("closed"), wantRecs("write 5: 5 <nil>",
				"write 5: 0 http: wrote more than the declared Content-Length",
				"write 3: 0 http: wrote more than the declared Content-Length"))},
		{name: "invalid Content-Length from the handler is dropped",
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {
				w.Header().Set("Content-Length", "12abc")
				respWrite(w, run, []byte("hello"))
			},
			check: wantFraming("length", 5), checkH1Only: true,
			// Deliberate: net/http drops the value only from the map it reads at WriteHeader;
			// the copy it sends from still has it, so it chunks (HTTP/1.1) or sends the invalid
			// "Content-Length: 12abc" (HTTP/1.0, the client fails). h1srv sends the length.
			adjust: func(t *testing.T, p respProto, nh, h1 *respOutcome) {
				if p.proto == "HTTP/1.1" && (len(nh.TE) != 1 || nh.Header.Get("Content-Length") != "") ||
					p.proto == "HTTP/1.0" && nh.RespErr != `bad Content-Length "12abc"` {
					t.Errorf("net/http: %s", nh)
				}
				*nh = *h1
			}},
		{name: "204 with a body attempt",
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {
				w.Header().Set("Content-Type", "text/plain")
				w.Header().Set("Content-Length", "5")
				w.Header().Set("Transfer-Encoding", "chunked")
				w.WriteHeader(204)
				respWrite(w, run, []byte("hello"))
			},
			check: checks(wantBody(""), wantHeader("Content-Length"), wantHeader("Content-Type", "text/plain"),
				wantRecs("write 5: 0 http: request method or response status code does not allow body"))},
		{name: "304 with headers and a body attempt",
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {
				w.Header().Set("Content-Type", "text/plain")
				w.Header().Set("Content-Length", "5")
				w.Header().Set("Etag", `"x"`)
				w.WriteHeader(304)
				respWrite(w, run, []byte("hello"))
			},
			check: checks(wantBody(""), wantHeader("Content-Length"), wantHeader("Content-Type"), wantHeader("Etag", `"x"`))},
		{name: "HEAD with Content-Length and body writes", method: "HEAD",
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {
				w.Header().Set("Content-Length", "11")
				respWrite(w, run, []byte("hello world"))
			},
			check: checks(wantBody(""), wantHeader("Content-Length", "11"))},
		{name: "HEAD with Content-Length, no writes", method: "HEAD",
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {
				w.Header().Set("Content-Length", "1000")
			},
			check: wantHeader("Content-Length", "1000")},
		{name: "HEAD without Content-Length, small body writes", method: "HEAD",
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {
				respWrite(w, run, respHTML)
			},
			check: checks(wantHeader("Content-Length", fmt.Sprint(len(respHTML))), wantHeader("Content-Type", "text/html; charset=utf-8"))},
		{name: "HEAD without Content-Length, no writes", method: "HEAD",
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {},
			check:   wantHeader("Content-Length")},
		{name: "HEAD without Content-Length, 100 KiB of writes", method: "HEAD",
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {
				for i := 0; i < len(respBig); i += 10 << 10 {
					respWrite(w, run, respBig[i:i+10<<10])
				}
			},
			check: checks(wantHeader("Content-Length"), wantHeader("Transfer-Encoding"))},
		{name: "no Content-Type: sniffed HTML",
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) { respWrite(w, run, respHTML) },
			check:   wantHeader("Content-Type", "text/html; charset=utf-8")},
		{name: "no Content-Type: sniffed binary",
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) { respWrite(w, run, respBin) },
			check:   wantHeader("Content-Type", "application/octet-stream")},
		{name: "Content-Type set to empty",
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {
				w.Header().Set("Content-Type", "")
				respWrite(w, run, respHTML)
			},
			check: wantHeader("Content-Type", "")},
		{name: "Content-Type key with no values",
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {
				w.Header()["Content-Type"] = nil
				respWrite(w, run, respHTML)
			},
			check: wantHeader("Content-Type")},
		{name: "Content-Encoding set: no sniffing",
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {
				w.Header().Set("Content-Encoding", "gzip")
				respWrite(w, run, respHTML)
			},
			check: wantHeader("Content-Type")},
		{name: "Flush mid-body",
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {
				respWrite(w, run, []byte("hello "))
				w.(http.Flusher).Flush()
				respWrite(w, run, []byte("world"))
			},
			check: checks(wantBody("hello world"), wantFraming("chunked", 0))},
		{name: "Flush before any write",
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {
				w.(http.Flusher).Flush()
				respWrite(w, run, respHTML)
			},
			check: checks(wantFraming("chunked", 0), wantHeader("Content-Type"))},
		{name: "Flush with declared Content-Length",
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {
				w.Header().Set("Content-Length", "11")
				respWrite(w, run, []byte("hello "))
				w.(http.Flusher).Flush()
				respWrite(w, run, []byte("world"))
			},
			check: wantFraming("length", 11)},
		{name: "ResponseController Flush and SetWriteDeadline",
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {
				rc := http.NewResponseController(w)
				run.add("deadline: %v", rc.SetWriteDeadline(time.Now().Add(10*time.Second)))
				respWrite(w, run, []byte("hello "))
				run.add("flush: %v", rc.Flush())
				respWrite(w, run, []byte("world"))
			},
			check: checks(wantBody("hello world"), wantRecs("deadline: <nil>", "write 6: 6 <nil>", "flush: <nil>", "write 5: 5 <nil>"))},
		{name: "ReadFrom an *os.File with Content-Length",
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {
				f := respOpenFile(run)
				defer f.Close()
				w.Header().Set("Content-Length", fmt.Sprint(len(respBig)))
				n, err := io.Copy(w, f)
				run.add("copy: %d %v", n, err)
			},
			check: checks(wantBody(string(respBig)), wantFraming("length", int64(len(respBig))),
				wantHeader("Content-Type", "text/plain; charset=utf-8"))},
		{name: "ReadFrom an *os.File in an io.LimitedReader",
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {
				f := respOpenFile(run)
				defer f.Close()
				w.Header().Set("Content-Length", "50000")
				w.Header().Set("Content-Type", "text/plain")
				n, err := io.CopyN(w, f, 50000)
				run.add("copy: %d %v", n, err)
			},
			check: checks(wantBody(string(respBig[:50000])), wantFraming("length", 50000))},
		{name: "ReadFrom an *os.File without Content-Length",
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {
				f := respOpenFile(run)
				defer f.Close()
				n, err := io.Copy(w, f)
				run.add("copy: %d %v", n, err)
			},
			check: checks(wantBody(string(respBig)), wantFraming("chunked", 0))},
		{name: "ReadFrom an *os.File longer than the declared Content-Length",
			protos: []respProto{rp11},
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {
				f := respOpenFile(run)
				defer f.Close()
				w.Header().Set("Content-Length", "10000")
				n, err := io.Copy(w, f)
				run.add("copy: %d %v", n, err)
			},
			check: checks(wantBody(string(respBig[:10000]))),
			// Deliberate: net/http's sendfile path sends the whole file past the declared length
			// (then closes); h1srv stops at the declared length and returns ErrContentLength.
			adjust: func(t *testing.T, p respProto, nh, h1 *respOutcome) {
				wantNH := []string{fmt.Sprintf("copy: %d <nil>", len(respBig))}
				wantH1 := []string{"copy: 10000 http: wrote more than the declared Content-Length"}
				if !reflect.DeepEqual(nh.Recs, wantNH) || !reflect.DeepEqual(h1.Recs, wantH1) {
					t.Errorf("ReadFrom results: net/http %q (want %q), h1srv %q (want %q)", nh.Recs, wantNH, h1.Recs, wantH1)
				}
				if !strings.HasPrefix(nh.Next, "read: malformed HTTP response \"0123456789abcdef") {
					t.Errorf("net/http: after the answer %q, want the excess bytes", nh.Next)
				}
				if h1.Next != "read: unexpected EOF" {
					t.Errorf("h1srv: after the answer %q, want the connection closed", h1.Next)
				}
				nh.Recs, nh.Next = h1.Recs, h1.Next
			}},
		{name: "ReadFrom a bytes.Reader with Content-Length",
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {
				w.Header().Set("Content-Length", "1000")
				n, err := w.(io.ReaderFrom).ReadFrom(bytes.NewReader(respBig[:1000]))
				run.add("readfrom: %d %v", n, err)
			},
			check: checks(wantBody(string(respBig[:1000])), wantFraming("length", 1000))},
		{name: "ReadFrom a bytes.Reader without Content-Length",
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {
				n, err := w.(io.ReaderFrom).ReadFrom(bytes.NewReader(respBig[:1000]))
				run.add("readfrom: %d %v", n, err)
			},
			check: checks(wantBody(string(respBig[:1000])), wantFraming("chunked", 0))},
		{name: "ReadFrom a short bytes.Reader without Content-Length",
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {
				n, err := w.(io.ReaderFrom).ReadFrom(bytes.NewReader(respHTML))
				run.add("readfrom: %d %v", n, err)
			},
			check: checks(wantFraming("length", int64(len(respHTML))), wantHeader("Content-Type", "text/html; charset=utf-8"))},
		{name: "ReadFrom a bytes.Reader longer than the declared Content-Length",
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {
				w.Header().Set("Content-Length", "100")
				n, err := w.(io.ReaderFrom).ReadFrom(bytes.NewReader(respBig[:1000]))
				run.add("readfrom: %d %v", n, err)
			},
			check: checks(wantNext("closed"), wantRecs("readfrom: 0 http: wrote more than the declared Content-Length"))},
		{name: "ReadFrom after HEAD", method: "HEAD",
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {
				f := respOpenFile(run)
				defer f.Close()
				w.Header().Set("Content-Length", fmt.Sprint(len(respBig)))
				n, err := io.Copy(w, f)
				run.add("copy: %d %v", n, err)
			},
			check: checks(wantBody(""), wantHeader("Content-Length", fmt.Sprint(len(respBig))))},
		{name: "header value with CR LF injection",
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {
				w.Header().Set("X-Inj", "a\r\nX-Evil: 1\r\n\r\nbody")
				w.Header().Set("X-Lf", "b\nSet-Cookie: evil=1")
				w.Header().Set("X-Trim", " \t v \t ")
				w.Header().Set("X-Nbsp", "v\u00a0")
				respWrite(w, run, []byte("ok"))
			},
			check: checks(wantBody("ok"), wantHeader("X-Evil"), wantHeader("Set-Cookie"), wantHeader("X-Inj", "a  X-Evil: 1    body"),
				wantHeader("X-Nbsp", "v\u00a0"))},
		{name: "invalid header names skipped",
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {
				w.Header()["Bad Name"] = []string{"x"}
				w.Header()["X-Colon:Evil"] = []string{"x"}
				w.Header()["X-Crlf\r\nEvil"] = []string{"x"}
				w.Header()[""] = []string{"x"}
				w.Header().Set("X-Ok", "1")
				respWrite(w, run, []byte("ok"))
			},
			check: checks(wantBody("ok"), wantHeader("X-Ok", "1"), wantHeader("Evil"), func(t *testing.T, p respProto, o *respOutcome) {
				for k := range o.Header {
					if k != "X-Ok" && k != "Content-Length" && k != "Content-Type" && k != "Connection" {
						t.Errorf("unexpected header %q", k)
					}
				}
			})},
		{name: "several values for one header",
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {
				w.Header().Add("Set-Cookie", "a=1")
				w.Header().Add("Set-Cookie", "b=2")
				w.Header().Add("X-Multi", "x")
				w.Header().Add("X-Multi", "y")
				respWrite(w, run, []byte("ok"))
			},
			check: checks(wantHeader("Set-Cookie", "a=1", "b=2"), wantHeader("X-Multi", "x", "y"))},
		{name: "handler sets Date",
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {
				w.Header().Set("Date", "Mon, 02 Jan 2006 15:04:05 GMT")
				respWrite(w, run, []byte("ok"))
			},
			check: func(t *testing.T, p respProto, o *respOutcome) {}},
		{name: "unknown status code",
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) { w.WriteHeader(599) },
			check: func(t *testing.T, p respProto, o *respOutcome) {
				if o.Status != "599 status code 599" {
					t.Errorf("status %q", o.Status)
				}
			}},
		{name: "panic ErrAbortHandler after part of a declared body", protos: []respProto{rp11, rp10ka},
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {
				w.Header().Set("Content-Length", "100000")
				respWrite(w, run, respBig[:20000])
				panic(http.ErrAbortHandler)
			},
			check: checks(wantBroken, func(t *testing.T, p respProto, o *respOutcome) {
				if o.Logged {
					t.Error("http.ErrAbortHandler logged")
				}
			})},
		{name: "panic ErrAbortHandler after a small part of a declared body", protos: []respProto{rp11, rp10ka},
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {
				w.Header().Set("Content-Length", "10000")
				respWrite(w, run, respBig[:1000])
				panic(http.ErrAbortHandler)
			},
			check: wantBroken},
		{name: "panic ErrAbortHandler in a chunked body after Flush", protos: []respProto{rp11},
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {
				respWrite(w, run, respBig[:1000])
				w.(http.Flusher).Flush()
				respWrite(w, run, respBig[:1000])
				panic(http.ErrAbortHandler)
			},
			check: wantBroken},
		{name: "panic with another value: logged, connection closed",
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {
				w.Header().Set("X-Before", "1")
				respWrite(w, run, []byte("partial"))
				panic("boom")
			},
			check: checks(wantBroken, wantNext("closed"), func(t *testing.T, p respProto, o *respOutcome) {
				if !o.Logged {
					t.Error("panic not logged")
				}
			})},
		{name: "handler sets Connection: close",
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {
				w.Header().Set("Connection", "close")
				respWrite(w, run, []byte("bye"))
			},
			check: checks(wantBody("bye"), wantNext("closed"), wantConnection("close"))},
		{name: "client sends Connection: close", reqHeader: "Connection: close\r\n", protos: []respProto{rp11},
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) { respWrite(w, run, []byte("bye")) },
			check:   checks(wantBody("bye"), wantNext("closed"), wantConnection("close"))},
		{name: "handler's Connection: keep-alive on a closing connection",
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {
				w.Header().Set("Connection", "keep-alive")
				respWrite(w, run, respBig3K)
			}},
		{name: "handler's Connection: keep-alive, small body",
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {
				w.Header().Set("Connection", "keep-alive")
				respWrite(w, run, []byte("hi"))
			},
			check: func(t *testing.T, p respProto, o *respOutcome) {
				if p == rp10 {
					wantConnection()(t, p, o) // dropped: the connection closes
				} else {
					wantConnection("keep-alive")(t, p, o)
				}
			}},
		{name: "103 Early Hints then 200",
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {
				w.Header().Set("Link", "</style.css>; rel=preload; as=style")
				w.Header().Set("Content-Length", "5") // not sent with the 1xx
				w.WriteHeader(http.StatusEarlyHints)
				w.Header().Del("Link")
				respWrite(w, run, []byte("hello"))
			},
			check: wantBody("hello"),
			// Deliberate: net/http sends 1xx answers to HTTP/1.0 clients too ("HTTP/1.0 103"),
			// which RFC 9110 §15.2 forbids (an HTTP/1.0 client takes it for the answer).
			adjust: func(t *testing.T, p respProto, nh, h1 *respOutcome) {
				if p.proto != "HTTP/1.0" {
					if len(h1.Informational) != 1 {
						t.Errorf("h1srv: 1xx answers %q, want one", h1.Informational)
					}
					return
				}
				if len(nh.Informational) != 1 || len(h1.Informational) != 0 {
					t.Errorf("1xx answers to HTTP/1.0: net/http %q, h1srv %q; want one and none", nh.Informational, h1.Informational)
				}
				nh.Informational = nil
			}},
		{name: "header changed after WriteHeader",
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {
				w.Header().Set("X-Early", "1")
				w.WriteHeader(200)
				w.Header().Set("Content-Length", "3") // must not contradict the framing
				w.Header().Set("X-Late", "1")
				respWrite(w, run, []byte("hello"))
			},
			check: checks(wantBody("hello"), wantFraming("length", 5)),
			// Deliberate (documented): net/http freezes the header map at WriteHeader, h1srv
			// reads it when the head is formatted, so X-Late is sent; Content-Length is not.
			adjust: func(t *testing.T, p respProto, nh, h1 *respOutcome) {
				if nh.Header.Get("X-Late") != "" || h1.Header.Get("X-Late") != "1" {
					t.Errorf("X-Late: net/http %q, h1srv %q", nh.Header.Get("X-Late"), h1.Header.Get("X-Late"))
				}
				delete(h1.Header, "X-Late")
			}},
		{name: "handler's Transfer-Encoding: chunked, small body",
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {
				w.Header().Set("Transfer-Encoding", "chunked")
				respWrite(w, run, respHTML)
			},
			check: checks(wantBody(string(respHTML)), wantFraming("chunked", 0), wantHeader("Content-Type"))},
		{name: "handler's Transfer-Encoding: identity", protos: []respProto{rp11},
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {
				w.Header().Set("Transfer-Encoding", "identity")
				respWrite(w, run, []byte("hello"))
			},
			check: checks(wantBody("hello"), wantFraming("close", 0))},
		{name: "POST, small body unread", method: "POST", reqBody: respBig[:1000],
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) { respWrite(w, run, []byte("ok")) },
			check:   wantBody("ok")},
		{name: "POST, body echoed", method: "POST", reqBody: respBig[:5000],
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {
				b, err := io.ReadAll(r.Body)
				run.add("read %d %v", len(b), err)
				respWrite(w, run, b)
			},
			check: checks(wantBody(string(respBig[:5000])), wantFraming("chunked", 0))},
		{name: "POST, 1 MiB body unread", method: "POST", reqBody: bytes.Repeat(respBig, 10), protos: []respProto{rp11},
			handler: func(w http.ResponseWriter, r *http.Request, run *respRun) {
				w.WriteHeader(http.StatusUnauthorized)
				respWrite(w, run, []byte("no"))
			},
			check: checks(wantBody("no"), wantConnection("close"))},
	}
}

// TestResponseDifferential runs every case under net/http's Server and h1srv and compares what
// the client saw.
func TestResponseDifferential(t *testing.T) {
	dir := t.TempDir()
	respFile = filepath.Join(dir, "big.txt")
	if err := os.WriteFile(respFile, respBig, 0o600); err != nil {
		t.Fatal(err)
	}
	var cur atomic.Pointer[respRun]
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/second" {
			w.Header().Set("Content-Length", "6")
			_, _ = io.WriteString(w, "second")
			return
		}
		run := cur.Load()
		defer run.finish()
		run.c.handler(w, r, run)
	})
	nhLog, h1Log := &syncBuffer{}, &syncBuffer{}
	nh := httptest.NewUnstartedServer(h)
	nh.Config.ErrorLog = log.New(nhLog, "", 0)
	nh.Start()
	defer nh.Close()
	h1Addr, _ := startH1(t, h, h1Log)

	for _, c := range respCases() {
		protos := c.protos
		if protos == nil {
			protos = rpAll
		}
		for _, p := range protos {
			t.Run(c.name+"/"+p.name, func(t *testing.T) {
				a := runRespCase(t, &cur, nh.Listener.Addr().String(), nhLog, c, p)
				b := runRespCase(t, &cur, h1Addr, h1Log, c, p)
				if c.check != nil {
					if !c.checkH1Only {
						t.Run("net/http", func(t *testing.T) { c.check(t, p, a) })
					}
					t.Run("h1srv", func(t *testing.T) { c.check(t, p, b) })
				}
				if c.adjust != nil {
					c.adjust(t, p, a, b)
				}
				if !reflect.DeepEqual(a, b) {
					t.Errorf("answers differ\nnet/http: %s\nh1srv:    %s", a, b)
				}
			})
		}
	}
}

// countingListener counts the writes on the connections it accepts. Its connections are not
// *net.TCPConn, so h1srv copies instead of sendfile; they offer WriteBuffers so that a writev
// is seen as the one call it is.
type countingListener struct {
	net.Listener
	writes atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, l: l}, nil
}

type countingConn struct {
	net.Conn
	l *countingListener
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.l.writes.Add(1)
	return c.Conn.Write(p)
}

func (c *countingConn) WriteBuffers(v *net.Buffers) (int64, error) {
	c.l.writes.Add(1)
	return v.WriteTo(c.Conn) // the inner *net.TCPConn: one writev
}

func (c *countingConn) CloseWrite() error { return c.Conn.(*net.TCPConn).CloseWrite() }

// TestWriteCount: an answer goes out in as few writes as possible: head and a 1 KiB declared
// body in one write, head and a 64 KiB body written at once in one writev.
func TestWriteCount(t *testing.T) {
	for _, tc := range []struct {
		name   string
		size   int
		length bool
		writes int64
	}{
		{"1 KiB, Content-Length", 1 << 10, true, 1},
		{"1 KiB, automatic Content-Length", 1 << 10, false, 1},
		{"64 KiB, Content-Length", 64 << 10, true, 1},
		// Head and first chunk in one writev, the chunk's CRLF and the last chunk in another.
		{"64 KiB, chunked", 64 << 10, false, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := bytes.Repeat([]byte("z"), tc.size)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			cl := &countingListener{Listener: ln}
			srv := &Server{Logger: slog.New(slog.DiscardHandler), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.length {
					w.Header().Set("Content-Length", fmt.Sprint(len(body)))
				}
				_, _ = w.Write(body)
			})}
			done := make(chan struct{})
			go func() { defer close(done); _ = srv.Serve(cl) }()
			defer func() { _ = srv.Close(); <-done }()
			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			br := bufio.NewReader(conn)
			for i := 0; i < 3; i++ {
				before := cl.writes.Load()
				if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
					t.Fatal(err)
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatal(err)
				}
				b, err := io.ReadAll(resp.Body)
				if err != nil || len(b) != len(body) {
					t.Fatalf("body %d bytes, %v", len(b), err)
				}
				if n := cl.writes.Load() - before; n != tc.writes {
					t.Errorf("request %d: %d writes, want %d", i+1, n, tc.writes)
				}
			}
		})
	}
}
