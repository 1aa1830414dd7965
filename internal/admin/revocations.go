package admin

import (
	"errors"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
)

// revokeBody is POST /revocations' body: until or ttl, not both.
type revokeBody struct {
	Path   string     `json:"path"`
	Prefix bool       `json:"prefix"`
	Until  *time.Time `json:"until"`
	TTL    string     `json:"ttl"`
}

// servedPath cleans p the way AList does before serving it (`\` is `/`, then path.Clean), so
// a revocation names the path the policy and the store see. A prefix keeps its trailing
// slash: "/a/" is the folder, "/a" also "/ab".
func servedPath(p string, prefix bool) string {
	c := path.Clean(strings.ReplaceAll(p, `\`, "/"))
	if prefix && c != "/" && strings.HasSuffix(p, "/") {
		c += "/"
	}
	return c
}

func (a *api) revoke(w http.ResponseWriter, r *http.Request) {
	var b revokeBody
	rev, err := Revocation{}, decodeBody(r, &b)
	if err == nil {
		rev, err = b.revocation(a.o.Now())
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if a.o.Store == nil {
		writeError(w, http.StatusNotImplemented, "no store configured")
		return
	}
	if err := a.o.Store.Revoke(r.Context(), rev); err != nil {
		a.fail(w, r, "revoke", err)
		return
	}
	a.changed(r, "revoke", "path", rev.Path, "prefix", rev.Prefix, "until", rev.Until)
	writeJSON(w, http.StatusCreated, rev)
}

func (b *revokeBody) revocation(now time.Time) (Revocation, error) {
	p, err := parsePath(b.Path)
	if err != nil {
		return Revocation{}, err
	}
	rev := Revocation{Path: servedPath(p, b.Prefix), Prefix: b.Prefix}
	switch {
	case b.Until != nil && b.TTL != "":
		return rev, errors.New("body: give until or ttl, not both")
	case b.Until != nil:
		rev.Until = b.Until.UTC()
	case b.TTL != "":
		d, err := time.ParseDuration(b.TTL)
		if err != nil || d <= 0 {
			return rev, badParam{"ttl", "not a positive Go duration (24h, 90m): " + strconv.Quote(b.TTL)}
		}
		rev.Until = now.Add(d).UTC()
	default:
		return rev, errors.New("body: until (RFC 3339) or ttl (24h) required")
	}
	if !rev.Until.After(now) {
		return rev, badParam{"until", "must be in the future"}
	}
	return rev, nil
}

func (a *api) unrevoke(w http.ResponseWriter, r *http.Request) {
	q, err := query(r.URL, nil, "path", "prefix")
	var p string
	var prefix bool
	if err == nil {
		p, err = parsePath(q.Get("path"))
	}
	if err == nil && q.Get("prefix") != "" {
		if prefix, err = strconv.ParseBool(q.Get("prefix")); err != nil {
			err = badParam{"prefix", "true or false"}
		}
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if a.o.Store == nil {
		writeError(w, http.StatusNotImplemented, "no store configured")
		return
	}
	p = servedPath(p, prefix)
	if err := a.o.Store.Unrevoke(r.Context(), p, prefix); err != nil {
		if errors.Is(err, ErrNotFound) {
			writeError(w, http.StatusNotFound, "no revocation of "+strconv.Quote(p)+" (prefix "+strconv.FormatBool(prefix)+")")
			return
		}
		a.fail(w, r, "unrevoke", err)
		return
	}
	a.changed(r, "unrevoke", "path", p, "prefix", prefix)
	writeJSON(w, http.StatusOK, struct {
		Path   string `json:"path"`
		Prefix bool   `json:"prefix"`
	}{p, prefix})
}
