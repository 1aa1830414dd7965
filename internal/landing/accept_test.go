package landing

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/alist-edge/alist-edge/internal/alisttest"
)

// Accept headers as the clients send them. The command-line ones were captured from the real
// programs (Debian 12: GNU Wget 1.21.3, curl 7.88.1, aria2 1.36.0) against a listener that
// printed them; Chromium's is its navigation header (Chrome 120+), Firefox's likewise.
const (
	acceptWget     = "*/*"
	acceptCurl     = "*/*"
	acceptAria2    = "*/*,application/metalink4+xml,application/metalink+xml"
	acceptChromium = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
	acceptFirefox  = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
)

// TestDownloadManagers: with FAST_REDIRECT=false a download manager given AList's link must
// never get the page (it saves it as the file, exit 0). A client whose Accept lacks text/html
// gets the 302 to the proxy when no bot check is due, and a JSON 403 naming the check when one
// is, before any AList call; a browser still gets the page.
func TestDownloadManagers(t *testing.T) {
	turnKeys := map[string]string{"TURNSTILE_SITE_KEY": "site", "TURNSTILE_SECRET_KEY": "secret-key-1"}
	with := func(extra map[string]string, kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range extra {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name    string
		vars    map[string]string
		client  string // what a non-browser gets: "redirect" or the 403 message
		browser string // what a browser's page holds: "link", "pow", "turn", "powturn"
	}{
		{"defaults", nil, "redirect", "link"},
		{"pass-web", with(nil, "WHITELIST_PREFIX", "/f", "WHITELIST_ACTION", "pass-web"), "redirect", "link"},
		{"proof of work", with(nil, "ALTCHA_ENABLED", "true"), "proof of work required", "pow"},
		{"fast redirect yields to the proof of work", with(nil, "ALTCHA_ENABLED", "true", "FAST_REDIRECT", "true"), "proof of work required", "pow"},
		{"under attack", with(turnKeys, "UNDER_ATTACK", "true"), "turnstile token required", "turn"},
		{"verify-both", with(turnKeys, "BLACKLIST_PREFIX", "/f", "BLACKLIST_ACTION", "verify-both"), "proof of work and turnstile token required", "powturn"},
		{"pass-server waives the check", with(nil, "ALTCHA_ENABLED", "true", "WHITELIST_PREFIX", "/f", "WHITELIST_ACTION", "pass-server"), "redirect", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.vars, envOpt{})
			e.alist.Put("/f.txt", &alisttest.File{Data: []byte("data")})
			for _, c := range []struct {
				name, method string
				hdr          http.Header
			}{
				{"wget", "GET", http.Header{"Accept": {acceptWget}, "User-Agent": {"Wget/1.21.3"}}},
				{"curl", "GET", http.Header{"Accept": {acceptCurl}, "User-Agent": {"curl/7.88.1"}}},
				{"aria2c", "GET", http.Header{"Accept": {acceptAria2}, "User-Agent": {"aria2/1.36.0"}}},
				{"no Accept", "GET", nil},
				{"refuses html", "GET", http.Header{"Accept": {"text/html;q=0, */*"}}},
				{"HEAD */*", "HEAD", http.Header{"Accept": {"*/*"}}},
			} {
				before := e.alist.Calls("/api/fs/get")
				r := e.req(c.method, e.link("/f.txt"), testIP, c.hdr, nil)
				if !slices.Contains(r.header.Values("Vary"), "Accept") {
					t.Errorf("%s: Vary %q lacks Accept", c.name, r.header.Values("Vary"))
				}
				if tc.client == "redirect" {
					if r.status != 302 || !strings.HasPrefix(r.header.Get("Location"), "https://dl1.example.com/f.txt?sign=") {
						t.Errorf("%s: %d %s %.80q", c.name, r.status, r.header.Get("Content-Type"), r.body)
					}
					continue
				}
				if r.status != 403 || r.header.Get("Content-Type") != "application/json;charset=UTF-8" {
					t.Errorf("%s: %d %s %.80q", c.name, r.status, r.header.Get("Content-Type"), r.body)
					continue
				}
				if c.method == "GET" && r.message(t) != tc.client {
					t.Errorf("%s: message %q, want %q", c.name, r.message(t), tc.client)
				}
				if e.alist.Calls("/api/fs/get") != before {
					t.Errorf("%s: the refused request asked AList", c.name)
				}
			}
			if tc.browser == "" {
				return
			}
			for name, accept := range map[string]string{"chromium": acceptChromium, "firefox": acceptFirefox} {
				r := e.req("GET", e.link("/f.txt"), testIP, http.Header{"Accept": {accept}}, nil)
				if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
					t.Fatalf("%s: %d %.80q", name, r.status, r.body)
				}
				c := pageCfg(t, r.body)
				got := map[bool]string{true: "link"}[c.URL != ""] + map[bool]string{true: "pow"}[c.Pow != nil] + map[bool]string{true: "turn"}[c.Turnstile != nil]
				if got != tc.browser {
					t.Errorf("%s: page is %q, want %q", name, got, tc.browser)
				}
			}
		})
	}
}
