package quota

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// backend is what differs between SQLite and Postgres; everything else (queueing, batching,
// messages, fail-open) is shared so both behave identically.
type backend interface {
	check(ctx context.Context, p checkParams) (checkResult, error)
	// extend reserves more bytes for a capped stream (Meter.Extend), in one round trip.
	extend(ctx context.Context, p extendParams) (extendResult, error)
	write(ctx context.Context, b *writeBatch) error
	useNonce(ctx context.Context, key string, expires, now int64) (bool, error)
	janitor(ctx context.Context, now int64) error
	// ping commits one small write (readiness).
	ping(ctx context.Context, now int64) error
	// onAbandon sets what to do with the answer of a check whose caller stopped waiting.
	onAbandon(fn func(checkParams, checkResult))
	close() error
}

// checkParams are the inputs of the one-round-trip check. Times are Unix ms; a zero limit or
// TTL switches that part off.
type checkParams struct {
	scope, subnet, path string
	now                 int64
	ban                 bool
	limit               int
	window, block       int64
	totalLimit          int64
	fileLimit           int64
	bwBlock             int64
	linkTTL             int64
	throttle            bool
	sizeTTL             int64
	// Bandwidth reservation: reserve as CheckRequest.Reserve (< 0 unknown: grant chunk), and
	// the windows a usage row starts when it takes the first bytes.
	reserve, chunk          int64
	totalWindow, fileWindow int64
}

type checkResult struct {
	reason  Reason
	retry   int64 // ms
	status  int   // throttle: recorded upstream status
	hasLink bool
	url     string
	header  string
	fetched int64
	size    int64
	// grant: bytes reserved for the admitted answer (-1: no quota applies); tEnd/fEnd: the
	// window ends of the usage rows the reservation went to.
	grant      int64
	tEnd, fEnd int64
}

type opKind uint8

const (
	opSaveLink opKind = iota
	opInvalidateLink
	opSaveSize
	opThrottleSet
	opThrottleClear
	opBarrier // test hook: flush everything, then close done
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
	done    chan struct{}
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

const (
	maxBatchOps      = 256
	failFlushEvery   = time.Second
	retryBackoff     = time.Second
	warnEvery        = 10 * time.Second
	maxPendingFailed = 10000
)

type store struct {
	be  backend
	cfg Config
	log *slog.Logger

	throttlePatterns []string
	throttleCodes    map[int]bool

	closeMu sync.RWMutex
	closed  bool
	ops     chan op
	wake    chan struct{}
	quit    chan struct{}
	wdone   chan struct{}
	jdone   chan struct{}

	usageMu     sync.Mutex
	usage       map[usageMapKey]*usageRow
	usageClosed bool

	health health

	failMu     sync.Mutex
	fails      map[failKey]*failAgg
	failUrgent bool
	failClosed bool

	failOpen     atomic.Uint64
	queueDropped atomic.Uint64
	writeErrors  atomic.Uint64
	usageLost    atomic.Uint64
	lastWarn     atomic.Int64
	suppressed   atomic.Uint64
}

func newStore(be backend, cfg Config, log *slog.Logger) *store {
	s := &store{
		be:            be,
		cfg:           cfg,
		log:           log,
		throttleCodes: map[int]bool{},
		ops:           make(chan op, cfg.QueueSize),
		wake:          make(chan struct{}, 1),
		quit:          make(chan struct{}),
		wdone:         make(chan struct{}),
		jdone:         make(chan struct{}),
		usage:         map[usageMapKey]*usageRow{},
		fails:         map[failKey]*failAgg{},
	}
	for _, p := range cfg.ThrottleHosts {
		if p = strings.ToLower(strings.TrimSpace(p)); p != "" {
			s.throttlePatterns = append(s.throttlePatterns, p)
		}
	}
	for _, c := range cfg.ThrottleCodes {
		s.throttleCodes[c] = true
	}
	be.onAbandon(s.releaseAbandoned)
	go s.writer()
	go s.janitor()
	return s
}

func hashHex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func ms(d time.Duration) int64 { return d.Milliseconds() }

func (s *store) now() int64 { return s.cfg.Clock().UnixMilli() }

// Check implements Store.
func (s *store) Check(ctx context.Context, req CheckRequest) (Decision, error) {
	now := req.Now
	if now.IsZero() {
		now = s.cfg.Clock()
	}
	p := checkParams{
		scope:    string(req.Scope),
		subnet:   hashHex(req.Subnet),
		path:     req.PathHash,
		now:      now.UnixMilli(),
		ban:      s.cfg.BanAfterFails > 0,
		bwBlock:  ms(s.cfg.BandwidthBlockTime),
		throttle: len(s.throttlePatterns) > 0,
		reserve:  req.Reserve,
		chunk:    s.cfg.ReserveChunk,
		// Usage rows keep their window even while their quota is off (usage is always recorded).
		totalWindow: s.window(s.cfg.TotalWindow),
		fileWindow:  s.window(s.cfg.FileWindow),
	}
	if s.cfg.RequestLimit > 0 {
		p.limit = s.cfg.RequestLimit
		p.window = ms(s.cfg.WindowTime)
		p.block = ms(s.cfg.BlockTime)
	}
	if s.cfg.TotalEnabled {
		if l, ok := s.cfg.TotalLimit.Limit(req.FileSize); ok {
			p.totalLimit = max(l, 1)
		}
	}
	if s.cfg.FileEnabled && req.PathHash != "" {
		if l, ok := s.cfg.FileLimit.Limit(req.FileSize); ok {
			p.fileLimit = max(l, 1)
		}
	}
	if req.WantLink && s.cfg.LinkTTL > 0 && req.PathHash != "" {
		p.linkTTL = ms(s.cfg.LinkTTL)
	}
	if req.WantSize && s.cfg.SizeTTL > 0 && req.PathHash != "" {
		p.sizeTTL = ms(s.cfg.SizeTTL)
	}
	if !p.ban && p.limit == 0 && p.totalLimit == 0 && p.fileLimit == 0 && p.linkTTL == 0 && p.sizeTTL == 0 {
		return Decision{Allowed: true, Size: -1, Grant: -1}, nil
	}

	cctx, cancel := context.WithTimeout(ctx, s.cfg.CheckTimeout)
	res, err := s.be.check(cctx, p)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			// The caller gave up (client gone); that says nothing about the database.
			return Decision{}, ctx.Err()
		}
		s.health.failed(err)
		return s.dbFailed(err)
	}
	s.health.ok()
	d := s.decide(req, res)
	if d.Allowed && res.grant >= 0 {
		d.res = &reservation{req: req, scope: p.scope, subnet: p.subnet, path: p.path,
			totalLimit: p.totalLimit, fileLimit: p.fileLimit, grant: res.grant, tEnd: res.tEnd, fEnd: res.fEnd}
	}
	return d, nil
}

func (s *store) dbFailed(err error) (Decision, error) {
	if s.cfg.FailOpen {
		s.failOpen.Add(1)
		s.warn("quota database failed; serving without limits (fail-open)", err)
		return Decision{Allowed: true, FailOpen: true, Size: -1, Grant: -1}, nil
	}
	s.warn("quota database failed; refusing requests (fail-closed)", err)
	return Decision{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// warn logs at most once per warnEvery: a database outage fails every request, and a log line
// per request would bury everything else (and cost more than the requests).
func (s *store) warn(msg string, err error) {
	now := time.Now().UnixNano()
	last := s.lastWarn.Load()
	if now-last < int64(warnEvery) || !s.lastWarn.CompareAndSwap(last, now) {
		s.suppressed.Add(1)
		return
	}
	s.log.Warn(msg, "err", err, "suppressed", s.suppressed.Swap(0))
}

func retrySeconds(msLeft int64) int {
	if msLeft <= 0 {
		return 1
	}
	return int(max((msLeft+999)/1000, 1))
}

func orString(s string, d fmt.Stringer) string {
	if s != "" {
		return s
	}
	return d.String()
}

func sizeText(text string, sz Size) string {
	switch {
	case text != "":
		return text
	case sz.Bytes > 0:
		return formatBytes(sz.Bytes)
	case sz.Multiple > 0:
		return fmt.Sprintf("%gx", sz.Multiple)
	}
	return "0B"
}

// formatBytes writes 1024-based sizes the way the limits are configured (500MB, 2GB).
func formatBytes(n int64) string {
	units := []string{"B", "KB", "MB", "GB", "TB", "PB"}
	i := 0
	for n >= 1024 && n%1024 == 0 && i < len(units)-1 {
		n /= 1024
		i++
	}
	return fmt.Sprintf("%d%s", n, units[i])
}

func (s *store) decide(req CheckRequest, r checkResult) Decision {
	d := Decision{Size: -1, Reason: r.reason, Grant: -1}
	switch r.reason {
	case ReasonNone:
		d.Allowed = true
		d.Grant = r.grant
		if r.hasLink {
			l := &Link{URL: r.url, FetchedAt: time.UnixMilli(r.fetched)}
			if r.header != "" {
				_ = json.Unmarshal([]byte(r.header), &l.Header)
			}
			d.Link = l
		}
		if r.size >= 0 {
			d.Size = r.size
		}
		return d
	case ReasonBanned:
		d.Status, d.Message = http.StatusForbidden, "access denied"
	case ReasonRate:
		d.Status = http.StatusTooManyRequests
		d.Message = fmt.Sprintf("%s exceeds the limit of %d requests in %s",
			req.Subnet, s.cfg.RequestLimit, orString(s.cfg.WindowText, s.cfg.WindowTime))
	case ReasonBandwidth:
		d.Status = http.StatusTooManyRequests
		d.Message = fmt.Sprintf("%s exceeds the bandwidth quota of %s in %s", req.Subnet,
			sizeText(s.cfg.TotalLimitText, s.cfg.TotalLimit), orString(s.cfg.TotalWindowText, s.cfg.TotalWindow))
	case ReasonFileBandwidth:
		path := req.Path
		if path == "" {
			path = req.PathHash
		}
		d.Status = http.StatusTooManyRequests
		d.Message = fmt.Sprintf("%s %s exceeds the bandwidth quota of %s in %s", req.Subnet, path,
			sizeText(s.cfg.FileLimitText, s.cfg.FileLimit), orString(s.cfg.FileWindowText, s.cfg.FileWindow))
	case ReasonThrottled:
		d.Status = r.status
		if d.Status < 400 || d.Status > 599 {
			d.Status = http.StatusServiceUnavailable
		}
		d.Message = "upstream host is throttled"
	}
	d.RetryAfter = retrySeconds(r.retry)
	return d
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
func (s *store) addUsage(scope, subnet, pathHash string, delta int64) {
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
	s.usageMu.Unlock()
	s.signal()
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

// UseNonce implements Store.
func (s *store) UseNonce(ctx context.Context, nonce string, expires time.Time) (bool, error) {
	now := s.cfg.Clock()
	if expires.IsZero() {
		expires = now.Add(24 * time.Hour)
	}
	fresh, err := s.be.useNonce(ctx, hashHex(nonce), expires.UnixMilli(), now.UnixMilli())
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return fresh, nil
}

// Stats implements StatsReporter.
func (s *store) Stats() Stats {
	return Stats{
		FailOpen:     s.failOpen.Load(),
		QueueDropped: s.queueDropped.Load(),
		WriteErrors:  s.writeErrors.Load(),
		UsageLost:    s.usageLost.Load(),
	}
}

// Close implements Store.
func (s *store) Close(ctx context.Context) error {
	s.closeMu.Lock()
	if s.closed {
		s.closeMu.Unlock()
		return nil
	}
	s.closed = true
	s.closeMu.Unlock()
	close(s.quit)

	var err error
	select {
	case <-s.wdone:
	case <-ctx.Done():
		err = fmt.Errorf("quota: close: write queue not drained: %w", ctx.Err())
	}
	<-s.jdone
	return errors.Join(err, s.be.close())
}

// sync waits until everything queued or recorded so far is written (tests).
func (s *store) sync() {
	done := make(chan struct{})
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return
	}
	s.ops <- op{kind: opBarrier, done: done}
	s.closeMu.RUnlock()
	<-done
}

// writer is the only goroutine that writes queued work. Whatever arrived while it was busy
// goes into the next transaction, so batches grow with load and latency stays low when idle.
func (s *store) writer() {
	defer close(s.wdone)
	tick := time.NewTicker(failFlushEvery)
	defer tick.Stop()
	lastFail := time.Now()
	for {
		var b writeBatch
		select {
		case o := <-s.ops:
			b.ops = append(b.ops, o)
		case <-s.wake:
		case <-tick.C:
		case <-s.quit:
			s.drain()
			return
		}
		s.fill(&b)
		dueFails := time.Since(lastFail) >= failFlushEvery
		if dueFails {
			lastFail = time.Now()
		}
		if err := s.runBatch(&b, dueFails, false); err != nil {
			select {
			case <-time.After(retryBackoff):
			case <-s.quit:
			}
		}
	}
}

// fill takes what else is waiting in the queue, up to one batch, without waiting.
func (s *store) fill(b *writeBatch) {
	for len(b.ops) < maxBatchOps {
		select {
		case o := <-s.ops:
			b.ops = append(b.ops, o)
		default:
			return
		}
	}
}

// drain runs at Close: producers are shut out already, so it writes the queue to the end and
// then the usage and failures recorded in memory.
func (s *store) drain() {
	for {
		var b writeBatch
		s.fill(&b)
		if len(b.ops) == 0 {
			break
		}
		_ = s.runBatch(&b, true, false)
	}
	_ = s.runBatch(&writeBatch{}, true, true)
}

// runBatch adds the pending usage (and failures when due) to b and writes it in one
// transaction. final marks the last batch: nothing recorded later can be written.
func (s *store) runBatch(b *writeBatch, dueFails, final bool) error {
	var barriers []chan struct{}
	ops := b.ops[:0]
	for _, o := range b.ops {
		if o.kind == opBarrier {
			barriers = append(barriers, o.done)
			continue
		}
		ops = append(ops, o)
	}
	b.ops = ops
	defer func() {
		for _, d := range barriers {
			close(d)
		}
	}()
	b.usage = s.takeUsage(final)
	s.failMu.Lock()
	if dueFails || final || s.failUrgent || len(barriers) > 0 {
		b.fails = s.takeFailsLocked(final)
	}
	s.failMu.Unlock()
	if b.empty() {
		return nil
	}
	sortOps(b.ops)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	err := s.be.write(ctx, b)
	cancel()
	if err == nil {
		return nil
	}
	s.writeErrors.Add(1)
	if !final {
		s.warn("quota write batch failed; will retry usage", err)
		s.requeue(b)
		return err
	}
	var lost uint64
	for _, u := range b.usage {
		if u.tag == 0 {
			lost += uint64(u.bytes)
		}
	}
	s.usageLost.Add(lost)
	s.queueDropped.Add(uint64(len(b.ops)))
	s.log.Error("quota: final write at close failed", "usage_bytes_lost", lost, "err", err)
	return err
}

func (s *store) takeUsage(final bool) []usageRow {
	s.usageMu.Lock()
	defer s.usageMu.Unlock()
	if final {
		s.usageClosed = true
	}
	if len(s.usage) == 0 {
		return nil
	}
	out := make([]usageRow, 0, len(s.usage))
	for _, r := range s.usage {
		out = append(out, *r)
	}
	clear(s.usage)
	sortUsage(out)
	return out
}

func (s *store) takeFailsLocked(final bool) []failRow {
	if final {
		s.failClosed = true
	}
	s.failUrgent = false
	if len(s.fails) == 0 {
		return nil
	}
	out := make([]failRow, 0, len(s.fails))
	for k, a := range s.fails {
		out = append(out, failRow{
			failKey:   k,
			first:     a.first,
			windowEnd: a.first + ms(s.cfg.BanWindow),
			count:     a.count,
			banUntil:  a.last + ms(s.cfg.BanTime),
			threshold: int64(s.cfg.BanAfterFails),
		})
	}
	clear(s.fails)
	sortFails(out)
	return out
}

// requeue merges unwritten usage and failures back so a transient outage loses nothing; the
// cache writes of the batch are dropped (they are only hints).
func (s *store) requeue(b *writeBatch) {
	s.queueDropped.Add(uint64(len(b.ops)))
	s.usageMu.Lock()
	for _, u := range b.usage {
		mk := usageMapKey{u.usageKey, u.tag}
		r := s.usage[mk]
		if r == nil {
			c := u
			s.usage[mk] = &c
			continue
		}
		r.bytes += u.bytes
		r.first = min(r.first, u.first)
		r.windowEnd = min(r.windowEnd, u.windowEnd)
	}
	s.usageMu.Unlock()
	s.failMu.Lock()
	for _, f := range b.fails {
		a := s.fails[f.failKey]
		if a == nil {
			a = &failAgg{first: f.first, last: f.banUntil - ms(s.cfg.BanTime)}
			s.fails[f.failKey] = a
		}
		a.count += f.count
		a.first = min(a.first, f.first)
	}
	s.failMu.Unlock()
}

func (s *store) janitor() {
	defer close(s.jdone)
	t := time.NewTicker(s.cfg.JanitorInterval)
	defer t.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			if err := s.be.janitor(ctx, s.now()); err != nil {
				s.warn("quota janitor failed", err)
			}
			cancel()
		}
	}
}

// Batches are written in key order so that two replicas' writers (and the checks) always take
// row locks in the same order and cannot deadlock each other on Postgres.
func sortUsage(rs []usageRow) {
	slices.SortFunc(rs, func(a, b usageRow) int {
		return cmp.Or(cmp.Compare(a.scope, b.scope), cmp.Compare(a.subnet, b.subnet), cmp.Compare(a.path, b.path),
			cmp.Compare(a.tag, b.tag))
	})
}

func sortFails(rs []failRow) {
	slices.SortFunc(rs, func(a, b failRow) int {
		return cmp.Or(cmp.Compare(a.scope, b.scope), cmp.Compare(a.subnet, b.subnet))
	})
}

// sortOps keeps the queue order of ops on one key (a save then an invalidate must stay so).
func sortOps(os []op) {
	slices.SortStableFunc(os, func(a, b op) int {
		return cmp.Or(cmp.Compare(a.table(), b.table()), cmp.Compare(a.key, b.key))
	})
}
