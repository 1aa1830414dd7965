package quota

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestSQLiteGroupEqualsSequential: a group of checks in one transaction (shared state rows,
// counters written once at the end) answers every check and leaves the database exactly as the
// same checks run one transaction each — over random mixes of subnets, paths, clocks, limits,
// blocks, bans, throttles, cached links and sizes, and bandwidth reservations (each check sees
// what the earlier ones of its group reserved).
func TestSQLiteGroupEqualsSequential(t *testing.T) {
	ctx := context.Background()
	for seed := uint64(1); seed <= 60; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		dir := t.TempDir()
		grouped, err := openSQLite(ctx, filepath.Join(dir, "grouped.db"))
		if err != nil {
			t.Fatal(err)
		}
		single, err := openSQLite(ctx, filepath.Join(dir, "single.db"))
		if err != nil {
			t.Fatal(err)
		}
		const base = int64(1_000_000)
		seedSQL := randomState(rng, base)
		for _, b := range []*sqliteBackend{grouped, single} {
			for _, q := range seedSQL {
				if _, err := b.db.ExecContext(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
		}
		limit := 1 + rng.IntN(6)
		var jobs []*checkJob
		now := base
		for i := 0; i < 2+rng.IntN(40); i++ {
			now += int64(rng.IntN(3)) * 400 // ms; windows are 1 s
			p := checkParams{
				scope: "proxy", subnet: fmt.Sprintf("10.0.0.%d/32", rng.IntN(3)), path: fmt.Sprintf("p%d", rng.IntN(3)),
				now: now, ban: rng.IntN(4) > 0, limit: limit, window: 1000, block: int64(rng.IntN(3)) * 700,
				totalLimit: int64(rng.IntN(3)) * 500, fileLimit: int64(rng.IntN(3)) * 300, bwBlock: 900,
				linkTTL: int64(rng.IntN(3)) * 800, throttle: rng.IntN(3) > 0, sizeTTL: int64(rng.IntN(3)) * 800,
			}
			if rng.IntN(8) == 0 {
				p.limit = 0
			}
			// Reservations: known sizes, none (HEAD), unknown (a chunk), over the whole window.
			p.reserve = []int64{0, 50, 200, 400, ReserveUnknown}[rng.IntN(5)]
			p.chunk = 150
			p.totalWindow, p.fileWindow = 1000, 1500
			jobs = append(jobs, &checkJob{ctx: ctx, p: p})
		}
		if err := grouped.runTx(jobs); err != nil {
			t.Fatal(err)
		}
		for i, j := range jobs {
			one := &checkJob{ctx: ctx, p: j.p}
			if err := single.runTx([]*checkJob{one}); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(one.res, j.res) || one.err != nil || j.err != nil {
				t.Fatalf("seed %d check %d %+v:\n grouped %+v (%v)\n single  %+v (%v)", seed, i, j.p, j.res, j.err, one.res, one.err)
			}
		}
		for _, table := range []string{"rate_windows", "bw_usage"} {
			g, s := dump(t, grouped, table), dump(t, single, table)
			if g != s {
				t.Fatalf("seed %d: %s differs\n grouped %s\n single  %s", seed, table, g, s)
			}
		}
		grouped.close()
		single.close()
	}
}

// randomState fills the tables a check reads with rows that are live or expired around base.
func randomState(rng *rand.Rand, base int64) []string {
	var q []string
	at := func() int64 { return base + int64(rng.IntN(5)-2)*600 }
	for s := 0; s < 3; s++ {
		subnet := fmt.Sprintf("10.0.0.%d/32", s)
		if rng.IntN(4) == 0 {
			q = append(q, fmt.Sprintf(`INSERT INTO bans (scope, subnet, until) VALUES ('proxy', '%s', %d)`, subnet, at()))
		}
		if rng.IntN(2) == 0 {
			q = append(q, fmt.Sprintf(`INSERT INTO rate_windows (scope, subnet, window_end, count, blocked_until) VALUES ('proxy', '%s', %d, %d, %d)`,
				subnet, at(), rng.IntN(5), []int64{0, at()}[rng.IntN(2)]))
		}
		for p := -1; p < 3; p++ {
			path := ""
			if p >= 0 {
				path = fmt.Sprintf("p%d", p)
			}
			if rng.IntN(2) == 0 {
				q = append(q, fmt.Sprintf(`INSERT INTO bw_usage (scope, subnet, path_hash, window_end, bytes, blocked_until) VALUES ('proxy', '%s', '%s', %d, %d, %d)`,
					subnet, path, at(), rng.IntN(1000), []int64{0, at()}[rng.IntN(2)]))
			}
		}
	}
	for p := 0; p < 3; p++ {
		host := []string{"", "a.example", "b.example"}[rng.IntN(3)]
		if rng.IntN(3) > 0 {
			q = append(q, fmt.Sprintf(`INSERT INTO links (path_hash, url, header, host, fetched_at, expires_at) VALUES ('p%d', 'http://%s/p%d', '{}', '%s', %d, %d)`,
				p, host, p, host, at(), base+100_000))
		}
		if rng.IntN(2) == 0 {
			q = append(q, fmt.Sprintf(`INSERT INTO sizes (path_hash, size, fetched_at, expires_at) VALUES ('p%d', %d, %d, %d)`, p, 100+p, at(), base+100_000))
		}
	}
	for _, h := range []string{"a.example", "b.example"} {
		if rng.IntN(2) == 0 {
			q = append(q, fmt.Sprintf(`INSERT INTO throttle (host, status, until) VALUES ('%s', 429, %d)`, h, at()))
		}
	}
	return q
}

func dump(t *testing.T, b *sqliteBackend, table string) string {
	t.Helper()
	rows, err := b.db.Query(`SELECT * FROM ` + table + ` ORDER BY 1, 2, 3`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprint(vals...))
	}
	return strings.Join(out, "; ")
}
