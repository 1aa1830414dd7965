package admin

import (
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

func (a *api) explain(w http.ResponseWriter, r *http.Request) {
	q, err := a.explainQuery(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if a.o.Explain == nil {
		writeError(w, http.StatusNotImplemented, "explain not configured")
		return
	}
	res, err := a.o.Explain(r.Context(), q)
	if err != nil {
		a.fail(w, r, "explain", err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// explainQuery validates GET /policy/explain's parameters, naming the first bad one.
func (a *api) explainQuery(r *http.Request) (ExplainQuery, error) {
	v, err := query(r.URL, []string{"group"}, "path", "ip", "at", "size", "method", "host", "user")
	if err != nil {
		return ExplainQuery{}, err
	}
	q := ExplainQuery{Size: -1, Method: http.MethodGet, At: a.o.Now(), User: v.Get("user"), Groups: v["group"]}
	if q.Path, err = parsePath(v.Get("path")); err != nil {
		return q, err
	}
	ip := v.Get("ip")
	if ip == "" {
		return q, badParam{"ip", "required: the client address"}
	}
	if q.Addr, err = netip.ParseAddr(ip); err != nil || q.Addr.Zone() != "" {
		return q, badParam{"ip", "not an IP address: " + strconv.Quote(ip)}
	}
	q.Addr = q.Addr.Unmap()
	if at := v.Get("at"); at != "" {
		if q.At, err = time.Parse(time.RFC3339, at); err != nil {
			return q, badParam{"at", "not an RFC 3339 time (2026-01-02T22:00:00Z): " + strconv.Quote(at)}
		}
	}
	if s := v.Get("size"); s != "" {
		if q.Size, err = strconv.ParseInt(s, 10, 64); err != nil || q.Size < 0 {
			return q, badParam{"size", "not a byte count ≥ 0: " + strconv.Quote(s)}
		}
	}
	if m := v.Get("method"); m != "" {
		if strings.Trim(m, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
			return q, badParam{"method", "not an HTTP method: " + strconv.Quote(m)}
		}
		q.Method = strings.ToUpper(m)
	}
	if h := v.Get("host"); h != "" {
		if hh, _, err := net.SplitHostPort(h); err == nil {
			h = hh
		}
		if !isToken(h) {
			return q, badParam{"host", "not a host name: " + strconv.Quote(v.Get("host"))}
		}
		q.Host = strings.ToLower(h)
	}
	if hasControl(q.User) {
		return q, badParam{"user", "contains control characters"}
	}
	for _, g := range q.Groups {
		if g == "" || hasControl(g) {
			return q, badParam{"group", "empty or with control characters"}
		}
	}
	return q, nil
}

// parsePath accepts an absolute path of printable characters.
func parsePath(p string) (string, error) {
	switch {
	case p == "":
		return "", badParam{"path", "required"}
	case !strings.HasPrefix(p, "/"):
		return "", badParam{"path", "must start with /: " + strconv.Quote(p)}
	case hasControl(p):
		return "", badParam{"path", "contains control characters"}
	}
	return p, nil
}

// parseSubnet accepts an address or a CIDR prefix and gives its canonical text
// ("10.1.2.0/24", never "10.1.2.3/24", which could hash to no stored key).
func parseSubnet(s string) (string, error) {
	if s == "" {
		return "", badParam{"subnet", "required: an address or a CIDR prefix"}
	}
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return a.Unmap().String(), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return "", badParam{"subnet", "not an address or CIDR prefix: " + strconv.Quote(s)}
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p.Masked().String(), nil
}

// isToken: letters, digits and the punctuation of host names and bracketed IPv6 addresses.
func isToken(s string) bool {
	for _, c := range s {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == ':' || c == '[' || c == ']'
		if !ok {
			return false
		}
	}
	return s != ""
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(c rune) bool { return c < 0x20 || c == 0x7f })
}
