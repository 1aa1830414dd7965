package hostile

import (
	"strings"
	"testing"
)

// TestSkipSignTraversal is the regression test of a bug this package found: under a
// skip-sign prefix (/pub), an encoded slash built a ".." segment after decoding
// ("/pub/..%2fprivate%2fsecret.txt" → "/pub/../private/secret.txt"): the policy matched /pub,
// and the local folder (os.Root resolves ".." inside the root) served /private/secret.txt
// without any signature; AList cleans such a path the same way. Now 400 before any lookup.
func TestSkipSignTraversal(t *testing.T) {
	for _, local := range []bool{true, false} {
		s := newProxy(t, "skip", local, map[string]string{
			"WHITELIST_PREFIX": "/pub", "WHITELIST_ACTION": "skip-sign,skip-hash,skip-worker,skip-ip,skip-addition",
		})
		s.put(t, "/pub/ok.txt", []byte("public"))
		s.put(t, "/private/secret.txt", []byte("SECRET"))
		if r := sendRaw(s.addr, s.request(item{Target: "/pub/ok.txt"}), false); r.status != 200 || string(r.body) != "public" {
			t.Fatalf("local=%v: public file: %d %q", local, r.status, r.body)
		}
		for _, target := range []string{"/pub/..%2fprivate%2fsecret.txt", "/pub/..%2fprivate/secret.txt",
			"/pub%2f..%2fprivate%2fsecret.txt", "/pub/%2e%2e%2fprivate/secret.txt", "/pub/.%2e%2fprivate/secret.txt",
			"/pub/x/..%2f..%2fprivate/secret.txt", "/pub/.%2f..%2fprivate/secret.txt", "/pub/..%2F"} {
			checks := s.store.checks.Load()
			r := sendRaw(s.addr, s.request(item{Target: target}), false)
			if r.status != 400 || string(r.body) != `{"code":400,"message":"invalid path encoding"}` || strings.Contains(string(r.body), "SECRET") {
				t.Errorf("local=%v %s: %d %q", local, target, r.status, r.body)
			}
			if s.store.checks.Load() != checks || s.upstreamCalls() > 2 {
				t.Errorf("local=%v %s: reached the database or AList", local, target)
			}
		}
	}
}
