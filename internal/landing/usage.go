package landing

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/alist-edge/alist-edge/internal/config"
	"github.com/alist-edge/alist-edge/internal/identity"
	"github.com/alist-edge/alist-edge/internal/webpage"
	"github.com/alist-edge/alist-edge/pkg/policy"
)

// quotaUse is one counter of a quota that applies to the visitor: what /me lists and what a
// usage line says.
type quotaUse struct {
	Name          string     `json:"name"`
	Scope         string     `json:"scope"`
	UsedBytes     int64      `json:"used_bytes"`
	LimitBytes    int64      `json:"limit_bytes"`
	UsedRequests  int64      `json:"used_requests"`
	LimitRequests int64      `json:"limit_requests"`
	WindowEnd     *time.Time `json:"window_end"`
	// NoAllowance: the visitor has nothing under this quota (the proxy refuses the download).
	NoAllowance bool `json:"no_allowance,omitempty"`

	period policy.Period
}

// quotaUses reads, for each quota in limits (rates are the proxy's business), every counter it
// keeps for this visitor, with the same keys the proxy counts under (Apply). A calendar
// quota's window end is known before its first use; a rolling one's only once it runs.
func (s *Service) quotaUses(ctx context.Context, limits []*policy.Limit, subnet, pathHash string, v *visitor) ([]quotaUse, error) {
	if s.usage == nil {
		return nil, nil
	}
	var user string
	var groups []string
	if v != nil {
		user, groups = v.id.User, v.id.Groups
	}
	now := s.now()
	var out []quotaUse
	for _, l := range limits {
		if l.Kind != "quota" {
			continue
		}
		for _, a := range l.Apply(policy.Subject{Subnet: subnet, PathHash: pathHash, User: user, Groups: groups}) {
			q := quotaUse{Name: l.Name, Scope: l.Scope.String(), LimitBytes: a.Bytes, LimitRequests: a.Requests, NoAllowance: a.None, period: l.Period}
			if !a.None {
				u, err := s.usage.Usage(ctx, l.Name, a.Key)
				if err != nil {
					return nil, err
				}
				q.UsedBytes, q.UsedRequests = u.Bytes, u.Requests
				end := u.WindowEnd
				if end.IsZero() && l.Period.Unit != "" {
					end = l.Period.WindowEnd(now)
				}
				if !end.IsZero() {
					q.WindowEnd = &end
				}
			}
			out = append(out, q)
		}
	}
	return out, nil
}

// addIdentity puts the signed-in line and the usage lines on the download page. A usage read
// that fails leaves the lines out: they inform, the download does not depend on them.
func (s *Service) addIdentity(r *http.Request, rc *reqCtx, pd *pageData, t *target) {
	tx := pd.T
	pd.Who = &webpage.Who{Text: whoText(tx, t.who.id), Back: r.RequestURI}
	uses, err := s.quotaUses(r.Context(), t.limits, rc.Subnet, t.pathHash, t.who)
	if err != nil {
		s.log.Warn("usage lines left out", "request_id", rc.ID, "err", err)
		return
	}
	now := s.now()
	for _, q := range uses {
		pd.Usage = append(pd.Usage, usageLine(tx, q, now))
	}
}

// whoText is "Signed in as alice (members, staff)".
func whoText(tx map[string]string, id identity.Identity) string {
	u := id.User
	if len(id.Groups) > 0 {
		u += " (" + strings.Join(id.Groups, ", ") + ")"
	}
	return strings.ReplaceAll(tx["signed_in"], "{u}", u)
}

// usageLine is "members: 3.20 GB of 10.0 GB used today, resets in 5 h" in the page's language.
func usageLine(tx map[string]string, q quotaUse, now time.Time) string {
	if q.NoAllowance {
		return q.Name + ": " + tx["usage_none"]
	}
	period := periodText(tx, q.period)
	var parts []string
	if q.LimitBytes > 0 {
		parts = append(parts, fill(tx["usage_bytes"], "{used}", humanSize(q.UsedBytes), "{limit}", humanSize(q.LimitBytes), "{period}", period))
	}
	if q.LimitRequests > 0 {
		parts = append(parts, fill(tx["usage_requests"], "{used}", strconv.FormatInt(q.UsedRequests, 10),
			"{limit}", strconv.FormatInt(q.LimitRequests, 10), "{period}", period))
	}
	line := q.Name + ": " + strings.Join(parts, "; ")
	if q.WindowEnd != nil && q.WindowEnd.After(now) {
		line += strings.ReplaceAll(tx["usage_resets"], "{t}", inText(tx, q.WindowEnd.Sub(now)))
	}
	return line
}

func periodText(tx map[string]string, p policy.Period) string {
	switch p.Unit {
	case "day", "week", "month":
		return tx["period_"+p.Unit]
	}
	return strings.ReplaceAll(tx["period_rolling"], "{d}", config.FormatDuration(p.Rolling))
}

// inText is a time to wait, rounded the way a person reads it: days from two days on, hours
// from one hour on, else minutes (at least 1).
func inText(tx map[string]string, d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fill(tx["in_days"], "{n}", strconv.Itoa(int(math.Round(d.Hours()/24))))
	case d >= time.Hour:
		return fill(tx["in_hours"], "{n}", strconv.Itoa(int(math.Round(d.Hours()))))
	}
	return fill(tx["in_minutes"], "{n}", strconv.Itoa(max(int(math.Ceil(d.Minutes())), 1)))
}

func fill(s string, pairs ...string) string { return strings.NewReplacer(pairs...).Replace(s) }
