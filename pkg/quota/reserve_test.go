package quota

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const mb = 1 << 20

// replicas opens n stores (replicas) on one fresh database of bc.
func replicas(t *testing.T, bc backendCase, n int, cfg Config) []*store {
	t.Helper()
	db := bc.fresh(t)
	var out []*store
	for range n {
		out = append(out, openStore(t, db, cfg))
	}
	return out
}

// parallelChecks runs n checks of req at once spread over stores and returns the decisions.
func parallelChecks(t *testing.T, stores []*store, n int, req CheckRequest) []Decision {
	t.Helper()
	out := make([]Decision, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			d, err := stores[i%len(stores)].Check(context.Background(), req)
			if err != nil {
				t.Errorf("Check: %v", err)
			}
			out[i] = d
		}()
	}
	close(start)
	wg.Wait()
	return out
}

// TestReservationIsACap: parallel requests for a 50 MB file on two replicas reserve the file
// size in the check itself, so the admitted reservations never pass a limit however many
// arrive at once (issue #13: 20 parallel downloads under a 100 MB total and a 1x per-file
// quota used to deliver 1,000 MB).
func TestReservationIsACap(t *testing.T) {
	eachBackend(t, func(t *testing.T, bc backendCase) {
		for _, tc := range []struct {
			name      string
			cfg       Config
			n         int
			wantAdmit int
		}{
			{"total 100MB and 1x per file", Config{
				TotalEnabled: true, TotalLimit: Size{Bytes: 100 * mb}, TotalWindow: time.Hour,
				FileEnabled: true, FileLimit: Size{Multiple: 1}, FileWindow: time.Hour}, 20, 1},
			{"total 100MB only", Config{
				TotalEnabled: true, TotalLimit: Size{Bytes: 100 * mb}, TotalWindow: time.Hour}, 20, 2},
			{"per file 3x only", Config{
				FileEnabled: true, FileLimit: Size{Multiple: 3}, FileWindow: time.Hour}, 20, 3},
		} {
			t.Run(tc.name, func(t *testing.T) {
				clk := newClock()
				tc.cfg.Clock, tc.cfg.CheckTimeout = clk.Now, 30*time.Second
				stores := replicas(t, bc, 2, tc.cfg)
				req := CheckRequest{Scope: ScopeProxy, Subnet: subnet, PathHash: "f", FileSize: 50 * mb, Reserve: 50 * mb, Now: clk.Now()}
				admitted, granted := 0, int64(0)
				for _, d := range parallelChecks(t, stores, tc.n, req) {
					if d.Allowed {
						admitted++
						granted += d.Grant
						if d.Grant != 50*mb {
							t.Fatalf("grant %d, want the reservation %d", d.Grant, 50*mb)
						}
						continue
					}
					if d.Reason != ReasonBandwidth && d.Reason != ReasonFileBandwidth {
						t.Fatalf("refusal %+v", d)
					}
				}
				if admitted != tc.wantAdmit {
					t.Fatalf("admitted %d of %d, want exactly %d", admitted, tc.n, tc.wantAdmit)
				}
				// The reservations are in the database already: what a later check sees.
				if got := usageOf(t, stores[0], ScopeProxy, subnet, ""); got != granted {
					t.Fatalf("total usage %d, want the %d reserved", got, granted)
				}
			})
		}
	})
}

// TestReservationSettles: Close charges what was delivered, not what was reserved: unused
// reservation is released (so the next request fits), bytes past it are charged, and a release
// never reaches a later window.
func TestReservationSettles(t *testing.T) {
	eachBackend(t, func(t *testing.T, bc backendCase) {
		clk := newClock()
		s := openStore(t, bc.fresh(t), Config{
			TotalEnabled: true, TotalLimit: Size{Bytes: 1000}, TotalWindow: time.Hour, TotalLimitText: "1000B",
			FileEnabled: true, FileLimit: Size{Bytes: 800}, FileWindow: time.Hour,
			BandwidthBlockTime: time.Minute, Clock: clk.Now,
		})
		req := CheckRequest{Scope: ScopeProxy, Subnet: subnet, PathHash: "f", Reserve: 700}
		d := check(t, s, clk, req)
		wantAllowed(t, d, "700 of 800")
		if d.Grant != 700 {
			t.Fatalf("grant %d", d.Grant)
		}
		// A second 700 would pass both limits while the first is reserved.
		other := CheckRequest{Scope: ScopeProxy, Subnet: subnet, PathHash: "g", Reserve: 700}
		wantRefused(t, check(t, s, clk, other), "second 700 while reserved", ReasonBandwidth, 60,
			Decision{Subnet: subnet, Limit: Limit{Bytes: Size{Bytes: 1000}, Text: "1000B", Window: time.Hour}})
		m := s.Meter(req, d)
		m.Add(200)
		m.Close()
		s.sync()
		if got := usageOf(t, s, ScopeProxy, subnet, ""); got != 200 {
			t.Fatalf("total after settle %d, want 200 delivered", got)
		}
		if got := usageOf(t, s, ScopeProxy, subnet, "f"); got != 200 {
			t.Fatalf("per-file after settle %d, want 200", got)
		}
		clk.Advance(time.Minute) // the block set by the refusal ends
		d = check(t, s, clk, other)
		wantAllowed(t, d, "700 after the release")
		// Delivered past the reservation (a multipart overhead): charged.
		m = s.Meter(other, d)
		m.Add(750)
		m.Close()
		s.sync()
		if got := usageOf(t, s, ScopeProxy, subnet, ""); got != 950 {
			t.Fatalf("total %d, want 200+750", got)
		}

		// A reservation released after its window ended does not lower the next window.
		clk.Advance(2 * time.Hour)
		late := CheckRequest{Scope: ScopeProxy, Subnet: subnet, PathHash: "h", Reserve: 600}
		d1 := check(t, s, clk, late)
		wantAllowed(t, d1, "first window")
		m1 := s.Meter(late, d1)
		clk.Advance(time.Hour)
		d2 := check(t, s, clk, late)
		wantAllowed(t, d2, "next window")
		m1.Close() // delivered nothing: its 600 belong to the ended window
		s.sync()
		if got := usageOf(t, s, ScopeProxy, subnet, ""); got != 600 {
			t.Fatalf("total %d, want the 600 of the new window untouched", got)
		}
		m2 := s.Meter(late, d2)
		m2.Add(100)
		m2.Close()
		s.sync()
		if got := usageOf(t, s, ScopeProxy, subnet, "h"); got != 100 {
			t.Fatalf("per-file %d, want 100 delivered", got)
		}
	})
}

// TestExtendIsExact: streams of unknown length get a chunk from the check and extend it while
// they run, on two replicas at once; together they are granted exactly the limit.
func TestExtendIsExact(t *testing.T) {
	eachBackend(t, func(t *testing.T, bc backendCase) {
		clk := newClock()
		const limit = 3*mb + 12345
		stores := replicas(t, bc, 2, Config{
			TotalEnabled: true, TotalLimit: Size{Bytes: limit}, TotalWindow: time.Hour,
			FileEnabled: true, FileLimit: Size{Bytes: 1 << 40}, FileWindow: time.Hour,
			ReserveChunk: 64 << 10, Clock: clk.Now, CheckTimeout: 30 * time.Second,
		})
		var granted atomic.Int64
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := stores[i%2]
				req := CheckRequest{Scope: ScopeProxy, Subnet: subnet, PathHash: "f", Reserve: ReserveUnknown, Now: clk.Now()}
				d, err := s.Check(context.Background(), req)
				if err != nil || !d.Allowed {
					// Late streams may find the quota spent: that is a refusal, not a grant.
					if err != nil {
						t.Error(err)
					}
					return
				}
				m := s.Meter(req, d)
				got := d.Grant
				for {
					g, err := m.Extend(context.Background(), 100<<10)
					got += g
					if g == 0 {
						var le *LimitError
						if !errors.As(err, &le) || le.Decision.Allowed || le.Decision.Reason != ReasonBandwidth {
							t.Errorf("Extend refusal: %v", err)
						}
						break
					}
				}
				if m.Grant() != got {
					t.Errorf("Meter.Grant %d, granted %d", m.Grant(), got)
				}
				m.Add(got) // delivered all it was granted
				m.Close()
				granted.Add(got)
			}()
		}
		wg.Wait()
		if got := granted.Load(); got != limit {
			t.Fatalf("granted %d in all, want exactly the limit %d", got, limit)
		}
		stores[0].sync()
		stores[1].sync()
		if got := usageOf(t, stores[0], ScopeProxy, subnet, ""); got != limit {
			t.Fatalf("stored usage %d, want %d", got, limit)
		}
	})
}

// TestUsageRecordedWithoutQuota (issue #13 item 7): usage is recorded with every quota off.
func TestUsageRecordedWithoutQuota(t *testing.T) {
	eachBackend(t, func(t *testing.T, bc backendCase) {
		clk := newClock()
		s := openStore(t, bc.fresh(t), Config{WindowTime: time.Minute, RequestLimit: 10, Clock: clk.Now})
		req := CheckRequest{Scope: ScopeProxy, Subnet: subnet, PathHash: "f", Reserve: 5000}
		d := check(t, s, clk, req)
		if !d.Allowed || d.Grant != -1 {
			t.Fatalf("no quota: %+v, want allowed with Grant -1", d)
		}
		m := s.Meter(req, d)
		m.Add(1234)
		m.Close()
		s.sync()
		for _, p := range []string{"", "f"} {
			if got := usageOf(t, s, ScopeProxy, subnet, p); got != 1234 {
				t.Fatalf("usage of %q = %d, want 1234", p, got)
			}
		}
		// Kept for the default window (24h) when the quota's own window is unset.
		end := queryInt(t, s, `SELECT window_end FROM bw_usage WHERE path_hash = ''`)
		if want := clk.Now().Add(24 * time.Hour).UnixMilli(); end != want {
			t.Fatalf("window_end %d, want %d", end, want)
		}
	})
}

// TestReserveRefusals: a reservation larger than what is left is refused with the contract's message
// and a bandwidth block, even before any byte was recorded; HEAD-like requests (Reserve 0) pass
// until the limit is reached; an unknown length is granted what is left.
func TestReserveRefusals(t *testing.T) {
	eachBackend(t, func(t *testing.T, bc backendCase) {
		clk := newClock()
		s := openStore(t, bc.fresh(t), Config{
			FileEnabled: true, FileLimit: Size{Bytes: 1000}, FileWindow: time.Hour, FileLimitText: "1000B", FileWindowText: "1h",
			BandwidthBlockTime: time.Minute, ReserveChunk: 300, Clock: clk.Now,
		})
		facts := Decision{Subnet: subnet, Path: "/a", Limit: Limit{Bytes: Size{Bytes: 1000}, Text: "1000B", Window: time.Hour, WindowText: "1h"}}
		a := CheckRequest{Subnet: subnet, PathHash: "a", Path: "/a"}
		a.Reserve = 1001
		wantRefused(t, check(t, s, clk, a), "bigger than the limit", ReasonFileBandwidth, 60, facts)
		a.Reserve = 0
		wantRefused(t, check(t, s, clk, a), "blocked", ReasonFileBandwidth, 60, facts)
		clk.Advance(time.Minute)
		a.Reserve = 900
		d := check(t, s, clk, a)
		wantAllowed(t, d, "900")
		a.Reserve = ReserveUnknown
		if d := check(t, s, clk, a); !d.Allowed || d.Grant != 100 {
			t.Fatalf("unknown length with 100 left: %+v, want a grant of 100", d)
		}
		a.Reserve = 0
		wantRefused(t, check(t, s, clk, a), "spent", ReasonFileBandwidth, 60, facts)
		// Another file is not affected; an unknown length gets one chunk.
		b := CheckRequest{Subnet: subnet, PathHash: "b", Reserve: ReserveUnknown}
		if d := check(t, s, clk, b); !d.Allowed || d.Grant != 300 {
			t.Fatalf("other file: %+v, want a chunk of 300", d)
		}
	})
}
