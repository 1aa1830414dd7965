package quota

import (
	"encoding/json"
	"net"
	"net/url"
	"strings"
	"time"
)

// The write-behind queue: everything that follows a response (link and size cache saves,
// throttle reports, failure counts, usage) is recorded here without I/O and written by the
// writer goroutine (writer.go) in batches, one transaction each.

// maxPendingFailed: this many subnets with unwritten failures make the writer flush them now.
const maxPendingFailed = 10000

type opKind uint8

const (
	opSaveLink opKind = iota
	opInvalidateLink
	opSaveSize
	opThrottleSet
	opThrottleClear
)

// op is one queued cache/throttle write.
type op struct {
	kind    opKind
	key     string // path hash or host
	url     string
	header  string
	host    string
	at      int64 // fetched_at
	expires int64
	size    int64
	status  int
}

// table groups ops that touch the same table, so a batch can be sorted into one lock order.
func (o op) table() int {
	switch o.kind {
	case opSaveLink, opInvalidateLink:
		return 0
	case opSaveSize:
		return 1
	default:
		return 2
	}
}

type usageKey struct{ scope, subnet, path string }

// usageMapKey: tag 0 is the bytes delivered (added to the current window); a release of
// reserved bytes is tagged with the window_end of the window it was reserved in.
type usageMapKey struct {
	usageKey
	tag int64
}

type usageRow struct {
	usageKey
	tag       int64 // 0: delivered bytes; else a release (bytes < 0) of the window ending at tag
	first     int64 // when the first of these bytes was recorded
	windowEnd int64 // first + window: where a new window would end
	bytes     int64
}

type failKey struct{ scope, subnet string }

type failAgg struct {
	count       int64
	first, last int64
}

type failRow struct {
	failKey
	first     int64
	windowEnd int64
	count     int64
	banUntil  int64
	threshold int64
}

type writeBatch struct {
	ops   []op
	usage []usageRow
	fails []failRow
}

func (b *writeBatch) empty() bool { return len(b.ops) == 0 && len(b.usage) == 0 && len(b.fails) == 0 }

// enqueue never blocks: the queued writes are caches and hints that the next miss or report
// rewrites, so dropping one under overload is cheaper than slowing a response.
func (s *store) enqueue(o op) {
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		s.queueDropped.Add(1)
		return
	}
	select {
	case s.ops <- o:
	default:
		s.queueDropped.Add(1)
		s.warn("quota write queue full; dropping a cache write", nil)
	}
}

// SaveLink implements Store.
func (s *store) SaveLink(pathHash string, link Link) {
	if s.cfg.LinkTTL <= 0 || pathHash == "" || link.URL == "" {
		return
	}
	at := link.FetchedAt
	if at.IsZero() {
		at = s.cfg.Clock()
	}
	var hdr string
	if len(link.Header) > 0 {
		if b, err := json.Marshal(link.Header); err == nil {
			hdr = string(b)
		}
	}
	s.enqueue(op{kind: opSaveLink, key: pathHash, url: link.URL, header: hdr, host: linkHost(link.URL),
		at: at.UnixMilli(), expires: at.Add(s.cfg.LinkTTL).UnixMilli()})
}

// InvalidateLink implements Store.
func (s *store) InvalidateLink(pathHash string) {
	if s.cfg.LinkTTL <= 0 || pathHash == "" {
		return
	}
	s.enqueue(op{kind: opInvalidateLink, key: pathHash})
}

// SaveSize implements Store.
func (s *store) SaveSize(pathHash string, size int64) {
	if s.cfg.SizeTTL <= 0 || pathHash == "" || size < 0 {
		return
	}
	at := s.cfg.Clock()
	s.enqueue(op{kind: opSaveSize, key: pathHash, size: size, at: at.UnixMilli(), expires: at.Add(s.cfg.SizeTTL).UnixMilli()})
}

// ReportUpstream implements Store.
func (s *store) ReportUpstream(host string, status int) {
	if len(s.throttlePatterns) == 0 {
		return
	}
	host = normHost(host)
	if host == "" || !s.hostMatches(host) {
		return
	}
	switch {
	case s.throttleCodes[status]:
		now := s.cfg.Clock()
		s.enqueue(op{kind: opThrottleSet, key: host, status: status, expires: now.Add(s.cfg.ThrottleWindow).UnixMilli()})
	case status >= 200 && status < 400:
		s.enqueue(op{kind: opThrottleClear, key: host})
	}
}

// RecordFailure implements Store. Failures are summed in memory because a flood of forged
// links is exactly when a write per failure would hurt most.
func (s *store) RecordFailure(scope Scope, subnet string) {
	if s.cfg.BanAfterFails <= 0 {
		return
	}
	now := s.now()
	k := failKey{string(scope), hashHex(subnet)}
	s.failMu.Lock()
	if s.failClosed {
		s.failMu.Unlock()
		return
	}
	a := s.fails[k]
	if a == nil {
		a = &failAgg{first: now}
		s.fails[k] = a
	}
	a.count++
	a.last = now
	urgent := a.count >= int64(s.cfg.BanAfterFails) || len(s.fails) >= maxPendingFailed
	if urgent {
		s.failUrgent = true
	}
	s.failMu.Unlock()
	if urgent {
		s.signal()
	}
}

func (s *store) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// addUsage merges deltas per counter in memory instead of queueing them, so recording usage
// never blocks a stream and never drops bytes, however far the database falls behind. Usage is
// recorded whether or not a quota is enabled: operators read it before they choose a limit.
// ctrs are the request's byte counters: they are charged the same bytes, each in its own window.
func (s *store) addUsage(scope, subnet, pathHash string, delta int64, ctrs []ctrParam) {
	if delta <= 0 {
		return
	}
	now := s.now()
	s.usageMu.Lock()
	if s.usageClosed {
		s.usageMu.Unlock()
		s.usageLost.Add(uint64(delta))
		s.warn("quota usage recorded after Close; not stored", nil)
		return
	}
	s.addUsageLocked(usageKey{scope, subnet, ""}, now, s.cfg.TotalWindow, delta)
	if pathHash != "" {
		s.addUsageLocked(usageKey{scope, subnet, pathHash}, now, s.cfg.FileWindow, delta)
	}
	for _, c := range ctrs {
		s.addCounterUsageLocked(c, now, delta)
	}
	s.usageMu.Unlock()
	// No signal: the writer's ticker (usageFlushEvery) or its next wake takes it.
}

func (s *store) addUsageLocked(k usageKey, now int64, window time.Duration, delta int64) {
	mk := usageMapKey{k, 0}
	r := s.usage[mk]
	if r == nil {
		r = &usageRow{usageKey: k, first: now, windowEnd: now + s.window(window)}
		s.usage[mk] = r
	}
	r.bytes += delta
}

// hostMatches: "*.example.com" covers example.com and every name below it; "*" covers all.
func (s *store) hostMatches(host string) bool {
	for _, p := range s.throttlePatterns {
		switch {
		case p == "*":
			return true
		case strings.HasPrefix(p, "*."):
			apex := p[2:]
			if host == apex || strings.HasSuffix(host, "."+apex) {
				return true
			}
		case host == p:
			return true
		}
	}
	return false
}

func normHost(host string) string {
	host = strings.ToLower(strings.TrimSpace(host))
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.TrimSuffix(strings.Trim(host, "[]"), ".")
}

func linkHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return normHost(u.Hostname())
}
