package proxy

import (
	"net/http"
	"strings"
)

// robotsTxt keeps crawlers off download links: they are per-visitor and expire anyway.
const robotsTxt = "User-agent: *\nDisallow: /\n"

// browserExtra answers the two requests browsers and crawlers make on their own, /favicon.ico
// and /robots.txt, when they carry no signature: without this each page view that ends on the
// proxy costs a "401 sign missing" that shows up as a refusal in the log and the metrics. A
// signed request for a file of that name is a download like any other.
func browserExtra(rq *request, r *http.Request) bool {
	if r.URL.RawQuery != "" && strings.Contains(r.URL.RawQuery, "sign=") {
		return false
	}
	switch r.URL.Path {
	case "/favicon.ico":
		// 204: nothing to show, and the browser stops asking for a day.
		rq.w.Header().Set("Cache-Control", "public, max-age=86400")
		rq.w.WriteHeader(http.StatusNoContent)
		return true
	case "/robots.txt":
		h := rq.w.Header()
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("Cache-Control", "public, max-age=86400")
		rq.w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			_, _ = rq.w.Write([]byte(robotsTxt))
		}
		return true
	}
	return false
}
