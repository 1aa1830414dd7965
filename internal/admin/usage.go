package admin

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// usageAnswer is GET, PUT and DELETE /usage's answer: the counter and its limit.
type usageAnswer struct {
	Quota         string     `json:"quota"`
	Kind          string     `json:"kind"`
	Scope         string     `json:"scope"`
	Period        string     `json:"period"`
	Key           string     `json:"key"`
	Bytes         int64      `json:"bytes"`
	Requests      int64      `json:"requests"`
	WindowEnd     *time.Time `json:"window_end"` // null: no window running
	LimitBytes    int64      `json:"limit_bytes"`
	LimitRequests int64      `json:"limit_requests"`
	// PerGroup: the quota's per_group amounts; a user's cap is limit_bytes plus those of the
	// user's groups (explain shows it for given groups).
	PerGroup map[string]int64 `json:"per_group,omitempty"`
}

// counterRef names one counter: a quota and either its key or the scope parts KeyFor turns
// into the key.
type counterRef struct {
	Quota  string `json:"quota"`
	Key    string `json:"key"`
	Subnet string `json:"subnet"`
	Path   string `json:"path"`
	User   string `json:"user"`
	Group  string `json:"group"`
}

var refParams = []string{"quota", "key", "subnet", "path", "user", "group"}

func refFromQuery(u *url.URL) (counterRef, error) {
	q, err := query(u, nil, refParams...)
	if err != nil {
		return counterRef{}, err
	}
	return counterRef{q.Get("quota"), q.Get("key"), q.Get("subnet"), q.Get("path"), q.Get("user"), q.Get("group")}, nil
}

// resolve finds the limit and the stored key of ref. The error is answered with status.
func (a *api) resolve(ref counterRef) (LimitInfo, string, int, error) {
	if ref.Quota == "" {
		return LimitInfo{}, "", http.StatusBadRequest, badParam{"quota", "required: the name of a [quotas.*] or [rates.*]"}
	}
	var known []LimitInfo
	if a.o.Limits != nil {
		known = a.o.Limits()
	}
	i := slices.IndexFunc(known, func(l LimitInfo) bool { return l.Name == ref.Quota })
	if i < 0 {
		names := make([]string, len(known))
		for j, l := range known {
			names[j] = l.Name
		}
		slices.Sort(names)
		return LimitInfo{}, "", http.StatusNotFound, errors.New("no quota or rate named " + quoteName(ref.Quota) + " (known: " + strings.Join(names, ", ") + ")")
	}
	lim := known[i]
	parts := ref.Subnet != "" || ref.Path != "" || ref.User != "" || ref.Group != ""
	if ref.Key != "" {
		if parts {
			return lim, "", http.StatusBadRequest, badParam{"key", "give the key or subnet/path/user/group, not both"}
		}
		return lim, ref.Key, 0, nil
	}
	if a.o.KeyFor == nil {
		return lim, "", http.StatusBadRequest, badParam{"key", "required"}
	}
	var err error
	subnet := ref.Subnet
	if subnet != "" {
		if subnet, err = parseSubnet(subnet); err != nil {
			return lim, "", http.StatusBadRequest, err
		}
	}
	if ref.Path != "" {
		if _, err = parsePath(ref.Path); err != nil {
			return lim, "", http.StatusBadRequest, err
		}
	}
	key, err := a.o.KeyFor(lim.Name, subnet, ref.Path, ref.User, ref.Group)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return lim, "", e.Status, e
		}
		return lim, "", http.StatusBadRequest, errors.New(lim.Name + ": " + err.Error())
	}
	return lim, key, 0, nil
}

func quoteName(s string) string { return `"` + s + `"` }

func (a *api) answer(lim LimitInfo, key string, u Usage) usageAnswer {
	ans := usageAnswer{Quota: lim.Name, Kind: lim.Kind, Scope: lim.Scope, Key: key,
		LimitBytes: lim.Bytes, LimitRequests: lim.Requests, PerGroup: lim.PerGroup}
	if lim.Period != nil {
		ans.Period = lim.Period.String()
	}
	if !u.WindowEnd.IsZero() && u.WindowEnd.After(a.o.Now()) {
		end := u.WindowEnd.UTC()
		ans.Bytes, ans.Requests, ans.WindowEnd = u.Bytes, u.Requests, &end
	}
	return ans
}

// queryCounter reads the counter a GET or DELETE names in its query; false when it answered
// an error (nothing read or written).
func (a *api) queryCounter(w http.ResponseWriter, r *http.Request) (LimitInfo, string, bool) {
	ref, err := refFromQuery(r.URL)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return LimitInfo{}, "", false
	}
	lim, key, status, err := a.resolve(ref)
	if err != nil {
		writeError(w, status, err.Error())
		return LimitInfo{}, "", false
	}
	if a.o.Store == nil {
		writeError(w, http.StatusNotImplemented, "no store configured")
		return LimitInfo{}, "", false
	}
	return lim, key, true
}

func (a *api) getUsage(w http.ResponseWriter, r *http.Request) {
	lim, key, ok := a.queryCounter(w, r)
	if !ok {
		return
	}
	u, err := a.o.Store.Usage(r.Context(), lim.Name, key)
	if err != nil {
		a.fail(w, r, "usage", err)
		return
	}
	writeJSON(w, http.StatusOK, a.answer(lim, key, u))
}

// setBody is PUT /usage's body. A field left out keeps its current value; with no window
// running and no window_end, a new window starts now (the limit's period decides its end).
type setBody struct {
	counterRef
	Bytes     *int64     `json:"bytes"`
	Requests  *int64     `json:"requests"`
	WindowEnd *time.Time `json:"window_end"`
}

func (a *api) setUsage(w http.ResponseWriter, r *http.Request) {
	var b setBody
	err := decodeBody(r, &b)
	if err == nil {
		err = b.validate(a.o.Now())
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	lim, key, status, err := a.resolve(b.counterRef)
	if err != nil {
		writeError(w, status, err.Error())
		return
	}
	if a.o.Store == nil {
		writeError(w, http.StatusNotImplemented, "no store configured")
		return
	}
	now := a.o.Now()
	u, err := a.o.Store.Usage(r.Context(), lim.Name, key)
	if err != nil {
		a.fail(w, r, "usage", err)
		return
	}
	if !u.WindowEnd.After(now) {
		u = Usage{}
	}
	if b.Bytes != nil {
		u.Bytes = *b.Bytes
	}
	if b.Requests != nil {
		u.Requests = *b.Requests
	}
	switch {
	case b.WindowEnd != nil:
		u.WindowEnd = *b.WindowEnd
	case u.WindowEnd.IsZero() && lim.Period != nil:
		u.WindowEnd = lim.Period.WindowEnd(now)
	case u.WindowEnd.IsZero():
		writeError(w, http.StatusBadRequest, "window_end: required, the period of "+lim.Name+" is unknown")
		return
	}
	if err := a.o.Store.SetUsage(r.Context(), lim.Name, key, u); err != nil {
		a.fail(w, r, "set usage", err)
		return
	}
	a.changed(r, "set-usage", "quota", lim.Name, "key", key, "bytes", u.Bytes, "requests", u.Requests, "window_end", u.WindowEnd)
	writeJSON(w, http.StatusOK, a.answer(lim, key, u))
}

func (b *setBody) validate(now time.Time) error {
	switch {
	case b.Bytes == nil && b.Requests == nil && b.WindowEnd == nil:
		return errors.New("body: give bytes, requests or window_end")
	case b.Bytes != nil && *b.Bytes < 0:
		return badParam{"bytes", "must be ≥ 0"}
	case b.Requests != nil && *b.Requests < 0:
		return badParam{"requests", "must be ≥ 0"}
	case b.WindowEnd != nil && !b.WindowEnd.After(now):
		return badParam{"window_end", "must be in the future"}
	}
	return nil
}

func (a *api) resetUsage(w http.ResponseWriter, r *http.Request) {
	lim, key, ok := a.queryCounter(w, r)
	if !ok {
		return
	}
	if err := a.o.Store.SetUsage(r.Context(), lim.Name, key, Usage{}); err != nil {
		a.fail(w, r, "reset usage", err)
		return
	}
	a.changed(r, "reset-usage", "quota", lim.Name, "key", key)
	writeJSON(w, http.StatusOK, a.answer(lim, key, Usage{}))
}
