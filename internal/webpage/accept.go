package webpage

import (
	"net/http"
	"strconv"
	"strings"
)

// AcceptsHTML: browsers ask for text/html on navigation; download managers and API clients
// do not (wget and curl send */*, aria2c */* plus metalink types), so they get the 302 or a
// JSON error instead of a page they would save as the file. text/html;q=0 is a refusal.
func AcceptsHTML(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept") {
		for _, part := range strings.Split(v, ",") {
			media, params, _ := strings.Cut(part, ";")
			if !strings.EqualFold(strings.TrimSpace(media), "text/html") {
				continue
			}
			if !zeroQ(params) {
				return true
			}
		}
	}
	return false
}

// zeroQ reports whether media-type parameters carry q=0 (q=0, q=0.0, q=0.000).
func zeroQ(params string) bool {
	for _, p := range strings.Split(params, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(strings.TrimSpace(k), "q") {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return err == nil && f == 0
		}
	}
	return false
}
