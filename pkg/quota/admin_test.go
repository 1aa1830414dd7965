package quota

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

// TestAdmin: every admin operation round-trips on both backends, and what it sets is what the
// next check sees.
func TestAdmin(t *testing.T) {
	eachBackend(t, func(t *testing.T, bc backendCase) {
		ctx := context.Background()
		clk := newClock()
		s := openStore(t, bc.fresh(t), Config{WindowTime: time.Minute, RequestLimit: 1, BlockTime: time.Hour,
			BanAfterFails: 1, BanWindow: time.Minute, BanTime: time.Hour, Clock: clk.Now})
		var a Admin = s
		if _, ok := AdminOf(s); !ok {
			t.Fatal("AdminOf: the store has no admin operations")
		}

		// Usage: what checks counted; SetUsage sets it, the zero value resets it.
		c := Counter{Name: "day", Key: "k", Requests: 2, Period: rolling(time.Hour)}
		n := 0
		counted := func() Decision { // a new subnet each time: the rate limit of 1 is not in the way
			n++
			return check(t, s, clk, CheckRequest{Scope: ScopeLanding, Subnet: "10.0.0." + string(rune('0'+n)) + "/32", Counters: []Counter{c}})
		}
		wantAllowed(t, counted(), "first")
		u, err := a.Usage(ctx, "day", "k")
		if want := (CounterUsage{Requests: 1, WindowEnd: clk.Now().Add(time.Hour)}); err != nil || u.Requests != want.Requests ||
			!u.WindowEnd.Equal(want.WindowEnd) || u.Bytes != 0 {
			t.Fatalf("Usage %+v %v, want %+v", u, err, want)
		}
		end := clk.Now().Add(30 * time.Minute)
		if err := a.SetUsage(ctx, "day", "k", CounterUsage{Requests: 2, Bytes: 7, WindowEnd: end}); err != nil {
			t.Fatal(err)
		}
		if u, _ := a.Usage(ctx, "day", "k"); u.Requests != 2 || u.Bytes != 7 || !u.WindowEnd.Equal(end) {
			t.Fatalf("after SetUsage: %+v", u)
		}
		wantCounter(t, counted(), "set to the cap", "day", 1800, Limit{Requests: 2, WindowEnd: end.UTC()})
		if err := a.SetUsage(ctx, "day", "k", CounterUsage{Requests: 1}); err == nil {
			t.Fatal("SetUsage without a window end: no error")
		}
		if err := a.SetUsage(ctx, "day", "k", CounterUsage{}); err != nil {
			t.Fatal(err)
		}
		if u, _ := a.Usage(ctx, "day", "k"); u != (CounterUsage{}) {
			t.Fatalf("after reset: %+v", u)
		}
		wantAllowed(t, counted(), "after reset")

		// Blocks and Unblock: a rate block and a ban, lifted for one subnet only.
		p := CheckRequest{Scope: ScopeProxy, Subnet: subnet}
		wantAllowed(t, check(t, s, clk, p), "rate 1")
		wantRefused(t, check(t, s, clk, p), "rate 2", ReasonRate, 3600)
		s.RecordFailure(ScopeProxy, "198.51.100.0/24")
		s.sync()
		bl, err := a.Blocks(ctx, clk.Now())
		until := clk.Now().Add(time.Hour)
		want := []Block{{Kind: "rate", Scope: "proxy", Subnet: hashHex(subnet), Until: until},
			{Kind: "ban", Scope: "proxy", Subnet: hashHex("198.51.100.0/24"), Until: until}}
		slices.SortFunc(want, func(x, y Block) int { return cmpStr(x.Subnet, y.Subnet) })
		if err != nil || len(bl) != 2 || !sameBlock(bl[0], want[0]) || !sameBlock(bl[1], want[1]) {
			t.Fatalf("Blocks %+v %v, want %+v", bl, err, want)
		}
		if err := a.Unblock(ctx, "proxy", subnet); err != nil {
			t.Fatal(err)
		}
		wantAllowed(t, check(t, s, clk, p), "after Unblock")
		if err := a.Unblock(ctx, "", "198.51.100.0/24"); err != nil {
			t.Fatal(err)
		}
		if bl, _ := a.Blocks(ctx, clk.Now()); len(bl) != 0 {
			t.Fatalf("Blocks after Unblock: %+v", bl)
		}

		// Revocations: listed while in force, removed by Unrevoke, expired ones by the janitor.
		r1 := Revocation{Path: "/a", Until: clk.Now().Add(time.Minute).UTC()}
		r2 := Revocation{Path: "/a", Prefix: true}
		for _, r := range []Revocation{r1, r2, {Path: "/b"}} {
			if err := a.Revoke(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		if err := a.Revoke(ctx, Revocation{}); err == nil {
			t.Fatal("Revoke without a path: no error")
		}
		if err := a.Unrevoke(ctx, "/b", false); err != nil {
			t.Fatal(err)
		}
		if err := a.Unrevoke(ctx, "/b", false); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Unrevoke of nothing: %v, want ErrNotFound", err)
		}
		rs, err := a.Revocations(ctx, clk.Now())
		if err != nil || len(rs) != 2 || rs[0].Path != "/a" || rs[0].Prefix || !rs[0].Until.Equal(r1.Until) || rs[1] != r2 {
			t.Fatalf("Revocations %+v %v", rs, err)
		}
		clk.Advance(time.Minute)
		if err := s.be.janitor(ctx, s.now()); err != nil {
			t.Fatal(err)
		}
		if n := queryInt(t, s, `SELECT COUNT(*) FROM revocations`); n != 1 {
			t.Fatalf("%d revocations after the janitor, want the one without an end", n)
		}
	})
}

func sameBlock(a, b Block) bool {
	return a.Kind == b.Kind && a.Scope == b.Scope && a.Subnet == b.Subnet && a.Path == b.Path && a.Until.Equal(b.Until)
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
