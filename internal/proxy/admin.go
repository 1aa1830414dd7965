package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/alist-edge/alist-edge/internal/admin"
	"github.com/alist-edge/alist-edge/pkg/policy"
	"github.com/alist-edge/alist-edge/pkg/quota"
	"github.com/alist-edge/alist-edge/pkg/sign"
)

// The proxy's admin API (docs/admin.md) on the admin listener: explain a decision, read and set
// the policy's counters, lift blocks, revoke links. It reads the running state on every call, so
// a SIGHUP'd policy is what it explains.

// AdminAPI serves the admin API (runner.AdminAPI). ADMIN_TOKEN and ADMIN_ADDR need a restart.
func (h *Handler) AdminAPI() http.Handler {
	cfg := h.state.Load().cfg
	o := admin.Options{Token: cfg.AdminToken, Loopback: admin.IsLoopback(cfg.AdminAddr), Scope: string(quota.ScopeProxy),
		Explain: h.explain, Limits: h.limitInfos, KeyFor: h.keyFor, Log: h.log, Now: h.now}
	if a, ok := adminOf(h.store); ok {
		o.Store = adminStore{a: a, subnet: h.subnetOf}
	}
	o.Sessions = sessionsOf(h.store)
	return admin.Handler(o)
}

// adminOf finds the admin operations of the store, through wrappers that expose Unwrap.
func adminOf(s quota.Store) (quota.Admin, bool) {
	for s != nil {
		if a, ok := quota.AdminOf(s); ok {
			return a, true
		}
		u, ok := s.(interface{ Unwrap() quota.Store })
		if !ok {
			break
		}
		s = u.Unwrap()
	}
	return nil, false
}

// explained is GET /policy/explain's answer: the policy's trace and each attached limit's use.
type explained struct {
	Subnet string         `json:"subnet"`
	Path   string         `json:"served_path"`
	Trace  policy.Trace   `json:"trace"`
	Limits []limitExplain `json:"limits"`
}

type limitExplain struct {
	Name          string     `json:"name"`
	Kind          string     `json:"kind"`
	Scope         string     `json:"scope"`
	Period        string     `json:"period"`
	Group         string     `json:"group,omitempty"`        // scope group: the pool (one entry per pool)
	NoAllowance   bool       `json:"no_allowance,omitempty"` // refused before the database (anonymous, no allowance)
	LimitBytes    int64      `json:"limit_bytes"`            // the caps that apply to this request (a user's sum)
	LimitRequests int64      `json:"limit_requests"`
	UsedBytes     int64      `json:"used_bytes"`
	UsedRequests  int64      `json:"used_requests"`
	WindowEnd     *time.Time `json:"window_end"` // null: no window running (nothing used)
}

func (h *Handler) explain(ctx context.Context, q admin.ExplainQuery) (any, error) {
	st := h.state.Load()
	served, err := sign.ServedPath(q.Path, h.originKind())
	if err != nil {
		return nil, &admin.Error{Status: http.StatusBadRequest, Message: "path: " + err.Error()}
	}
	if q.At.IsZero() {
		q.At = h.now()
	}
	req := policy.Request{Path: served, Addr: q.Addr, Time: q.At, Size: q.Size, Method: q.Method, Host: q.Host,
		User: q.User, Groups: q.Groups}
	eng := st.cfg.Parsed.Policy
	out := explained{Subnet: h.subnetOf(q.Addr), Path: served, Trace: eng.Explain(&req), Limits: []limitExplain{}}
	d := eng.Decide(&req)
	a, _ := adminOf(h.store)
	subject := policy.Subject{Subnet: out.Subnet, PathHash: sign.PathHash(served), User: q.User, Groups: q.Groups}
	for _, l := range d.Limits {
		applied := l.Apply(subject)
		for i, ap := range applied {
			le := limitExplain{Name: l.Name, Kind: l.Kind, Scope: l.Scope.String(), Period: l.Period.String(),
				NoAllowance: ap.None, LimitBytes: ap.Bytes, LimitRequests: ap.Requests}
			if l.Scope == policy.ScopeGroup && !ap.None {
				le.Group = poolGroup(l, q.Groups, i)
			}
			if a != nil && !ap.None {
				u, err := a.Usage(ctx, l.Name, ap.Key)
				if err != nil {
					return nil, err
				}
				le.UsedBytes, le.UsedRequests = u.Bytes, u.Requests
				if !u.WindowEnd.IsZero() {
					le.WindowEnd = &u.WindowEnd
				}
			}
			out.Limits = append(out.Limits, le)
		}
	}
	return out, nil
}

// poolGroup names the i-th pool Apply returned for groups (same order, same filter).
func poolGroup(l *policy.Limit, groups []string, i int) string {
	n := 0
	for _, g := range groups {
		for _, ap := range l.Apply(policy.Subject{User: "-", Groups: []string{g}}) {
			if ap.None || ap.Key != policy.CounterKey(policy.ScopeGroup, "", "", g) {
				continue
			}
			if n == i {
				return g
			}
			n++
		}
	}
	return ""
}

func (h *Handler) limitInfos() []admin.LimitInfo {
	var out []admin.LimitInfo
	for _, l := range h.state.Load().cfg.Parsed.Policy.Limits() {
		out = append(out, admin.LimitInfo{Name: l.Name, Kind: l.Kind, Scope: l.Scope.String(), Bytes: l.Bytes,
			Requests: l.Requests, Period: l.Period, PerGroup: l.PerGroup})
	}
	return out
}

// keyFor is the stored key of limit name for a subnet (an address or a prefix of this proxy's
// subnet size), a path, a user or a group, as a request would build it (policy.Limit.Apply).
func (h *Handler) keyFor(name, subnet, path, user, group string) (string, error) {
	var lim *policy.Limit
	for _, l := range h.state.Load().cfg.Parsed.Policy.Limits() {
		if l.Name == name {
			lim = l
		}
	}
	if lim == nil {
		return "", &admin.Error{Status: http.StatusNotFound, Message: fmt.Sprintf("no quota or rate named %q", name)}
	}
	switch lim.Scope {
	case policy.ScopeUser:
		if user == "" {
			return "", fmt.Errorf("scope user needs user")
		}
		return policy.CounterKey(lim.Scope, "", "", user), nil
	case policy.ScopeGroup:
		if group == "" {
			return "", fmt.Errorf("scope group needs group")
		}
		if len(lim.Groups) > 0 && !slices.Contains(lim.Groups, group) {
			return "", fmt.Errorf("%s %q has no pool for group %q (its groups: %s)", lim.Kind, lim.Name, group, strings.Join(lim.Groups, ", "))
		}
		return policy.CounterKey(lim.Scope, "", "", group), nil
	}
	needSubnet := lim.Scope == policy.ScopeSubnet || lim.Scope == policy.ScopeSubnetPath
	needPath := lim.Scope == policy.ScopePath || lim.Scope == policy.ScopeSubnetPath
	if needSubnet && subnet == "" || needPath && path == "" {
		return "", fmt.Errorf("scope %s needs %s", lim.Scope, map[bool]string{true: "subnet and path", false: "subnet or path"}[needSubnet && needPath])
	}
	var s policy.Subject
	if needSubnet {
		sub, err := h.subnetText(subnet)
		if err != nil {
			return "", err
		}
		s.Subnet = sub
	}
	if needPath {
		served, err := sign.ServedPath(path, h.originKind())
		if err != nil {
			return "", err
		}
		s.PathHash = sign.PathHash(served)
	}
	return lim.Apply(s)[0].Key, nil
}

// subnetOf is a client address's subnet as the checks key it (IPV4_SUFFIX, IPV6_SUFFIX).
func (h *Handler) subnetOf(a netip.Addr) string {
	cfg := h.state.Load().cfg
	return sign.Subnet(a, cfg.IPv4Suffix, cfg.IPv6Suffix)
}

// subnetText turns an address or a prefix into this proxy's subnet text; a prefix must have the
// configured length (the subnets are counted at that size, there is no other row to find).
func (h *Handler) subnetText(s string) (string, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return h.subnetOf(a), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return "", fmt.Errorf("subnet %q is not an address or a prefix", s)
	}
	cfg := h.state.Load().cfg
	want := cfg.IPv4Suffix
	if !p.Addr().Unmap().Is4() {
		want = cfg.IPv6Suffix
	}
	if p.Bits() != want {
		return "", fmt.Errorf("subnet %s: subnets are counted as /%d here (IPV4_SUFFIX/IPV6_SUFFIX); give an address or a /%d prefix", s, want, want)
	}
	return h.subnetOf(p.Addr()), nil
}

// adminStore adapts the quota store's admin operations to the admin API's shapes.
type adminStore struct {
	a      quota.Admin
	subnet func(netip.Addr) string
}

func (s adminStore) Usage(ctx context.Context, name, key string) (admin.Usage, error) {
	u, err := s.a.Usage(ctx, name, key)
	return admin.Usage{Bytes: u.Bytes, Requests: u.Requests, WindowEnd: u.WindowEnd}, err
}

func (s adminStore) SetUsage(ctx context.Context, name, key string, u admin.Usage) error {
	return s.a.SetUsage(ctx, name, key, quota.CounterUsage{Bytes: u.Bytes, Requests: u.Requests, WindowEnd: u.WindowEnd})
}

func (s adminStore) Blocks(ctx context.Context, now time.Time) ([]admin.Block, error) {
	bs, err := s.a.Blocks(ctx, now)
	out := make([]admin.Block, 0, len(bs))
	for _, b := range bs {
		out = append(out, admin.Block{Kind: b.Kind, Scope: b.Scope, Subnet: b.Subnet, PathHash: b.Path, Until: b.Until})
	}
	return out, err
}

// Unblock takes an address (its subnet is lifted) or a prefix as the admin API validated it.
func (s adminStore) Unblock(ctx context.Context, scope, subnet string) error {
	if a, err := netip.ParseAddr(subnet); err == nil {
		subnet = s.subnet(a)
	} else if p, err := netip.ParsePrefix(subnet); err == nil {
		subnet = s.subnet(p.Addr())
	}
	return s.a.Unblock(ctx, scope, subnet)
}

func (s adminStore) Revoke(ctx context.Context, r admin.Revocation) error {
	return s.a.Revoke(ctx, quota.Revocation{Path: r.Path, Prefix: r.Prefix, Until: r.Until})
}

func (s adminStore) Revocations(ctx context.Context, now time.Time) ([]admin.Revocation, error) {
	rs, err := s.a.Revocations(ctx, now)
	out := make([]admin.Revocation, 0, len(rs))
	for _, r := range rs {
		out = append(out, admin.Revocation{Path: r.Path, Prefix: r.Prefix, Until: r.Until})
	}
	return out, err
}

func (s adminStore) Unrevoke(ctx context.Context, path string, prefix bool) error {
	err := s.a.Unrevoke(ctx, path, prefix)
	if errors.Is(err, quota.ErrNotFound) {
		return fmt.Errorf("%w: no revocation of %s", admin.ErrNotFound, path)
	}
	return err
}
