package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alist-edge/alist-edge/internal/pipeline"
)

// zeros is a synthetic file of n zero bytes: an upstream can serve a huge file with Range
// support (http.ServeContent) without the test holding it anywhere.
type zeros struct{ off, n int64 }

func (z *zeros) Read(p []byte) (int, error) {
	if z.off >= z.n {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), z.n-z.off)]
	clear(p)
	z.off += int64(len(p))
	return len(p), nil
}

func (z *zeros) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
		z.off = off
	case io.SeekCurrent:
		z.off += off
	case io.SeekEnd:
		z.off = z.n + off
	}
	return z.off, nil
}

// TestLargeFileFlatMemory streams 1 GiB through each origin (a sparse file on disk for the
// local folder, a synthetic upstream for AList links) and checks the heap stays flat: nothing
// is allocated in proportion to the file.
func TestLargeFileFlatMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 2 GiB")
	}
	const size = 1 << 30
	const bound = 64 << 20
	for _, local := range []bool{true, false} {
		name := "upstream"
		if local {
			name = "local"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, envOpts{local: local, env: map[string]string{"QUOTA_LIMIT_TOTAL_ENABLED": "true", "IPSUBNET_BANDWIDTH_LIMIT": "1TB"}})
			bigOrigin(t, e, size)
			runtime.GC()
			var peak atomic.Uint64
			stop := make(chan struct{})
			sampled := make(chan struct{})
			go func() {
				defer close(sampled)
				var ms runtime.MemStats
				for {
					runtime.ReadMemStats(&ms)
					if ms.HeapInuse > peak.Load() {
						peak.Store(ms.HeapInuse)
					}
					select {
					case <-stop:
						return
					case <-time.After(20 * time.Millisecond):
					}
				}
			}()
			req, _ := http.NewRequest(http.MethodGet, e.srv.URL+e.uri("/big.bin", testIP), nil)
			req.Header.Set("CF-Connecting-IP", testIP)
			start := time.Now()
			resp, err := e.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			n, err := io.CopyBuffer(io.Discard, resp.Body, make([]byte, 256<<10))
			resp.Body.Close()
			close(stop)
			<-sampled
			if err != nil || n != size || resp.StatusCode != 200 {
				t.Fatalf("status %d, %d bytes, err %v", resp.StatusCode, n, err)
			}
			e.waitFinished(1)
			if u := e.store.usage.Load(); u != size {
				t.Fatalf("usage %d, want %d", u, size)
			}
			t.Logf("1 GiB in %v, peak HeapInuse %.1f MiB", time.Since(start).Round(time.Millisecond), float64(peak.Load())/(1<<20))
			if peak.Load() > bound {
				t.Fatalf("peak HeapInuse %d MiB > %d MiB", peak.Load()>>20, bound>>20)
			}
		})
	}
}

// fileSink is a ResponseWriter whose ReadFrom records what it was handed.
type fileSink struct {
	http.ResponseWriter
	sawFile bool
	n       int64
}

func (s *fileSink) ReadFrom(r io.Reader) (int64, error) {
	if lr, ok := r.(*io.LimitedReader); ok {
		_, s.sawFile = lr.R.(*os.File)
	}
	n, err := io.Copy(io.Discard, r)
	s.n += n
	return n, err
}

// TestReadFromKeepsSendfile: the counting writer hands the connection the *os.File itself (in
// the LimitedReader sendfile understands), chunked so usage is metered as it goes.
func TestReadFromKeepsSendfile(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(10<<20 + 5); err != nil {
		t.Fatal(err)
	}
	sink := &fileSink{ResponseWriter: httptest.NewRecorder()}
	var metered []int64
	base := &pipeline.Writer{ResponseWriter: sink}
	cw := &meterWriter{ResponseWriter: base, base: base, bytesMetric: newTestCounter()}
	cw.startStream(quotaMeter(func(d int64) { metered = append(metered, d) }), time.Minute, -1)
	src := &io.LimitedReader{R: f, N: 10<<20 + 1}
	n, err := cw.ReadFrom(src)
	if err != nil || n != 10<<20+1 || sink.n != n || base.Written != n || src.N != 0 {
		t.Fatalf("n=%d err=%v sink=%d written=%d left=%d", n, err, sink.n, base.Written, src.N)
	}
	if !sink.sawFile {
		t.Fatal("the connection did not get the *os.File: no sendfile")
	}
	if len(metered) != 3 {
		t.Fatalf("metered in %d chunks (%v), want 3", len(metered), metered)
	}
}

// TestClientIdleTimeout: a client that stops reading is dropped after CLIENT_IDLE_TIMEOUT, for
// both origins, and the keep-alive write deadline does not leak into later requests.
func TestClientIdleTimeout(t *testing.T) {
	const size = 256 << 20 // far more than the socket buffers hold
	for _, local := range []bool{true, false} {
		t.Run(map[bool]string{true: "local", false: "upstream"}[local], func(t *testing.T) {
			e := newEnv(t, envOpts{local: local, env: map[string]string{"CLIENT_IDLE_TIMEOUT": "300ms"}})
			bigOrigin(t, e, size)
			e.put("/small.txt", []byte("small"))
			req, _ := http.NewRequest(http.MethodGet, e.srv.URL+e.uri("/big.bin", testIP), nil)
			req.Header.Set("CF-Connecting-IP", testIP)
			resp, err := e.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			start := time.Now()
			e.waitFinished(1) // the handler gave up on the stalled client
			if d := time.Since(start); d > 4*time.Second {
				t.Fatalf("stalled client held the handler for %v", d)
			}
			// A fresh request on another connection is unaffected.
			time.Sleep(400 * time.Millisecond)
			if r := e.get(e.uri("/small.txt", testIP)); r.status != 200 || string(r.body) != "small" {
				t.Fatalf("after: %d %q", r.status, r.body)
			}
		})
	}
}

// TestKeepAliveAfterStream: the write deadline of a finished stream does not break the next
// request on the same connection.
func TestKeepAliveAfterStream(t *testing.T) {
	e := newEnv(t, envOpts{env: map[string]string{"CLIENT_IDLE_TIMEOUT": "200ms"}})
	e.put("/a.txt", []byte("a"))
	target := e.uri("/a.txt", testIP)
	if r := e.get(target); r.status != 200 {
		t.Fatal(r.status)
	}
	time.Sleep(400 * time.Millisecond) // longer than the deadline a leaked one would have
	if r := e.get(target); r.status != 200 || string(r.body) != "a" {
		t.Fatalf("second request on the kept-alive connection: %d %q %v", r.status, r.body, r.err)
	}
}
