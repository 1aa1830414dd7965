package quota

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/alist-edge/alist-edge/internal/testpg"
)

// hammer runs n concurrent checks of one subnet spread over the stores and returns how many
// were allowed.
func hammer(t *testing.T, stores []*store, n int, now time.Time) int64 {
	t.Helper()
	var allowed, failed atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			d, err := stores[i%len(stores)].Check(context.Background(), CheckRequest{Scope: ScopeProxy, Subnet: subnet, Now: now})
			switch {
			case err != nil:
				failed.Add(1)
				t.Errorf("Check: %v", err)
			case d.Allowed:
				allowed.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()
	return allowed.Load()
}

func TestConcurrentExactlyN(t *testing.T) {
	cfg := Config{WindowTime: time.Hour, RequestLimit: 100, CheckTimeout: 30 * time.Second}
	for _, tc := range []struct {
		backend string
		stores  int
	}{{"sqlite", 1}, {"sqlite", 2}, {"postgres", 2}} {
		t.Run(tc.backend+"/"+string(rune('0'+tc.stores))+"-stores", func(t *testing.T) {
			t.Parallel()
			var bc backendCase
			for _, b := range backends {
				if b.name == tc.backend {
					bc = b
				}
			}
			db := bc.fresh(t)
			var stores []*store
			for range tc.stores {
				stores = append(stores, openStore(t, db, cfg))
			}
			if got := hammer(t, stores, 1000, newClock().Now()); got != 100 {
				t.Fatalf("allowed %d of 1000, want exactly 100", got)
			}
		})
	}
}

// countingTracer counts the queries a connection sends.
type countingTracer struct{ n atomic.Int64 }

func (c *countingTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}

func (c *countingTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func TestPostgresCheckIsOneQuery(t *testing.T) {
	var bc backendCase
	for _, b := range backends {
		if b.name == "postgres" {
			bc = b
		}
	}
	db := bc.fresh(t)
	tr := &countingTracer{}
	clk := newClock()
	s := startStore(t, newTestStore(t, db, Config{
		WindowTime: time.Minute, RequestLimit: 100,
		TotalEnabled: true, TotalLimit: Size{Bytes: 1 << 30}, TotalWindow: time.Hour,
		FileEnabled: true, FileLimit: Size{Multiple: 2}, FileWindow: time.Hour,
		BanAfterFails: 5, BanWindow: time.Minute, BanTime: time.Minute,
		LinkTTL: time.Hour, ThrottleHosts: []string{"*.example.com"},
		Clock: clk.Now,
	}, tr))
	s.SaveLink("h", Link{URL: "https://dl.example.com/h"})
	m := plainMeter(s, "h")
	m.Add(100)
	m.Close()
	s.sync()
	for i := range 3 {
		before := tr.n.Load()
		d := check(t, s, clk, CheckRequest{Subnet: subnet, PathHash: "h", FileSize: 1000, WantLink: true})
		if !d.Allowed || d.Link == nil {
			t.Fatalf("check %d: %+v", i, d)
		}
		if n := tr.n.Load() - before; n != 1 {
			t.Fatalf("check %d (cache hit) sent %d queries, want 1", i, n)
		}
	}
}

// TestPostgresCheckIsOneQueryWithCounters: counters and the revocation list ride in the same
// statement.
func TestPostgresCheckIsOneQueryWithCounters(t *testing.T) {
	db := DB{Mode: ModePostgres, DatabaseURL: testpg.URL(t)}
	tr := &countingTracer{}
	clk := newClock()
	s := startStore(t, newTestStore(t, db, Config{WindowTime: time.Minute, RequestLimit: 100,
		TotalEnabled: true, TotalLimit: Size{Bytes: 1 << 30}, TotalWindow: time.Hour, Clock: clk.Now}, tr))
	req := CheckRequest{Subnet: subnet, PathHash: "h", Path: "/h", Revocable: true, Reserve: 10, Counters: []Counter{
		{Name: "q", Key: "k", Bytes: 1 << 20, Requests: 10, Period: rolling(time.Hour)},
		{Name: "r", Requests: 10, Period: calendar(time.Hour)}}}
	for i := range 3 {
		before := tr.n.Load()
		wantAllowed(t, check(t, s, clk, req), "check")
		if n := tr.n.Load() - before; n != 1 {
			t.Fatalf("check %d sent %d queries, want 1", i, n)
		}
	}
}
