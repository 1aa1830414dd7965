package proxy

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/alist-edge/alist-edge/internal/alisttest"
	"github.com/alist-edge/alist-edge/internal/tcpacct"
)

// bigOrigin puts a size-byte file at /big.bin in e's origin (a sparse file for the local
// folder, a synthetic upstream with Range support for AList links).
func bigOrigin(t *testing.T, e *testEnv, size int64) {
	t.Helper()
	if e.local != "" {
		f, err := os.Create(filepath.Join(e.local, "big.bin"))
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(size); err != nil {
			t.Fatal(err)
		}
		f.Close()
		return
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "big.bin", time.Unix(1700000000, 0), &zeros{n: size})
	}))
	t.Cleanup(up.Close)
	e.alist.Put("/big.bin", &alisttest.File{LinkURL: up.URL + "/big.bin"})
}

// smallRcvbufDial connects to addr with a 64 KiB receive buffer, so what the client's kernel
// acknowledged but the client did not read stays small next to what it read.
func smallRcvbufDial(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 64<<10)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return c.(*net.TCPConn)
}

// readBody sends a GET for target on rw and reads the answer's head and then exactly n body
// bytes, with no read-ahead: n is what the client received.
func readBody(t *testing.T, rw io.ReadWriter, target string, n int64) {
	t.Helper()
	req := "GET " + target + " HTTP/1.1\r\nHost: proxy.test\r\nCF-Connecting-IP: " + testIP + "\r\n\r\n"
	if _, err := io.WriteString(rw, req); err != nil {
		t.Fatal(err)
	}
	var head []byte
	b := make([]byte, 1)
	for !bytes.HasSuffix(head, []byte("\r\n\r\n")) {
		if _, err := io.ReadFull(rw, b); err != nil {
			t.Fatalf("head: %v after %q", err, head)
		}
		head = append(head, b[0])
	}
	if !bytes.HasPrefix(head, []byte("HTTP/1.1 200 ")) {
		t.Fatalf("answer %q", head)
	}
	// A client slower than the proxy (as a rate-limited one is) keeps the send buffer full.
	for n > 0 {
		m, err := io.CopyN(io.Discard, rw, min(n, 1<<20))
		if err != nil {
			t.Fatalf("body: %v", err)
		}
		n -= m
		time.Sleep(2 * time.Millisecond)
	}
}

// TestAbortedDownloadChargedWhatClientGot: a client that reads part of a large download and
// then resets the connection is charged what it received (its TCP stack acknowledged), within
// 1 %, not what the proxy handed to its kernel (the send buffer, megabytes on loopback).
func TestAbortedDownloadChargedWhatClientGot(t *testing.T) {
	const size = 256 << 20
	const read = 26<<20 - 300000 // not a multiple of the 4 MiB sendfile step
	for _, tc := range []struct {
		name       string
		local, tls bool
	}{
		{"local", true, false},
		{"upstream", false, false},
		{"local-tls", true, true},
		{"upstream-tls", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOpts{local: tc.local})
			bigOrigin(t, e, size)
			addr := e.srv.URL[len("http://"):]
			if tc.tls {
				s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					defer e.finished.Add(1)
					e.h.ServeHTTP(w, r)
				}))
				s.Config.ConnContext = tcpacct.ConnContext
				s.Listener = tcpacct.Listener(s.Listener)
				s.StartTLS()
				t.Cleanup(s.Close)
				addr = s.Listener.Addr().String()
			}
			tcp := smallRcvbufDial(t, addr)
			var rw io.ReadWriter = tcp
			if tc.tls {
				tc := tls.Client(tcp, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
				if err := tc.Handshake(); err != nil {
					t.Fatal(err)
				}
				rw = tc
			}
			readBody(t, rw, e.uri("/big.bin", testIP), read)
			_ = tcp.SetLinger(0) // the close resets: what is queued for us is dropped
			_ = tcp.Close()
			e.waitFinished(1)
			got := e.store.usage.Load()
			t.Logf("read %d, charged %d (%+.3f %%)", read, got, 100*float64(got-read)/read)
			// The client's kernel may not have acknowledged the last segments it delivered (delayed
			// ACK, 64 KiB segments on loopback) when it reset: the charge may fall a little short.
			if d := got - read; d < -read/100 || d > read/100 {
				t.Fatalf("charged %d bytes for %d received: more than 1 %% apart", got, read)
			}
		})
	}
}

// TestCompleteDownloadChargedInFull: with the acknowledged-bytes accounting in use, answers
// written in full are charged exactly their size: whole files from both origins, a Range, and
// two answers on one kept-alive connection (the second starts while the first may still be in
// flight).
func TestCompleteDownloadChargedInFull(t *testing.T) {
	const size = 8<<20 + 12345
	for _, local := range []bool{true, false} {
		t.Run(map[bool]string{true: "local", false: "upstream"}[local], func(t *testing.T) {
			e := newEnv(t, envOpts{local: local})
			bigOrigin(t, e, size)
			e.put("/small.txt", []byte("small answer"))
			samples := deliverySamples.Load()
			target := e.uri("/big.bin", testIP)
			if r := e.get(target); r.status != 200 || len(r.body) != size || r.err != nil {
				t.Fatalf("status %d, %d bytes, %v", r.status, len(r.body), r.err)
			}
			e.waitFinished(1)
			if u := e.store.usage.Load(); u != size {
				t.Fatalf("whole file: charged %d, want %d", u, size)
			}
			if deliverySamples.Load() == samples {
				t.Fatal("the connection's counters were never read: the acknowledged-bytes path is not in use")
			}
			if r := e.get(target, "Range", "bytes=1000-300999"); r.status != 206 || len(r.body) != 300000 {
				t.Fatalf("range: %d, %d bytes", r.status, len(r.body))
			}
			e.waitFinished(2)
			if u := e.store.usage.Load(); u != size+300000 {
				t.Fatalf("after a range: charged %d, want %d", u, size+300000)
			}
			// Two answers back to back on one connection.
			c, err := net.Dial("tcp", e.srv.URL[len("http://"):])
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			small := e.uri("/small.txt", testIP)
			req := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: x\r\nCF-Connecting-IP: %s\r\n\r\n", target, testIP) +
				fmt.Sprintf("GET %s HTTP/1.1\r\nHost: x\r\nCF-Connecting-IP: %s\r\n\r\n", small, testIP)
			if _, err := io.WriteString(c, req); err != nil {
				t.Fatal(err)
			}
			time.Sleep(50 * time.Millisecond) // the first answer fills the socket buffers first
			var total int64
			br := bufio.NewReader(c)
			for range 2 {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatal(err)
				}
				n, err := io.Copy(io.Discard, resp.Body)
				if err != nil || strconv.FormatInt(n, 10) != resp.Header.Get("Content-Length") {
					t.Fatalf("pipelined answer: %d bytes, %v", n, err)
				}
				total += n
			}
			e.waitFinished(4)
			if u := e.store.usage.Load(); u != size+300000+total {
				t.Fatalf("kept-alive pair: charged %d, want %d", u-size-300000, total)
			}
		})
	}
}

// TestKilledWhileDrainingChargedWhatClientGot: the proxy wrote the whole answer into the
// socket buffers, then the client, which had read only part of it, reset. The answer is
// charged what the client acknowledged, not its full size: the stream waits for the
// acknowledgments before it settles (a download manager killed near the end of a file).
func TestKilledWhileDrainingChargedWhatClientGot(t *testing.T) {
	const size = 3 << 20
	const read = 512 << 10
	for _, local := range []bool{true, false} {
		t.Run(map[bool]string{true: "local", false: "upstream"}[local], func(t *testing.T) {
			e := newEnv(t, envOpts{local: local})
			bigOrigin(t, e, size)
			tcp := smallRcvbufDial(t, e.srv.URL[len("http://"):])
			readBody(t, tcp, e.uri("/big.bin", testIP), read)
			deadline := time.Now().Add(5 * time.Second)
			for counterValue(t, e.m.BytesStreamed) < size {
				if time.Now().After(deadline) {
					t.Fatalf("the proxy queued %v of %d bytes: socket buffers too small for this test", counterValue(t, e.m.BytesStreamed), size)
				}
				time.Sleep(2 * time.Millisecond)
			}
			time.Sleep(20 * time.Millisecond) // the handler is past its last write
			_ = tcp.SetLinger(0)
			_ = tcp.Close()
			e.waitFinished(1)
			got := e.store.usage.Load()
			t.Logf("read %d of %d, charged %d", read, size, got)
			if d := got - read; d < -(64<<10) || d > 192<<10 { // the client's receive buffer, unread
				t.Fatalf("charged %d for %d received (answer %d)", got, read, size)
			}
		})
	}
}
