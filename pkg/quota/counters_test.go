package quota

import (
	"context"
	"errors"
	"testing"
	"time"
)

// rolling is a Period whose window lasts d from its start.
type rolling time.Duration

func (r rolling) WindowEnd(now time.Time) time.Time { return now.Add(time.Duration(r)) }

// calendar is a Period whose windows end on multiples of d since the Unix epoch (an hour, a
// day in UTC): what a calendar period looks like to the store.
type calendar time.Duration

func (c calendar) WindowEnd(now time.Time) time.Time {
	return now.Truncate(time.Duration(c)).Add(time.Duration(c))
}

func wantCounter(t testing.TB, d Decision, what, name string, retry int, lim Limit) {
	t.Helper()
	wantRefused(t, d, what, ReasonCounter, retry)
	if d.Counter != name || d.Limit != lim {
		t.Fatalf("%s: counter %q limit %+v, want %q %+v", what, d.Counter, d.Limit, name, lim)
	}
}

func counterRow(t testing.TB, s *store, table, col, name, key string) int64 {
	t.Helper()
	return queryInt(t, s, `SELECT COALESCE(SUM(`+col+`), -1) FROM `+table+` WHERE scope = $1 AND subnet = $2`, CounterScope(name), key)
}

// TestCounterRequests: a request counter admits exactly its cap per window, counts only
// admitted requests, and a rolling window starts again at its end.
func TestCounterRequests(t *testing.T) {
	eachBackend(t, func(t *testing.T, bc backendCase) {
		clk := newClock()
		s := openStore(t, bc.fresh(t), Config{Clock: clk.Now})
		c := Counter{Name: "burst", Key: "k", Requests: 3, Period: rolling(time.Minute)}
		req := CheckRequest{Subnet: subnet, PathHash: "f", Reserve: 100, Counters: []Counter{c}}
		start := clk.Now()
		for i := range 3 {
			if d := check(t, s, clk, req); !d.Allowed || d.Grant != -1 {
				t.Fatalf("request %d: %+v, want allowed without a reservation", i, d)
			}
			clk.Advance(10 * time.Second)
		}
		end := start.Add(time.Minute)
		lim := Limit{Requests: 3, WindowEnd: time.UnixMilli(end.UnixMilli()).UTC()}
		wantCounter(t, check(t, s, clk, req), "4th", "burst", 30, lim)
		wantCounter(t, check(t, s, clk, req), "5th", "burst", 30, lim)
		if n := counterRow(t, s, "rate_windows", "count", "burst", "k"); n != 3 {
			t.Fatalf("count %d, want 3: a refusal counts nothing", n)
		}
		other := req
		other.Counters = []Counter{{Name: "burst", Key: "other", Requests: 3, Period: rolling(time.Minute)}}
		wantAllowed(t, check(t, s, clk, other), "another key")
		clk.Advance(end.Sub(clk.Now()))
		wantAllowed(t, check(t, s, clk, req), "at the window's end")
	})
}

// TestCounterBytes: a byte counter is a cap on the reservations, with Retry-After until its
// window ends; a calendar window restarts at its boundary; env limits come first.
func TestCounterBytes(t *testing.T) {
	eachBackend(t, func(t *testing.T, bc backendCase) {
		clk := newClock() // 12:00:07.3
		s := openStore(t, bc.fresh(t), Config{
			TotalEnabled: true, TotalLimit: Size{Bytes: 5000}, TotalWindow: 24 * time.Hour, Clock: clk.Now})
		c := Counter{Name: "hourly", Key: "", Bytes: 1000, Period: calendar(time.Hour)}
		req := CheckRequest{Subnet: subnet, PathHash: "f", Reserve: 600, Counters: []Counter{c}}
		d := check(t, s, clk, req)
		if !d.Allowed || d.Grant != 600 {
			t.Fatalf("first: %+v", d)
		}
		end := time.Date(2025, 3, 4, 13, 0, 0, 0, time.UTC)
		lim := Limit{Bytes: Size{Bytes: 1000}, WindowEnd: end}
		clk.Advance(30 * time.Minute)
		wantCounter(t, check(t, s, clk, req), "second 600", "hourly", int(end.Sub(clk.Now())/time.Second)+1, lim)
		if n := counterRow(t, s, "bw_usage", "bytes", "hourly", ""); n != 600 {
			t.Fatalf("counter bytes %d, want the 600 reserved", n)
		}
		big := req
		big.Reserve = 6000
		wantRefused(t, check(t, s, clk, big), "the subnet's quota first", ReasonBandwidth, 600)
		clk.Advance(end.Sub(clk.Now()))
		d = check(t, s, clk, req)
		wantAllowed(t, d, "next hour")
		if n := counterRow(t, s, "bw_usage", "bytes", "hourly", ""); n != 600 {
			t.Fatalf("counter bytes %d, want 600 in the new window", n)
		}
		if e := queryInt(t, s, `SELECT window_end FROM bw_usage WHERE scope = $1`, CounterScope("hourly")); e != end.Add(time.Hour).UnixMilli() {
			t.Fatalf("window end %d, want %d", e, end.Add(time.Hour).UnixMilli())
		}
		// The subnet's row holds both reservations (it is charged as delivered, as always).
		if got := usageOf(t, s, ScopeProxy, subnet, ""); got != 1200 {
			t.Fatalf("subnet usage %d, want 1200", got)
		}
	})
}

// TestCounterIsACap: parallel checks on two replicas never pass a counter's cap.
func TestCounterIsACap(t *testing.T) {
	eachBackend(t, func(t *testing.T, bc backendCase) {
		clk := newClock()
		stores := replicas(t, bc, 2, Config{Clock: clk.Now, CheckTimeout: 30 * time.Second})
		bytes := Counter{Name: "q", Key: "", Bytes: 100 * mb, Period: rolling(time.Hour)}
		reqs := Counter{Name: "r", Key: "", Requests: 7, Period: rolling(time.Hour)}
		for _, tc := range []struct {
			name    string
			req     CheckRequest
			n, want int
		}{
			{"bytes", CheckRequest{Scope: ScopeProxy, Subnet: subnet, PathHash: "f", Reserve: 50 * mb, Counters: []Counter{bytes}}, 20, 2},
			{"requests", CheckRequest{Scope: ScopeProxy, Subnet: subnet, PathHash: "f", Counters: []Counter{reqs}}, 20, 7},
		} {
			tc.req.Now = clk.Now()
			admitted := 0
			for _, d := range parallelChecks(t, stores, tc.n, tc.req) {
				if d.Allowed {
					admitted++
				} else if d.Reason != ReasonCounter {
					t.Fatalf("%s: refusal %+v", tc.name, d)
				}
			}
			if admitted != tc.want {
				t.Fatalf("%s: admitted %d of %d, want exactly %d", tc.name, admitted, tc.n, tc.want)
			}
		}
	})
}

// TestCounterSettles: Extend grants what fits under the counter and names it; Close releases
// the unused part and charges bytes past the reservation, to the counter as to the subnet.
func TestCounterSettles(t *testing.T) {
	eachBackend(t, func(t *testing.T, bc backendCase) {
		clk := newClock()
		s := openStore(t, bc.fresh(t), Config{ReserveChunk: 300, Clock: clk.Now})
		c := Counter{Name: "q", Key: "k", Bytes: 1000, Period: rolling(time.Hour)}
		req := CheckRequest{Scope: ScopeProxy, Subnet: subnet, PathHash: "f", Reserve: ReserveUnknown, Counters: []Counter{c}}
		d := check(t, s, clk, req)
		if !d.Allowed || d.Grant != 300 {
			t.Fatalf("check: %+v, want a chunk of 300", d)
		}
		m := s.Meter(req, d)
		clk.Advance(time.Minute)
		g, err := m.Extend(context.Background(), 800)
		var le *LimitError
		if g != 700 || !errors.As(err, &le) || le.Decision.Reason != ReasonCounter || le.Decision.Counter != "q" ||
			le.Decision.RetryAfter != 3540 {
			t.Fatalf("Extend: %d %v %+v, want 700 and the counter's refusal", g, err, le)
		}
		m.Add(400)
		m.Close()
		s.sync()
		if n := counterRow(t, s, "bw_usage", "bytes", "q", "k"); n != 400 {
			t.Fatalf("counter after Close %d, want 400 delivered", n)
		}
		if got := usageOf(t, s, ScopeProxy, subnet, "f"); got != 400 {
			t.Fatalf("path usage %d, want 400", got)
		}
		if got := usageOf(t, s, ScopeProxy, subnet, ""); got != 400 {
			t.Fatalf("subnet usage %d, want 400", got)
		}
		req.Reserve = 100
		d = check(t, s, clk, req)
		wantAllowed(t, d, "100 more")
		m = s.Meter(req, d)
		m.Add(250) // past the reservation: charged
		m.Close()
		s.sync()
		if n := counterRow(t, s, "bw_usage", "bytes", "q", "k"); n != 650 {
			t.Fatalf("counter %d, want 650", n)
		}
		if got := usageOf(t, s, ScopeProxy, subnet, ""); got != 650 {
			t.Fatalf("subnet usage %d, want 650", got)
		}
	})
}

// TestRevocation: exact and prefix revocations refuse until they end, before a ban.
func TestRevocation(t *testing.T) {
	eachBackend(t, func(t *testing.T, bc backendCase) {
		clk := newClock()
		s := openStore(t, bc.fresh(t), Config{BanAfterFails: 1, BanWindow: time.Minute, BanTime: time.Hour, Clock: clk.Now})
		ctx := context.Background()
		if err := s.Revoke(ctx, Revocation{Path: "/a/file", Until: clk.Now().Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		if err := s.Revoke(ctx, Revocation{Path: "/private/", Prefix: true}); err != nil {
			t.Fatal(err)
		}
		at := func(path string, revocable bool) Decision {
			return check(t, s, clk, CheckRequest{Subnet: subnet, PathHash: path, Path: path, Revocable: revocable})
		}
		for _, tc := range []struct {
			path      string
			revocable bool
			revoked   bool
		}{
			{"/a/file", true, true}, {"/a/file", false, false}, {"/a/file2", true, false}, {"/a", true, false},
			{"/private/x/y", true, true}, {"/private/", true, true}, {"/privatex", true, false},
		} {
			d := at(tc.path, tc.revocable)
			switch {
			case !tc.revoked:
				wantAllowed(t, d, tc.path)
			case d.Allowed || d.Reason != ReasonRevoked || d.Path != tc.path:
				t.Fatalf("%s: %+v, want revoked", tc.path, d)
			case tc.path == "/a/file" && d.RetryAfter != 60:
				t.Fatalf("%s: retry %d, want until the revocation ends", tc.path, d.RetryAfter)
			}
		}
		s.RecordFailure(ScopeProxy, subnet)
		s.sync()
		wantRefused(t, at("/b", true), "banned", ReasonBanned, 3600)
		wantRefused(t, at("/a/file", true), "revoked before banned", ReasonRevoked, 60)
		clk.Advance(time.Minute)
		wantRefused(t, at("/a/file", true), "revocation ended: the ban", ReasonBanned, 3540)
	})
}
