package quota

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alist-edge/alist-edge/internal/testpg"
)

// The check exists twice: alist_edge_check_v2/alist_edge_extend_v1 in PL/pgSQL for Postgres,
// checkIn/extend in Go for SQLite, and the write-behind SQL twice as well. TestDifferential
// replays the same random operation sequences on a real SQLite file and a real Postgres
// database, with one fake clock and one Config, and requires identical decisions, grants and
// stored rows (compared at every flush and at the end).
//
// Knobs (environment): QUOTA_DIFF_SEED (first seed, default 1), QUOTA_DIFF_N (sequences,
// default 250), QUOTA_DIFF_OPS (operations per sequence, default 50). A failure prints the
// seed, the Config and the operations up to the divergence; QUOTA_DIFF_SEED=<seed>
// QUOTA_DIFF_N=1 replays it.

// diffSide is one backend under test. Its store is not started: the test flushes the
// write-behind queue itself, at the same points on both sides, so both write the same batches.
type diffSide struct {
	name string
	be   backend
	s    *store
	dump func(t testing.TB, q string) []string
}

func TestDifferential(t *testing.T) {
	t.Parallel()
	seed := envInt(t, "QUOTA_DIFF_SEED", 1)
	n := envInt(t, "QUOTA_DIFF_N", 250)
	nops := envInt(t, "QUOTA_DIFF_OPS", 50)
	if testing.Short() {
		n = min(n, 30)
	}
	ctx := context.Background()

	liteBE, err := openSQLite(ctx, filepath.Join(t.TempDir(), "diff.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = liteBE.close() })
	pool, err := newPGPool(testpg.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	pgBE, err := openPostgres(ctx, pool)
	if err != nil {
		pool.close()
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pgBE.close() })

	sides := [2]*diffSide{
		{name: "sqlite", be: liteBE, dump: func(t testing.TB, q string) []string { return dumpSQLite(t, liteBE, q) }},
		{name: "postgres", be: pgBE, dump: func(t testing.TB, q string) []string { return dumpPG(t, pgBE, q) }},
	}
	start := time.Now()
	seen := map[string]int{}
	for i := range n {
		runDiffSequence(t, sides, uint64(seed+i), nops, seen)
		if t.Failed() {
			return
		}
	}
	t.Logf("%d sequences of %d operations from seed %d in %s; outcomes: %v", n, nops, seed,
		time.Since(start).Round(time.Millisecond), seen)
}

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, v, err)
	}
	return n
}

// runDiffSequence replays one sequence on both sides; seen counts the kinds of outcome (the
// log shows what the sequences exercised).
func runDiffSequence(t *testing.T, sides [2]*diffSide, seed uint64, nops int, seen map[string]int) {
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	clk := newClock()
	cfg, err := diffConfig(r, clk).normalized()
	if err != nil {
		t.Fatal(err)
	}
	for _, sd := range sides {
		execAll(t, sd.be, diffReset)
		sd.s = newStore(sd.be, cfg, slog.New(slog.DiscardHandler))
	}
	var (
		log    []string
		meters [2][]*Meter
		open   []int // indexes of meters not closed yet
		opened int   // meters seen so far
	)
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf("seed %d diverges: %s\nconfig: %+v\noperations:\n  %s\nreplay: QUOTA_DIFF_SEED=%d QUOTA_DIFF_N=1 go test -run TestDifferential ./pkg/quota",
			seed, fmt.Sprintf(format, args...), cfgString(cfg), strings.Join(log, "\n  "), seed)
	}
	compareRows := func(when string) bool {
		a, b := sides[0].dump(t, diffRows), sides[1].dump(t, diffRows)
		if slices.Equal(a, b) {
			return true
		}
		fail("%s: stored rows differ\n  only in sqlite:   %v\n  only in postgres: %v\n  both: %v",
			when, minus(a, b), minus(b, a), minus(a, minus(a, b)))
		return false
	}
	step := func(o diffOp) bool {
		var got [2]string
		for i, sd := range sides {
			res, err := sd.apply(clk, o, &meters[i])
			if err != nil {
				t.Fatalf("seed %d: %s on %s: %v", seed, o, sd.name, err)
			}
			got[i] = res
		}
		line := fmt.Sprintf("%3d %s", len(log), o)
		if got[0] != "" {
			line += " -> " + got[0]
		}
		log = append(log, line)
		if got[0] != got[1] {
			fail("operation %d answered differently\n  sqlite:   %s\n  postgres: %s", len(log)-1, got[0], got[1])
			return false
		}
		if k := outcome(o, got[0]); k != "" {
			seen[k]++
		}
		switch o.kind {
		case "step":
			clk.Advance(o.step)
		case "check", "burst":
			for ; opened < len(meters[0]); opened++ { // the meters apply opened
				open = append(open, opened)
			}
		case "close":
			open = slices.DeleteFunc(open, func(m int) bool { return m == o.meter })
		case "flush":
			return compareRows(fmt.Sprintf("after operation %d", len(log)-1))
		}
		return true
	}
	busy := r.IntN(2) == 0
	for range nops {
		if !step(genOp(r, cfg, open, busy)) {
			return
		}
	}
	for _, m := range slices.Clone(open) {
		if !step(diffOp{kind: "close", meter: m}) {
			return
		}
	}
	step(diffOp{kind: "flush"}) // compares the rows at the end
}

// apply runs o on one side and returns what it answered ("" when nothing).
func (sd *diffSide) apply(clk *fakeClock, o diffOp, meters *[]*Meter) (string, error) {
	s := sd.s
	ctx := context.Background()
	switch o.kind {
	case "check":
		req := o.req
		req.Now = clk.Now()
		d, err := s.Check(ctx, req)
		if err != nil {
			return "", err
		}
		if d.Allowed {
			*meters = append(*meters, s.Meter(req, d))
		}
		return decisionString(d), nil
	case "burst":
		return sd.burst(clk, o.reqs, meters)
	case "add":
		(*meters)[o.meter].Add(o.n)
	case "extend":
		g, err := (*meters)[o.meter].Extend(ctx, o.n)
		if le, ok := err.(*LimitError); ok {
			return fmt.Sprintf("granted %d, refused: %s", g, decisionString(le.Decision)), nil
		}
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("granted %d", g), nil
	case "close":
		(*meters)[o.meter].Close()
	case "plain":
		m := s.Meter(o.req, Decision{})
		m.Add(o.n)
		m.Close()
	case "fail":
		s.RecordFailure(o.req.Scope, o.req.Subnet)
	case "savelink":
		s.SaveLink(o.path, o.link)
	case "invalidate":
		s.InvalidateLink(o.path)
	case "savesize":
		s.SaveSize(o.path, o.n)
	case "report":
		s.ReportUpstream(o.host, o.status)
	case "revoke":
		var until time.Time // zero: no end
		if o.step != 0 {
			until = clk.Now().Add(o.step)
		}
		return "", s.Revoke(ctx, Revocation{Path: o.path, Prefix: o.prefix, Until: until})
	case "unrevoke":
		// Nothing to remove is an outcome both backends must agree on, not a failure.
		if err := s.Unrevoke(ctx, o.path, o.prefix); errors.Is(err, ErrNotFound) {
			return "not found", nil
		} else {
			return "", err
		}
	case "flush":
		return "", flushNow(s)
	case "janitor":
		return "", sd.be.janitor(ctx, s.now())
	case "nonce":
		var exp time.Time // zero: the store's default
		if o.step != 0 {
			exp = clk.Now().Add(o.step)
		}
		fresh, err := s.UseNonce(ctx, o.nonce, exp)
		return fmt.Sprintf("fresh=%v", fresh), err
	}
	return "", nil
}

// burst runs reqs as one group of the backend's group commit (sqlite_group.go, pg_group.go),
// in order, and opens a meter for each admitted one.
func (sd *diffSide) burst(clk *fakeClock, reqs []CheckRequest, meters *[]*Meter) (string, error) {
	s := sd.s
	reqs = slices.Clone(reqs) // the other side replays them too
	ps := make([]checkParams, len(reqs))
	jobs := make([]*checkJob, len(reqs))
	var group []*checkJob
	for i := range reqs {
		reqs[i].Now = clk.Now()
		req := reqs[i]
		var needed bool
		if ps[i], needed = s.params(req); needed {
			jobs[i] = &checkJob{ctx: context.Background(), p: ps[i]}
			group = append(group, jobs[i])
		}
	}
	switch be := sd.be.(type) {
	case *sqliteBackend:
		be.runGroup(group)
	case *pgBackend:
		be.runGroup(group)
	}
	out := make([]string, len(reqs))
	for i, req := range reqs {
		d := Decision{Allowed: true, Size: -1, Grant: -1}
		if j := jobs[i]; j != nil {
			if j.err != nil {
				return "", j.err
			}
			d = s.admit(req, ps[i], j.res)
		}
		if d.Allowed {
			*meters = append(*meters, s.Meter(req, d))
		}
		out[i] = decisionString(d)
	}
	return strings.Join(out, "; "), nil
}

// decisionString is every field of a Decision a caller acts on; zero values are left out.
func decisionString(d Decision) string {
	var b strings.Builder
	if d.Allowed {
		b.WriteString("allowed")
	} else {
		b.WriteString("refused")
	}
	add := func(k string, v any, zero bool) {
		if !zero {
			fmt.Fprintf(&b, " %s=%v", k, v)
		}
	}
	add("reason", d.Reason, d.Reason == "")
	add("retry", d.RetryAfter, d.RetryAfter == 0)
	add("grant", d.Grant, false)
	add("size", d.Size, false)
	add("failopen", d.FailOpen, !d.FailOpen)
	add("subnet", d.Subnet, d.Subnet == "")
	add("path", d.Path, d.Path == "")
	add("limit", fmt.Sprintf("%+v", d.Limit), d.Limit == Limit{})
	add("upstream", d.UpstreamStatus, d.UpstreamStatus == 0)
	add("counter", d.Counter, d.Counter == "")
	if d.Link != nil {
		add("link", fmt.Sprintf("%s %v @%d", d.Link.URL, d.Link.Header, d.Link.FetchedAt.UnixMilli()), false)
	}
	return b.String()
}

// outcome names the kind of result of o (res is its answer) for the summary.
func outcome(o diffOp, res string) string {
	switch o.kind {
	case "check":
		switch {
		case strings.HasPrefix(res, "allowed") && strings.Contains(res, " link="):
			return "allowed+link"
		case strings.HasPrefix(res, "allowed") && !strings.Contains(res, "size=-1"):
			return "allowed+size"
		case strings.HasPrefix(res, "allowed"):
			return "allowed"
		}
		r, _, _ := strings.Cut(strings.TrimPrefix(res, "refused reason="), " ")
		return r
	case "extend":
		if strings.Contains(res, "refused") {
			return "extend-short"
		}
		return "extend"
	case "nonce":
		return "nonce " + res
	case "burst":
		return "burst"
	}
	return ""
}

// minus is the rows of a that are not in b.
func minus(a, b []string) []string {
	var out []string
	for _, r := range a {
		if !slices.Contains(b, r) {
			out = append(out, r)
		}
	}
	return out
}

func cfgString(c Config) string {
	return fmt.Sprintf("rate %d/%s block %s; total %v %+v/%s; file %v %+v/%s; bwblock %s; link %s size %s; throttle %s; ban %d/%s for %s; flush %d chunk %d",
		c.RequestLimit, c.WindowTime, c.BlockTime, c.TotalEnabled, c.TotalLimit, c.TotalWindow, c.FileEnabled, c.FileLimit,
		c.FileWindow, c.BandwidthBlockTime, c.LinkTTL, c.SizeTTL, c.ThrottleWindow, c.BanAfterFails, c.BanWindow, c.BanTime,
		c.UsageFlushBytes, c.ReserveChunk)
}
