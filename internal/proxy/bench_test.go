package proxy

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
)

// benchGet sends target through a keep-alive client and drains the answer.
func benchGet(b *testing.B, c *http.Client, url, ip string, want int) {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("CF-Connecting-IP", ip)
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		b.Fatalf("status %d, want %d", resp.StatusCode, want)
	}
}

func benchEnv(b *testing.B, local bool, env ...string) (*testEnv, string) {
	vars := map[string]string{}
	for i := 0; i+1 < len(env); i += 2 {
		vars[env[i]] = env[i+1]
	}
	e := newEnv(b, envOpts{local: local, quietLog: true, env: vars})
	e.put("/bench/1k.bin", testData(1024))
	target := e.srv.URL + e.uri("/bench/1k.bin", testIP)
	benchGet(b, e.client, target, testIP, 200)
	if !local {
		e.waitCached("/bench/1k.bin")
	}
	return e, target
}

// BenchmarkCachedSmallFile: the hot path of a cached link: checks, one SQLite round trip (link
// cache hit), upstream fetch over a pooled connection, 1 KiB streamed; real listeners.
func BenchmarkCachedSmallFile(b *testing.B) {
	e, target := benchEnv(b, false)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		benchGet(b, e.client, target, testIP, 200)
	}
	b.StopTimer()
	if e.alist.Calls("/api/fs/link") != 1 {
		b.Fatalf("link not cached: %d AList calls", e.alist.Calls("/api/fs/link"))
	}
}

// BenchmarkCachedSmallFilePolicy20: the same under testdata/bench/policy20.toml, whose twenty
// rules are all evaluated for every request (the last one allows); compare with
// BenchmarkCachedSmallFile in one run: go test -run '^$' -bench 'CachedSmallFile(Policy20)?$' -count 6
func BenchmarkCachedSmallFilePolicy20(b *testing.B) {
	e, target := benchEnv(b, false, "POLICY_FILE", "../../testdata/bench/policy20.toml")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		benchGet(b, e.client, target, testIP, 200)
	}
	b.StopTimer()
	if n := counterValue(b, e.m.PolicyDecisions.WithLabelValues("everyone", "allow", "enforced")); n < float64(b.N) {
		b.Fatalf("the 20th rule decided %v of %d requests", n, b.N)
	}
}

// BenchmarkCachedSmallFileParallel: the same with concurrent clients.
func BenchmarkCachedSmallFileParallel(b *testing.B) {
	e, target := benchEnv(b, false)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			benchGet(b, e.client, target, testIP, 200)
		}
	})
}

// BenchmarkLocalSmallFile: 1 KiB from the local folder.
func BenchmarkLocalSmallFile(b *testing.B) {
	e, target := benchEnv(b, true)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		benchGet(b, e.client, target, testIP, 200)
	}
}

// BenchmarkSignatureRejected: a forged sign is refused without I/O.
func BenchmarkSignatureRejected(b *testing.B) {
	e := newEnv(b, envOpts{quietLog: true})
	p := e.params("/bench/1k.bin", testIP, 1024)
	p.Sign = "AAAA" + p.Sign[4:]
	target := e.srv.URL + uriOf("/bench/1k.bin", p)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		benchGet(b, e.client, target, testIP, 401)
	}
	b.StopTimer()
	if e.store.checks.Load() != 0 || e.alist.TotalCalls() != 0 {
		b.Fatal("a rejected request did I/O")
	}
}

// BenchmarkHandlerRejectedInProcess: the refusal without the network, to see the handler's own
// cost and allocations.
func BenchmarkHandlerRejectedInProcess(b *testing.B) {
	e := newEnv(b, envOpts{quietLog: true})
	p := e.params("/bench/1k.bin", testIP, 1024)
	p.Sign = "AAAA" + p.Sign[4:]
	req, _ := http.NewRequest(http.MethodGet, "http://proxy"+uriOf("/bench/1k.bin", p), nil)
	req.RequestURI = uriOf("/bench/1k.bin", p)
	req.RemoteAddr = "127.0.0.1:5000"
	req.Header.Set("CF-Connecting-IP", testIP)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		clear(w.h)
		e.h.ServeHTTP(w, req)
	}
}

type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}

// procIO reads this process's read(2)/write(2)-family syscall counts (Linux; ok false
// elsewhere).
func procIO() (syscr, syscw int64, ok bool) {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0, 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ": ")
		n, _ := strconv.ParseInt(v, 10, 64)
		switch k {
		case "syscr":
			syscr = n
		case "syscw":
			syscw = n
		}
	}
	return syscr, syscw, true
}

// BenchmarkShortRange: a 64 KiB Range of a cached link through the real handler, the load
// test's request. writes/op counts the proxy's writes to the client connection; syscw/op and
// syscr/op are the whole test process's write and read syscalls per request (client, proxy,
// fake upstream and SQLite together), for a before/after comparison.
func BenchmarkShortRange(b *testing.B) {
	const size = 64 << 10
	e := newEnv(b, envOpts{quietLog: true})
	e.put("/bench/1m.bin", testData(1<<20))
	cs := newCountingServer(b, e)
	target := cs.URL + e.uri("/bench/1m.bin", testIP)
	rng := fmt.Sprintf("bytes=%d-%d", 1<<19, 1<<19+size-1)
	get := func() {
		req, _ := http.NewRequest(http.MethodGet, target, nil)
		req.Header.Set("CF-Connecting-IP", testIP)
		req.Header.Set("Range", rng)
		resp, err := e.client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusPartialContent || n != size {
			b.Fatalf("status %d, %d bytes", resp.StatusCode, n)
		}
	}
	get()
	e.waitCached("/bench/1m.bin")
	get() // the upstream connection is pooled now
	b.SetBytes(size)
	b.ReportAllocs()
	w0 := cs.ln.writes.Load()
	r0, s0, ok := procIO()
	b.ResetTimer()
	for b.Loop() {
		get()
	}
	b.StopTimer()
	b.ReportMetric(float64(cs.ln.writes.Load()-w0)/float64(b.N), "writes/op")
	if r1, s1, ok1 := procIO(); ok && ok1 {
		b.ReportMetric(float64(s1-s0)/float64(b.N), "syscw/op")
		b.ReportMetric(float64(r1-r0)/float64(b.N), "syscr/op")
	}
}
