package upload

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/alist-edge/alist-edge/internal/server"
)

// patternReader yields n bytes without holding them: the client side of the benchmark must not
// be what uses the memory.
type patternReader struct{ left int64 }

func (p *patternReader) Read(b []byte) (int, error) {
	if p.left <= 0 {
		return 0, io.EOF
	}
	n := min(int64(len(b)), p.left)
	for i := range b[:n] {
		b[i] = byte(i)
	}
	p.left -= n
	return int(n), nil
}

// BenchmarkPUT: one 256 MiB PUT and 16 parallel 1 MiB PUTs through the public server, and the
// heap the big one needed (streamed: flat in the file size).
//
//	go test -run XXX -bench BenchmarkPUT -benchtime 1x ./internal/upload/
func BenchmarkPUT(b *testing.B) {
	for range b.N {
		e := newEnv(b, envOpt{vars: map[string]string{"UPLOAD_MAX_SIZE": "1GB"}})
		pub := httptest.NewUnstartedServer(nil)
		pub.Config = server.PublicServer(e.svc, 0, 0, slog.New(slog.DiscardHandler))
		pub.Start()
		put := func(p string, size int64) (int, error) {
			u := pub.URL + "/upload/" + p + "?v=" + mac(testSecret, p+" "+strconv.FormatInt(size, 10))
			req, _ := http.NewRequest("PUT", u, &patternReader{left: size})
			req.ContentLength = size
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return 0, err
			}
			resp.Body.Close()
			return resp.StatusCode, nil
		}
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		const big = 256 << 20
		if code, err := put("bench/big.bin", big); err != nil || code != 201 {
			b.Fatalf("big PUT: %d %v", code, err)
		}
		bigTime := time.Since(start)
		runtime.ReadMemStats(&after)
		start = time.Now()
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if code, err := put(fmt.Sprintf("bench/small%d.bin", i), 1<<20); err != nil || code != 201 {
					b.Errorf("small PUT: %d %v", code, err)
				}
			}()
		}
		wg.Wait()
		smallTime := time.Since(start)
		b.ReportMetric(float64(big)/bigTime.Seconds()/(1<<20), "MiB/s-256MiB")
		b.ReportMetric(float64(16<<20)/smallTime.Seconds()/(1<<20), "MiB/s-16x1MiB")
		b.ReportMetric(float64(after.HeapSys)/(1<<20), "MiB-heap-sys")
		b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/(1<<20), "MiB-allocated")
		pub.Close()
	}
}
