package quota

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The operation sequences of TestDifferential: a Config and operations drawn from a seeded
// generator, with few subnets, paths and hosts so that they collide.

// diffConfig draws the limits of one sequence: small numbers, so that limits are reached,
// windows and blocks end, and bans happen within a few dozen operations.
func diffConfig(r *rand.Rand, clk *fakeClock) Config {
	pick := func(ds ...time.Duration) time.Duration { return ds[r.IntN(len(ds))] }
	c := Config{
		WindowTime:         pick(30*time.Second, time.Minute),
		BlockTime:          pick(0, 20*time.Second, 90*time.Second),
		TotalWindow:        pick(2*time.Minute, 10*time.Minute),
		FileWindow:         pick(time.Minute, 5*time.Minute),
		BandwidthBlockTime: pick(30*time.Second, 2*time.Minute),
		LinkTTL:            pick(0, 90*time.Second, 5*time.Minute, 5*time.Minute),
		SizeTTL:            pick(0, 2*time.Minute),
		ThrottleHosts:      []string{"*.example.com", "cdn.other.net"},
		ThrottleWindow:     pick(20*time.Second, time.Minute),
		BanWindow:          pick(30*time.Second, 2*time.Minute),
		BanTime:            pick(time.Minute, 5*time.Minute),
		UsageFlushBytes:    []int64{700, 4000}[r.IntN(2)],
		UsageFlushInterval: time.Hour, // progressive flushes by bytes only: no real time involved
		ReserveChunk:       []int64{500, 1500}[r.IntN(2)],
		Clock:              clk.Now,
		WindowText:         "w", TotalLimitText: "t", FileLimitText: "f",
	}
	c.RequestLimit = []int{0, 3, 5, 12, 1<<32 + 3}[r.IntN(5)] // past int32: see Config.normalized
	c.BanAfterFails = []int{0, 2, 3, 1<<32 + 2}[r.IntN(4)]
	c.TotalEnabled = r.IntN(3) > 0
	c.TotalLimit = Size{Bytes: []int64{3000, 8000, 20000}[r.IntN(3)]}
	c.FileEnabled = r.IntN(3) > 0
	c.FileLimit = []Size{{Bytes: 2500}, {Multiple: 2}, {Multiple: 1.5}}[r.IntN(3)]
	return c
}

// diffOp is one generated operation; its String is what a failure prints.
type diffOp struct {
	kind   string
	req    CheckRequest
	reqs   []CheckRequest // burst
	meter  int
	n      int64
	path   string
	host   string
	status int
	link   Link
	step   time.Duration
	nonce  string
	prefix bool // revoke, unrevoke
}

func (o diffOp) String() string {
	switch o.kind {
	case "check":
		return "check " + reqString(o.req)
	case "burst":
		var rs []string
		for _, r := range o.reqs {
			rs = append(rs, reqString(r))
		}
		return "burst [" + strings.Join(rs, "; ") + "]"
	case "add", "extend":
		return fmt.Sprintf("%s meter#%d %d", o.kind, o.meter, o.n)
	case "close":
		return fmt.Sprintf("close meter#%d", o.meter)
	case "plain":
		return fmt.Sprintf("plain meter %s %s path=%q +%d", o.req.Scope, o.req.Subnet, o.req.PathHash, o.n)
	case "fail":
		return fmt.Sprintf("fail %s %s", o.req.Scope, o.req.Subnet)
	case "savelink":
		return fmt.Sprintf("savelink %q %s hdr=%v", o.path, o.link.URL, o.link.Header)
	case "invalidate":
		return fmt.Sprintf("invalidate %q", o.path)
	case "savesize":
		return fmt.Sprintf("savesize %q %d", o.path, o.n)
	case "report":
		return fmt.Sprintf("report %s %d", o.host, o.status)
	case "step":
		return fmt.Sprintf("step %s", o.step)
	case "nonce":
		return fmt.Sprintf("nonce %s expires +%s", o.nonce, o.step)
	case "revoke", "unrevoke":
		return fmt.Sprintf("%s %q prefix=%v for %s", o.kind, o.path, o.prefix, o.step)
	}
	return o.kind
}

var (
	diffSubnets = []string{"198.51.100.0/24", "198.51.100.1/32", "2001:db8:0:0:0:0:0:0/60"}
	diffPaths   = []string{"", "p0", "p1"}
	diffHosts   = []string{"dl.example.com", "a.b.example.com", "cdn.other.net", "free.org"}
)

func genCheck(r *rand.Rand, scope Scope, subnet string) CheckRequest {
	pickI := func(xs ...int64) int64 { return xs[r.IntN(len(xs))] }
	req := CheckRequest{Scope: scope, Subnet: subnet, PathHash: diffPaths[r.IntN(len(diffPaths))],
		FileSize: pickI(0, 700, 1500, 4000), WantLink: r.IntN(10) < 7, WantSize: r.IntN(10) < 3}
	if req.PathHash != "" {
		req.Path = "/" + req.PathHash
	}
	req.Reserve = pickI(ReserveUnknown, 0, 100, 900, 2000, 5000, req.FileSize)
	if r.IntN(2) == 0 {
		for range 1 + r.IntN(3) {
			req.Counters = append(req.Counters, diffCounters[r.IntN(len(diffCounters))])
		}
	}
	if req.Path != "" && r.IntN(3) == 0 {
		req.Revocable = true
	}
	return req
}

// diffCounters are the policy counters checks draw from: shared and per-key, bytes and
// requests, rolling and calendar windows, with small caps that fill up.
var diffCounters = []Counter{
	{Name: "a", Key: "", Bytes: 3000, Period: rolling(90 * time.Second)},
	{Name: "a", Key: "k1", Bytes: 1200, Requests: 4, Period: rolling(90 * time.Second)},
	{Name: "b", Key: "", Requests: 3, Period: calendar(time.Minute)},
	{Name: "c", Key: "k1", Bytes: 5000, Requests: 6, Period: calendar(2 * time.Minute)},
	{Name: "d", Key: "k2", Bytes: 2500, Period: calendar(time.Hour)},
}

// diffWeights: how often each operation is drawn (meter operations only while a meter is open).
var diffWeights = []struct {
	kind string
	w    int
}{
	{"check", 22}, {"burst", 4}, {"add", 12}, {"extend", 6}, {"close", 7}, {"step", 12}, {"plain", 2}, {"fail", 5},
	{"savelink", 7}, {"invalidate", 2}, {"savesize", 3}, {"report", 8}, {"flush", 9}, {"janitor", 1}, {"nonce", 2},
	{"revoke", 2}, {"unrevoke", 1},
}

// genOp draws one operation. A busy sequence (busy) moves its clock in small steps, so that
// limits fill up and links stay cached; the others cross windows, blocks and bans often.
func genOp(r *rand.Rand, cfg Config, openMeters []int, busy bool) diffOp {
	pickI := func(xs ...int64) int64 { return xs[r.IntN(len(xs))] }
	scope := ScopeProxy
	if r.IntN(7) == 0 {
		scope = ScopeLanding
	}
	subnet := diffSubnets[r.IntN(len(diffSubnets))]
	path := diffPaths[1+r.IntN(len(diffPaths)-1)]
	total := 0
	for _, w := range diffWeights {
		total += w.w
	}
	x, kind := r.IntN(total), ""
	for _, w := range diffWeights {
		if x -= w.w; x < 0 {
			kind = w.kind
			break
		}
	}
	switch kind {
	case "add", "extend", "close":
		if len(openMeters) == 0 {
			kind = "check"
		}
	}
	switch kind {
	case "add":
		return diffOp{kind: kind, meter: openMeters[r.IntN(len(openMeters))], n: pickI(1, 10, 100, 500, 1200, 3000)}
	case "extend":
		return diffOp{kind: kind, meter: openMeters[r.IntN(len(openMeters))], n: pickI(100, 700, 1500, 4000)}
	case "close":
		return diffOp{kind: kind, meter: openMeters[r.IntN(len(openMeters))]}
	case "check":
		return diffOp{kind: kind, req: genCheck(r, scope, subnet)}
	case "burst":
		// Concurrent checks as the group commit runs them: in one SQLite transaction, in one
		// pipelined Postgres batch. Mostly one subnet, so that they share rows.
		o := diffOp{kind: kind}
		for range 2 + r.IntN(4) {
			if r.IntN(2) == 0 {
				subnet = diffSubnets[r.IntN(len(diffSubnets))]
			}
			o.reqs = append(o.reqs, genCheck(r, scope, subnet))
		}
		return o
	case "step":
		// Half the steps are a configured duration (or 1ms less): after a step of exactly a
		// window, block or TTL since it began, the check runs on the boundary itself.
		if busy && r.IntN(6) > 0 {
			return diffOp{kind: kind, step: []time.Duration{time.Millisecond, 250 * time.Millisecond, time.Second,
				2 * time.Second, 5 * time.Second}[r.IntN(5)]}
		}
		if r.IntN(2) == 0 {
			d := []time.Duration{cfg.WindowTime, cfg.BlockTime, cfg.TotalWindow, cfg.FileWindow, cfg.BandwidthBlockTime,
				cfg.BanWindow, cfg.BanTime, cfg.ThrottleWindow, cfg.LinkTTL, cfg.SizeTTL}[r.IntN(10)]
			if r.IntN(3) == 0 {
				d -= time.Millisecond
			}
			return diffOp{kind: kind, step: max(d, time.Millisecond)}
		}
		return diffOp{kind: kind, step: []time.Duration{time.Millisecond, 250 * time.Millisecond, time.Second,
			5 * time.Second, 20 * time.Second, 30 * time.Second, 61 * time.Second, 2 * time.Minute, 5 * time.Minute,
			11 * time.Minute}[r.IntN(10)]}
	case "plain":
		return diffOp{kind: kind, req: CheckRequest{Scope: scope, Subnet: subnet, PathHash: diffPaths[r.IntN(len(diffPaths))]},
			n: pickI(1, 300, 2000)}
	case "fail":
		return diffOp{kind: kind, req: CheckRequest{Scope: scope, Subnet: subnet}}
	case "savelink":
		l := Link{URL: "https://" + diffHosts[r.IntN(len(diffHosts))] + "/" + path}
		if r.IntN(3) == 0 {
			l.Header = http.Header{"Authorization": {"t" + strconv.Itoa(r.IntN(9))}}
		}
		return diffOp{kind: kind, path: path, link: l}
	case "invalidate":
		return diffOp{kind: kind, path: path}
	case "savesize":
		return diffOp{kind: kind, path: path, n: pickI(0, 700, 1500, 4000)}
	case "report":
		return diffOp{kind: kind, host: diffHosts[r.IntN(len(diffHosts))],
			status: []int{429, 500, 503, 200, 206, 302, 404}[r.IntN(7)]}
	case "nonce":
		return diffOp{kind: kind, nonce: "n" + strconv.Itoa(r.IntN(3)),
			step: []time.Duration{0, -time.Second, 10 * time.Second, time.Minute}[r.IntN(4)]}
	case "revoke", "unrevoke":
		o := diffOp{kind: kind, path: []string{"/p0", "/p1", "/p", "/"}[r.IntN(4)], prefix: r.IntN(2) == 0}
		if kind == "revoke" {
			o.step = []time.Duration{0, 30 * time.Second, 2 * time.Minute}[r.IntN(3)]
		}
		return o
	}
	return diffOp{kind: kind} // flush, janitor
}

func reqString(r CheckRequest) string {
	s := fmt.Sprintf("%s %s path=%q size=%d reserve=%d link=%v wantsize=%v",
		r.Scope, r.Subnet, r.PathHash, r.FileSize, r.Reserve, r.WantLink, r.WantSize)
	for _, c := range r.Counters {
		s += fmt.Sprintf(" counter=%s/%s", c.Name, c.Key)
	}
	if r.Revocable {
		s += " revocable"
	}
	return s
}
