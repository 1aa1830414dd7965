package quota

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// The check path: Store.Check turns a CheckRequest into the parameters of the one round trip
// (checkParams), runs it on the backend (Postgres: alist_edge_check_v2; SQLite: checkIn, its
// Go twin) and turns the answer into a Decision.

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
	// Policy counters sorted by stored key (the lock order), and the policy's order of them
	// (indexes into ctrs), which decides the refusal (counters.go).
	ctrs  []ctrParam
	order []int
	// revocable: check rpath (the served path) against the revocation list first.
	revocable bool
	rpath     string
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
	// policy_limit: counter is the refusing counter's index in checkParams.ctrs plus one, ckind
	// which of its caps (ctrKind*). cEnds: per counter, the window end of the byte row the
	// reservation went to (0: none).
	counter, ckind int
	cEnds          []int64
}

// Check implements Store.
func (s *store) Check(ctx context.Context, req CheckRequest) (Decision, error) {
	p, needed := s.params(req)
	if !needed {
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
	return s.admit(req, p, res), nil
}

// params are the inputs of req's round trip; needed is false when nothing is limited or cached,
// so there is nothing to ask the database.
func (s *store) params(req CheckRequest) (p checkParams, needed bool) {
	now := req.Now
	if now.IsZero() {
		now = s.cfg.Clock()
	}
	p = checkParams{
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
	if len(req.Counters) > 0 {
		p.ctrs, p.order = counterParams(req.Counters, now)
	}
	if req.Revocable {
		p.revocable, p.rpath = true, req.Path
	}
	return p, p.ban || p.limit > 0 || p.totalLimit > 0 || p.fileLimit > 0 || p.linkTTL > 0 || p.sizeTTL > 0 ||
		len(p.ctrs) > 0 || p.revocable
}

// admit is the Decision for the backend's answer res to p, holding what it reserved.
func (s *store) admit(req CheckRequest, p checkParams, res checkResult) Decision {
	d := s.decide(req, res, p.ctrs, p.now)
	if d.Allowed && res.grant >= 0 {
		d.res = &reservation{req: req, scope: p.scope, subnet: p.subnet, path: p.path,
			totalLimit: p.totalLimit, fileLimit: p.fileLimit, grant: res.grant,
			ends: resEnds{t: res.tEnd, f: res.fEnd, c: res.cEnds}, ctrs: p.ctrs, order: p.order}
	}
	return d
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

func retrySeconds(msLeft int64) int {
	if msLeft <= 0 {
		return 1
	}
	return int(max((msLeft+999)/1000, 1))
}

// decide turns the backend's answer into a Decision: the cached link and size for an admitted
// request, the facts of the limit for a refusal. ctrs are the counters r's indexes refer to,
// now the time of the round trip.
func (s *store) decide(req CheckRequest, r checkResult, ctrs []ctrParam, now int64) Decision {
	d := Decision{Size: -1, Reason: r.reason, Grant: -1}
	if r.reason == ReasonNone {
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
	}
	d.Subnet = req.Subnet
	d.RetryAfter = retrySeconds(r.retry)
	switch r.reason {
	case ReasonRate:
		d.Limit = Limit{Requests: s.cfg.RequestLimit, Window: s.cfg.WindowTime, WindowText: s.cfg.WindowText}
	case ReasonBandwidth:
		d.Limit = Limit{Bytes: s.cfg.TotalLimit, Text: s.cfg.TotalLimitText,
			Window: s.cfg.TotalWindow, WindowText: s.cfg.TotalWindowText}
	case ReasonFileBandwidth:
		d.Path = req.Path
		if d.Path == "" {
			d.Path = req.PathHash
		}
		d.Limit = Limit{Bytes: s.cfg.FileLimit, Text: s.cfg.FileLimitText,
			Window: s.cfg.FileWindow, WindowText: s.cfg.FileWindowText}
	case ReasonThrottled:
		d.UpstreamStatus = r.status
	case ReasonCounter:
		if r.counter > 0 && r.counter <= len(ctrs) {
			counterRefusal(&d, &ctrs[r.counter-1], r.ckind, now, r.retry)
		}
	case ReasonRevoked:
		d.Path = req.Path
	}
	return d
}
