package upload

import (
	"net/http/httptest"
	"path"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzSlotPath: whatever the URL path, an accepted slot path is clean, relative, and free of
// dot segments, backslashes and control characters.
func FuzzSlotPath(f *testing.F) {
	for _, s := range []string{"/upload/a/b.txt", "/upload/../x", "/upload/a/./b", "/upload/a\\b", "/upload/a\x00b", "/upload//a",
		"/upload/Ünï cødé.txt", "/upload/a/", "/other/a", "/upload/\xff", "/upload/a/..", "/upload/...", "/upload/a\u0085b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, urlPath string) {
		p, err := slotPath(urlPath, "/upload/")
		if err != nil {
			return
		}
		if p == "" || strings.HasPrefix(p, "/") || path.Clean(p) != p || !utf8.ValidString(p) || strings.ContainsAny(p, "\\\x00") {
			t.Fatalf("accepted %q", p)
		}
		for _, seg := range strings.Split(p, "/") {
			if seg == "." || seg == ".." || seg == "" {
				t.Fatalf("accepted %q (segment %q)", p, seg)
			}
			for _, r := range seg {
				if r < 0x20 || r == 0x7f {
					t.Fatalf("accepted %q (control %U)", p, r)
				}
			}
		}
	})
}

// FuzzVerify: no query string or Authorization header made without the secret is accepted.
func FuzzVerify(f *testing.F) {
	f.Add("v="+strings.Repeat("0", 64), "", "a/b.txt")
	f.Add("v2=zz&token=", "Bearer eyJhbGciOiJub25lIn0.e30.", "s/a.png")
	f.Add("", "Bearer eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.x", "s/a.png")
	f.Fuzz(func(t *testing.T, query, authz, p string) {
		r := httptest.NewRequest("PUT", "/upload/x", nil)
		r.URL.RawQuery = query
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		if _, e := verify(r, p, 5, [][]byte{[]byte(testSecret)}, time.Unix(1_700_000_000, 0)); e == nil {
			t.Fatalf("accepted query %q authorization %q path %q", query, authz, p)
		}
	})
}
