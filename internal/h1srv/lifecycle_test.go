package h1srv

// Server lifecycle tests (keep-alive, Shutdown, Close, Serve's result, the request's context),
// run against net/http's Server too wherever both are meant to behave alike, and BenchmarkServe.

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
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// lcServer is a server under test: h1srv's or net/http's, serving on a loopback listener.
type lcServer struct {
	addr     string
	shutdown func(context.Context) error
	close    func() error
	serveErr chan error // Serve's result
	serve    func(net.Listener) error
}

type lcKind struct {
	name  string
	start func(t testing.TB, h http.Handler) *lcServer
}

var lcKinds = []lcKind{
	{"net/http", func(t testing.TB, h http.Handler) *lcServer {
		s := &http.Server{Handler: h}
		return lcServe(t, s.Serve, s.Shutdown, s.Close)
	}},
	{"h1srv", func(t testing.TB, h http.Handler) *lcServer {
		s := &Server{Handler: h, Logger: slog.New(slog.DiscardHandler)}
		return lcServe(t, s.Serve, s.Shutdown, s.Close)
	}},
}

func lcServe(t testing.TB, serve func(net.Listener) error, shutdown func(context.Context) error, closeFn func() error) *lcServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &lcServer{addr: ln.Addr().String(), shutdown: shutdown, close: closeFn, serveErr: make(chan error, 1), serve: serve}
	go func() { s.serveErr <- serve(ln) }()
	t.Cleanup(func() { _ = closeFn() })
	return s
}

// within runs f and fails the test if it does not return within d.
func within(t *testing.T, d time.Duration, what string, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("%s did not return within %v", what, d)
		return nil
	}
}

func forEachServer(t *testing.T, f func(t *testing.T, k lcKind)) {
	for _, k := range lcKinds {
		t.Run(k.name, func(t *testing.T) { f(t, k) })
	}
}

// lcConn is conformance_test.go's raw client connection, with the lifecycle tests' helpers.
type lcConn = client

func lcDial(t testing.TB, addr string) *lcConn { return dialServer(t, addr) }

func (c *lcConn) get(path string) {
	c.t.Helper()
	if _, err := io.WriteString(c.c, "GET "+path+" HTTP/1.1\r\nHost: example.com\r\n\r\n"); err != nil {
		c.t.Fatal(err)
	}
}

func (c *lcConn) read() (*http.Response, string, error) {
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return nil, "", err
	}
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

// closedWithin reports whether the server closes the connection within d (no bytes expected).
func (c *lcConn) closedWithin(d time.Duration) bool {
	_ = c.c.SetReadDeadline(time.Now().Add(d))
	_, err := c.br.ReadByte()
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

func TestKeepAliveReuse(t *testing.T) {
	forEachServer(t, func(t *testing.T, k lcKind) {
		var mu sync.Mutex
		remotes := map[string]int{}
		s := k.start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			remotes[r.RemoteAddr]++
			mu.Unlock()
			_, _ = io.WriteString(w, r.URL.Path)
		}))
		c := lcDial(t, s.addr)
		for i := range 100 {
			path := "/" + strconv.Itoa(i)
			c.get(path)
			resp, body, err := c.read()
			if err != nil || resp.Close || body != path {
				t.Fatalf("request %d: %v close %v body %q", i, err, resp != nil && resp.Close, body)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if len(remotes) != 1 || remotes[c.c.LocalAddr().String()] != 100 {
			t.Fatalf("requests by remote address: %v, want 100 from %s", remotes, c.c.LocalAddr())
		}
	})
}

// TestRequestContext: the request's context carries the local address and ends when the handler
// returns; RemoteAddr is the client's address.
func TestRequestContext(t *testing.T) {
	forEachServer(t, func(t *testing.T, k lcKind) {
		ctxs := make(chan context.Context, 1)
		var remote string
		s := k.start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := r.Context().Err(); err != nil {
				t.Errorf("context already done in the handler: %v", err)
			}
			remote = r.RemoteAddr
			ctxs <- r.Context()
			_, _ = io.WriteString(w, "ok")
		}))
		c := lcDial(t, s.addr)
		c.get("/")
		if _, _, err := c.read(); err != nil {
			t.Fatal(err)
		}
		ctx := <-ctxs
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
			t.Fatal("request context not cancelled after the handler returned")
		}
		if !errors.Is(ctx.Err(), context.Canceled) {
			t.Fatalf("context error %v", ctx.Err())
		}
		la, ok := ctx.Value(http.LocalAddrContextKey).(*net.TCPAddr)
		if !ok || la.String() != s.addr {
			t.Fatalf("LocalAddrContextKey: %#v, want *net.TCPAddr %s", ctx.Value(http.LocalAddrContextKey), s.addr)
		}
		if remote != c.c.LocalAddr().String() {
			t.Fatalf("RemoteAddr %q, want %q", remote, c.c.LocalAddr())
		}
	})
}

func TestShutdownIdle(t *testing.T) {
	forEachServer(t, func(t *testing.T, k lcKind) {
		s := k.start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }))
		c := lcDial(t, s.addr)
		c.get("/")
		if _, _, err := c.read(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond) // the server is back to waiting for a request
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := s.shutdown(ctx); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("Shutdown took %v with an idle connection", d)
		}
		if !c.closedWithin(time.Second) {
			t.Fatal("idle connection not closed")
		}
		if err := within(t, 2*time.Second, "Serve", func() error { return <-s.serveErr }); err != http.ErrServerClosed {
			t.Fatalf("Serve returned %v, want http.ErrServerClosed", err)
		}
		// A new connection is refused; so is serving again.
		if nc, err := net.DialTimeout("tcp", s.addr, time.Second); err == nil {
			nc.Close()
			t.Fatal("a new connection was accepted after Shutdown")
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		if err := within(t, time.Second, "Serve after Shutdown", func() error { return s.serve(ln) }); err != http.ErrServerClosed {
			t.Fatalf("Serve after Shutdown: %v", err)
		}
	})
}

// TestShutdownNewConnection: a connection that never sent a request is closed by Shutdown at
// once (net/http waits up to 5 s for such a connection: h1srv only).
func TestShutdownNewConnection(t *testing.T) {
	s := lcKinds[1].start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	c := lcDial(t, s.addr)
	time.Sleep(20 * time.Millisecond) // accepted
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if !c.closedWithin(time.Second) {
		t.Fatal("new connection not closed")
	}
}

// slowHandler answers /slow only when released, after telling it started.
type slowHandler struct {
	started chan struct{}
	release chan struct{}
}

func newSlowHandler() *slowHandler {
	return &slowHandler{started: make(chan struct{}, 1), release: make(chan struct{})}
}

func (h *slowHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/slow" {
		h.started <- struct{}{}
		<-h.release
	}
	_, _ = io.WriteString(w, "done "+r.URL.Path)
}

func TestShutdownActive(t *testing.T) {
	forEachServer(t, func(t *testing.T, k lcKind) {
		h := newSlowHandler()
		s := k.start(t, h)
		c := lcDial(t, s.addr)
		c.get("/slow")
		<-h.started
		done := make(chan error, 1)
		go func() { done <- s.shutdown(context.Background()) }()
		select {
		case err := <-done:
			t.Fatalf("Shutdown returned %v while a handler runs", err)
		case <-time.After(100 * time.Millisecond):
		}
		close(h.release)
		resp, body, err := c.read()
		if err != nil || body != "done /slow" || !resp.Close {
			t.Fatalf("answer: %v %q, Connection: close %v", err, body, resp != nil && resp.Close)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("Shutdown did not return after the handler")
		}
		if !c.closedWithin(time.Second) {
			t.Fatal("connection kept after its answer during Shutdown")
		}
		if err := within(t, 2*time.Second, "Serve", func() error { return <-s.serveErr }); err != http.ErrServerClosed {
			t.Fatalf("Serve returned %v", err)
		}
	})
}

func TestShutdownDeadlineThenClose(t *testing.T) {
	forEachServer(t, func(t *testing.T, k lcKind) {
		h := newSlowHandler()
		defer close(h.release)
		s := k.start(t, h)
		c := lcDial(t, s.addr)
		c.get("/slow")
		<-h.started
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		if err := within(t, 2*time.Second, "Shutdown", func() error { return s.shutdown(ctx) }); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown: %v, want context.DeadlineExceeded", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("Shutdown returned after %v", d)
		}
		if c.closedWithin(50 * time.Millisecond) {
			t.Fatal("active connection closed by Shutdown")
		}
		if err := s.close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if !c.closedWithin(time.Second) {
			t.Fatal("Close did not cut the active connection")
		}
	})
}

// TestCloseCutsStream: Close ends a running download at once.
func TestCloseCutsStream(t *testing.T) {
	forEachServer(t, func(t *testing.T, k lcKind) {
		stop := make(chan struct{})
		defer close(stop)
		s := k.start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "1000000")
			for {
				if _, err := w.Write(make([]byte, 1000)); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				select {
				case <-stop:
					return
				case <-time.After(10 * time.Millisecond):
				}
			}
		}))
		c := lcDial(t, s.addr)
		c.get("/")
		resp, err := http.ReadResponse(c.br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(resp.Body, make([]byte, 1000)); err != nil {
			t.Fatal(err)
		}
		if err := s.close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		_ = c.c.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, err := io.Copy(io.Discard, resp.Body)
		if !errors.Is(err, io.ErrUnexpectedEOF) && !strings.Contains(fmt.Sprint(err), "reset") {
			t.Fatalf("after Close: %d more bytes, %v; want the body cut", n, err)
		}
		if err := within(t, 2*time.Second, "Serve", func() error { return <-s.serveErr }); err != http.ErrServerClosed {
			t.Fatalf("Serve returned %v", err)
		}
	})
}

// TestWriteDeadlineEndsWithRequest: a write deadline a handler set does not apply to the next
// requests on the connection (h1srv only: net/http keeps it, and a later answer fails).
func TestWriteDeadlineEndsWithRequest(t *testing.T) {
	s := lcKinds[1].start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/deadline" {
			_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(20 * time.Millisecond))
		}
		_, _ = io.WriteString(w, "ok")
	}))
	c := lcDial(t, s.addr)
	c.get("/deadline")
	if _, body, err := c.read(); err != nil || body != "ok" {
		t.Fatalf("first answer: %v %q", err, body)
	}
	time.Sleep(50 * time.Millisecond)
	c.get("/next")
	if _, body, err := c.read(); err != nil || body != "ok" {
		t.Fatalf("next answer: %v %q", err, body)
	}
}

// TestUnreadLargeBody: a handler answers without reading a large request body the client is
// still sending. The answer says Connection: close and the connection ends gracefully.
func TestUnreadLargeBody(t *testing.T) {
	forEachServer(t, func(t *testing.T, k lcKind) {
		s := k.start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(20 * time.Millisecond) // body bytes are waiting in the socket
			w.Header().Set("Content-Length", "9")
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			_, _ = io.WriteString(w, "too large")
		}))
		for i := range 3 {
			c := lcDial(t, s.addr)
			const size = 64 << 20
			if _, err := io.WriteString(c.c, "PUT /up HTTP/1.1\r\nHost: example.com\r\nContent-Length: "+strconv.Itoa(size)+"\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			// Part of the body, written here: a writer still running would take the reset
			// error from the socket before the reader below could see it.
			if _, err := c.c.Write(make([]byte, 100<<10)); err != nil {
				t.Fatal(err)
			}
			resp, body, err := c.read()
			if err != nil || resp.StatusCode != http.StatusRequestEntityTooLarge || body != "too large" {
				t.Fatalf("attempt %d: %v %v %q", i+1, err, resp, body)
			}
			if !resp.Close {
				t.Fatalf("attempt %d: no Connection: close", i+1)
			}
			// The server half-closes first (FIN: the client reads EOF) and keeps reading for a
			// moment, as net/http's closeWriteAndWait: a plain close with unread bytes is a reset,
			// which can overtake the answer on a real network.
			if _, err := c.br.ReadByte(); err != io.EOF {
				t.Fatalf("attempt %d: after the answer: %v, want EOF", i+1, err)
			}
			c.c.Close()
		}
	})
}

// BenchmarkServe: one trivial handler (a 1 KiB body with Content-Length) over keep-alive
// loopback connections, one per goroutine. Allocations count client and server.
func BenchmarkServe(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 1024)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", "1024")
		_, _ = w.Write(body)
	})
	for _, k := range lcKinds {
		b.Run(strings.ReplaceAll(k.name, "/", ""), func(b *testing.B) {
			s := k.start(b, h)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				c, err := net.Dial("tcp", s.addr)
				if err != nil {
					b.Error(err)
					return
				}
				defer c.Close()
				br := bufio.NewReaderSize(c, 8<<10)
				req := []byte("GET /bench HTTP/1.1\r\nHost: example.com\r\n\r\n")
				for pb.Next() {
					if _, err := c.Write(req); err != nil {
						b.Error(err)
						return
					}
					if err := benchReadAnswer(br); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// benchReadAnswer reads one answer framed by Content-Length without allocating.
func benchReadAnswer(br *bufio.Reader) error {
	n := -1
	for first := true; ; first = false {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if first {
			if !bytes.HasPrefix(line, []byte("HTTP/1.1 200 ")) {
				return fmt.Errorf("status line %q", line)
			}
			continue
		}
		if len(line) <= 2 {
			break
		}
		if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
			n = 0
			for _, d := range bytes.TrimSpace(v) {
				n = n*10 + int(d-'0')
			}
		}
	}
	if n < 0 {
		return errors.New("no Content-Length")
	}
	_, err := br.Discard(n)
	return err
}

// TestFlushReachesClient: what the handler flushed (Flush, http.ResponseController.Flush, a 1xx
// answer) is on the wire before the handler returns: the handler waits for the client to have
// read it.
func TestFlushReachesClient(t *testing.T) {
	for _, how := range []string{"Flusher", "ResponseController", "103 Early Hints"} {
		t.Run(how, func(t *testing.T) {
			forEachServer(t, func(t *testing.T, k lcKind) {
				got := make(chan struct{})
				s := k.start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					switch how {
					case "Flusher":
						_, _ = io.WriteString(w, "first ")
						w.(http.Flusher).Flush()
					case "ResponseController":
						_, _ = io.WriteString(w, "first ")
						if err := http.NewResponseController(w).Flush(); err != nil {
							t.Errorf("Flush: %v", err)
						}
					default:
						w.Header().Set("Link", "</a.css>; rel=preload")
						w.WriteHeader(http.StatusEarlyHints)
					}
					select {
					case <-got:
					case <-time.After(2 * time.Second):
						t.Error("the client did not get the flushed bytes while the handler ran")
					}
					_, _ = io.WriteString(w, "second")
				}))
				c := lcDial(t, s.addr)
				c.get("/")
				resp, err := http.ReadResponse(c.br, nil)
				if err != nil {
					t.Fatal(err)
				}
				if how == "103 Early Hints" {
					if resp.StatusCode != http.StatusEarlyHints || resp.Header.Get("Link") == "" {
						t.Fatalf("first answer %d %v", resp.StatusCode, resp.Header)
					}
					close(got)
					if resp, err = http.ReadResponse(c.br, nil); err != nil {
						t.Fatal(err)
					}
					if b, err := io.ReadAll(resp.Body); err != nil || string(b) != "second" {
						t.Fatalf("final answer %q %v", b, err)
					}
					return
				}
				first := make([]byte, len("first "))
				if _, err := io.ReadFull(resp.Body, first); err != nil || string(first) != "first " {
					t.Fatalf("flushed bytes %q %v", first, err)
				}
				close(got)
				if rest, err := io.ReadAll(resp.Body); err != nil || string(rest) != "second" {
					t.Fatalf("rest %q %v", rest, err)
				}
			})
		})
	}
}
