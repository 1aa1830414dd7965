package admin

import (
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"
)

// FuzzExplainQuery: any query string is either refused with a parameter named or gives a
// query that keeps the handler's promises to Explain.
func FuzzExplainQuery(f *testing.F) {
	for _, s := range []string{
		"path=/a&ip=1.2.3.4", "path=/a&ip=::ffff:1.2.3.4&size=0&method=get&host=A:1&group=g&group=h",
		"path=a&ip=x", "path=/a&ip=1.2.3.4&at=2026-01-01T00:00:00Z", "path=/%00&ip=1.2.3.4&size=-1", "%zz",
	} {
		f.Add(s)
	}
	a := &api{o: Options{Now: func() time.Time { return testNow }}}
	f.Fuzz(func(t *testing.T, raw string) {
		req := httptest.NewRequest("GET", "/policy/explain", nil)
		req.URL.RawQuery = raw
		q, err := a.explainQuery(req)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "parameter ") {
				t.Fatalf("error names no parameter: %v", err)
			}
			return
		}
		if !strings.HasPrefix(q.Path, "/") || !q.Addr.IsValid() || q.Addr.Is4In6() || q.Addr.Zone() != "" ||
			q.Size < -1 || q.Method == "" || strings.ToUpper(q.Method) != q.Method || strings.ToLower(q.Host) != q.Host {
			t.Fatalf("accepted %q as %+v", raw, q)
		}
		if v, _ := url.ParseQuery(raw); v.Get("at") == "" && !q.At.Equal(testNow) {
			t.Fatalf("default time %v", q.At)
		}
	})
}

// FuzzParseSubnet: an accepted subnet is canonical (parsing it again gives itself).
func FuzzParseSubnet(f *testing.F) {
	for _, s := range []string{"1.2.3.4", "10.1.2.3/24", "::ffff:10.1.2.3/120", "2001:db8::5/64", "::ffff:1.2.3.4/32", "fe80::1%lo", "1.2.3.4/33"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := parseSubnet(s)
		if err != nil {
			return
		}
		again, err := parseSubnet(c)
		if err != nil || again != c {
			t.Fatalf("%q → %q → %q, %v", s, c, again, err)
		}
		if a, err := netip.ParseAddr(c); err == nil && a.Is4In6() {
			t.Fatalf("%q → mapped address %q", s, c)
		}
	})
}

// FuzzPrintTree: any JSON answer renders without panicking.
func FuzzPrintTree(f *testing.F) {
	for _, s := range []string{`{"a":[1,{"b":[]},[],{}],"c":null,"d":""}`, `[]`, `"x"`, `[[[[1]]]]`, `{"a":{"b":{"c":[{"d":1}]}}}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var b strings.Builder
		_ = printTree(&b, []byte(s))
	})
}
