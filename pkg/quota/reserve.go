package quota

import (
	"context"
	"fmt"
	"time"
)

// Bandwidth reservations (docs/contract.md §8: a quota is a cap). The check that admits a capped request
// counts the bytes the answer is expected to deliver in the same round trip, so a parallel
// request sees them and is refused if it would pass the limit; Meter.Close later settles the
// reservation with the bytes really delivered. Both usage rows (the subnet total and the
// subnet+path row) take the reservation whenever any quota applies, so one number settles both.

// defaultReserveChunk is Config.ReserveChunk's default.
const defaultReserveChunk = 4 << 20

// defaultUsageWindow: how long usage is kept for reading when its quota is off (the contract's
// default BANDWIDTH_WINDOW_TIME_*).
const defaultUsageWindow = 24 * time.Hour

// reservation is what an admitting check counted, carried by its Decision to Store.Meter.
type reservation struct {
	req                   CheckRequest // for the facts of Extend's refusals
	scope, subnet, path   string       // stored keys (subnet hashed)
	totalLimit, fileLimit int64
	grant                 int64
	ends                  resEnds    // window ends of the rows the reservation went to
	ctrs                  []ctrParam // policy counters (check order: sorted by stored key)
	order                 []int
}

// extendParams are the inputs of one Extend round trip; a zero limit does not cap.
type extendParams struct {
	scope, subnet, path     string
	now                     int64
	want                    int64
	totalLimit, fileLimit   int64
	totalWindow, fileWindow int64
	ctrs                    []ctrParam // byte counters only, sorted; window from now
	order                   []int
	ctrIdx                  []int // ctrs[j] is the reservation's counter ctrIdx[j]
}

type extendResult struct {
	grant    int64
	reason   Reason // the quota that granted less than asked
	retry    int64  // ms until that quota's window ends
	counter  int    // policy_limit: index in extendParams.ctrs plus one
	ends     resEnds
	refusal  Decision
	failOpen bool
}

// bwRow is one bw_usage row as a check or an extension finds it (exists false: no row).
type bwRow struct {
	end, bytes, blocked int64
	exists              bool
}

// used is what counts against the limit at now: nothing once the window has ended.
func (r bwRow) used(now int64) int64 {
	if r.end > now && r.bytes > 0 {
		return r.bytes
	}
	return 0
}

// plus adds n bytes; an ended (or empty) window is replaced by one that starts now.
func (r bwRow) plus(now, window, n int64) bwRow {
	if r.end <= now || r.bytes <= 0 {
		r.end, r.bytes = now+window, n
	} else {
		r.bytes += n
	}
	r.exists = true
	return r
}

// over: a request wanting want bytes (want <= 0: unknown or none) must be refused by a quota
// of limit with used bytes counted: it would pass the limit, or the limit is reached.
func over(used, want, limit int64) bool {
	return limit > 0 && (used >= limit || (want > 0 && used+want > limit))
}

// grantFor is what an admitted request is granted: want when known, nothing for 0, and for an
// unknown length (want < 0) a chunk, no more than what is left under every cap.
func grantFor(want, chunk int64, limits, used [2]int64) int64 {
	if want >= 0 {
		return want
	}
	grant := chunk
	for i := range limits {
		if limits[i] > 0 {
			grant = min(grant, limits[i]-used[i])
		}
	}
	return grant
}

// extendGrant is Extend's rule: as much of want as fits under every cap (0..want).
func extendGrant(want int64, limits, used [2]int64) (grant int64, limitedBy int) {
	grant, limitedBy = want, -1
	for i := range limits {
		if limits[i] > 0 && limits[i]-used[i] < grant {
			grant, limitedBy = max(limits[i]-used[i], 0), i
		}
	}
	return grant, limitedBy
}

// extend runs one Extend round trip for the stream reserved by r.
func (s *store) extend(ctx context.Context, r *reservation, n int64) (extendResult, error) {
	p := extendParams{
		scope: r.scope, subnet: r.subnet, path: r.path, now: s.now(), want: n,
		totalLimit: r.totalLimit, fileLimit: r.fileLimit,
		totalWindow: s.window(s.cfg.TotalWindow), fileWindow: s.window(s.cfg.FileWindow),
	}
	p.ctrs, p.order, p.ctrIdx = extendCounters(r, p.now)
	cctx, cancel := context.WithTimeout(ctx, s.cfg.CheckTimeout)
	res, err := s.be.extend(cctx, p)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return extendResult{}, ctx.Err()
		}
		s.health.failed(err)
		if s.cfg.FailOpen {
			s.failOpen.Add(1)
			s.warn("quota database failed; stream continues without limits (fail-open)", err)
			return extendResult{failOpen: true}, err
		}
		s.warn("quota database failed; stream stopped (fail-closed)", err)
		return extendResult{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	s.health.ok()
	if res.grant < n {
		// Bytes come back when the window ends or parallel streams settle: no later than a
		// refused check would have been told.
		retry := res.retry
		if res.reason != ReasonCounter {
			retry = min(retry, ms(s.cfg.BandwidthBlockTime))
		}
		res.refusal = s.decide(r.req, checkResult{reason: res.reason, retry: retry, counter: res.counter,
			ckind: ctrKindBytes}, p.ctrs, p.now)
	}
	res.ends.c = expandEnds(len(r.ctrs), p.ctrIdx, res.ends.c)
	return res, nil
}

func (s *store) window(d time.Duration) int64 {
	if d <= 0 {
		d = defaultUsageWindow
	}
	return ms(d)
}

// Meter implements Store.
func (s *store) Meter(req CheckRequest, d Decision) *Meter {
	sc, sub, path := string(req.Scope), hashHex(req.Subnet), req.PathHash
	var ctrs []ctrParam // byte counters: charged what is delivered beyond a reservation
	if len(req.Counters) > 0 {
		all, _ := counterParams(req.Counters, s.cfg.Clock())
		for _, c := range all {
			if c.bytes > 0 {
				ctrs = append(ctrs, c)
			}
		}
	}
	m := NewMeter(func(delta int64) { s.addUsage(sc, sub, path, delta, ctrs) }, s.cfg.UsageFlushBytes, s.cfg.UsageFlushInterval)
	if r := d.res; r != nil && d.Allowed {
		m.reserved, m.granted = r.grant, r.grant
		m.res = &meterReservation{
			extend:  func(ctx context.Context, n int64) (extendResult, error) { return s.extend(ctx, r, n) },
			release: func(n int64, e resEnds) { s.addRelease(r.scope, r.subnet, r.path, n, e, r.ctrs) },
			ends:    r.ends,
		}
	}
	return m
}

// releaseAbandoned gives back what a check reserved for a caller that gave up waiting for its
// answer (nobody will stream, so nobody would settle it).
func (s *store) releaseAbandoned(p checkParams, r checkResult) {
	if r.reason == ReasonNone && r.grant > 0 {
		s.addRelease(p.scope, p.subnet, p.path, r.grant, resEnds{t: r.tEnd, f: r.fEnd, c: r.cEnds}, p.ctrs)
	}
}

// addRelease queues the release of n reserved bytes of the windows ending e.t (total row),
// e.f (path row) and e.c[i] (the byte row of ctrs[i]). Releases are merged per row and window
// and written with the usage.
func (s *store) addRelease(scope, subnet, path string, n int64, e resEnds, ctrs []ctrParam) {
	if n <= 0 {
		return
	}
	s.usageMu.Lock()
	if s.usageClosed {
		s.usageMu.Unlock()
		s.warn("quota reservation released after Close; not stored", nil)
		return
	}
	s.addReleaseLocked(usageKey{scope, subnet, ""}, e.t, n)
	if path != "" {
		s.addReleaseLocked(usageKey{scope, subnet, path}, e.f, n)
	}
	for i, c := range ctrs {
		if i < len(e.c) && c.bytes > 0 {
			s.addReleaseLocked(usageKey{c.scope, c.key, ""}, e.c[i], n)
		}
	}
	s.usageMu.Unlock()
	s.signal()
}

func (s *store) addReleaseLocked(k usageKey, windowEnd, n int64) {
	if windowEnd <= 0 {
		return
	}
	mk := usageMapKey{k, windowEnd}
	r := s.usage[mk]
	if r == nil {
		r = &usageRow{usageKey: k, tag: windowEnd}
		s.usage[mk] = r
	}
	r.bytes -= n
}
