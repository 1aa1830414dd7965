package proxy

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
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
	// signedInfo: the decision read the size or the identity the link's additionalInfo claims
	// (a size, user or group matcher, or a user- or group-scoped limit), so that additionalInfo
	// must verify whatever the rule's actions say.
	signedInfo bool
}

// decide evaluates the policy. Size, user and groups are believed only from a signed
// additionalInfo: the policy is first evaluated without them, and only when that consulted a
// size, user or group matcher, or attached a user- or group-scoped limit, is the link's
// additionalInfo decoded (once, for all three) and the policy evaluated again with them; the
// signature check then verifies it (decision.signedInfo), and refuses a link without one. A
// decision that consulted none of them is the same whatever the link claims.
func (h *Handler) decide(ctx context.Context, rq *request, r *http.Request, st *state, served string, now time.Time, p *sign.Params) decision {
	eng := st.cfg.Parsed.Policy
	d := decision{req: policy.Request{Path: served, Addr: rq.Client.Addr.Unmap(), Time: now, Size: -1,
		Method: r.Method, Host: httpx.HostOnly(r.Host)}}
	d.Decision = eng.Decide(&d.req)
	// From here the outcome depends on what the link claims, so the additionalInfo must verify
	// even when it is missing or garbled: a link stripped of it must not pass as "size unknown,
	// anonymous" on a rule that skips the check.
	d.signedInfo = d.UsedSize || d.UsedIdentity || identityScoped(d.Limits)
	if d.signedInfo && p.AdditionalInfo != "" {
		if info, err := sign.DecodeAdditionalInfo(p.AdditionalInfo); err == nil {
			if info.FileSize >= 0 {
				d.req.Size = info.FileSize
			}
			d.req.User, d.req.Groups = info.User, info.Groups
			d.Decision = eng.Decide(&d.req)
		}
	}
	st.policy.Count(&d.Decision)
	if h.log.Enabled(ctx, slog.LevelDebug) {
		h.log.Debug("policy decision", "id", rq.ID, "trace", eng.Explain(&d.req))
	}
	return d
}

// identityScoped: a limit counts per user or per group.
func identityScoped(limits []*policy.Limit) bool {
	for _, l := range limits {
		if l.IdentityScope() {
			return true
		}
	}
	return false
}

// counters are the quota checks of the limits the deciding rule attached (policy.Limit.Apply).
// A limit that gives the subject no allowance (an anonymous visitor under a user or group
// scope, a user whose groups add up to nothing) is returned as refused: the request is denied
// before the database, never served uncapped.
func counters(limits []*policy.Limit, s policy.Subject) (out []quota.Counter, refused *policy.Limit) {
	if len(limits) == 0 {
		return nil, nil
	}
	out = make([]quota.Counter, 0, len(limits))
	for _, l := range limits {
		for _, a := range l.Apply(s) {
			if a.None {
				return nil, l
			}
			out = append(out, quota.Counter{Name: l.Name, Key: a.Key, Bytes: a.Bytes, Requests: a.Requests, Period: l.Period})
		}
	}
	return out, nil
}

// noAllowance is the 429 of a user- or group-scoped limit the request has no allowance under.
// No Retry-After: waiting does not help, signing in (or another group) does.
func noAllowance(l *policy.Limit, user string, m *prometheus.CounterVec) *httpx.Error {
	m.WithLabelValues(l.Name).Inc()
	msg := fmt.Sprintf("%s %q (by %s) needs a signed-in user: sign in on the download page", l.Kind, l.Name, l.Scope)
	if user != "" {
		msg = fmt.Sprintf("%s %q (by %s) gives this user no allowance", l.Kind, l.Name, l.Scope)
		if l.Scope == policy.ScopeGroup {
			msg = fmt.Sprintf("%s %q (by group) has no pool for this user's groups", l.Kind, l.Name)
		}
	}
	return &httpx.Error{Status: http.StatusTooManyRequests, Reason: string(quota.ReasonCounter), Message: msg}
}

// limitRefusal is the 429 of a policy quota or rate: which one, how much per what period (the
// caps of the counters that applied, so a user sees their own sum), and when it frees up
// (also as Retry-After).
func limitRefusal(limits []*policy.Limit, ctrs []quota.Counter, d quota.Decision, now time.Time, m *prometheus.CounterVec) *httpx.Error {
	m.WithLabelValues(d.Counter).Inc()
	retry := max(d.RetryAfter, 1)
	frees := now.Add(time.Duration(retry) * time.Second).UTC().Format(time.RFC3339)
	for _, l := range limits {
		if l.Name != d.Counter {
			continue
		}
		var amounts []string
		for _, c := range ctrs {
			if c.Name != l.Name {
				continue
			}
			if a := capText(c.Bytes, c.Requests) + " per " + l.Period.String(); !slices.Contains(amounts, a) {
				amounts = append(amounts, a)
			}
		}
		return &httpx.Error{Status: http.StatusTooManyRequests, Reason: string(quota.ReasonCounter), RetryAfter: retry,
			Message: fmt.Sprintf("%s %q used up (%s, by %s); frees up at %s", l.Kind, l.Name, strings.Join(amounts, " or "), l.Scope, frees)}
	}
	return &httpx.Error{Status: http.StatusTooManyRequests, Reason: string(quota.ReasonCounter),
		RetryAfter: retry, Message: fmt.Sprintf("limit %q used up; frees up at %s", d.Counter, frees)}
}

func capText(bytes, requests int64) string {
	switch {
	case bytes > 0 && requests > 0:
		return fmt.Sprintf("%s or %d requests", httpx.FormatBytes(bytes), requests)
	case bytes > 0:
		return httpx.FormatBytes(bytes)
	}
	return fmt.Sprintf("%d requests", requests)
}
