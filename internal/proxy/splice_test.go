package proxy

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alist-edge/alist-edge/internal/alisttest"
)

// TestSpliceStream: a large download between plain TCP sockets moves socket to socket in the
// kernel (splice) once the client proves fast, byte-exact, whole and as a Range, with usage
// metered to the byte, and the upstream connection is reused afterwards.
func TestSpliceStream(t *testing.T) {
	const size = 40 << 20
	data := make([]byte, size)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < size; i += 8 {
		v := rng.Uint64()
		for j := 0; j < 8; j++ {
			data[i+j] = byte(v >> (8 * j))
		}
	}
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "big.bin", time.Unix(1700000000, 0), bytes.NewReader(data))
	}))
	upConns := countNewConns(up)
	up.Start()
	defer up.Close()
	e := newEnv(t, envOpts{env: map[string]string{"QUOTA_LIMIT_TOTAL_ENABLED": "true", "IPSUBNET_BANDWIDTH_LIMIT": "1TB"}})
	e.alist.Put("/big.bin", &alisttest.File{LinkURL: up.URL + "/big.bin"})

	var wantUsage int64
	for i, c := range []struct {
		rng        string
		start, end int // body = data[start:end]
	}{
		{"", 0, size},
		{"bytes=1000-", 1000, size},
		{"bytes=12345-30000000", 12345, 30000001},
		{"", 0, size},
	} {
		before := splicedBytes.Load()
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+e.uri("/big.bin", testIP), nil)
		req.Header.Set("CF-Connecting-IP", testIP)
		if c.rng != "" {
			req.Header.Set("Range", c.rng)
		}
		resp, err := e.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		n, err := io.CopyBuffer(h, resp.Body, make([]byte, 1<<20))
		resp.Body.Close()
		if err != nil || n != int64(c.end-c.start) {
			t.Fatalf("%d %q: %d bytes, %v", i, c.rng, n, err)
		}
		if got, want := fmt.Sprintf("%x", h.Sum(nil)), fmt.Sprintf("%x", sha256.Sum256(data[c.start:c.end])); got != want {
			t.Fatalf("%d %q: body differs", i, c.rng)
		}
		wantUsage += n
		e.waitFinished(int64(i + 1))
		if u := e.store.usage.Load(); u != wantUsage {
			t.Fatalf("%d: usage %d, want %d", i, u, wantUsage)
		}
		if spliced := splicedBytes.Load() - before; spliced < n/2 {
			t.Fatalf("%d %q: only %d of %d bytes spliced", i, c.rng, spliced, n)
		}
	}
	if n := upConns.Load(); n != 1 {
		t.Fatalf("upstream saw %d connections for 4 sequential downloads, want 1", n)
	}
}

// TestSpliceUpstreamDies: the upstream closes in the middle of a spliced body; the client gets
// a transfer cut short (never a complete-looking one), usage is what it received, and the
// broken connection is not reused.
func TestSpliceUpstreamDies(t *testing.T) {
	const size, sent = 64 << 20, 24 << 20
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(size))
		w.WriteHeader(200)
		buf := make([]byte, 1<<20)
		for i := 0; i < sent; i += len(buf) {
			if _, err := w.Write(buf); err != nil {
				return
			}
		}
		w.(http.Flusher).Flush()
		time.Sleep(50 * time.Millisecond)
		c, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			c.Close()
		}
	}))
	upConns := countNewConns(up)
	up.Start()
	defer up.Close()
	e := newEnv(t, envOpts{env: map[string]string{"QUOTA_LIMIT_TOTAL_ENABLED": "true", "IPSUBNET_BANDWIDTH_LIMIT": "1TB"}})
	e.alist.Put("/die.bin", &alisttest.File{LinkURL: up.URL + "/die.bin"})
	before := splicedBytes.Load()
	for i := 1; i <= 2; i++ {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+e.uri("/die.bin", testIP), nil)
		req.Header.Set("CF-Connecting-IP", testIP)
		resp, err := e.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err == nil || n >= size {
			t.Fatalf("client read %d bytes, err %v: the cut transfer looked complete", n, err)
		}
		e.waitFinished(int64(i))
		if u := e.store.usage.Load(); u != int64(i)*n && i == 1 {
			t.Fatalf("usage %d, client got %d", u, n)
		}
	}
	if splicedBytes.Load()-before < sent/2 {
		t.Fatalf("spliced %d bytes: the kernel path was not taken", splicedBytes.Load()-before)
	}
	if n := upConns.Load(); n != 2 {
		t.Fatalf("%d upstream connections, want 2 (a broken one is never reused)", n)
	}
	if !strings.Contains(e.logs.String(), `"reason":"aborted"`) {
		t.Fatalf("no aborted access line:\n%s", e.logs.String())
	}
}

// countNewConns counts the TCP connections an unstarted test server will accept.
func countNewConns(s *httptest.Server) *atomic.Int64 {
	var n atomic.Int64
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			n.Add(1)
		}
	}
	return &n
}
