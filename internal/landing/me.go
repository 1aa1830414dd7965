package landing

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/alist-edge/alist-edge/internal/httpx"
	"github.com/alist-edge/alist-edge/pkg/policy"
	"github.com/alist-edge/alist-edge/pkg/sign"
)

var errNotSignedIn = &httpx.Error{Status: http.StatusUnauthorized, Message: "not signed in", Reason: "login_required"}

// meAnswer is GET /me.
type meAnswer struct {
	User           string     `json:"user"`
	Groups         []string   `json:"groups"`
	Source         string     `json:"source"`
	SessionExpires *time.Time `json:"session_expires"` // null for forward auth (every request is vouched for)
	Quotas         []quotaUse `json:"quotas"`
}

// me serves GET /me[?path=/decoded/path]: who the visitor is and their quotas. With a path,
// the quotas of the rule that decides that path for them; without one, every user- or
// group-scoped quota of the policy (those follow the visitor, not a file). 401 when anonymous.
func (s *Service) me(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	rc.JSONOnly = true
	sec := s.sec.Load()
	v, err := s.identify(r, sec.id)
	if err != nil {
		return err
	}
	if v == nil {
		return errNotSignedIn
	}
	limits, pathHash := identityLimits(sec.pol), ""
	if p := r.URL.Query().Get("path"); p != "" {
		served, err := sign.ServedPath(p, s.originKind())
		if p[0] != '/' || err != nil {
			return errPath
		}
		pr := policy.Request{Path: served, Addr: rc.Client.Addr.Unmap(), Time: s.now(), Size: -1, Method: http.MethodGet,
			Host: httpx.HostOnly(r.Host), User: v.id.User, Groups: v.id.Groups}
		pd := sec.pol.Decide(&pr)
		limits, pathHash = pd.Limits, sign.PathHash(p)
	}
	uses, err := s.quotaUses(r.Context(), limits, rc.Subnet, pathHash, v)
	if err != nil {
		return err
	}
	ans := meAnswer{User: v.id.User, Groups: v.id.Groups, Source: v.id.Source, Quotas: uses}
	if ans.Groups == nil {
		ans.Groups = []string{}
	}
	if ans.Quotas == nil {
		ans.Quotas = []quotaUse{}
	}
	if !v.expires.IsZero() {
		ans.SessionExpires = &v.expires
	}
	b, err := json.Marshal(ans)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", httpx.ContentTypeJSON)
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
	return nil
}

// identityLimits are the policy's user- and group-scoped limits.
func identityLimits(e *policy.Engine) []*policy.Limit {
	var out []*policy.Limit
	for _, l := range e.Limits() {
		if l.Scope == policy.ScopeUser || l.Scope == policy.ScopeGroup {
			out = append(out, l)
		}
	}
	return out
}
