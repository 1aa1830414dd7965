// Command soaktool is the soak test of the download proxy (`make soak`, scripts/soak.sh): it
// starts a fake AList (internal/alisttest) and the proxy binary on loopback, drives the proxy
// for a fixed time with many concurrent keep-alive connections and a mix of valid, rejected,
// rate-limited and Range requests, and reports requests served, 5xx count, p99 latency, RSS
// at start and end (with samples) and the proxy's goroutines (go_goroutines from its admin
// /metrics) before and after. It exits non-zero when a 5xx was seen or goroutines did not
// return to the start value.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/alist-edge/alist-edge/internal/alisttest"
	"github.com/alist-edge/alist-edge/pkg/sign"
)

const (
	token  = "soak-token-0123456789abcdef"
	worker = "https://dl.soak.test"
	hotIP  = "198.51.100.200" // the rate-limited client
	limit  = 2000             // IPSUBNET_WINDOWTIME_LIMIT per WINDOW_TIME=60s
)

func main() {
	bin := flag.String("proxy", "bin/proxy", "proxy binary")
	dur := flag.Duration("duration", 60*time.Second, "load duration")
	conns := flag.Int("conns", 1000, "concurrent keep-alive connections")
	sample := flag.Duration("sample", 5*time.Second, "RSS/goroutine sampling interval")
	flag.Parse()
	if err := run(*bin, *dur, *conns, *sample); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func run(bin string, dur time.Duration, conns int, sampleEvery time.Duration) error {
	al := alisttest.New(token)
	defer al.Close()
	files := map[string][]byte{}
	for i := range 20 {
		p := fmt.Sprintf("/soak/file-%02d.bin", i)
		data := make([]byte, 4<<10+i*512)
		for j := range data {
			data[j] = byte(i + j)
		}
		files[p] = data
		al.Put(p, &alisttest.File{Data: data, ModTime: time.Unix(1700000000, 0)})
	}
	pub, err := freePort()
	if err != nil {
		return err
	}
	adm, err := freePort()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "alist-edge-soak-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"TOKEN="+token, "ADDRESS="+al.URL, "WORKER_ADDRESS="+worker, "LISTEN_ADDR="+pub, "ADMIN_ADDR="+adm,
		"CLIENT_IP_HEADER=CF-Connecting-IP", "TRUSTED_PROXIES=127.0.0.1/32", "DB_MODE=sqlite",
		"SQLITE_PATH="+filepath.Join(dir, "soak.db"), "WINDOW_TIME=60s", "IPSUBNET_WINDOWTIME_LIMIT="+strconv.Itoa(limit),
		"BLOCK_TIME=60s", "LOG_LEVEL=error", "LINK_TTL=10m")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			_ = cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { _ = cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				_ = cmd.Process.Kill()
			}
		}
	}
	defer stop()
	admin := "http://" + adm
	if err := waitReady(admin+"/readyz", 20*time.Second); err != nil {
		return err
	}
	pid := cmd.Process.Pid
	g0, rss0, err := sample(admin, pid)
	if err != nil {
		return err
	}
	fmt.Printf("start: goroutines %d, RSS %.1f MiB\n", g0, mib(rss0))

	kr, err := sign.NewKeyring("", token)
	if err != nil {
		return err
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	signed := func(p, ip string) string {
		info := &sign.AdditionalInfo{PathHash: sign.PathHash(p), FileSize: int64(len(files[p])), ExpireTime: time.Now().Unix() + 86400}
		return sign.DownloadURL("http://"+pub, (&url.URL{Path: p}).EscapedPath(), kr.BuildParams(p, worker, ip, 0, info))
	}

	tr := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns,
		DisableCompression: true, IdleConnTimeout: 5 * time.Minute}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	var (
		byClass  [6]atomic.Int64
		byStatus sync.Map
		errs     atomic.Int64
		lastErr  atomic.Value
		mu       sync.Mutex
		lat      = make([]time.Duration, 0, 1<<20)
		kinds    [4]atomic.Int64
	)
	var wg sync.WaitGroup
	for w := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			local := make([]time.Duration, 0, 4096)
			// Each connection is a "client" with its own address, well under the rate limit.
			ip := fmt.Sprintf("10.%d.%d.%d", w>>16&255, w>>8&255, w&255+1)
			for ctx.Err() == nil {
				p := paths[rng.IntN(len(paths))]
				var target string
				rangeHdr := ""
				reqIP := ip
				k := rng.IntN(100)
				switch {
				case k < 55: // valid download
					target = signed(p, ip)
					kinds[0].Add(1)
				case k < 70: // valid Range
					target = signed(p, ip)
					a := rng.IntN(len(files[p]))
					rangeHdr = fmt.Sprintf("bytes=%d-%d", a, a+rng.IntN(2048))
					kinds[1].Add(1)
				case k < 85: // rejected: forged signature or hostile path
					if rng.IntN(2) == 0 {
						target = strings.Replace(signed(p, ip), "sign=", "sign=AA", 1)
					} else {
						target = "http://" + pub + "/soak/%2e%2e/%c0%ae?sign=x:0"
					}
					kinds[2].Add(1)
				default: // the rate-limited client
					reqIP = hotIP
					target = signed(p, hotIP)
					kinds[3].Add(1)
				}
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
				req.Header.Set("CF-Connecting-IP", reqIP)
				if rangeHdr != "" {
					req.Header.Set("Range", rangeHdr)
				}
				start := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						errs.Add(1)
						lastErr.Store(err.Error())
					}
					continue
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil && ctx.Err() == nil {
					errs.Add(1)
					lastErr.Store(err.Error())
					continue
				}
				d := time.Since(start)
				if ctx.Err() != nil {
					break
				}
				local = append(local, d)
				if c := resp.StatusCode / 100; c < len(byClass) {
					byClass[c].Add(1)
				}
				v, _ := byStatus.LoadOrStore(resp.StatusCode, new(atomic.Int64))
				v.(*atomic.Int64).Add(1)
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}()
	}
	// Samples during the run.
	var samples []string
	var rssSeries []int64
	tick := time.NewTicker(sampleEvery)
	startAt := time.Now()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-tick.C:
			g, rss, err := sample(admin, pid)
			if err == nil {
				rssSeries = append(rssSeries, rss)
				samples = append(samples, fmt.Sprintf("t=%2.0fs goroutines=%d rss=%.1fMiB", time.Since(startAt).Seconds(), g, mib(rss)))
			}
		}
	}
	tick.Stop()
	wg.Wait()
	elapsed := time.Since(startAt)
	tr.CloseIdleConnections()
	// The proxy's pooled upstream connections end when the upstream closes them (as an idle
	// upstream would); then the proxy must be back at its starting goroutine count.
	al.CloseClientConnections()
	var g1 int
	var rss1 int64
	deadline := time.Now().Add(20 * time.Second)
	for {
		g1, rss1, err = sample(admin, pid)
		if err != nil {
			return err
		}
		if g1 <= g0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	q := func(f float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(f*float64(len(lat))))]
	}
	total := int64(len(lat))
	fmt.Printf("duration %v, %d connections\n", elapsed.Round(time.Millisecond), conns)
	fmt.Printf("requests answered: %d (%.0f/s); mix sent: valid %d, range %d, rejected %d, hot-IP %d\n", total,
		float64(total)/elapsed.Seconds(), kinds[0].Load(), kinds[1].Load(), kinds[2].Load(), kinds[3].Load())
	var st []string
	byStatus.Range(func(k, v any) bool {
		st = append(st, fmt.Sprintf("%d:%d", k.(int), v.(*atomic.Int64).Load()))
		return true
	})
	sort.Strings(st)
	fmt.Printf("by status: %s\n", strings.Join(st, " "))
	fmt.Printf("2xx %d, 4xx %d, 5xx %d, transport errors %d\n", byClass[2].Load(), byClass[4].Load(), byClass[5].Load(), errs.Load())
	if e, ok := lastErr.Load().(string); ok {
		fmt.Printf("last transport error: %s\n", e)
	}
	fmt.Printf("latency p50 %v, p99 %v, max %v\n", q(0.50).Round(time.Microsecond), q(0.99).Round(time.Microsecond), q(1).Round(time.Microsecond))
	for _, s := range samples {
		fmt.Println("  sample", s)
	}
	if n := len(rssSeries); n >= 4 {
		// Trend: the second half of the run against its own start (warm-up excluded).
		h := rssSeries[n/2:]
		fmt.Printf("RSS over the second half of the load: %.1f → %.1f MiB (%+.1f MiB)\n", mib(h[0]), mib(h[len(h)-1]), mib(h[len(h)-1]-h[0]))
	}
	fmt.Printf("end: goroutines %d (start %d), RSS %.1f MiB (start %.1f MiB)\n", g1, g0, mib(rss1), mib(rss0))
	stop()
	var problems []string
	if byClass[5].Load() != 0 {
		problems = append(problems, fmt.Sprintf("%d 5xx answers", byClass[5].Load()))
	}
	if errs.Load() != 0 {
		problems = append(problems, fmt.Sprintf("%d transport errors", errs.Load()))
	}
	if g1 > g0 {
		problems = append(problems, fmt.Sprintf("goroutines %d at the end, %d at the start", g1, g0))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	fmt.Println("PASS")
	return nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func waitReady(u string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		resp, err := http.Get(u)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("proxy not ready at %s: %v", u, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sample reads go_goroutines from the admin /metrics and the RSS from /proc (falling back to
// process_resident_memory_bytes).
func sample(admin string, pid int) (int, int64, error) {
	resp, err := http.Get(admin + "/metrics")
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	g, rss := -1, int64(-1)
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "go_goroutines "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			g = int(f)
		}
		if v, ok := strings.CutPrefix(line, "process_resident_memory_bytes "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			rss = int64(f)
		}
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				rss = kb << 10
			}
		}
	}
	if g < 0 {
		return 0, 0, errors.New("no go_goroutines in /metrics")
	}
	return g, rss, nil
}
