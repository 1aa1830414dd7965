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

// TestBrowserGetsErrorPage: a browser (Accept names text/html) sees the proxy's refusals as the
// landing's error page in its language, with the same status; every other client gets JSON.
func TestBrowserGetsErrorPage(t *testing.T) {
	e := newEnv(t, envOpts{})
	const chromium = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8"
	// A file deleted after the landing signed its link: AList says object not found.
	r := e.get(e.uri("/gone.bin", testIP), "Accept", chromium, "Accept-Language", "zh-CN,zh;q=0.9")
	body := string(r.body)
	if r.status != http.StatusNotFound || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") ||
		!strings.Contains(body, "找不到该文件") || !strings.Contains(body, "404 · object not found") {
		t.Fatalf("browser, missing file: %d %s\n%s", r.status, r.header, body)
	}
	p := e.params("/f.bin", testIP, 4)
	p.Sign = "AAAA" + p.Sign[4:]
	r = e.get(uriOf("/f.bin", p), "Accept", chromium)
	if r.status != http.StatusUnauthorized || !strings.Contains(string(r.body), "401 · sign mismatch") ||
		!strings.Contains(string(r.body), `lang="en"`) {
		t.Fatalf("browser, forged link: %d %s", r.status, r.body)
	}
	// curl, wget, aria2c, fetch(): the JSON of the contract.
	for _, accept := range []string{"", "*/*", "application/json"} {
		wantJSONError(t, e.get(e.uri("/gone.bin", testIP), "Accept", accept), http.StatusNotFound, "object not found")
	}
}
