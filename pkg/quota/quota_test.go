package quota

import (
	"context"
	"errors"
	"net/http"
	"sync"
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

func TestCacheTTL(t *testing.T) {
	eachBackend(t, func(t *testing.T, bc backendCase) {
		clk := newClock()
		s := openStore(t, bc.fresh(t), Config{LinkTTL: time.Minute, SizeTTL: 2 * time.Minute, Clock: clk.Now})
		hdr := http.Header{"Authorization": {"x"}, "X-Multi": {"a", "b"}}
		want := CheckRequest{Subnet: subnet, PathHash: "h", WantLink: true, WantSize: true}

		d := check(t, s, clk, want)
		if d.Link != nil || d.Size != -1 {
			t.Fatalf("empty cache: link %v size %d", d.Link, d.Size)
		}
		s.SaveLink("h", Link{URL: "https://dl.example.com/h?x=1", Header: hdr})
		s.SaveSize("h", 12345)
		s.SaveLink("nohdr", Link{URL: "https://dl.example.com/n"})
		s.sync()
		clk.Advance(59 * time.Second)
		d = check(t, s, clk, want)
		if d.Link == nil || d.Link.URL != "https://dl.example.com/h?x=1" || d.Link.Header.Get("X-Multi") != "a" ||
			len(d.Link.Header["X-Multi"]) != 2 || d.Link.Header.Get("Authorization") != "x" {
			t.Fatalf("cached link: %+v", d.Link)
		}
		if !d.Link.FetchedAt.Equal(clk.Now().Add(-59 * time.Second)) {
			t.Fatalf("FetchedAt %v", d.Link.FetchedAt)
		}
		if d.Size != 12345 {
			t.Fatalf("cached size %d", d.Size)
		}
		if d := check(t, s, clk, CheckRequest{Subnet: subnet, PathHash: "nohdr", WantLink: true}); d.Link == nil || d.Link.Header != nil {
			t.Fatalf("link without header: %+v", d.Link)
		}
		// Not asked for: not returned.
		if d := check(t, s, clk, CheckRequest{Subnet: subnet, PathHash: "h"}); d.Link != nil || d.Size != -1 {
			t.Fatalf("unasked: %+v", d)
		}
		clk.Advance(time.Second)
		d = check(t, s, clk, want)
		if d.Link != nil || d.Size != 12345 {
			t.Fatalf("at LinkTTL: link %+v size %d", d.Link, d.Size)
		}
		clk.Advance(time.Minute)
		if d := check(t, s, clk, want); d.Size != -1 {
			t.Fatalf("at SizeTTL: size %d", d.Size)
		}

		s.SaveLink("h", Link{URL: "https://dl.example.com/h2", Header: hdr})
		s.sync()
		if d := check(t, s, clk, want); d.Link == nil || d.Link.URL != "https://dl.example.com/h2" {
			t.Fatalf("resaved link: %+v", d.Link)
		}
		s.InvalidateLink("h")
		s.sync()
		if d := check(t, s, clk, want); d.Link != nil {
			t.Fatalf("invalidated link still there: %+v", d.Link)
		}
	})
}

func TestThrottle(t *testing.T) {
	eachBackend(t, func(t *testing.T, bc backendCase) {
		clk := newClock()
		s := openStore(t, bc.fresh(t), Config{
			WindowTime: time.Hour, RequestLimit: 100,
			LinkTTL: time.Hour, ThrottleHosts: []string{"*.Example.com", "cdn.other.net"},
			ThrottleWindow: time.Minute, Clock: clk.Now,
		})
		links := map[string]string{
			"sub":   "https://dl.example.com/f",
			"apex":  "https://example.com:8443/f",
			"exact": "http://CDN.other.net/f",
			"none":  "https://not-example.com/f",
			"deep":  "https://a.b.example.com/f",
		}
		for k, u := range links {
			s.SaveLink(k, Link{URL: u})
		}
		s.sync()
		req := func(k string) CheckRequest { return CheckRequest{Subnet: subnet, PathHash: k, WantLink: true} }
		for k := range links {
			wantAllowed(t, check(t, s, clk, req(k)), k+" before reports")
		}

		s.ReportUpstream("dl.example.com", 503)
		s.ReportUpstream("example.com:8443", 429)
		s.ReportUpstream("cdn.other.net", 500)
		s.ReportUpstream("not-example.com", 503) // no pattern matches: ignored, nothing written
		s.ReportUpstream("a.b.example.com", 404) // not a protected code
		s.sync()
		if n := queryInt(t, s, `SELECT COUNT(*) FROM throttle`); n != 3 {
			t.Fatalf("throttle rows %d, want 3", n)
		}
		wantRefused(t, check(t, s, clk, req("sub")), "sub", ReasonThrottled, 60, Decision{Subnet: subnet, UpstreamStatus: 503})
		wantRefused(t, check(t, s, clk, req("apex")), "apex", ReasonThrottled, 60, Decision{Subnet: subnet, UpstreamStatus: 429})
		wantRefused(t, check(t, s, clk, req("exact")), "exact", ReasonThrottled, 60, Decision{Subnet: subnet, UpstreamStatus: 500})
		wantAllowed(t, check(t, s, clk, req("none")), "none")
		wantAllowed(t, check(t, s, clk, req("deep")), "deep")
		// A throttled request is refused and therefore not counted.
		if n := queryInt(t, s, `SELECT count FROM rate_windows WHERE subnet = $1`, hashHex(subnet)); n != 7 {
			t.Fatalf("request count %d, want 7", n)
		}

		clk.Advance(30 * time.Second)
		wantRefused(t, check(t, s, clk, req("sub")), "sub +30s", ReasonThrottled, 30, Decision{Subnet: subnet, UpstreamStatus: 503})
		s.ReportUpstream("DL.example.com", 206) // success clears
		s.ReportUpstream("cdn.other.net", 302)
		s.sync()
		wantAllowed(t, check(t, s, clk, req("sub")), "sub cleared")
		wantAllowed(t, check(t, s, clk, req("exact")), "exact cleared")
		clk.Advance(30 * time.Second)
		wantAllowed(t, check(t, s, clk, req("apex")), "apex window over")
	})
}

func TestBan(t *testing.T) {
	eachBackend(t, func(t *testing.T, bc backendCase) {
		clk := newClock()
		db := bc.fresh(t)
		cfg := Config{BanAfterFails: 3, BanWindow: time.Minute, BanTime: 10 * time.Minute, Clock: clk.Now}
		a := openStore(t, db, cfg)
		b := openStore(t, db, cfg) // another replica
		req := CheckRequest{Subnet: subnet}

		a.RecordFailure(ScopeProxy, subnet)
		a.RecordFailure(ScopeProxy, subnet)
		a.sync()
		wantAllowed(t, check(t, b, clk, req), "2 failures")
		clk.Advance(10 * time.Second)
		b.RecordFailure(ScopeProxy, subnet) // failures from every replica add up
		b.sync()
		wantRefused(t, check(t, a, clk, req), "banned on a", ReasonBanned, 600, Decision{Subnet: subnet})
		wantRefused(t, check(t, b, clk, req), "banned on b", ReasonBanned, 600, Decision{Subnet: subnet})
		wantAllowed(t, check(t, a, clk, CheckRequest{Scope: ScopeLanding, Subnet: subnet}), "other scope")
		clk.Advance(10*time.Minute - time.Millisecond)
		wantRefused(t, check(t, a, clk, req), "ban ending", ReasonBanned, 1, Decision{Subnet: subnet})
		clk.Advance(time.Millisecond)
		wantAllowed(t, check(t, a, clk, req), "ban over")

		// Failures spread wider than BanWindow do not ban.
		other := "198.51.100.0/24"
		a.RecordFailure(ScopeProxy, other)
		a.RecordFailure(ScopeProxy, other)
		a.sync()
		clk.Advance(time.Minute)
		a.RecordFailure(ScopeProxy, other)
		a.RecordFailure(ScopeProxy, other)
		a.sync()
		wantAllowed(t, check(t, a, clk, CheckRequest{Subnet: other}), "failures in two windows")

		// Off: no writes at all.
		off := openStore(t, bc.fresh(t), Config{Clock: clk.Now})
		for range 10 {
			off.RecordFailure(ScopeProxy, subnet)
		}
		off.sync()
		if n := queryInt(t, off, `SELECT COUNT(*) FROM failures`) + queryInt(t, off, `SELECT COUNT(*) FROM bans`); n != 0 {
			t.Fatalf("ban off wrote %d rows", n)
		}
	})
}

func TestUseNonce(t *testing.T) {
	eachBackend(t, func(t *testing.T, bc backendCase) {
		clk := newClock()
		s := openStore(t, bc.fresh(t), Config{Clock: clk.Now})
		ctx := context.Background()
		use := func(n string, exp time.Time) bool {
			t.Helper()
			fresh, err := s.UseNonce(ctx, n, exp)
			if err != nil {
				t.Fatal(err)
			}
			return fresh
		}
		exp := clk.Now().Add(time.Minute)
		if !use("n1", exp) {
			t.Fatal("first use not fresh")
		}
		if use("n1", exp) {
			t.Fatal("replay accepted")
		}
		if !use("n2", exp) {
			t.Fatal("other nonce not fresh")
		}
		clk.Advance(time.Minute)
		if !use("n1", clk.Now().Add(time.Minute)) {
			t.Fatal("expired nonce not reusable")
		}
		if use("n1", clk.Now().Add(time.Minute)) {
			t.Fatal("replay after reuse accepted")
		}
	})
}

func TestFailOpenClosed(t *testing.T) {
	eachBackend(t, func(t *testing.T, bc backendCase) {
		clk := newClock()
		db := bc.fresh(t)
		cfg := Config{WindowTime: time.Minute, RequestLimit: 1, Clock: clk.Now, CheckTimeout: 2 * time.Second}
		closed := openStore(t, db, cfg)
		cfg.FailOpen = true
		open := openStore(t, db, cfg)
		req := CheckRequest{Subnet: subnet}
		wantAllowed(t, check(t, open, clk, req), "before outage")
		wantRefused(t, check(t, closed, clk, req), "limit shared", ReasonRate, 60)

		bc.outage(t, open, db)
		if bc.name == "sqlite" {
			bc.outage(t, closed, db)
		}
		for i := range 3 {
			req.Now = clk.Now()
			d, err := open.Check(context.Background(), req)
			if err != nil || !d.Allowed || !d.FailOpen {
				t.Fatalf("fail-open %d: %+v, %v", i, d, err)
			}
			d, err = closed.Check(context.Background(), req)
			if !errors.Is(err, ErrUnavailable) || d.Allowed {
				t.Fatalf("fail-closed %d: %+v, %v", i, d, err)
			}
		}
		if st := open.Stats(); st.FailOpen != 3 {
			t.Fatalf("Stats.FailOpen = %d, want 3", st.FailOpen)
		}
		if st := closed.Stats(); st.FailOpen != 0 {
			t.Fatalf("fail-closed Stats.FailOpen = %d", st.FailOpen)
		}
		if _, err := closed.UseNonce(context.Background(), "n", time.Time{}); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("UseNonce during outage: %v", err)
		}
		if err := closed.Ping(context.Background()); err == nil {
			t.Fatal("Ping during outage succeeded")
		}
		if bc.name == "postgres" {
			// The pool recovers by itself once the database is back.
			testpgReconnect(t, db)
			wantRefused(t, check(t, closed, clk, req), "after outage", ReasonRate, 60)
			if d := check(t, open, clk, req); d.FailOpen || d.Allowed {
				t.Fatalf("fail-open store after outage: %+v", d)
			}
		}
	})
}

func TestMigrations(t *testing.T) {
	eachBackend(t, func(t *testing.T, bc backendCase) {
		ctx := context.Background()
		db := bc.fresh(t)
		for range 2 {
			if err := Migrate(ctx, db); err != nil {
				t.Fatalf("Migrate: %v", err)
			}
		}
		clk := newClock()
		s := openStore(t, db, Config{LinkTTL: time.Hour, Clock: clk.Now})
		if v := queryInt(t, s, `SELECT MAX(version) FROM schema_migrations`); v != 2 {
			t.Fatalf("schema version %d", v)
		}
		s.SaveLink("h", Link{URL: "https://x/"})
		if err := s.Close(ctx); err != nil {
			t.Fatal(err)
		}
		// Reopening (migrating again) keeps the data.
		s = openStore(t, db, Config{LinkTTL: time.Hour, Clock: clk.Now})
		if d := check(t, s, clk, CheckRequest{Subnet: subnet, PathHash: "h", WantLink: true}); d.Link == nil {
			t.Fatal("link lost across reopen")
		}
		_ = s.Close(ctx)

		rawExec(t, db, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, '9999_future.sql', 0)`)
		if err := Migrate(ctx, db); !errors.Is(err, ErrSchemaTooNew) {
			t.Fatalf("Migrate on newer schema: %v", err)
		}
		if _, err := Open(ctx, db, Config{}, nil); !errors.Is(err, ErrSchemaTooNew) {
			t.Fatalf("Open on newer schema: %v", err)
		}
	})
}

func TestCloseDrainsUsage(t *testing.T) {
	eachBackend(t, func(t *testing.T, bc backendCase) {
		db := bc.fresh(t)
		cfg := Config{
			TotalEnabled: true, TotalLimit: Size{Bytes: 1 << 40}, TotalWindow: time.Hour,
			FileEnabled: true, FileLimit: Size{Bytes: 1 << 40}, FileWindow: time.Hour,
			UsageFlushBytes: 100, QueueSize: 4,
			LinkTTL: time.Hour,
		}
		s := openStore(t, db, cfg)
		paths := []string{"p0", "p1", "p2"}
		var wg sync.WaitGroup
		var mu sync.Mutex
		perPath := map[string]int64{}
		for g := range 30 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p := paths[g%len(paths)]
				m := plainMeter(s, p)
				for i := range 200 {
					m.Add(int64(1 + (g*7+i)%97))
					if i%50 == 0 {
						s.SaveLink(p, Link{URL: "https://x/" + p}) // keep the tiny queue overflowing
					}
				}
				m.Close()
				mu.Lock()
				perPath[p] += m.Total()
				mu.Unlock()
			}()
		}
		wg.Wait()
		if err := s.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if st := s.Stats(); st.UsageLost != 0 {
			t.Fatalf("usage lost: %d", st.UsageLost)
		}
		r := openStore(t, db, cfg)
		var total int64
		for _, p := range paths {
			total += perPath[p]
			if got := usageOf(t, r, ScopeProxy, subnet, p); got != perPath[p] {
				t.Fatalf("usage of %s: stored %d, metered %d", p, got, perPath[p])
			}
		}
		if got := usageOf(t, r, ScopeProxy, subnet, ""); got != total {
			t.Fatalf("total usage: stored %d, metered %d", got, total)
		}
	})
}

func TestUsageAccounting(t *testing.T) {
	eachBackend(t, func(t *testing.T, bc backendCase) {
		s := openStore(t, bc.fresh(t), Config{
			TotalEnabled: true, TotalLimit: Size{Bytes: 1 << 40}, TotalWindow: time.Hour,
			FileEnabled: true, FileLimit: Size{Multiple: 2}, FileWindow: time.Hour,
			UsageFlushBytes: 1000, UsageFlushInterval: time.Hour,
		})
		m := plainMeter(s, "f")
		for i := range 100 {
			m.Add(int64(37 + i))
		}
		s.sync()
		// Progressive flushes reached the database before the stream ended.
		if got := usageOf(t, s, ScopeProxy, subnet, "f"); got == 0 || got > m.Total() {
			t.Fatalf("mid-stream usage %d of %d", got, m.Total())
		}
		m.Close()
		s.sync()
		if got, want := usageOf(t, s, ScopeProxy, subnet, "f"), m.Total(); got != want {
			t.Fatalf("per-file usage %d, metered %d", got, want)
		}
		if got, want := usageOf(t, s, ScopeProxy, subnet, ""), m.Total(); got != want {
			t.Fatalf("total usage %d, metered %d", got, want)
		}
		if got := usageOf(t, s, ScopeLanding, subnet, ""); got != 0 {
			t.Fatalf("landing scope usage %d", got)
		}
	})
}

func TestJanitor(t *testing.T) {
	eachBackend(t, func(t *testing.T, bc backendCase) {
		clk := newClock()
		s := openStore(t, bc.fresh(t), Config{
			WindowTime: time.Minute, RequestLimit: 5, TotalEnabled: true, TotalLimit: Size{Bytes: 1 << 30},
			TotalWindow: time.Hour, LinkTTL: time.Minute, SizeTTL: time.Minute, ThrottleHosts: []string{"*"},
			BanAfterFails: 1, BanWindow: time.Minute, BanTime: 2 * time.Hour, Clock: clk.Now,
		})
		check(t, s, clk, CheckRequest{Subnet: subnet})
		s.SaveLink("h", Link{URL: "https://x.example/"})
		s.SaveSize("h", 1)
		s.ReportUpstream("x.example", 503)
		s.RecordFailure(ScopeProxy, "198.51.100.0/24")
		m := plainMeter(s, "") // the subnet total only: one bw_usage row
		m.Add(5)
		m.Close()
		if _, err := s.UseNonce(context.Background(), "n", clk.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		s.sync()
		tables := []string{"rate_windows", "bw_usage", "links", "sizes", "throttle", "bans", "nonces"}
		count := func() (n int64) {
			for _, tb := range tables {
				n += queryInt(t, s, `SELECT COUNT(*) FROM `+tb)
			}
			return n
		}
		if n := count(); n != int64(len(tables)) {
			t.Fatalf("%d rows before janitor, want %d", n, len(tables))
		}
		// Nothing has expired yet: the janitor must not remove live state.
		if err := s.be.janitor(context.Background(), clk.Now().UnixMilli()); err != nil {
			t.Fatal(err)
		}
		if n := count(); n != int64(len(tables)) {
			t.Fatalf("janitor removed live rows: %d left", n)
		}
		// An hour later only the ban is still live.
		if err := s.be.janitor(context.Background(), clk.Now().Add(time.Hour).UnixMilli()); err != nil {
			t.Fatal(err)
		}
		if n := count(); n != 1 {
			t.Fatalf("%d rows after janitor, want 1 (the ban)", n)
		}
	})
}

func TestOpenRejectsBadConfig(t *testing.T) {
	ctx := context.Background()
	db := DB{SQLitePath: t.TempDir() + "/q.db"}
	for _, cfg := range []Config{
		{RequestLimit: 1},
		{TotalEnabled: true, TotalLimit: Size{Bytes: 1}},
		{FileEnabled: true},
		{BanAfterFails: 1, BanWindow: time.Minute},
	} {
		if s, err := Open(ctx, db, cfg, nil); err == nil {
			_ = s.Close(ctx)
			t.Errorf("Open(%+v) succeeded", cfg)
		}
	}
	if _, err := Open(ctx, DB{Mode: "mysql"}, Config{}, nil); err == nil {
		t.Error("unknown mode accepted")
	}
	if _, err := Open(ctx, DB{Mode: ModePostgres}, Config{}, nil); err == nil {
		t.Error("postgres without URL accepted")
	}
}
