// Command benchtool is the helper of scripts/bench-proxy.sh: an origin file server, a fake
// AList /api/fs/link, a signed-URL printer and two load generators (many small requests,
// a few large streams with the target's peak RSS). Loopback only; every run is time-bounded.
//
//	benchtool origin -addr 127.0.0.1:18090 -dir DIR
//	benchtool alist  -addr 127.0.0.1:18091 -origin http://127.0.0.1:18090 -token T
//	benchtool url    -key K -worker http://127.0.0.1:18092 -ip 127.0.0.1 -path /1k.bin -size 1024
//	benchtool load   -url URL -c 32 -d 8s
//	benchtool stream -url URL -n 4 -d 60s -pid PID
//	benchtool slow   -url URL -n 1000 -rate 65536 -d 30s -pid PID
//	benchtool wait   -addr 127.0.0.1:18092 -d 10s
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alist-edge/alist-edge/pkg/sign"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchtool origin|alist|url|load|stream|wait [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	var err error
	switch os.Args[1] {
	case "origin":
		addr := fs.String("addr", "127.0.0.1:18090", "listen address")
		dir := fs.String("dir", ".", "folder to serve")
		_ = fs.Parse(os.Args[2:])
		err = serve(*addr, http.FileServer(http.Dir(*dir)))
	case "alist":
		addr := fs.String("addr", "127.0.0.1:18091", "listen address")
		origin := fs.String("origin", "http://127.0.0.1:18090", "origin base URL")
		token := fs.String("token", "", "required Authorization")
		_ = fs.Parse(os.Args[2:])
		err = serve(*addr, fakeAlist(*origin, *token))
	case "url":
		key := fs.String("key", "", "signing key")
		worker := fs.String("worker", "", "WORKER_ADDRESS of the proxy")
		ip := fs.String("ip", "127.0.0.1", "client IP signed into ipSign")
		path := fs.String("path", "/1k.bin", "decoded file path")
		size := fs.Int64("size", 0, "file size for additionalInfo")
		_ = fs.Parse(os.Args[2:])
		kr := sign.NewKeyringFromSecrets(*key)
		info := &sign.AdditionalInfo{PathHash: sign.PathHash(*path), FileSize: *size, ExpireTime: time.Now().Add(24 * time.Hour).Unix()}
		p := kr.BuildParams(*path, sign.WorkerAddr(*worker), *ip, 0, info)
		fmt.Println(sign.DownloadURL(sign.WorkerAddr(*worker), (&url.URL{Path: *path}).EscapedPath(), p))
	case "load":
		u := fs.String("url", "", "URL to GET")
		c := fs.Int("c", 32, "connections")
		d := fs.Duration("d", 8*time.Second, "duration")
		_ = fs.Parse(os.Args[2:])
		err = load(*u, *c, *d)
	case "stream":
		u := fs.String("url", "", "URL of a large file")
		n := fs.Int("n", 4, "parallel streams")
		d := fs.Duration("d", 60*time.Second, "time limit")
		pid := fs.Int("pid", 0, "process whose peak RSS is sampled while streaming")
		_ = fs.Parse(os.Args[2:])
		err = stream(*u, *n, *d, *pid)
	case "slow":
		u := fs.String("url", "", "URL of a large file")
		n := fs.Int("n", 1000, "concurrent slow downloads")
		rate := fs.Int("rate", 64<<10, "bytes per second each client reads")
		d := fs.Duration("d", 30*time.Second, "how long the clients read")
		pid := fs.Int("pid", 0, "process whose peak RSS is sampled")
		_ = fs.Parse(os.Args[2:])
		err = slow(*u, *n, *rate, *d, *pid)
	case "wait":
		addr := fs.String("addr", "", "host:port")
		d := fs.Duration("d", 10*time.Second, "time limit")
		_ = fs.Parse(os.Args[2:])
		err = wait(*addr, *d)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtool:", err)
		os.Exit(1)
	}
}

func serve(addr string, h http.Handler) error {
	if host, _, _ := net.SplitHostPort(addr); host != "127.0.0.1" && host != "::1" && host != "localhost" {
		return errors.New("loopback addresses only")
	}
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	return srv.ListenAndServe()
}

// fakeAlist answers /api/fs/link with the origin URL of the path, like AList with an admin token.
func fakeAlist(origin, token string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		if r.Header.Get("Authorization") != token {
			_, _ = io.WriteString(w, `{"code":401,"message":"token is invalidated","data":null}`)
			return
		}
		var req struct {
			Path string `json:"path"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			_, _ = io.WriteString(w, `{"code":400,"message":"bad request","data":null}`)
			return
		}
		link := origin + (&url.URL{Path: req.Path}).EscapedPath()
		_ = json.NewEncoder(w).Encode(map[string]any{"code": 200, "message": "success",
			"data": map[string]any{"url": link, "header": nil}})
	})
}

func client(conns int) *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true,
		ReadBufferSize: 256 << 10}}
}

// load: conns workers GET u in a loop for d; prints "requests bytes seconds errors".
func load(u string, conns int, d time.Duration) error {
	c := client(conns)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var reqs, bytes, errs atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 64<<10)
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
				resp, err := c.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						errs.Add(1)
					}
					continue
				}
				n, err := io.CopyBuffer(io.Discard, resp.Body, buf)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 {
					if ctx.Err() == nil {
						errs.Add(1)
					}
					continue
				}
				reqs.Add(1)
				bytes.Add(n)
			}
		}()
	}
	wg.Wait()
	fmt.Printf("%d %d %.3f %d\n", reqs.Load(), bytes.Load(), time.Since(start).Seconds(), errs.Load())
	return nil
}

// stream: n parallel full downloads of u; prints "bytes seconds peak_rss_kib errors".
func stream(u string, n int, d time.Duration, pid int) error {
	c := client(n)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var peak atomic.Int64
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if pid > 0 {
				if kb := rssKiB(pid); kb > peak.Load() {
					peak.Store(kb)
				}
			}
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	var total, errs atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
			resp, err := c.Do(req)
			if err != nil {
				errs.Add(1)
				return
			}
			m, err := io.CopyBuffer(io.Discard, resp.Body, make([]byte, 256<<10))
			resp.Body.Close()
			total.Add(m)
			if err != nil || resp.StatusCode != 200 || (resp.ContentLength >= 0 && m != resp.ContentLength) {
				errs.Add(1)
			}
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	close(done)
	<-sampled
	fmt.Printf("%d %.3f %d %d\n", total.Load(), secs, peak.Load(), errs.Load())
	return nil
}

func rssKiB(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

func wait(addr string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s not listening after %v", addr, d)
}

// slow: n clients each download u reading rate bytes/s for d (the body is then abandoned);
// prints "clients_ok bytes peak_rss_kib errors". An error is a failed request, a status other
// than 200, or a body that ended (or broke) before d while short of its Content-Length.
func slow(u string, n, rate int, d time.Duration, pid int) error {
	tr := &http.Transport{MaxIdleConnsPerHost: n, MaxConnsPerHost: n, DisableCompression: true}
	c := &http.Client{Transport: tr}
	ctx, cancel := context.WithTimeout(context.Background(), d+30*time.Second)
	defer cancel()
	var peak atomic.Int64
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if kb := rssKiB(pid); pid > 0 && kb > peak.Load() {
				peak.Store(kb)
			}
			select {
			case <-done:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	var total, errs, okc atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(d)
	const tick = 250 * time.Millisecond
	chunk := max(rate/int(time.Second/tick), 1)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Spread the connects over the first second, as real clients arrive.
			time.Sleep(time.Duration(i) * time.Second / time.Duration(n))
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
			resp, err := c.Do(req)
			if err != nil {
				errs.Add(1)
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 {
				errs.Add(1)
				return
			}
			buf := make([]byte, chunk)
			var got int64
			t := time.NewTicker(tick)
			defer t.Stop()
			for time.Now().Before(end) {
				m, err := io.ReadFull(resp.Body, buf)
				got += int64(m)
				if err != nil {
					if !(err == io.EOF || err == io.ErrUnexpectedEOF) || got != resp.ContentLength {
						errs.Add(1)
						total.Add(got)
						return
					}
					break
				}
				<-t.C
			}
			total.Add(got)
			okc.Add(1)
		}()
	}
	wg.Wait()
	close(done)
	<-sampled
	fmt.Printf("%d %d %d %d\n", okc.Load(), total.Load(), peak.Load(), errs.Load())
	return nil
}
