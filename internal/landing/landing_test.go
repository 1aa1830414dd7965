package landing

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/alist-edge/alist-edge/internal/alisttest"
	"github.com/alist-edge/alist-edge/internal/config"
	"github.com/alist-edge/alist-edge/internal/webpage"
	"github.com/alist-edge/alist-edge/pkg/quota"
	"github.com/alist-edge/alist-edge/pkg/sign"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

var hrefRe = regexp.MustCompile(`<a id="dl" class="btn primary" href="([^"]+)"`)

// TestActions: the landing path actions against the global settings (docs/contract.md §6).
func TestActions(t *testing.T) {
	for _, tc := range []struct {
		name string
		vars map[string]string
		want string // "redirect", "link" (page with the URL), "pow", "turn", "denied"
	}{
		{"default shows the page with the link", nil, "link"},
		{"fast redirect", map[string]string{"FAST_REDIRECT": "true"}, "redirect"},
		{"fast redirect yields to the bot check", map[string]string{"FAST_REDIRECT": "true", "ALTCHA_ENABLED": "true"}, "pow"},
		{"pass-server always redirects", map[string]string{"ALTCHA_ENABLED": "true", "WHITELIST_PREFIX": "/f", "WHITELIST_ACTION": "pass-server"}, "redirect"},
		{"pass-web always shows the page", map[string]string{"FAST_REDIRECT": "true", "ALTCHA_ENABLED": "true", "WHITELIST_PREFIX": "/f", "WHITELIST_ACTION": "pass-web"}, "link"},
		{"pass-asis follows the globals", map[string]string{"ALTCHA_ENABLED": "true", "WHITELIST_PREFIX": "/f", "WHITELIST_ACTION": "pass-asis"}, "pow"},
		{"verify-pow without ALTCHA_ENABLED", map[string]string{"FAST_REDIRECT": "true", "BLACKLIST_PREFIX": "/f", "BLACKLIST_ACTION": "verify-pow"}, "pow"},
		{"verify-turn", map[string]string{"EXCEPT_PREFIX": "/other", "EXCEPT_ACTION": "verify-turn-except", "TURNSTILE_SITE_KEY": "k", "TURNSTILE_SECRET_KEY": "s"}, "turn"},
		{"block", map[string]string{"BLACKLIST_PREFIX": "/f", "BLACKLIST_ACTION": "block"}, "denied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.vars, envOpt{})
			e.alist.Put("/f.txt", &alisttest.File{Data: []byte("data")})
			r := e.browse(e.link("/f.txt"))
			switch tc.want {
			case "redirect":
				if r.status != 302 || !strings.HasPrefix(r.header.Get("Location"), "https://dl1.example.com/f.txt?sign=") {
					t.Fatalf("%d %v", r.status, r.header)
				}
			case "denied":
				if r := e.get(e.link("/f.txt")); r.status != 403 || r.message(t) != "access denied" {
					t.Fatalf("%d %s", r.status, r.body)
				}
				if r := e.get(e.infoLink("/f.txt")); r.status != 403 {
					t.Fatalf("/info: %d", r.status)
				}
			default:
				if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
					t.Fatalf("%d %s", r.status, r.body)
				}
				c := pageCfg(t, r.body)
				got := map[bool]string{true: "link"}[c.URL != ""] + map[bool]string{true: "pow"}[c.Pow != nil] + map[bool]string{true: "turn"}[c.Turnstile != nil]
				if got != tc.want {
					t.Fatalf("page is %q, want %q", got, tc.want)
				}
				if tc.want != "link" {
					if r := e.get(e.infoLink("/f.txt")); r.status != 403 {
						t.Fatalf("/info without the check: %d %s", r.status, r.body)
					}
				}
			}
		})
	}
}

// TestPage: the page without a bot check works without JavaScript (a plain link), escapes the
// file name in every context, sends its security headers and speaks the browser's language.
func TestPage(t *testing.T) {
	e := newEnv(t, map[string]string{"AUTO_REDIRECT": "true"}, envOpt{})
	name := `/x/<script>&"quote"\back.txt`
	e.alist.Put(name, &alisttest.File{Data: make([]byte, 1048576)})
	r := e.browse(e.link(name))
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	h := r.header
	for k, want := range map[string]string{"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
		"Content-Type": "text/html; charset=utf-8", "Content-Language": "en"} {
		if h.Get(k) != want {
			t.Errorf("%s: %q, want %q", k, h.Get(k), want)
		}
	}
	csp := h.Get("Content-Security-Policy")
	m := regexp.MustCompile(`script-src 'nonce-([A-Za-z0-9_-]+)';`).FindStringSubmatch(csp)
	if m == nil || strings.Contains(csp, "unsafe") || strings.Contains(csp, "http") || !strings.Contains(csp, "default-src 'none'") {
		t.Fatalf("CSP %q", csp)
	}
	if !strings.Contains(r.body, `<script nonce="`+m[1]+`">`) || !strings.Contains(r.body, `<style nonce="`+m[1]+`">`) {
		t.Fatalf("inline script/style without this response nonce %q:\n%s", m[1], r.body[:300])
	}
	if strings.Contains(r.body, "<script>&") || !strings.Contains(r.body, "&lt;script&gt;&amp;&#34;quote&#34;\\back.txt") {
		t.Fatalf("file name not escaped:\n%s", r.body)
	}
	if !strings.Contains(r.body, ">1.00 MB<") || !strings.Contains(r.body, `title="1,048,576 bytes"`) {
		t.Fatal("size not shown in human units")
	}
	hm := hrefRe.FindStringSubmatch(r.body)
	if hm == nil {
		t.Fatalf("no plain download link:\n%s", r.body)
	}
	c := pageCfg(t, r.body)
	info := e.get(e.infoLink(name)).infoURL(t)
	if html.UnescapeString(hm[1]) != info || c.URL != info || !c.AutoRedirect {
		t.Fatalf("page link %q / cfg %q, /info %q", hm[1], c.URL, info)
	}

	zh := e.req("GET", e.link(name), testIP, http.Header{"Accept": {acceptFirefox}, "Accept-Language": {"en;q=0.5, zh-CN;q=0.9"}}, nil)
	if !strings.Contains(zh.body, `<html lang="zh-CN">`) || !strings.Contains(zh.body, ">下载<") || zh.header.Get("Content-Language") != "zh-CN" {
		t.Fatal("Chinese page not chosen")
	}

	if r := e.req("HEAD", e.link(name), testIP, http.Header{"Accept": {acceptChromium}}, nil); r.status != 200 || r.body != "" {
		t.Fatalf("HEAD: %d %q", r.status, r.body)
	}
}

// TestBrowserErrors: a browser gets the refusal as a page in plain words (same status); a
// download manager keeps the JSON.
func TestBrowserErrors(t *testing.T) {
	e := newEnv(t, nil, envOpt{})
	bad := "/f.txt?sign=" + strings.Repeat("A", 43) + "%3D%3A0"
	r := e.req("GET", bad, testIP, http.Header{"Accept": {"text/html,application/xhtml+xml"}, "Accept-Language": {"zh"}}, nil)
	if r.status != 401 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") ||
		!strings.Contains(r.body, webpage.Texts["zh"]["err_sign"]) || !strings.Contains(r.body, "401 · sign mismatch") {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if strings.Contains(r.body, "<script") {
		t.Fatal("error page carries a script")
	}
	if r := e.get(bad); r.status != 401 || r.message(t) != "sign mismatch" {
		t.Fatalf("%d %s", r.status, r.body)
	}
}

func TestMethodsAndPreflight(t *testing.T) {
	e := newEnv(t, nil, envOpt{})
	for _, tc := range []struct{ method, path, allow string }{
		{"POST", e.link("/f.txt"), "GET, HEAD, OPTIONS"},
		{"DELETE", e.link("/f.txt"), "GET, HEAD, OPTIONS"},
		{"PUT", e.infoLink("/f.txt"), "GET, HEAD, POST, OPTIONS"},
	} {
		r := e.req(tc.method, tc.path, testIP, nil, nil)
		if r.status != 405 || r.message(t) != "method not allowed" || r.header.Get("Allow") != tc.allow {
			t.Fatalf("%s %s: %d %s %q", tc.method, tc.path, r.status, r.body, r.header.Get("Allow"))
		}
	}
	r := e.req("OPTIONS", "/info", testIP, http.Header{"Origin": {"https://x.example"}, "Access-Control-Request-Headers": {"X-A"}}, nil)
	if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != "https://x.example" || r.header.Get("Access-Control-Allow-Headers") != "X-A" {
		t.Fatalf("preflight %d %v", r.status, r.header)
	}
	if e.alist.TotalCalls() != 0 {
		t.Fatal("AList called")
	}
}

// TestRateLimitAndSizeCache: one Check per issued URL, with the proxy's 429 body; the size
// read from AList is cached for SIZE_TTL.
func TestRateLimitAndSizeCache(t *testing.T) {
	e := newEnv(t, map[string]string{"FAST_REDIRECT": "true", "IPSUBNET_WINDOWTIME_LIMIT": "2", "WINDOW_TIME": "1h", "SIZE_TTL": "1h"}, envOpt{})
	e.alist.Put("/f.txt", &alisttest.File{Data: []byte("12345")})
	if r := e.get(e.link("/f.txt")); r.status != 302 || decodeAdditional(t, r.header.Get("Location")).FileSize != 5 {
		t.Fatalf("%d %v", r.status, r.header)
	}
	// The size save is asynchronous; once written, the next URL costs no AList call.
	deadline := time.Now().Add(5 * time.Second)
	for e.alist.Calls("/api/fs/get") != 1 || !sizeCached(e) {
		if time.Now().After(deadline) {
			t.Fatal("size never served from the cache")
		}
		time.Sleep(20 * time.Millisecond)
	}
	before := e.alist.Calls("/api/fs/get")
	if r := e.get(e.infoLink("/f.txt")); r.status != 200 || decodeAdditional(t, r.infoURL(t)).FileSize != 5 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if e.alist.Calls("/api/fs/get") != before {
		t.Fatal("cached size not used")
	}
	r := e.get(e.link("/f.txt"))
	if r.status != 429 || r.header.Get("Retry-After") != "3600" {
		t.Fatalf("%d %v %s", r.status, r.header, r.body)
	}
	want := `{"code":429,"message":"203.0.113.7/32 exceeds the limit of 2 requests in 1h","retry-after":3600}`
	if r.body != want {
		t.Fatalf("429 body\n got %s\nwant %s", r.body, want)
	}
	// Another subnet has its own window.
	if r := e.req("GET", e.link("/f.txt"), "203.0.113.8", nil, nil); r.status != 302 {
		t.Fatalf("other subnet: %d", r.status)
	}
}

// sizeCached asks the store directly whether /f.txt's size is cached.
func sizeCached(e *tenv) bool {
	d, err := e.store.Check(e.t.Context(), storeReq(e, "/f.txt", "192.0.2.200/32"))
	return err == nil && d.Size == 5
}

// TestLocalOrigin: ADDRESS=file:///dir reads sizes from the folder through os.Root, which
// refuses every way out of it.
func TestLocalOrigin(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "files")
	must(t, os.MkdirAll(filepath.Join(root, "sub"), 0o755))
	must(t, os.WriteFile(filepath.Join(root, "sub", "a b.txt"), []byte("hello"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "secret.txt"), []byte("secret!"), 0o644))
	must(t, os.Symlink(filepath.Join(dir, "secret.txt"), filepath.Join(root, "link.txt")))
	e := newEnv(t, map[string]string{"ADDRESS": "file://" + root, "FAST_REDIRECT": "true"}, envOpt{})
	r := e.get(e.link("/sub/a b.txt"))
	if r.status != 302 || decodeAdditional(t, r.header.Get("Location")).FileSize != 5 {
		t.Fatalf("%d %v %s", r.status, r.header, r.body)
	}
	// A ".." written with %2F survives dot-segment removal: it is refused before any lookup
	// (sign.RequestPath), whatever the sign.
	for _, target := range []string{"/..%2Fsecret.txt", "/sub/..%2F..%2Fsecret.txt"} {
		r := e.get(target + "?sign=" + url.QueryEscape(e.keyring().Sign(strings.ReplaceAll(target, "%2F", "/"), 0)))
		if r.status != 400 || r.message(t) != "invalid path encoding" {
			t.Fatalf("%s: %d %s", target, r.status, r.body)
		}
	}
	for _, target := range []string{"/missing.txt", "/link.txt"} {
		_, decoded, err := sign.RequestPath(target)
		if err != nil {
			t.Fatal(err)
		}
		r := e.get(target + "?sign=" + url.QueryEscape(e.keyring().Sign(decoded, 0)))
		if r.status != 404 || r.message(t) != "object not found" {
			t.Fatalf("%s (%s): %d %s", target, decoded, r.status, r.body)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestReload: SIGHUP's Reload swaps keys and policy together; a bad configuration is refused
// and the running one kept.
func TestReload(t *testing.T) {
	e := newEnv(t, map[string]string{"SIGN_SECRET": "old", "FAST_REDIRECT": "true"}, envOpt{})
	e.alist.Put("/f.txt", &alisttest.File{Data: []byte("x")})
	oldLink := e.link("/f.txt")
	newLink := SignedURL("", sign.NewKeyringFromSecrets("new"), "/f.txt", 0)
	if r := e.get(newLink); r.status != 401 {
		t.Fatalf("new key before reload: %d", r.status)
	}
	if _, err := e.svc.Reload(mergeEnv(e.env, map[string]string{"SIGN_SECRET": "new,old"})); err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{oldLink, newLink} {
		if r := e.get(l); r.status != 302 {
			t.Fatalf("after rotation %s: %d %s", l, r.status, r.body)
		}
	}
	_, err := e.svc.Reload(mergeEnv(e.env, map[string]string{"SIGN_SECRET": "newest", "BLACKLIST_PREFIX": "/f", "BLACKLIST_ACTION": "nope"}))
	if err == nil || !strings.Contains(err.Error(), "BLACKLIST_ACTION") {
		t.Fatalf("bad config accepted: %v", err)
	}
	if r := e.get(newLink); r.status != 302 {
		t.Fatalf("old configuration not kept: %d", r.status)
	}
	if _, err := e.svc.Reload(mergeEnv(e.env, map[string]string{"SIGN_SECRET": "new", "BLACKLIST_PREFIX": "/f", "BLACKLIST_ACTION": "block"})); err != nil {
		t.Fatal(err)
	}
	if r := e.get(newLink); r.status != 403 {
		t.Fatalf("policy not swapped: %d", r.status)
	}
}

// TestAccessLogAndMetrics: one log line per request with the fields an operator needs and
// never a full signature; the predefined metrics count outcomes.
func TestAccessLogAndMetrics(t *testing.T) {
	e := newEnv(t, map[string]string{"FAST_REDIRECT": "true"}, envOpt{})
	e.alist.Put("/f.txt", &alisttest.File{Data: []byte("x")})
	good := e.link("/f.txt")
	bad := "/f.txt?sign=" + strings.Repeat("B", 43) + "%3D%3A0"
	if e.get(good).status != 302 || e.get(bad).status != 401 {
		t.Fatal("unexpected status")
	}
	lines := strings.Split(strings.TrimSpace(e.logs.String()), "\n")
	var reqs []map[string]any
	for _, l := range lines {
		var m map[string]any
		must(t, json.Unmarshal([]byte(l), &m))
		if m["msg"] == "access" {
			reqs = append(reqs, m)
		}
	}
	if len(reqs) != 2 {
		t.Fatalf("%d access lines:\n%s", len(reqs), e.logs.String())
	}
	for _, k := range []string{"request_id", "client_ip", "subnet", "method", "status", "bytes", "duration_ms", "reason"} {
		if _, ok := reqs[1][k]; !ok {
			t.Errorf("access line lacks %s: %v", k, reqs[1])
		}
	}
	if reqs[1]["reason"] != "sign mismatch" || reqs[1]["subnet"] != "203.0.113.7/32" || reqs[1]["status"] != float64(401) {
		t.Fatalf("denied line %v", reqs[1])
	}
	sig := e.keyring().Sign("/f.txt", 0)
	if strings.Contains(e.logs.String(), sig[:43]) || strings.Contains(e.logs.String(), testToken) {
		t.Fatal("log carries a signature or the token")
	}
	if counterValue(e.metrics.Requests.WithLabelValues("served", "")) != 1 ||
		counterValue(e.metrics.Denials.WithLabelValues("signature")) != 1 ||
		counterValue(e.metrics.Responses.WithLabelValues("3xx")) != 1 {
		t.Fatal("metrics not counted")
	}
}

func TestHelpers(t *testing.T) {
	for in, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.00 KB", 1048576: "1.00 MB", 734003200: "700 MB",
		2147483648: "2.00 GB", 123456789012: "115 GB", 52428800: "50.0 MB"} {
		if got := humanSize(in); got != want {
			t.Errorf("humanSize(%d) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"/a b/c?d#e%.txt": "/a%20b/c%3Fd%23e%25.txt", "/a+b/中": "/a+b/%E4%B8%AD", "/": "/"} {
		if got := EncodePath(in); got != want {
			t.Errorf("EncodePath(%q) = %q, want %q", in, got, want)
		}
	}
}

func storeReq(e *tenv, p, subnet string) quota.CheckRequest {
	return quota.CheckRequest{Scope: quota.ScopeLanding, Subnet: subnet, PathHash: sign.PathHash(p), WantSize: true, Now: e.clock.Now()}
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}

// failingStore answers every Check with a database failure (PG_ERROR_HANDLE=fail-closed).
type failingStore struct{ quota.Store }

func (failingStore) Check(context.Context, quota.CheckRequest) (quota.Decision, error) {
	return quota.Decision{}, fmt.Errorf("%w: disk on fire", quota.ErrUnavailable)
}

// TestDatabaseDown: fail-closed is a 500 without any AList call, and the cause is logged.
func TestDatabaseDown(t *testing.T) {
	e := newEnv(t, map[string]string{"FAST_REDIRECT": "true"}, envOpt{})
	e.alist.Put("/f.txt", &alisttest.File{Data: []byte("x")})
	e.svc.store = failingStore{e.store}
	r := e.get(e.link("/f.txt"))
	if r.status != 500 || r.message(t) != "internal error" || e.alist.TotalCalls() != 0 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if !strings.Contains(e.logs.String(), "disk on fire") || !strings.Contains(e.logs.String(), `"reason":"database"`) {
		t.Fatalf("cause not logged:\n%s", e.logs.String())
	}
}

// TestConfigNeedsTurnstileKeys: a verify-turn action without Turnstile keys is a startup
// error, not a page that can never be passed.
func TestConfigNeedsTurnstileKeys(t *testing.T) {
	env := baseEnv(t)
	env["ADDRESS"] = "https://alist.example.com"
	env["WHITELIST_PREFIX"], env["WHITELIST_ACTION"] = "/x", "verify-both"
	env["ALTCHA_DIFFICULTY"] = "0"
	_, err := config.LoadLanding(env)
	if err == nil || !strings.Contains(err.Error(), "verify-turn/verify-both path action needs TURNSTILE_SITE_KEY") ||
		!strings.Contains(err.Error(), "ALTCHA_DIFFICULTY=0") {
		t.Fatalf("%v", err)
	}
}
