package landing

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/alist-edge/alist-edge/internal/alisttest"
	"github.com/alist-edge/alist-edge/internal/webpage"
	"github.com/alist-edge/alist-edge/pkg/sign"
)

// fakeSiteverify is Cloudflare's siteverify: tokens are minted by the test with the answer
// siteverify gives for them, and each is single-use like the real ones.
type fakeSiteverify struct {
	*httptest.Server
	mu       sync.Mutex
	tokens   map[string]map[string]any
	remoteIP []string
	calls    int
	down     bool
}

func newSiteverify(t *testing.T) *fakeSiteverify {
	f := &fakeSiteverify{tokens: map[string]map[string]any{}}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.calls++
		if f.down {
			http.Error(w, "oops", http.StatusInternalServerError)
			return
		}
		_ = r.ParseForm()
		f.remoteIP = append(f.remoteIP, r.PostForm.Get("remoteip"))
		ans, ok := f.tokens[r.PostForm.Get("response")]
		if r.PostForm.Get("secret") != "ts-secret" || !ok {
			ans = map[string]any{"success": false, "error-codes": []string{"invalid-input-response"}}
		}
		delete(f.tokens, r.PostForm.Get("response"))
		_ = json.NewEncoder(w).Encode(ans)
	}))
	t.Cleanup(f.Close)
	return f
}

// mint registers a token as the widget on path p would have produced it.
func (f *fakeSiteverify) mint(token, p string, success bool, action string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokens[token] = map[string]any{"success": success, "action": action, "cdata": sign.PathHash(p), "hostname": "landing.example.com"}
	return token
}

func turnEnv(t *testing.T, vars map[string]string) (*tenv, *fakeSiteverify) {
	sv := newSiteverify(t)
	v := map[string]string{"UNDER_ATTACK": "true", "TURNSTILE_SITE_KEY": "ts-site", "TURNSTILE_SECRET_KEY": "ts-secret", "TURNSTILE_VERIFY_URL": sv.URL}
	for k, x := range vars {
		v[k] = x
	}
	e := newEnv(t, v, envOpt{})
	for _, p := range []string{"/a.txt", "/b.txt"} {
		e.alist.Put(p, &alisttest.File{Data: []byte("x")})
	}
	return e, sv
}

func TestTurnstile(t *testing.T) {
	e, sv := turnEnv(t, nil)

	page := e.browse(e.link("/a.txt"))
	c := pageCfg(t, page.body)
	if c.Turnstile == nil || c.Turnstile.SiteKey != "ts-site" || c.Turnstile.CData != sign.PathHash("/a.txt") || c.Pow != nil || c.URL != "" {
		t.Fatalf("page config %+v", c)
	}
	csp := page.header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'nonce-") || !strings.Contains(csp, webpage.TurnstileOrigin) ||
		!strings.Contains(page.body, `src="https://challenges.cloudflare.com/turnstile/v0/api.js?render=explicit"`) {
		t.Fatalf("Turnstile not loadable: %s", csp)
	}

	for _, tc := range []struct {
		name, token string
		status      int
		msg         string
	}{
		{"missing", "", 403, "turnstile token required"},
		{"unknown token", "nope", 403, "turnstile verification failed"},
		{"not successful", sv.mint("t-fail", "/a.txt", false, "download"), 403, "turnstile verification failed"},
		{"other file", sv.mint("t-other", "/b.txt", true, "download"), 403, "turnstile verification failed"},
		{"other action", sv.mint("t-action", "/a.txt", true, "login"), 403, "turnstile verification failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.postInfo("/a.txt", testIP, url.Values{"turnstile": {tc.token}})
			if r.status != tc.status || r.message(t) != tc.msg {
				t.Fatalf("%d %s", r.status, r.body)
			}
		})
	}

	// The sign is checked first: a forged link never spends the token.
	tok := sv.mint("t-good", "/a.txt", true, "download")
	before := sv.calls
	bad := "/info?path=%2Fa.txt&sign=" + url.QueryEscape("A"+e.keyring().Sign("/a.txt", 0)[1:]) + "&turnstile=" + tok
	if r := e.req("GET", bad, testIP, nil, nil); r.status != 401 || sv.calls != before {
		t.Fatalf("bad sign: %d %s (siteverify calls %d→%d)", r.status, r.body, before, sv.calls)
	}

	r := e.postInfo("/a.txt", testIP, url.Values{"turnstile": {tok}})
	if !strings.HasPrefix(r.infoURL(t), "https://dl1.example.com/a.txt?") {
		t.Fatal(r.body)
	}
	if got := sv.remoteIP[len(sv.remoteIP)-1]; got != testIP {
		t.Fatalf("remoteip %q", got)
	}
	if r := e.postInfo("/a.txt", testIP, url.Values{"turnstile": {tok}}); r.status != 403 {
		t.Fatalf("replayed token: %d %s", r.status, r.body)
	}

	sv.mu.Lock()
	sv.down = true
	sv.mu.Unlock()
	if r := e.postInfo("/a.txt", testIP, url.Values{"turnstile": {"x"}}); r.status != 502 || r.message(t) != "turnstile verification unavailable" {
		t.Fatalf("siteverify down: %d %s", r.status, r.body)
	}
}

// TestVerifyBoth: verify-both needs a valid proof-of-work and a valid Turnstile token, and a
// proof-of-work whose Turnstile failed is not spent.
func TestVerifyBoth(t *testing.T) {
	e, sv := turnEnv(t, map[string]string{"UNDER_ATTACK": "false", "WHITELIST_PREFIX": "/a", "WHITELIST_ACTION": "verify-both", "ALTCHA_DIFFICULTY": "1000"})
	c := pageCfg(t, e.browse(e.link("/a.txt")).body)
	if c.Pow == nil || c.Turnstile == nil {
		t.Fatalf("verify-both page: %+v", c)
	}
	pow := solve(t, c.Pow)
	if r := e.postInfo("/a.txt", testIP, url.Values{"altcha": {pow}}); r.status != 403 || r.message(t) != "turnstile token required" {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if r := e.postInfo("/a.txt", testIP, url.Values{"turnstile": {sv.mint("t1", "/a.txt", true, "download")}}); r.status != 403 || r.message(t) != "proof of work required" {
		t.Fatalf("%d %s", r.status, r.body)
	}
	r := e.postInfo("/a.txt", testIP, url.Values{"altcha": {pow}, "turnstile": {sv.mint("t2", "/a.txt", true, "download")}})
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	// /b.txt is outside the whitelist: UNDER_ATTACK is off and ALTCHA too, so no check.
	if r := e.get(e.infoLink("/b.txt")); r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
}
