package proxy

import (
	"net/http"
	"strings"
	"testing"
)

// TestBrowserExtrasAndFailureCounting: a browser's own /favicon.ico and a crawler's
// /robots.txt are answered without a signature, a database check or a refusal; a request
// without a signature is refused but does not count toward the auto-ban; only a wrong signature
// does.
func TestBrowserExtrasAndFailureCounting(t *testing.T) {
	e := newEnv(t, envOpts{env: map[string]string{"BAN_AFTER_FAILS": "100"}})
	e.put("/file.bin", []byte("data"))

	r := e.get("/favicon.ico", "Accept", "image/avif,image/webp,*/*")
	if r.status != http.StatusNoContent || len(r.body) != 0 {
		t.Fatalf("favicon: %d %q", r.status, r.body)
	}
	r = e.get("/robots.txt")
	if r.status != http.StatusOK || string(r.body) != robotsTxt {
		t.Fatalf("robots.txt: %d %q", r.status, r.body)
	}
	if n := e.store.checks.Load(); n != 0 {
		t.Fatalf("%d database checks for favicon/robots", n)
	}
	// A signed request for a file named favicon.ico is a download like any other.
	e.put("/favicon.ico", []byte("icon"))
	if r := e.get(e.uri("/favicon.ico", testIP)); r.status != http.StatusOK || string(r.body) != "icon" {
		t.Fatalf("signed favicon.ico: %d %q", r.status, r.body)
	}

	wantJSONError(t, e.get("/file.bin"), http.StatusUnauthorized, "sign missing")
	p := e.params("/file.bin", testIP, 4)
	p.IPSign = ""
	wantJSONError(t, e.get(uriOf("/file.bin", p)), http.StatusUnauthorized, "ipSign missing")
	if n := e.store.failures.Load(); n != 0 {
		t.Fatalf("a missing signature counted %d failures toward the ban", n)
	}
	p = e.params("/file.bin", testIP, 4)
	p.Sign = "AAAA" + p.Sign[4:]
	wantJSONError(t, e.get(uriOf("/file.bin", p)), http.StatusUnauthorized, "sign mismatch")
	if n := e.store.failures.Load(); n != 1 {
		t.Fatalf("a forged signature counted %d failures, want 1", n)
	}
	e.waitFinished(6)
	for _, l := range strings.Split(e.logs.String(), "\n") {
		if strings.Contains(l, `"status":204`) && !strings.Contains(l, `"reason":""`) {
			t.Fatalf("favicon logged as a refusal: %s", l)
		}
	}
}
