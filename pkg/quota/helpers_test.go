package quota

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/alist-edge/alist-edge/internal/testpg"
)

// backendCase is one database the behavioural suite runs against.
type backendCase struct {
	name string
	// fresh returns an empty database of its own for t.
	fresh func(t testing.TB) DB
	// outage makes the database of s unreachable mid-test.
	outage func(t testing.TB, s *store, db DB)
}

var backends = []backendCase{
	{
		name: "sqlite",
		fresh: func(t testing.TB) DB {
			// A missing parent directory: Open must create it.
			return DB{Mode: ModeSQLite, SQLitePath: filepath.Join(t.TempDir(), "data", "q.db")}
		},
		outage: func(t testing.TB, s *store, _ DB) {
			_ = inner(s).(*sqliteBackend).db.Close()
		},
	},
	{
		name: "postgres",
		fresh: func(t testing.TB) DB {
			return DB{Mode: ModePostgres, DatabaseURL: testpg.URL(t)}
		},
		outage: func(t testing.TB, _ *store, db DB) {
			testpg.Disconnect(t, db.DatabaseURL)
		},
	},
}

// eachBackend runs fn as a parallel subtest per backend.
func eachBackend(t *testing.T, fn func(t *testing.T, bc backendCase)) {
	t.Helper()
	for _, bc := range backends {
		t.Run(bc.name, func(t *testing.T) {
			t.Parallel()
			fn(t, bc)
		})
	}
}

// fakeClock drives both the request times and the store's own Clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	// Deliberately not on a second or minute boundary: windows start at the first request.
	return &fakeClock{t: time.Date(2025, 3, 4, 12, 0, 7, 300_000_000, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// queryInt runs a one-value query on the store's own database ($N placeholders).
func queryInt(t testing.TB, s *store, q string, args ...any) int64 {
	t.Helper()
	ctx := context.Background()
	var v int64
	switch be := inner(s).(type) {
	case *sqliteBackend:
		if err := be.db.QueryRowContext(ctx, strings.ReplaceAll(q, "$", "?"), args...).Scan(&v); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	case *pgBackend:
		if err := be.pool.with(ctx, func(c *pgx.Conn) error { return c.QueryRow(ctx, q, args...).Scan(&v) }); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return v
}

// rawExec runs statements on db without a store (to fake a newer schema, say).
func rawExec(t testing.TB, db DB, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	switch db.Mode {
	case ModePostgres:
		c, err := pgx.Connect(ctx, db.DatabaseURL)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		for _, s := range stmts {
			if _, err := c.Exec(ctx, s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
	default:
		d, err := sql.Open("sqlite", db.SQLitePath)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		for _, s := range stmts {
			if _, err := d.ExecContext(ctx, s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
	}
}

func usageOf(t testing.TB, s *store, scope Scope, subnet, path string) int64 {
	t.Helper()
	return queryInt(t, s, `SELECT COALESCE(SUM(bytes), 0) FROM bw_usage WHERE scope = $1 AND subnet = $2 AND path_hash = $3`,
		string(scope), hashHex(subnet), path)
}

// check is Check with the test's clock and a failure on error.
func check(t testing.TB, s *store, clk *fakeClock, req CheckRequest) Decision {
	t.Helper()
	if req.Scope == "" {
		req.Scope = ScopeProxy
	}
	req.Now = clk.Now()
	d, err := s.Check(context.Background(), req)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	return d
}

func wantAllowed(t testing.TB, d Decision, what string) {
	t.Helper()
	if !d.Allowed {
		t.Fatalf("%s: refused (%s, retry %d), want allowed", what, d.Reason, d.RetryAfter)
	}
}

// wantRefused checks a refusal's reason and Retry-After and, when facts is given, the facts
// it names (Subnet, Path, Limit, UpstreamStatus; internal/httpx turns them into the answer).
func wantRefused(t testing.TB, d Decision, what string, reason Reason, retry int, facts ...Decision) {
	t.Helper()
	if d.Allowed {
		t.Fatalf("%s: allowed, want %s", what, reason)
	}
	if d.Reason != reason || d.RetryAfter != retry {
		t.Fatalf("%s: got %s retry %d, want %s retry %d", what, d.Reason, d.RetryAfter, reason, retry)
	}
	for _, f := range facts {
		if d.Subnet != f.Subnet || d.Path != f.Path || d.Limit != f.Limit || d.UpstreamStatus != f.UpstreamStatus {
			t.Fatalf("%s: facts %q %q %+v %d, want %q %q %+v %d", what, d.Subnet, d.Path, d.Limit, d.UpstreamStatus,
				f.Subnet, f.Path, f.Limit, f.UpstreamStatus)
		}
	}
}

func testpgReconnect(t testing.TB, db DB) { testpg.Reconnect(t, db.DatabaseURL) }

// plainMeter is a meter without a reservation: every byte added is charged as delivered.
func plainMeter(s *store, pathHash string) *Meter {
	return s.Meter(CheckRequest{Scope: ScopeProxy, Subnet: subnet, PathHash: pathHash}, Decision{})
}
