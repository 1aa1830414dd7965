package hostile

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// FuzzRangeLocal drives abusive Range / If-Range headers through the proxy handler serving
// a local folder (its own http.ServeContent path): no panic, a documented status, and a
// 206 body never larger than the multipart of what was asked.
func FuzzRangeLocal(f *testing.F) {
	for _, s := range []string{"bytes=0-0", "bytes=-1", "bytes=1-0", "bytes=-0", "bytes=0--1", "items=0-1", "bytes=",
		"bytes=,", "bytes=99999999999999999999-", "bytes=0-9223372036854775807", "bytes=9223372036854775807-",
		"bytes=" + strings.Repeat("0-0,", 300) + "0-0", "bytes=0-10,5-15", "bytes= 0 - 1", "bytes=1024-2048,0-0"} {
		f.Add(s, "")
	}
	f.Add("bytes=0-0", `"etag"`)
	f.Add("bytes=0-0", "Mon, 02 Jan 2006 15:04:05 GMT")
	s := newProxy(f, "local", true, map[string]string{
		"WHITELIST_PREFIX": "/pub", "WHITELIST_ACTION": "skip-sign,skip-hash,skip-worker,skip-ip,skip-addition",
		"IPSUBNET_WINDOWTIME_LIMIT": "0",
	})
	data := []byte(strings.Repeat("0123456789abcdef", 64))
	s.put(f, "/pub/ok.txt", data)
	f.Fuzz(func(t *testing.T, rng, ifRange string) {
		req := httptest.NewRequest(http.MethodGet, "/pub/ok.txt", nil)
		req.RemoteAddr = "203.0.113.7:1234"
		req.Header["Range"] = []string{rng}
		if ifRange != "" {
			req.Header["If-Range"] = []string{ifRange}
		}
		w := httptest.NewRecorder()
		s.ph.ServeHTTP(w, req)
		switch w.Code {
		case 200:
			if w.Body.Len() != len(data) {
				t.Fatalf("200 with %d bytes", w.Body.Len())
			}
		case 206:
			// Each part is at most the file plus a part header.
			parts := strings.Count(rng, ",") + 1
			if w.Body.Len() > parts*(len(data)+256) {
				t.Fatalf("206 with %d bytes for %d parts", w.Body.Len(), parts)
			}
		case 416:
			if cr := w.Header().Get("Content-Range"); cr != "" && cr != "bytes */"+strconv.Itoa(len(data)) {
				t.Fatalf("416 Content-Range %q", cr)
			}
		case 429:
		default:
			t.Fatalf("status %d for Range %q", w.Code, rng)
		}
	})
}
