package quota

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

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
		if v := queryInt(t, s, `SELECT MAX(version) FROM schema_migrations`); v != 5 {
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
