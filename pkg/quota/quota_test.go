package quota

import (
	"strconv"
	"testing"
	"time"
)

const subnet = "203.0.113.0/24"

func TestRequestWindow(t *testing.T) {
	eachBackend(t, func(t *testing.T, bc backendCase) {
		clk := newClock()
		s := openStore(t, bc.fresh(t), Config{
			WindowTime: 10 * time.Minute, RequestLimit: 3, BlockTime: 5 * time.Minute,
			WindowText: "10m", Clock: clk.Now,
		})
		req := CheckRequest{Subnet: subnet, PathHash: "p"}
		facts := Decision{Subnet: subnet, Limit: Limit{Requests: 3, Window: 10 * time.Minute, WindowText: "10m"}}

		// Exactly N pass.
		for i := range 3 {
			wantAllowed(t, check(t, s, clk, req), "request "+string(rune('1'+i)))
			clk.Advance(time.Second)
		}
		wantRefused(t, check(t, s, clk, req), "4th", ReasonRate, 300, facts)

		// Blocked: Retry-After counts down and the block is not moved.
		clk.Advance(100 * time.Second)
		wantRefused(t, check(t, s, clk, req), "blocked +100s", ReasonRate, 200, facts)
		clk.Advance(199*time.Second + 500*time.Millisecond)
		wantRefused(t, check(t, s, clk, req), "blocked 0.5s left", ReasonRate, 1, facts)

		// The first request after the block starts a new window and is its first.
		clk.Advance(500 * time.Millisecond)
		for i := range 3 {
			wantAllowed(t, check(t, s, clk, req), "new window "+string(rune('1'+i)))
		}
		wantRefused(t, check(t, s, clk, req), "new window 4th", ReasonRate, 300, facts)

		// Scopes count separately.
		wantAllowed(t, check(t, s, clk, CheckRequest{Scope: ScopeLanding, Subnet: subnet}), "landing scope")
		// Other subnets are not affected.
		wantAllowed(t, check(t, s, clk, CheckRequest{Subnet: "198.51.100.0/24"}), "other subnet")

		// The window is fixed from the first request: it resets exactly WindowTime later.
		other := CheckRequest{Subnet: "192.0.2.0/24"}
		wantAllowed(t, check(t, s, clk, other), "w1")
		clk.Advance(9 * time.Minute)
		wantAllowed(t, check(t, s, clk, other), "w2")
		wantAllowed(t, check(t, s, clk, other), "w3")
		clk.Advance(time.Minute - time.Millisecond)
		wantRefused(t, check(t, s, clk, other), "w4 at end-1ms", ReasonRate, 300)
		clk.Advance(301 * time.Second)
		wantAllowed(t, check(t, s, clk, other), "after block")

		// ... and exactly WindowTime after the first request a new window begins.
		fresh := CheckRequest{Subnet: "192.0.2.128/25"}
		for i := range 3 {
			wantAllowed(t, check(t, s, clk, fresh), "fresh "+string(rune('1'+i)))
		}
		clk.Advance(10 * time.Minute)
		for i := range 3 {
			wantAllowed(t, check(t, s, clk, fresh), "next window "+string(rune('1'+i)))
		}
		wantRefused(t, check(t, s, clk, fresh), "next window 4th", ReasonRate, 300)
	})
}

func TestRequestWindowBlockUntilWindowEnd(t *testing.T) {
	eachBackend(t, func(t *testing.T, bc backendCase) {
		clk := newClock()
		s := openStore(t, bc.fresh(t), Config{WindowTime: time.Minute, RequestLimit: 2, Clock: clk.Now})
		req := CheckRequest{Subnet: subnet}
		facts := Decision{Subnet: subnet, Limit: Limit{Requests: 2, Window: time.Minute}}
		wantAllowed(t, check(t, s, clk, req), "1")
		clk.Advance(10 * time.Second)
		wantAllowed(t, check(t, s, clk, req), "2")
		clk.Advance(10 * time.Second)
		wantRefused(t, check(t, s, clk, req), "3", ReasonRate, 40, facts)
		clk.Advance(39 * time.Second)
		wantRefused(t, check(t, s, clk, req), "at 59s", ReasonRate, 1, facts)
		clk.Advance(time.Second)
		wantAllowed(t, check(t, s, clk, req), "at window end")
		wantAllowed(t, check(t, s, clk, req), "2nd of new window")
		wantRefused(t, check(t, s, clk, req), "3rd of new window", ReasonRate, 60, facts)
	})
}

func TestBandwidthTotal(t *testing.T) {
	eachBackend(t, func(t *testing.T, bc backendCase) {
		clk := newClock()
		s := openStore(t, bc.fresh(t), Config{
			WindowTime: time.Hour, RequestLimit: 1000,
			TotalEnabled: true, TotalLimit: Size{Bytes: 1024}, TotalWindow: time.Hour,
			TotalLimitText: "1KB", TotalWindowText: "1h", Clock: clk.Now,
		})
		req := CheckRequest{Subnet: subnet, PathHash: "a"}
		facts := Decision{Subnet: subnet, Limit: Limit{Bytes: Size{Bytes: 1024}, Text: "1KB", Window: time.Hour, WindowText: "1h"}}

		m := plainMeter(s, "a")
		m.Add(1023)
		m.Close()
		s.sync()
		wantAllowed(t, check(t, s, clk, req), "below limit")
		clk.Advance(time.Minute)
		m = plainMeter(s, "b")
		m.Add(1)
		m.Close()
		s.sync()
		if got := usageOf(t, s, ScopeProxy, subnet, ""); got != 1024 {
			t.Fatalf("total usage %d, want 1024", got)
		}
		wantRefused(t, check(t, s, clk, req), "at limit", ReasonBandwidth, 600, facts)
		clk.Advance(5 * time.Minute)
		wantRefused(t, check(t, s, clk, CheckRequest{Subnet: subnet, PathHash: "zzz"}), "other file", ReasonBandwidth, 300, facts)
		// A refused request is not counted: only the first request was allowed so far.
		if n := queryInt(t, s, `SELECT count FROM rate_windows WHERE subnet = $1`, hashHex(subnet)); n != 1 {
			t.Fatalf("request count %d, want 1", n)
		}
		// The block ends but the usage is still in its window: refused again with a new block.
		clk.Advance(5 * time.Minute)
		wantRefused(t, check(t, s, clk, req), "after block, usage still in window", ReasonBandwidth, 600, facts)
		clk.Advance(10*time.Minute - time.Second)
		wantRefused(t, check(t, s, clk, req), "second block ending", ReasonBandwidth, 1, facts)
		// The usage window started with the first byte and ends an hour later.
		clk.Advance(39*time.Minute + time.Second)
		wantAllowed(t, check(t, s, clk, req), "after the usage window")
		// Usage in a new window starts from zero.
		m = plainMeter(s, "a")
		m.Add(10)
		m.Close()
		s.sync()
		if got := usageOf(t, s, ScopeProxy, subnet, ""); got != 10 {
			t.Fatalf("usage in new window %d, want 10", got)
		}
		// Other subnets and scopes are not affected.
		wantAllowed(t, check(t, s, clk, CheckRequest{Subnet: "198.51.100.0/24"}), "other subnet")
	})
}

func TestBandwidthPerFile(t *testing.T) {
	eachBackend(t, func(t *testing.T, bc backendCase) {
		clk := newClock()
		db := bc.fresh(t)
		s := openStore(t, db, Config{
			FileEnabled: true, FileLimit: Size{Bytes: 500}, FileWindow: 30 * time.Minute,
			FileLimitText: "500B", FileWindowText: "30m", BandwidthBlockTime: time.Minute, Clock: clk.Now,
		})
		fileLimit := Limit{Bytes: Size{Bytes: 500}, Text: "500B", Window: 30 * time.Minute, WindowText: "30m"}
		a := CheckRequest{Subnet: subnet, PathHash: "hash-a", Path: "/dir/a.bin"}
		b := CheckRequest{Subnet: subnet, PathHash: "hash-b", Path: "/dir/b.bin"}
		m := plainMeter(s, "hash-a")
		m.Add(300)
		m.Add(200)
		m.Close()
		s.sync()
		wantRefused(t, check(t, s, clk, a), "file a", ReasonFileBandwidth, 60, Decision{Subnet: subnet, Path: "/dir/a.bin", Limit: fileLimit})
		wantAllowed(t, check(t, s, clk, b), "file b")
		a.Path = ""
		wantRefused(t, check(t, s, clk, a), "no path: the hash names it", ReasonFileBandwidth, 60, Decision{Subnet: subnet, Path: "hash-a", Limit: fileLimit})

		// A multiple of the file size.
		s2 := openStore(t, bc.fresh(t), Config{
			FileEnabled: true, FileLimit: Size{Multiple: 2}, FileWindow: time.Hour,
			TotalEnabled: true, TotalLimit: Size{Multiple: 3}, TotalWindow: time.Hour, Clock: clk.Now,
		})
		c := CheckRequest{Subnet: subnet, PathHash: "hash-c", FileSize: 100}
		m = plainMeter(s2, "hash-c")
		m.Add(199)
		m.Close()
		s2.sync()
		wantAllowed(t, check(t, s2, clk, c), "199 of 2x100")
		m = plainMeter(s2, "hash-c")
		m.Add(1)
		m.Close()
		s2.sync()
		wantRefused(t, check(t, s2, clk, c), "200 of 2x100", ReasonFileBandwidth, 600,
			Decision{Subnet: subnet, Path: "hash-c", Limit: Limit{Bytes: Size{Multiple: 2}, Window: time.Hour}})
		// Unknown size: the multiple limits do not apply.
		c.FileSize = 0
		wantAllowed(t, check(t, s2, clk, c), "unknown size")
		// The total multiple applies on its own file size: 200 >= 3x50.
		wantRefused(t, check(t, s2, clk, CheckRequest{Subnet: subnet, PathHash: "hash-d", FileSize: 50}),
			"total 3x50", ReasonBandwidth, 600, Decision{Subnet: subnet, Limit: Limit{Bytes: Size{Multiple: 3}, Window: time.Hour}})
	})
}

func TestPrecedence(t *testing.T) {
	eachBackend(t, func(t *testing.T, bc backendCase) {
		clk := newClock()
		s := openStore(t, bc.fresh(t), Config{
			WindowTime: time.Hour, RequestLimit: 1,
			TotalEnabled: true, TotalLimit: Size{Bytes: 10}, TotalWindow: time.Hour,
			FileEnabled: true, FileLimit: Size{Bytes: 10}, FileWindow: time.Hour,
			BanAfterFails: 1, BanWindow: time.Minute, BanTime: time.Hour,
			Clock: clk.Now,
		})
		req := CheckRequest{Subnet: subnet, PathHash: "f"}
		m := plainMeter(s, "f")
		m.Add(10)
		m.Close()
		s.sync()
		// Bandwidth refuses; the request is not counted, so the rate limit is not reached.
		wantRefused(t, check(t, s, clk, req), "total before per-file", ReasonBandwidth, 600)
		clk.Advance(2 * time.Hour)
		wantAllowed(t, check(t, s, clk, req), "1st after windows")
		wantRefused(t, check(t, s, clk, req), "rate", ReasonRate, 3600)
		s.RecordFailure(ScopeProxy, subnet)
		s.sync()
		wantRefused(t, check(t, s, clk, req), "ban first", ReasonBanned, 3600, Decision{Subnet: subnet})
	})
}

// TestHugeLimits: a count limit past what Postgres' integer columns hold means the same on both
// backends (effectively no limit) instead of wrapping around on Postgres: 1<<32 + 2 must not
// become a limit of 2 requests, nor a ban after 2 failures.
func TestHugeLimits(t *testing.T) {
	eachBackend(t, func(t *testing.T, bc backendCase) {
		clk := newClock()
		s := openStore(t, bc.fresh(t), Config{
			WindowTime: time.Minute, RequestLimit: 1<<32 + 2,
			BanAfterFails: 1<<32 + 2, BanWindow: time.Minute, BanTime: time.Hour, Clock: clk.Now,
		})
		req := CheckRequest{Subnet: subnet}
		for i := range 5 {
			wantAllowed(t, check(t, s, clk, req), "request "+strconv.Itoa(i+1))
		}
		for range 5 {
			s.RecordFailure(ScopeProxy, subnet)
		}
		s.sync()
		wantAllowed(t, check(t, s, clk, req), "after 5 failures")
	})
}
