package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alist-edge/alist-edge/internal/alisttest"
)

// readAndLeave opens a raw connection, sends a signed GET, reads the answer's head and n body
// bytes, then closes the connection with a reset (the way a killed download manager leaves).
func (e *testEnv) readAndLeave(target string, n int64) {
	e.t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
	if err != nil {
		e.t.Fatal(err)
	}
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nCF-Connecting-IP: %s\r\n\r\n", target, testIP)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("status %d", resp.StatusCode)
	}
	if _, err := io.CopyN(io.Discard, resp.Body, n); err != nil {
		e.t.Fatal(err)
	}
	_ = c.(*net.TCPConn).SetLinger(0)
	_ = c.Close()
}

// accessLine returns the access line of the n-th request (1-based) once it is written.
func (e *testEnv) accessLine(n int64) string {
	e.t.Helper()
	e.waitFinished(n)
	for _, l := range strings.Split(e.logs.String(), "\n") {
		if strings.Contains(l, `"msg":"access"`) && strings.Contains(l, fmt.Sprintf(`-%x"`, n)) {
			return l
		}
	}
	e.t.Fatalf("no access line for request %d:\n%s", n, e.logs.String())
	return ""
}

// TestClientGoneIsNotAnError: one rule for a client that leaves mid-download, for both
// origins: status 499 and reason client_gone in the access line, the client_gone outcome in the
// metrics, no error counted and no "request failed" warning; an upstream that dies mid-stream is
// upstream_aborted, an error.
func TestClientGoneIsNotAnError(t *testing.T) {
	const size = 64 << 20 // far more than the socket buffers hold
	for _, local := range []bool{true, false} {
		t.Run(map[bool]string{true: "local", false: "upstream"}[local], func(t *testing.T) {
			e := newEnv(t, envOpts{local: local})
			bigOrigin(t, e, size)
			e.readAndLeave(e.uri("/big.bin", testIP), 1<<20)
			line := e.accessLine(1)
			if !strings.Contains(line, `"status":499`) || !strings.Contains(line, `"reason":"client_gone"`) {
				t.Fatalf("access line: %s", line)
			}
			if strings.Contains(e.logs.String(), "request failed") {
				t.Fatalf("a client that left was logged as a failure:\n%s", e.logs.String())
			}
			if v := counterValue(t, e.m.Requests.WithLabelValues("client_gone", "")); v != 1 {
				t.Fatalf("client_gone outcome counted %v times", v)
			}
			for _, label := range []string{"upstream", "aborted", "upstream_aborted", "client_gone"} {
				if v := counterValue(t, e.m.Requests.WithLabelValues("error", label)); v != 0 {
					t.Fatalf("error{%s} = %v for a client that left", label, v)
				}
			}
		})
	}
	t.Run("upstream dies", func(t *testing.T) {
		e := newEnv(t, envOpts{})
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "10000000")
			_, _ = w.Write(make([]byte, 1<<20))
			panic(http.ErrAbortHandler)
		}))
		defer up.Close()
		e.alist.Put("/dies.bin", &alisttest.File{LinkURL: up.URL + "/dies.bin"})
		r := e.get(e.uri("/dies.bin", testIP))
		if r.err == nil {
			t.Fatalf("a truncated answer looked complete: %d, %d bytes", r.status, len(r.body))
		}
		line := e.accessLine(1)
		if !strings.Contains(line, `"reason":"upstream_aborted"`) {
			t.Fatalf("access line: %s", line)
		}
		if v := counterValue(t, e.m.Requests.WithLabelValues("error", "upstream_aborted")); v != 1 {
			t.Fatalf("error{upstream_aborted} = %v", v)
		}
	})
}

// TestClientLeavingCancelsUpstream: a client that leaves before the answer starts cancels the
// AList call and the upstream fetch (net/http cancels the request's context), instead of
// leaving them running for UPSTREAM_HEADER_TIMEOUT.
func TestClientLeavingCancelsUpstream(t *testing.T) {
	for _, stage := range []string{"alist", "upstream"} {
		t.Run(stage, func(t *testing.T) {
			e := newEnv(t, envOpts{env: map[string]string{"UPSTREAM_HEADER_TIMEOUT": "60s", "ALIST_TIMEOUT": "60s"}})
			started, cancelled := make(chan struct{}, 1), make(chan struct{}, 1)
			hang := func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body) // net/http watches for a close only after the body
				started <- struct{}{}
				select {
				case <-r.Context().Done():
					cancelled <- struct{}{}
				case <-time.After(30 * time.Second):
				}
			}
			up := httptest.NewServer(http.HandlerFunc(hang))
			defer up.Close()
			if stage == "alist" {
				e.alist.Hook = func(w http.ResponseWriter, r *http.Request) bool {
					if r.URL.Path != "/api/fs/link" {
						return false
					}
					hang(w, r)
					return true
				}
			}
			e.alist.Put("/f.bin", &alisttest.File{LinkURL: up.URL + "/f.bin"})
			c, err := net.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nCF-Connecting-IP: %s\r\n\r\n", e.uri("/f.bin", testIP), testIP)
			select {
			case <-started:
			case <-time.After(5 * time.Second):
				t.Fatal("the request never reached " + stage)
			}
			_ = c.Close()
			select {
			case <-cancelled:
			case <-time.After(5 * time.Second):
				t.Fatalf("the %s call kept running after the client left", stage)
			}
			if line := e.accessLine(1); !strings.Contains(line, `"status":499`) {
				t.Fatalf("access line: %s", line)
			}
		})
	}
}

// TestUnpromptedUpstreamBytesNeverLeak: an upstream that writes an unprompted answer on an idle
// kept-alive connection (a 408 before it closes, as some servers do) must not hand that answer
// to the next request: every download gets its own file's bytes.
func TestUnpromptedUpstreamBytesNeverLeak(t *testing.T) {
	e := newEnv(t, envOpts{env: map[string]string{"LINK_TTL": "0"}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func(c net.Conn) {
				defer c.Close()
				br := bufio.NewReader(c)
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				body := "file:" + req.URL.Path
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
				time.Sleep(50 * time.Millisecond)
				// Unprompted, while the connection is idle in the proxy's pool.
				io.WriteString(c, "HTTP/1.1 408 Request Timeout\r\nContent-Length: 7\r\nConnection: close\r\n\r\ntimeout")
				time.Sleep(time.Second)
			}(c)
		}
	}()
	for i := 0; i < 3; i++ {
		p := fmt.Sprintf("/f%d.bin", i)
		e.alist.Put(p, &alisttest.File{LinkURL: "http://" + ln.Addr().String() + p})
		r := e.get(e.uri(p, testIP))
		if r.status != http.StatusOK || string(r.body) != "file:"+p {
			t.Fatalf("request %d got %d %q: another request's bytes", i, r.status, r.body)
		}
		time.Sleep(150 * time.Millisecond)
	}
}
