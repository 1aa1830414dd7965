package proxy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/alist-edge/alist-edge/internal/httpx"
	"github.com/alist-edge/alist-edge/pkg/policy"
	"github.com/alist-edge/alist-edge/pkg/quota"
	"github.com/alist-edge/alist-edge/pkg/sign"
	"github.com/prometheus/client_golang/prometheus"
)

// The policy (docs/policy.md) decides each request on the served path before any signature is
// checked, and attaches its quotas and rates, which the one database round trip enforces.

// errRevoked answers a link an admin revoked (docs/admin.md).
var errRevoked = &httpx.Error{Status: http.StatusGone, Reason: "revoked", Message: "link revoked"}

// decision is the policy's answer for one request, with what it needs of the request.
type decision struct {
	policy.Decision
	req policy.Request
	// signedSize: the decision consulted a size matcher with the size the link claims, so the
	// additionalInfo that carries it must verify whatever the rule's actions say.
	signedSize bool
}

// decide evaluates the policy. A size matcher believes only a signed size: the policy is first
// evaluated without one, and only when that consulted a size matcher is the link's
// additionalInfo decoded and the policy evaluated again with its size, which the signature
// check then verifies (decision.signedSize).
func (h *Handler) decide(ctx context.Context, rq *request, r *http.Request, eng *policy.Engine, served string, now time.Time, p *sign.Params) decision {
	d := decision{req: policy.Request{Path: served, Addr: rq.Client.Addr.Unmap(), Time: now, Size: -1,
		Method: r.Method, Host: httpx.HostOnly(r.Host)}}
	d.Decision = eng.Decide(&d.req)
	if d.UsedSize && p.AdditionalInfo != "" {
		if info, err := sign.DecodeAdditionalInfo(p.AdditionalInfo); err == nil && info.FileSize >= 0 {
			d.req.Size = info.FileSize
			d.Decision = eng.Decide(&d.req)
			d.signedSize = true
		}
	}
	h.m.CountPolicy(eng, &d.Decision)
	if h.log.Enabled(ctx, slog.LevelDebug) {
		h.log.Debug("policy decision", "id", rq.ID, "trace", eng.Explain(&d.req))
	}
	return d
}

// counters are the quota checks of the limits the deciding rule attached, keyed by their scope.
func counters(limits []*policy.Limit, subnet, pathHash string) []quota.Counter {
	if len(limits) == 0 {
		return nil
	}
	out := make([]quota.Counter, 0, len(limits))
	for _, l := range limits {
		out = append(out, quota.Counter{Name: l.Name, Key: CounterKey(l.Scope, subnet, pathHash),
			Bytes: l.Bytes, Requests: l.Requests, Period: l.Period})
	}
	return out
}

// CounterKey is the stored key of a limit's counter for one request: the subnet (hashed, as
// every stored subnet), the served path's hash, both, or nothing for a global limit. The admin
// API computes the same key from a subnet and a path.
func CounterKey(s policy.Scope, subnet, pathHash string) string {
	switch s {
	case policy.ScopeSubnet:
		return "s:" + hashText(subnet)
	case policy.ScopePath:
		return "p:" + pathHash
	case policy.ScopeSubnetPath:
		return "s:" + hashText(subnet) + "|p:" + pathHash
	}
	return ""
}

func hashText(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:16])
}

// limitRefusal is the 429 of a policy quota or rate: which one, how much per what period, and
// (Retry-After) when its window ends.
func limitRefusal(limits []*policy.Limit, d quota.Decision, m *prometheus.CounterVec) *httpx.Error {
	m.WithLabelValues(d.Counter).Inc()
	amount := ""
	for _, l := range limits {
		if l.Name != d.Counter {
			continue
		}
		switch {
		case l.Bytes > 0 && l.Requests > 0:
			amount = fmt.Sprintf("%s or %d requests", httpx.FormatBytes(l.Bytes), l.Requests)
		case l.Bytes > 0:
			amount = httpx.FormatBytes(l.Bytes)
		default:
			amount = fmt.Sprintf("%d requests", l.Requests)
		}
		amount += " per " + l.Period.String()
		return &httpx.Error{Status: http.StatusTooManyRequests, Reason: string(quota.ReasonCounter),
			RetryAfter: max(d.RetryAfter, 1),
			Message:    fmt.Sprintf("%s %q used up (%s, by %s)", l.Kind, l.Name, amount, l.Scope)}
	}
	return &httpx.Error{Status: http.StatusTooManyRequests, Reason: string(quota.ReasonCounter),
		RetryAfter: max(d.RetryAfter, 1), Message: fmt.Sprintf("limit %q used up", d.Counter)}
}
