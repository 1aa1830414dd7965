package origin

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func newH1(o Options) *H1Transport {
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = 2 * time.Second
	}
	if o.HeaderTimeout == 0 {
		o.HeaderTimeout = 2 * time.Second
	}
	return NewUpstream(o)
}

func get(t *testing.T, tr http.RoundTripper, method, u string, hdr http.Header) (*http.Response, []byte, error) {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return nil, nil, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, b, err
}

// countConns counts the TCP connections a test server accepted.
func countConns(s *httptest.Server) *atomic.Int64 {
	var n atomic.Int64
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			n.Add(1)
		}
	}
	return &n
}

// TestH1KeepAliveAndFraming: bodies of every framing arrive whole, and a connection whose answer
// was read to the end serves the next request (one TCP connection for all of them).
func TestH1KeepAliveAndFraming(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 40_000) // 640 KB
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen-Range", r.Header.Get("Range"))
		w.Header().Set("X-Seen-UA", r.Header.Get("User-Agent"))
		switch r.URL.Path {
		case "/len":
			w.Header().Set("Content-Length", "5")
			_, _ = io.WriteString(w, "hello")
		case "/chunked":
			for i := 0; i < 3; i++ {
				_, _ = io.WriteString(w, "part")
				w.(http.Flusher).Flush()
			}
		case "/big":
			_, _ = io.WriteString(w, big)
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/q":
			_, _ = io.WriteString(w, r.URL.RawQuery)
		}
	}))
	conns := countConns(up)
	up.Start()
	defer up.Close()
	tr := newH1(Options{})
	defer tr.CloseIdleConnections()
	for i := 0; i < 3; i++ {
		for _, c := range []struct{ method, path, want string }{
			{"GET", "/len", "hello"},
			{"GET", "/chunked", "partpartpart"},
			{"GET", "/big", big},
			{"HEAD", "/big", ""},
			{"GET", "/empty", ""},
			{"GET", "/q?a=1&b=%20x", "a=1&b=%20x"},
		} {
			resp, body, err := get(t, tr, c.method, up.URL+c.path, http.Header{"Range": {"bytes=0-"}})
			if err != nil {
				t.Fatalf("%s %s: %v", c.method, c.path, err)
			}
			if string(body) != c.want {
				t.Fatalf("%s %s: body %d bytes, want %d", c.method, c.path, len(body), len(c.want))
			}
			if resp.Header.Get("X-Seen-Range") != "bytes=0-" || resp.Header.Get("X-Seen-UA") != "Go-http-client/1.1" {
				t.Fatalf("%s %s: upstream saw Range %q, UA %q", c.method, c.path, resp.Header.Get("X-Seen-Range"), resp.Header.Get("X-Seen-UA"))
			}
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections for 18 sequential requests, want 1", n)
	}
	if n := tr.idleConns(); n != 1 {
		t.Fatalf("%d idle connections, want 1", n)
	}
}

// TestH1NotReused: an answer that was not read to its end, or that ends the connection, never
// leaves a connection in the pool (its next bytes would be taken for the next answer).
func TestH1NotReused(t *testing.T) {
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/close" {
			w.Header().Set("Connection", "close")
		}
		_, _ = io.WriteString(w, strings.Repeat("x", 100_000))
	}))
	conns := countConns(up)
	up.Start()
	defer up.Close()
	tr := newH1(Options{})
	defer tr.CloseIdleConnections()

	req, _ := http.NewRequest("GET", up.URL+"/partial", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := resp.Body.Read(make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n := tr.idleConns(); n != 0 {
		t.Fatalf("half-read answer left %d pooled connections", n)
	}
	if _, _, err := get(t, tr, "GET", up.URL+"/close", nil); err != nil {
		t.Fatal(err)
	}
	if n := tr.idleConns(); n != 0 {
		t.Fatalf("Connection: close answer left %d pooled connections", n)
	}
	if _, _, err := get(t, tr, "GET", up.URL+"/ok", nil); err != nil {
		t.Fatal(err)
	}
	if n := conns.Load(); n != 3 {
		t.Fatalf("%d connections, want 3", n)
	}
}

// scripted is a raw TCP upstream: each accepted connection runs serve.
func scripted(t testing.TB, serve func(c net.Conn, br *bufio.Reader)) (addr string, accepted *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted = new(atomic.Int64)
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				serve(c, bufio.NewReader(c))
			}()
		}
	}()
	return ln.Addr().String(), accepted
}

// readHead consumes one request head.
func readReqHead(br *bufio.Reader) (string, error) {
	var sb strings.Builder
	for {
		line, err := br.ReadString('\n')
		sb.WriteString(line)
		if err != nil {
			return sb.String(), err
		}
		if line == "\r\n" {
			return sb.String(), nil
		}
	}
}

// TestH1StaleConnectionRetried: the upstream closes a kept-alive connection while it is pooled;
// the next request finds it dead before any byte of an answer and is sent again on a new
// connection, invisibly (net/http's Transport does the same).
func TestH1StaleConnectionRetried(t *testing.T) {
	addr, accepted := scripted(t, func(c net.Conn, br *bufio.Reader) {
		if _, err := readReqHead(br); err != nil {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		// then close: the client pooled the connection
	})
	tr := newH1(Options{})
	defer tr.CloseIdleConnections()
	for i := 0; i < 3; i++ {
		if _, body, err := get(t, tr, "GET", "http://"+addr+"/f", nil); err != nil || string(body) != "ok" {
			t.Fatalf("request %d: %q, %v", i, body, err)
		}
		time.Sleep(20 * time.Millisecond) // let the close arrive
	}
	if n := accepted.Load(); n != 3 {
		t.Fatalf("%d connections, want 3", n)
	}
}

// TestH1Interim: 100 Continue and 103 Early Hints are skipped, 101 is an error.
func TestH1Interim(t *testing.T) {
	addr, _ := scripted(t, func(c net.Conn, br *bufio.Reader) {
		head, err := readReqHead(br)
		if err != nil {
			return
		}
		if strings.HasPrefix(head, "GET /101") {
			_, _ = io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n")
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nend")
	})
	tr := newH1(Options{})
	defer tr.CloseIdleConnections()
	resp, body, err := get(t, tr, "GET", "http://"+addr+"/f", nil)
	if err != nil || resp.StatusCode != 200 || string(body) != "end" {
		t.Fatalf("interim answers: %v %q", err, body)
	}
	if _, _, err := get(t, tr, "GET", "http://"+addr+"/101", nil); err == nil {
		t.Fatal("101 accepted")
	}
}

// TestH1Limits: UPSTREAM_HEADER_TIMEOUT gives a timeout error (the fetcher's 504), oversized or
// garbage heads are errors, and a context cancelled mid-body ends the read at once.
func TestH1Limits(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	addr, _ := scripted(t, func(c net.Conn, br *bufio.Reader) {
		head, err := readReqHead(br)
		if err != nil {
			return
		}
		switch {
		case strings.HasPrefix(head, "GET /slow"):
			<-release
		case strings.HasPrefix(head, "GET /huge"):
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\n")
			for i := 0; i < 100_000; i++ {
				if _, err := io.WriteString(c, "X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"); err != nil {
					return
				}
			}
		case strings.HasPrefix(head, "GET /garbage"):
			_, _ = io.WriteString(c, "SSH-2.0-OpenSSH\r\n\r\n")
		case strings.HasPrefix(head, "GET /trickle"):
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nabc")
			<-release
		}
	})
	tr := newH1(Options{HeaderTimeout: 200 * time.Millisecond})
	tr.MaxHeaderBytes = 64 << 10
	defer tr.CloseIdleConnections()

	start := time.Now()
	_, _, err := get(t, tr, "GET", "http://"+addr+"/slow", nil)
	var ne interface{ Timeout() bool }
	if !errors.As(err, &ne) || !ne.Timeout() || time.Since(start) > 2*time.Second {
		t.Fatalf("header timeout: %v after %v", err, time.Since(start))
	}
	if mapError(err, nil) != ErrUpstreamTimeout {
		t.Fatalf("header timeout maps to %v", mapError(err, nil))
	}
	if _, _, err := get(t, tr, "GET", "http://"+addr+"/huge", nil); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Fatalf("huge head: %v", err)
	}
	if _, _, err := get(t, tr, "GET", "http://"+addr+"/garbage", nil); err == nil {
		t.Fatal("garbage answer accepted")
	}

	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/trickle", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(50*time.Millisecond, cancel)
	start = time.Now()
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil || time.Since(start) > time.Second {
		t.Fatalf("cancelled body read: %v after %v", err, time.Since(start))
	}
	if n := tr.idleConns(); n != 0 {
		t.Fatalf("%d pooled connections after failures", n)
	}

	// A cancelled context before the answer: the context's error.
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	req, _ = http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/slow", nil)
	if _, err := tr.RoundTrip(req); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancel while waiting for headers: %v", err)
	}
}

// TestH1RefusesInjection: a header or URL that would split the request is refused before any
// connection is made.
func TestH1RefusesInjection(t *testing.T) {
	addr, accepted := scripted(t, func(c net.Conn, br *bufio.Reader) {})
	tr := newH1(Options{})
	defer tr.CloseIdleConnections()
	for _, h := range []http.Header{
		{"Authorization": {"Bearer x\r\nX-Evil: 1"}},
		{"X-A": {"a\nb"}},
		{"Bad Name": {"v"}},
		{"X-Nul": {"a\x00b"}},
	} {
		if _, _, err := get(t, tr, "GET", "http://"+addr+"/f", h); err == nil {
			t.Errorf("%v accepted", h)
		}
	}
	req := &http.Request{Method: "GET", URL: &url.URL{Scheme: "http", Host: addr, Opaque: "/a b"}, Header: http.Header{}}
	if _, err := tr.RoundTrip(req); err == nil {
		t.Error("space in the request URI accepted")
	}
	if n := accepted.Load(); n != 0 {
		t.Fatalf("%d connections made", n)
	}
}

// TestH1Fallback: requests with a body, other methods and requests for an outbound proxy go to
// the http.Transport (here: a recording stand-in).
func TestH1Fallback(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "direct") }))
	defer up.Close()
	var fell []string
	tr := newH1(Options{})
	tr.Fallback = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		fell = append(fell, r.Method+" "+r.URL.Path)
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("fallback")), Header: http.Header{}}, nil
	})
	tr.Proxy = func(r *http.Request) (*url.URL, error) {
		if r.URL.Path == "/via-proxy" {
			return url.Parse("http://proxy.invalid:3128")
		}
		return nil, nil
	}
	post, _ := http.NewRequest("POST", up.URL+"/api", strings.NewReader("{}"))
	if _, err := tr.RoundTrip(post); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ method, path, want string }{{"PUT", "/put", "fallback"}, {"GET", "/via-proxy", "fallback"}, {"GET", "/f", "direct"}} {
		_, body, err := get(t, tr, c.method, up.URL+c.path, nil)
		if err != nil || string(body) != c.want {
			t.Fatalf("%s %s: %q %v", c.method, c.path, body, err)
		}
	}
	if strings.Join(fell, ",") != "POST /api,PUT /put,GET /via-proxy" {
		t.Fatalf("fallback saw %v", fell)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestH1TLS: https upstreams are spoken to over TLS with the URL's host as server name (a wrong
// certificate is refused) and their connections are pooled too.
func TestH1TLS(t *testing.T) {
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Proto)
	}))
	up.EnableHTTP2 = true // the transport must still speak HTTP/1.1 (ALPN)
	conns := countConns(up)
	up.StartTLS()
	defer up.Close()
	tr := newH1(Options{TLSTimeout: 2 * time.Second})
	defer tr.CloseIdleConnections()
	if _, _, err := get(t, tr, "GET", up.URL+"/f", nil); err == nil {
		t.Fatal("untrusted certificate accepted")
	}
	tr.TLSConfig = &tls.Config{RootCAs: up.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}
	for i := 0; i < 3; i++ {
		_, body, err := get(t, tr, "GET", up.URL+"/f", nil)
		if err != nil || string(body) != "HTTP/1.1" {
			t.Fatalf("%q %v", body, err)
		}
	}
	if n := conns.Load(); n != 2 { // the refused handshake, then one pooled connection
		t.Fatalf("%d connections, want 2", n)
	}
}

// TestH1IdleExpiry: pooled connections older than IdleConnTimeout are closed, not reused.
func TestH1IdleExpiry(t *testing.T) {
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "x") }))
	conns := countConns(up)
	up.Start()
	defer up.Close()
	tr := newH1(Options{})
	tr.IdleConnTimeout = 50 * time.Millisecond
	defer tr.CloseIdleConnections()
	for i := 0; i < 2; i++ {
		if _, _, err := get(t, tr, "GET", up.URL, nil); err != nil {
			t.Fatal(err)
		}
		time.Sleep(80 * time.Millisecond)
	}
	if n := conns.Load(); n != 2 {
		t.Fatalf("%d connections, want 2 (the first expired)", n)
	}
	// The sweep on put closes expired connections of other hosts.
	tr.putConn(&h1Conn{Conn: nopConn{}, key: "http://old:80"})
	time.Sleep(80 * time.Millisecond)
	if _, _, err := get(t, tr, "GET", up.URL, nil); err != nil {
		t.Fatal(err)
	}
	if n := tr.idleConns(); n != 1 {
		t.Fatalf("%d idle connections after the sweep, want 1", n)
	}
}

type nopConn struct{ net.Conn }

func (nopConn) Close() error { return nil }

// TestH1Concurrent: many goroutines share the pool; every body is intact.
func TestH1Concurrent(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, strings.Repeat(r.URL.Path[1:], 1000))
	}))
	defer up.Close()
	tr := newH1(Options{})
	defer tr.CloseIdleConnections()
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			p := string(rune('a' + g))
			for i := 0; i < 50; i++ {
				req, _ := http.NewRequest("GET", up.URL+"/"+p, nil)
				resp, err := tr.RoundTrip(req)
				if err != nil {
					errs <- err
					return
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || string(b) != strings.Repeat(p, 1000) {
					errs <- errors.New("mixed-up body")
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
