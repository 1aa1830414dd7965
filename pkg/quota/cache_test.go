package quota

import (
	"context"
	"net/http"
	"testing"
	"time"
)

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
