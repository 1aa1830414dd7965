package proxy

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countingListener counts the Write calls the server makes on its accepted connections: the
// proxy's writes to its clients.
type countingListener struct {
	net.Listener
	writes atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, writes: &l.writes}, nil
}

type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1) // before the write: a client that has the bytes has seen the count
	return c.Conn.Write(p)
}

// countingServer serves e's handler on a listener that counts the writes to the clients;
// finished counts the requests that left the handler.
type countingServer struct {
	*testServer
	ln       *countingListener
	finished atomic.Int64
}

func newCountingServer(t testing.TB, e *testEnv) *countingServer {
	t.Helper()
	cs := &countingServer{}
	cs.testServer = startPublic(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer cs.finished.Add(1)
		e.h.ServeHTTP(w, r)
	}), func(ln net.Listener) net.Listener {
		cs.ln = &countingListener{Listener: ln}
		return cs.ln
	})
	return cs
}

func (cs *countingServer) waitFinished(t testing.TB, n int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for cs.finished.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("handler did not finish %d requests (finished %d)", n, cs.finished.Load())
		}
		time.Sleep(time.Millisecond)
	}
}

// getFrom sends GET url (a signed target on some server) with CF-Connecting-IP and hdr pairs.
func getFrom(t testing.TB, c *http.Client, url string, hdr ...string) result {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("CF-Connecting-IP", testIP)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, rerr := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, header: resp.Header, body: body, err: rerr}
}

// TestShortAnswersExact: every size around the buffer boundaries (the 16 KiB head, the 256 KiB
// collecting buffer) arrives byte-exact, whole or as a Range, with the upstream's
// Content-Length, and usage is exactly what the client got.
func TestShortAnswersExact(t *testing.T) {
	sizes := []int{0, 1, 1023, 16 << 10, 16<<10 + 1, 64 << 10, 256<<10 - 1, 256 << 10, 256<<10 + 1, 1 << 20}
	const off = 333 // ranges start off the buffer alignment
	big := testData(1<<20 + 4096)
	e := newEnv(t, envOpts{})
	e.put("/big.bin", big)
	rangeTarget := e.uri("/big.bin", testIP)
	var delivered int64
	requests := int64(0)
	for _, n := range sizes {
		data := big[:n]
		p := fmt.Sprintf("/whole/%d.bin", n)
		e.put(p, data)
		t.Run(fmt.Sprintf("whole/%d", n), func(t *testing.T) {
			r := e.get(e.uri(p, testIP))
			requests++
			delivered += int64(len(r.body))
			if r.status != 200 || r.err != nil || !bytes.Equal(r.body, data) {
				t.Fatalf("status %d err %v, %d bytes (want %d, equal %v)", r.status, r.err, len(r.body), n, bytes.Equal(r.body, data))
			}
			if cl := r.header.Get("Content-Length"); cl != strconv.Itoa(n) {
				t.Fatalf("Content-Length %q, want %d", cl, n)
			}
		})
		if n == 0 {
			continue // no byte range is empty
		}
		t.Run(fmt.Sprintf("range/%d", n), func(t *testing.T) {
			r := e.get(rangeTarget, "Range", fmt.Sprintf("bytes=%d-%d", off, off+n-1))
			requests++
			delivered += int64(len(r.body))
			want := big[off : off+n]
			if r.status != 206 || r.err != nil || !bytes.Equal(r.body, want) {
				t.Fatalf("status %d err %v, %d bytes (want %d, equal %v)", r.status, r.err, len(r.body), n, bytes.Equal(r.body, want))
			}
			if cl := r.header.Get("Content-Length"); cl != strconv.Itoa(n) {
				t.Fatalf("Content-Length %q, want %d", cl, n)
			}
			if cr := r.header.Get("Content-Range"); cr != fmt.Sprintf("bytes %d-%d/%d", off, off+n-1, len(big)) {
				t.Fatalf("Content-Range %q", cr)
			}
		})
	}
	e.waitFinished(requests)
	if got := e.store.usage.Load(); got != delivered {
		t.Fatalf("usage %d, delivered %d", got, delivered)
	}
	if got := counterValue(t, e.m.BytesStreamed); int64(got) != delivered {
		t.Fatalf("bytes metric %v, delivered %d", got, delivered)
	}
}

// pacedUpstream answers /d/ paths with size bytes of testData announced by Content-Length and
// sent in pieces of piece bytes, each flushed and followed by a pause.
func pacedUpstream(e *testEnv, size, piece int, pause time.Duration) []byte {
	data := testData(size)
	e.alist.Hook = func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasPrefix(r.URL.Path, "/d/") {
			return false
		}
		w.Header().Set("Content-Length", strconv.Itoa(size))
		w.WriteHeader(200)
		rc := http.NewResponseController(w)
		for rest := data; len(rest) > 0; {
			k := min(piece, len(rest))
			if _, err := w.Write(rest[:k]); err != nil {
				return true
			}
			_ = rc.Flush()
			rest = rest[k:]
			time.Sleep(pause)
		}
		return true
	}
	return data
}

// TestShortAnswerSlowUpstream: a short body that trickles in arrives byte-exact.
func TestShortAnswerSlowUpstream(t *testing.T) {
	for _, c := range []struct{ size, piece int }{{64 << 10, 7000}, {256 << 10, 16 << 10}, {5000, 1}} {
		t.Run(fmt.Sprintf("%d_by_%d", c.size, c.piece), func(t *testing.T) {
			e := newEnv(t, envOpts{})
			pause := time.Millisecond
			if c.piece == 1 {
				pause = 0 // one byte per flush: many tiny reads, no sleeping
			}
			data := pacedUpstream(e, c.size, c.piece, pause)
			e.put("/slow.bin", []byte("unused"))
			r := e.get(e.uri("/slow.bin", testIP))
			if r.status != 200 || r.err != nil || !bytes.Equal(r.body, data) {
				t.Fatalf("status %d err %v, %d bytes of %d", r.status, r.err, len(r.body), len(data))
			}
			e.waitFinished(1)
			if u := e.store.usage.Load(); u != int64(c.size) {
				t.Fatalf("usage %d, want %d", u, c.size)
			}
		})
	}
}

// TestShortAnswerSlowUpstreamNotHeld: a short body the upstream takes long to send is not held
// back until it is complete: the client gets the headers and the first bytes early.
func TestShortAnswerSlowUpstreamNotHeld(t *testing.T) {
	e := newEnv(t, envOpts{})
	const pieces, pause = 12, 50 * time.Millisecond // 600 ms for the whole body
	data := pacedUpstream(e, 12<<10*pieces, 12<<10, pause)
	e.put("/slow.bin", []byte("unused"))
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+e.uri("/slow.bin", testIP), nil)
	req.Header.Set("CF-Connecting-IP", testIP)
	start := time.Now()
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	first := make([]byte, 1)
	if _, err := io.ReadFull(resp.Body, first); err != nil {
		t.Fatal(err)
	}
	firstByte := time.Since(start)
	rest, err := io.ReadAll(resp.Body)
	if err != nil || !bytes.Equal(append(first, rest...), data) {
		t.Fatalf("err %v, %d bytes of %d", err, 1+len(rest), len(data))
	}
	whole := time.Since(start)
	t.Logf("first byte after %v, whole body after %v", firstByte, whole)
	if whole-firstByte < 200*time.Millisecond {
		t.Fatalf("first byte after %v, whole body after %v: the body was held back", firstByte, whole)
	}
}

// TestShortAnswerUpstreamDies: an upstream that fails inside a short body (connection reset, or
// closed early) makes the proxy abort the client's transfer: the client sees the 200 and the
// bytes that arrived, then an error, never a complete-looking body; usage is what it got.
func TestShortAnswerUpstreamDies(t *testing.T) {
	for _, c := range []struct {
		name       string
		size, sent int
		reset      bool
	}{
		{"reset after 1 byte", 64 << 10, 1, true},
		{"reset after 20 KiB", 64 << 10, 20 << 10, true},
		{"reset after 200 KiB", 256 << 10, 200 << 10, true},
		{"closed after 1 byte", 64 << 10, 1, false},
		{"closed after 20 KiB", 64 << 10, 20 << 10, false},
		{"closed 1 byte short", 256 << 10, 256<<10 - 1, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, envOpts{env: map[string]string{"QUOTA_LIMIT_TOTAL_ENABLED": "true", "IPSUBNET_BANDWIDTH_LIMIT": "1TB"}})
			e.alist.Hook = func(w http.ResponseWriter, r *http.Request) bool {
				if !strings.HasPrefix(r.URL.Path, "/d/") {
					return false
				}
				w.Header().Set("Content-Length", strconv.Itoa(c.size))
				w.WriteHeader(200)
				_, _ = w.Write(testData(c.sent))
				_ = http.NewResponseController(w).Flush()
				time.Sleep(50 * time.Millisecond)
				conn, _, err := http.NewResponseController(w).Hijack()
				if err == nil {
					if c.reset {
						_ = conn.(*net.TCPConn).SetLinger(0)
					}
					conn.Close()
				}
				return true
			}
			e.put("/dies.bin", []byte("unused"))
			r := e.get(e.uri("/dies.bin", testIP))
			got := len(r.body)
			if r.err == nil {
				t.Fatalf("client read %d bytes and saw a complete response", got)
			}
			if r.status != 200 || got == 0 || got > c.sent || !bytes.Equal(r.body, testData(got)) {
				t.Fatalf("status %d, got %d bytes (sent %d)", r.status, got, c.sent)
			}
			if !c.reset && got != c.sent {
				t.Fatalf("got %d bytes, the upstream sent %d before closing", got, c.sent)
			}
			e.waitFinished(1)
			if u := e.store.usage.Load(); u != int64(got) {
				t.Fatalf("usage %d, client received %d", u, got)
			}
			if !strings.Contains(e.logs.String(), `"status":200,"bytes":`+strconv.Itoa(got)) || !strings.Contains(e.logs.String(), `"reason":"upstream_aborted"`) {
				t.Fatalf("abort not logged: %s", e.logs.String())
			}
		})
	}
}

// TestShortAnswerWrites counts the proxy's writes to the client connection for a 64 KiB answer
// (whole file and Range; upstream sending at once or in pieces): the headers and body leave in
// at most two writes, with no flush of the headers or of each upstream read in between.
func TestShortAnswerWrites(t *testing.T) {
	const size = 64 << 10
	for _, c := range []struct {
		name  string
		paced bool
		rng   bool
	}{{"whole", false, false}, {"range", false, true}, {"paced upstream", true, false}} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, envOpts{quietLog: true})
			p := "/w.bin"
			var want []byte
			var hdr []string
			switch {
			case c.paced:
				want = pacedUpstream(e, size, 8<<10, time.Millisecond)
				e.put(p, []byte("unused"))
			case c.rng:
				data := testData(1 << 20)
				e.put(p, data)
				want = data[4096 : 4096+size]
				hdr = []string{"Range", fmt.Sprintf("bytes=4096-%d", 4096+size-1)}
			default:
				want = testData(size)
				e.put(p, want)
			}
			cs := newCountingServer(t, e)
			target := cs.URL + e.uri(p, testIP)
			var worst int64
			for i := range 10 {
				before := cs.ln.writes.Load()
				r := getFrom(t, e.client, target, hdr...)
				if r.err != nil || !bytes.Equal(r.body, want) || (r.status != 200 && r.status != 206) {
					t.Fatalf("status %d err %v, %d bytes", r.status, r.err, len(r.body))
				}
				cs.waitFinished(t, int64(i+1))
				worst = max(worst, cs.ln.writes.Load()-before)
			}
			if worst > 2 {
				t.Fatalf("%d writes to the client for a %d-byte answer, want at most 2", worst, size)
			}
		})
	}
}
