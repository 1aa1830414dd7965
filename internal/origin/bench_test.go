package origin

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// BenchmarkUpstreamRoundTrip: one cached-link download of 1 KiB from a kept-alive upstream, the
// proxy's way (Fetcher: request, first read, close), through the tuned http.Transport. The upstream is a minimal raw HTTP/1.1 responder so that the
// figure is the client's cost, not a test server's. Reported: ns/op, allocs/op, and the CPU
// the whole process spent per request (cpu-µs/op, from getrusage: server side included).
func BenchmarkUpstreamRoundTrip(b *testing.B) {
	addr := rawUpstream(b, strings.Repeat("x", 1024))
	for _, c := range []struct {
		name string
		tr   http.RoundTripper
	}{
		{"http.Transport", NewTransport(Options{ConnectTimeout: time.Second, HeaderTimeout: time.Second})},
	} {
		for _, par := range []int{1, 16} {
			b.Run(c.name+"/par"+string(rune('0'+par/10))+string(rune('0'+par%10)), func(b *testing.B) {
				f := &Fetcher{Transport: c.tr, IdleTimeout: time.Minute}
				b.SetParallelism(par)
				b.ReportAllocs()
				cpu0 := processCPU()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					buf := make([]byte, 16<<10)
					for pb.Next() {
						resp, err := f.Fetch(context.Background(), &Request{URL: "http://" + addr + "/1k.bin", Method: http.MethodGet, Buf: buf})
						if err != nil || len(resp.Head) != 1024 {
							b.Errorf("fetch: %v", err)
							return
						}
						resp.Close()
					}
				})
				b.StopTimer()
				b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
			})
		}
		c.tr.(interface{ CloseIdleConnections() }).CloseIdleConnections()
	}
}

// rawUpstream answers every request on a connection with body, keep-alive, as fast as a
// hand-written loop can.
func rawUpstream(b *testing.B, body string) string {
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 1024\r\n\r\n" + body)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					for { // the request head, up to its blank line
						line, err := br.ReadString('\n')
						if err != nil {
							return
						}
						if line == "\r\n" {
							break
						}
					}
					if _, err := c.Write(resp); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// processCPU is the user+system CPU time of this process.
func processCPU() time.Duration {
	var ru syscallRusage
	getrusage(&ru)
	return ru.total()
}
