package proxy

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/alist-edge/alist-edge/internal/httpx"
	"github.com/alist-edge/alist-edge/internal/pipeline"
	"github.com/alist-edge/alist-edge/pkg/policy"
	"github.com/alist-edge/alist-edge/pkg/quota"
	"github.com/alist-edge/alist-edge/pkg/sign"
)

// Refusals of the checks (docs/contract.md §5), as answered.
var (
	errIPv6       = httpx.ErrIPv6
	errMethod     = httpx.ErrMethod
	errPath       = httpx.ErrPath
	errIPList     = &httpx.Error{Status: http.StatusForbidden, Reason: "ip_list", Message: "access denied"}
	errPolicy     = httpx.ErrPolicy
	errDB         = &httpx.Error{Status: http.StatusInternalServerError, Reason: "db_error", Message: "database unavailable"}
	errNotFound   = httpx.ErrNotFound
	errForbidden  = &httpx.Error{Status: http.StatusForbidden, Reason: "forbidden", Message: "access denied"}
	errClientGone = pipeline.ErrClientGone
	// errAborted: the upstream failed after the answer's headers went out.
	errAborted = errors.New("upstream failed mid-stream")
)

// reasonQuotaReached names a stream of unknown length cut at its subnet's quota (access line,
// metrics); the pipeline names the other ways a request ends early.
const reasonQuotaReached = "quota_reached"

// request is one download as the proxy handles it: the pipeline's record of the exchange, the
// writer that meters the body, and the redirect budget.
type request struct {
	*pipeline.Exchange
	w         *meterWriter
	redirects int // budget left for upstream and self redirects
}

// serve runs the checks in the order of docs/contract.md §5 and then the origin. It is re-entered for an
// upstream redirect to the proxy's own address, so that request passes every check as well.
func (h *Handler) serve(rq *request, r *http.Request, st *state) error {
	cfg := st.cfg
	if cfg.IPv4Only && rq.Client.IsIPv6() {
		return rq.Deny(errIPv6)
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		httpx.Preflight(rq.w, r)
		return nil
	default:
		rq.w.Header().Set("Allow", "GET, HEAD, OPTIONS")
		return rq.Deny(errMethod)
	}
	if browserExtra(rq, r) {
		return nil
	}
	raw := r.RequestURI
	if raw == "" {
		raw = r.URL.EscapedPath()
	}
	// path is what the signatures cover; served is what the origin will serve for it (AList
	// cleans `\`, "//"): the policy, the origin and the cache/quota key use served (docs/contract.md §3).
	_, path, err := sign.RequestPath(sign.RawPath(raw))
	if err != nil {
		return rq.Deny(errPath)
	}
	served, err := sign.ServedPath(path, h.originKind())
	if err != nil {
		return rq.Deny(errPath)
	}
	if len(cfg.Parsed.AllowedIPs) > 0 && !cfg.Parsed.AllowedIPs.Contains(rq.Client.Addr) {
		return rq.Deny(errIPList)
	}
	if cfg.Parsed.BlockedIPs.Contains(rq.Client.Addr) {
		return rq.Deny(errIPList)
	}
	now := h.now()
	params := parseParams(r.URL.RawQuery)
	pd := h.decide(r.Context(), rq, r, st, served, now, &params)
	if pd.Action.Has(policy.Block) {
		return rq.Deny(errPolicy)
	}
	checks := cfg.Parsed.Checks
	checks.Sign = checks.Sign && !pd.Action.Has(policy.SkipSign)
	checks.Hash = checks.Hash && !pd.Action.Has(policy.SkipHash)
	checks.Worker = checks.Worker && !pd.Action.Has(policy.SkipWorker)
	checks.IP = checks.IP && !pd.Action.Has(policy.SkipIP)
	checks.Addition = pd.signedInfo || checks.Addition && !pd.Action.Has(policy.SkipAddition)
	chain := sign.ChainRequest{Path: path, Params: params, ClientIP: rq.Client.Text,
		WorkerAddr: cfg.Parsed.WorkerAddr, Now: now.Unix()}
	info, infoOK, err := cfg.Parsed.Keyring.VerifyChain(&chain, checks)
	if err != nil {
		if sign.Forged(err) {
			h.store.RecordFailure(quota.ScopeProxy, rq.Subnet)
		}
		rq.LogReason = err.Error() // the exact message: fail2ban counts only wrong signatures
		return rq.Deny(&httpx.Error{Status: http.StatusUnauthorized, Reason: "signature", Message: err.Error()})
	}

	// Keyed by the served path: its link and per-file quota are the served file's, whatever
	// the spelling ("/a//b" and "/a/b" share). additionalInfo.pathHash stays the decoded path's.
	pathHash := sign.PathHash(served)
	ctrs, refused := counters(pd.Limits, policy.Subject{Subnet: rq.Subnet, PathHash: pathHash, User: pd.req.User, Groups: pd.req.Groups})
	if refused != nil {
		return rq.Deny(noAllowance(refused, pd.req.User, h.m.LimitRefusals))
	}
	creq := quota.CheckRequest{Scope: quota.ScopeProxy, Subnet: rq.Subnet, PathHash: pathHash, WantLink: h.local == nil,
		Now: now, Path: served, Revocable: true, Counters: ctrs}
	if infoOK {
		creq.FileSize = info.FileSize
	}
	creq.Reserve = reserveFor(r.Method, r.Header.Get("Range"), creq.FileSize)
	t0 := time.Now()
	d, err := h.store.Check(r.Context(), creq)
	h.m.DBRoundTrip.Observe(time.Since(t0).Seconds())
	if err != nil {
		if r.Context().Err() != nil {
			return errClientGone
		}
		h.log.Warn("quota check failed", "id", rq.ID, "err", err)
		return errDB
	}
	if d.FailOpen {
		h.m.FailOpen.Inc()
	}
	if !d.Allowed {
		switch d.Reason {
		case quota.ReasonThrottled:
			h.m.ThrottleProtections.Inc()
		case quota.ReasonRevoked:
			return rq.Deny(errRevoked)
		case quota.ReasonCounter:
			return rq.Deny(limitRefusal(pd.Limits, ctrs, d, now, h.m.LimitRefusals))
		}
		return rq.Deny(httpx.QuotaRefusal(d))
	}
	// The meter settles what the check reserved on every path, served or not.
	meter := h.store.Meter(creq, d)
	defer meter.Close()
	if h.local != nil {
		return h.serveLocal(rq, r, served, meter, cfg.ClientIdleTimeout)
	}
	return h.serveUpstream(rq, r, st, served, pathHash, d.Link, meter)
}

// originKind says how the origin cleans paths (sign.ServedPath).
func (h *Handler) originKind() sign.OriginKind {
	if h.local != nil {
		return sign.OriginLocal
	}
	return sign.OriginAList
}

// parseParams reads the six parameters from a raw query the way URLSearchParams.get does: the
// first occurrence wins, values are form-decoded, a malformed escape leaves the value as
// written (it then fails its MAC).
func parseParams(q string) sign.Params {
	var p sign.Params
	var seen uint8
	for q != "" {
		var kv string
		kv, q, _ = strings.Cut(q, "&")
		k, v, _ := strings.Cut(kv, "=")
		if strings.ContainsAny(k, "%+") {
			k = formDecode(k)
		}
		var dst *string
		var bit uint8
		switch k {
		case "sign":
			dst, bit = &p.Sign, 1
		case "hashSign":
			dst, bit = &p.HashSign, 2
		case "workerSign":
			dst, bit = &p.WorkerSign, 4
		case "ipSign":
			dst, bit = &p.IPSign, 8
		case "additionalInfo":
			dst, bit = &p.AdditionalInfo, 16
		case "additionalInfoSign":
			dst, bit = &p.AdditionalInfoSign, 32
		default:
			continue
		}
		if seen&bit != 0 {
			continue
		}
		seen |= bit
		*dst = formDecode(v)
	}
	return p
}

func formDecode(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	if d, err := url.QueryUnescape(s); err == nil {
		return d
	}
	return s
}
