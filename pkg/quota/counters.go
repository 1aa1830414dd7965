package quota

import (
	"cmp"
	"slices"
	"time"
)

// Policy counters (issue #16): the named quotas and rates of a policy, enforced as caps in the
// same round trip as everything else. A counter is stored in the tables the subnet's own limits
// use, under scope "policy:"+Name and the counter's Key: its bytes in a bw_usage row (path_hash
// ''), its requests in a rate_windows row. So reservations, releases, the usage writer and the
// janitor work on them unchanged. A window ends at Period.WindowEnd(start), where start is the
// first use after the previous window ended; nothing has to reset a counter.

// Counter is one policy limit applied to one request. The caller builds Key from the limit's
// scope (hashed subnet, path hash, both, or "" for a global limit).
type Counter struct {
	Name     string // the limit's name: refusals, metrics, stored key
	Key      string // scope key, stored as given
	Bytes    int64  // cap in bytes per window, 0 none
	Requests int64  // cap in requests per window, 0 none
	// Period gives the end of a window (re)started at now; policy.Period satisfies it.
	Period interface{ WindowEnd(now time.Time) time.Time }
}

// counterScopePrefix keeps counters apart from the services' own rows (scope proxy, landing,
// upload) in the shared tables.
const counterScopePrefix = "policy:"

// CounterScope is the stored scope of the counter named name (admin tools read rows by it).
func CounterScope(name string) string { return counterScopePrefix + name }

// ctrParam is a counter as the round trip takes it.
type ctrParam struct {
	name            string
	scope, key      string // stored keys
	bytes, requests int64
	window          int64 // ms from now to Period.WindowEnd(now), >= 1
	period          interface{ WindowEnd(now time.Time) time.Time }
}

// counterParams turns cs into the round trip's counters: sorted by stored key (the order rows
// are locked in, the usage writer's order, so replicas never deadlock) and the order the policy
// gave (indexes into the sorted list), which decides which counter a refusal names. A counter
// without a cap is dropped; two of the same name and key are one row, so they merge, keeping
// the smaller caps.
func counterParams(cs []Counter, now time.Time) (ctrs []ctrParam, order []int) {
	if len(cs) == 0 {
		return nil, nil
	}
	given := make([]int, 0, len(cs)) // given[i]: index in ctrs of the i-th kept counter
	for _, c := range cs {
		if (c.Bytes <= 0 && c.Requests <= 0) || c.Period == nil {
			continue
		}
		p := ctrParam{name: c.Name, scope: CounterScope(c.Name), key: c.Key,
			bytes: max(c.Bytes, 0), requests: min(max(c.Requests, 0), maxCount), period: c.Period}
		p.window = max(c.Period.WindowEnd(now).UnixMilli()-now.UnixMilli(), 1)
		if i := slices.IndexFunc(ctrs, func(o ctrParam) bool { return o.scope == p.scope && o.key == p.key }); i >= 0 {
			ctrs[i].bytes = minCap(ctrs[i].bytes, p.bytes)
			ctrs[i].requests = minCap(ctrs[i].requests, p.requests)
			continue
		}
		given = append(given, len(ctrs))
		ctrs = append(ctrs, p)
	}
	if len(ctrs) == 0 {
		return nil, nil
	}
	idx := make([]int, len(ctrs)) // sorted position -> original position
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		return cmp.Or(cmp.Compare(ctrs[a].scope, ctrs[b].scope), cmp.Compare(ctrs[a].key, ctrs[b].key))
	})
	pos := make([]int, len(ctrs)) // original position -> sorted position
	sorted := make([]ctrParam, len(ctrs))
	for s, o := range idx {
		pos[o] = s
		sorted[s] = ctrs[o]
	}
	order = make([]int, len(given))
	for i, g := range given {
		order[i] = pos[g]
	}
	return sorted, order
}

// minCap is the smaller of two caps where 0 means none.
func minCap(a, b int64) int64 {
	switch {
	case a <= 0:
		return b
	case b <= 0:
		return a
	}
	return min(a, b)
}

// byteCounters reports whether any counter caps bytes (the request then holds a reservation).
func byteCounters(ctrs []ctrParam) bool {
	for _, c := range ctrs {
		if c.bytes > 0 {
			return true
		}
	}
	return false
}

// reqRow is a request counter's rate_windows row (exists false: no row).
type reqRow struct {
	end, count int64
	exists     bool
}

func (r reqRow) used(now int64) int64 {
	if r.end > now && r.count > 0 {
		return r.count
	}
	return 0
}

// windowEnd is when the counter's current window ends: the row's, or a new one's.
func windowEnd(rowEnd, used, now, window int64) int64 {
	if used > 0 {
		return rowEnd
	}
	return now + window
}

// resEnds are the window ends of the rows a reservation went to: a release goes only to the
// window it was reserved in. c is indexed like the reservation's counters (0: none).
type resEnds struct {
	t, f int64
	c    []int64
}

// counterRefusal fills the facts of a counter's refusal: its name, its cap, when it ends.
func counterRefusal(d *Decision, c *ctrParam, kind int, now, retry int64) {
	d.Counter = c.name
	d.Limit = Limit{WindowEnd: time.UnixMilli(now + retry).UTC()}
	if kind == ctrKindRequests {
		d.Limit.Requests = int(c.requests)
	} else {
		d.Limit.Bytes = Size{Bytes: c.bytes}
	}
}

// Which cap of a counter refused.
const (
	ctrKindRequests = 1
	ctrKindBytes    = 2
)

// extendCounters are the byte counters of r for an Extend at now (ms): their windows measured
// from now, the policy's order kept, and idx mapping each back to r.ctrs.
func extendCounters(r *reservation, now int64) (ctrs []ctrParam, order, idx []int) {
	if !byteCounters(r.ctrs) {
		return nil, nil, nil
	}
	at := time.UnixMilli(now)
	pos := make([]int, len(r.ctrs))
	for i, c := range r.ctrs {
		pos[i] = -1
		if c.bytes <= 0 {
			continue
		}
		c.window = max(c.period.WindowEnd(at).UnixMilli()-now, 1)
		pos[i] = len(ctrs)
		ctrs = append(ctrs, c)
		idx = append(idx, i)
	}
	for _, o := range r.order {
		if pos[o] >= 0 {
			order = append(order, pos[o])
		}
	}
	return ctrs, order, idx
}

// expandEnds spreads the window ends of an Extend's counters (ends[j] for the reservation's
// counter idx[j]) over all n counters of the reservation.
func expandEnds(n int, idx []int, ends []int64) []int64 {
	if n == 0 {
		return nil
	}
	out := make([]int64, n)
	for j, i := range idx {
		if j < len(ends) {
			out[i] = ends[j]
		}
	}
	return out
}

// addCounterUsageLocked charges delta delivered bytes to counter c's row; a new window would
// end at c.Period.WindowEnd(now).
func (s *store) addCounterUsageLocked(c ctrParam, now, delta int64) {
	mk := usageMapKey{usageKey{c.scope, c.key, ""}, 0}
	r := s.usage[mk]
	if r == nil {
		end := c.period.WindowEnd(time.UnixMilli(now)).UnixMilli()
		r = &usageRow{usageKey: mk.usageKey, first: now, windowEnd: max(end, now+1)}
		s.usage[mk] = r
	}
	r.bytes += delta
}
