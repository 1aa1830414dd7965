package quota

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkCheck measures the cache-hit path of the proxy (every part of the check on) under
// parallel load, each goroutine a different subnet as on a real gateway; "hot" sends every check
// from one subnet (a NAT'd community, a download manager's parallel ranges, the load harness).
func BenchmarkCheck(b *testing.B) {
	for _, bc := range backends {
		for _, mode := range []struct {
			par      int
			hot      bool
			counters bool
		}{{1, false, false}, {32, false, false}, {32, true, false}, {1, false, true}} {
			par := mode.par
			name := fmt.Sprintf("%s/par%d", bc.name, par)
			if mode.hot {
				name += "-hot"
			}
			if mode.counters {
				name += "-2counters" // a per-subnet quota and a global rate, and the revocation list
			}
			b.Run(name, func(b *testing.B) {
				b.SetParallelism(par) // par goroutines per CPU: 32 is what 64 client connections look like
				s := openStore(b, bc.fresh(b), Config{
					WindowTime: time.Hour, RequestLimit: 1 << 30,
					TotalEnabled: true, TotalLimit: Size{Bytes: 1 << 50}, TotalWindow: time.Hour,
					FileEnabled: true, FileLimit: Size{Multiple: 2}, FileWindow: time.Hour,
					BanAfterFails: 5, BanWindow: time.Minute, BanTime: time.Minute,
					LinkTTL: time.Hour, ThrottleHosts: []string{"*.example.com"},
				})
				s.SaveLink("h", Link{URL: "https://dl.example.com/h"})
				s.sync()
				var (
					mu   sync.Mutex
					lats []time.Duration
					gid  atomic.Int64
				)
				b.ResetTimer()
				start := time.Now()
				b.RunParallel(func(pb *testing.PB) {
					subnet := fmt.Sprintf("10.0.%d.0/24", gid.Add(1))
					if mode.hot {
						subnet = "10.0.0.0/24"
					}
					req := CheckRequest{Scope: ScopeProxy, Subnet: subnet,
						PathHash: "h", FileSize: 1 << 20, WantLink: true}
					if mode.counters {
						req.Path, req.Revocable = "/h", true
						req.Counters = []Counter{
							{Name: "daily", Key: hashHex(subnet), Bytes: 1 << 50, Period: rolling(24 * time.Hour)},
							{Name: "global", Requests: 1 << 29, Period: rolling(time.Hour)},
						}
					}
					local := make([]time.Duration, 0, 1024)
					for pb.Next() {
						t0 := time.Now()
						req.Now = t0
						d, err := s.Check(context.Background(), req)
						local = append(local, time.Since(t0))
						if err != nil || !d.Allowed || d.Link == nil {
							b.Errorf("check: %+v %v", d, err)
							return
						}
					}
					mu.Lock()
					lats = append(lats, local...)
					mu.Unlock()
				})
				elapsed := time.Since(start)
				b.StopTimer()
				if len(lats) == 0 {
					return
				}
				slices.Sort(lats)
				pct := func(p float64) float64 { return float64(lats[int(p*float64(len(lats)-1))].Microseconds()) }
				b.ReportMetric(pct(0.50), "p50-µs")
				b.ReportMetric(pct(0.99), "p99-µs")
				b.ReportMetric(float64(len(lats))/elapsed.Seconds(), "checks/s")
			})
		}
	}
}
