package proxy

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/alist-edge/alist-edge/internal/httpx"
	"github.com/alist-edge/alist-edge/internal/origin"
	"github.com/alist-edge/alist-edge/pkg/quota"
)

// staleStatus: a cached link answering one of these has probably expired; it is fetched from
// AList once more before the client gets the answer.
func staleStatus(s int) bool {
	return s == http.StatusUnauthorized || s == http.StatusForbidden || s == http.StatusNotFound || s == http.StatusGone
}

// serveUpstream gets the link (cache or AList), fetches it and streams the answer; meter holds
// what the check reserved for it.
func (h *Handler) serveUpstream(rq *request, r *http.Request, st *state, path, pathHash string, cached *quota.Link, meter *quota.Meter) error {
	ctx := r.Context()
	link := cached
	if cached != nil {
		h.linkHit.Inc()
	} else {
		h.linkMiss.Inc()
	}
	refetched := false
	for {
		fresh := false
		if link == nil {
			l, err := h.fetchLink(ctx, st, path, rq.Client.Text)
			if err != nil {
				return err
			}
			link, fresh = l, true
		}
		bp := smallPool.Get().(*[]byte)
		resp, err := st.fetcher.Fetch(ctx, &origin.Request{URL: link.URL, Method: r.Method, Header: link.Header,
			Client: r.Header, Self: st.self, Redirects: rq.redirects, Buf: *bp})
		if !fresh && !refetched && isStale(resp, err) {
			// A cached link that stopped working: drop it and ask AList again, once.
			resp.Close()
			smallPool.Put(bp)
			h.store.InvalidateLink(pathHash)
			link, refetched = nil, true
			continue
		}
		if err != nil {
			smallPool.Put(bp)
			if ctx.Err() != nil {
				return errClientGone
			}
			return err
		}
		if fresh && !staleStatus(resp.Status) {
			h.store.SaveLink(pathHash, *link)
		}
		if resp.Self != nil {
			smallPool.Put(bp)
			meter.Close() // the redirected request reserves for itself
			return h.serveSelf(rq, r, st, resp.Self, resp.RedirectsLeft)
		}
		defer smallPool.Put(bp)
		return h.stream(rq, r, resp, *bp, path, meter, st.cfg.ClientIdleTimeout)
	}
}

func isStale(resp *origin.Response, err error) bool {
	if err != nil {
		var e *httpx.Error
		return errors.As(err, &e) && e.Reason == "alist" // AList's error envelope from the link
	}
	return resp.Self == nil && staleStatus(resp.Status)
}

// fetchLink asks AList's /api/fs/link, bounded by ALIST_TIMEOUT.
func (h *Handler) fetchLink(ctx context.Context, st *state, path, clientIP string) (*quota.Link, error) {
	actx, cancel := context.WithTimeout(ctx, st.cfg.AlistTimeout)
	defer cancel()
	l, err := st.alist.Link(actx, path, clientIP)
	if err != nil {
		if ctx.Err() != nil {
			return nil, errClientGone
		}
		return nil, err
	}
	u := l.URL
	if strings.HasPrefix(u, "/") && !strings.HasPrefix(u, "//") {
		u = st.cfg.Parsed.AlistURL + u // a link relative to AList itself
	}
	return &quota.Link{URL: u, Header: l.Header, FetchedAt: h.now()}, nil
}

// serveSelf handles an upstream redirect to the proxy's own address as a new request to
// itself: every check runs again for the new URL, nothing goes over the network, and the
// request keeps the configuration it started with.
func (h *Handler) serveSelf(rq *request, r *http.Request, st *state, u *url.URL, left int) error {
	if left <= 0 {
		return origin.ErrTooManyRedirects
	}
	rq.redirects = left - 1
	r2 := r.Clone(r.Context())
	r2.URL = &url.URL{Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery}
	r2.RequestURI = u.EscapedPath()
	if u.RawQuery != "" {
		r2.RequestURI += "?" + u.RawQuery
	}
	r2.Host = u.Host
	return h.serve(rq, r2, st)
}
