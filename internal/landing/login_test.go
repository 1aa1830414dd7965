package landing

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/alist-edge/alist-edge/internal/identity"
	"github.com/alist-edge/alist-edge/internal/logx"
	"github.com/alist-edge/alist-edge/internal/webpage"
)

// TestLoginFormInsteadOf403: an anonymous browser the policy refuses on a valid link gets the
// sign-in form (401, no script, a CSP and referrer policy that let it post to the landing);
// a download manager still gets the policy's 403, a forged link its 401, an open path the
// download page.
func TestLoginFormInsteadOf403(t *testing.T) {
	e := newLoginEnv(t, nil)
	link := e.link(privateFile)
	for _, tc := range []struct {
		name, path, accept, lang string
		status                   int
		want, not                []string
	}{
		{"browser gets the form", link, acceptChromium, "", 401,
			[]string{`<form class="login" id="login" method="post" action="/login">`, `name="back" value="` + strings.ReplaceAll(link, "&", "&amp;") + `"`,
				webpage.Texts["en"]["login_needed"], "report 2025.pdf"}, []string{"<script", `id="dl"`}},
		{"in Chinese", link, acceptChromium, "zh-CN", 401, []string{webpage.Texts["zh"]["login_needed"], webpage.Texts["zh"]["login_submit"]}, nil},
		{"download manager: the policy's 403", link, "*/*", "", 403, []string{`"access denied"`}, []string{"<form"}},
		{"forged link: 401, never the form", strings.Replace(link, "sign=", "sign=x", 1), acceptChromium, "", 401,
			[]string{"sign mismatch"}, []string{"<form"}},
		{"open path: the download page", e.link(publicFile), acceptChromium, "", 200, []string{`id="dl"`}, []string{"<form", `id="who"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{"Accept": {tc.accept}}
			if tc.lang != "" {
				h.Set("Accept-Language", tc.lang)
			}
			r := e.req("GET", tc.path, testIP, h, nil)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.body, w) {
					t.Errorf("answer lacks %q:\n%s", w, r.body)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(r.body, n) {
					t.Errorf("answer has %q", n)
				}
			}
			if strings.Contains(r.body, "<form") {
				if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self'") {
					t.Errorf("CSP %q does not allow the form", csp)
				}
				if rp := r.header.Get("Referrer-Policy"); rp != "same-origin" || !strings.Contains(r.body, `<meta name="referrer" content="same-origin">`) {
					t.Errorf("referrer policy %q: the browser would send Origin: null", rp)
				}
			} else if csp := r.header.Get("Content-Security-Policy"); csp != "" && !strings.Contains(csp, "form-action 'none'") {
				t.Errorf("page without a form: CSP %q", csp)
			}
		})
	}
}

// TestLoginRoutes: each answer of POST /login and /logout, and what it leaves behind (cookie,
// session, access line).
func TestLoginRoutes(t *testing.T) {
	e := newLoginEnv(t, nil)
	link := e.link(privateFile)
	form := func(name, pw, back string) string {
		return url.Values{"name": {name}, "password": {pw}, "back": {back}}.Encode()
	}
	for _, tc := range []struct {
		name     string
		path     string
		body     string
		hdr      http.Header
		status   int
		want     string
		cookie   bool
		logLine  string // the access line's reason ("" none)
		location string
	}{
		{"right password", "/login", form("alice", alicePassword, link), http.Header{"Origin": {e.srv.URL}}, 303, "", true, `"reason":""`, link},
		{"wrong password", "/login", form("alice", "wrong", link), http.Header{"Origin": {e.srv.URL}}, 401, webpage.Texts["en"]["login_wrong"], false, `"status":401,"bytes":`, ""},
		{"unknown name", "/login", form("mallory", alicePassword, link), http.Header{"Origin": {e.srv.URL}}, 401, webpage.Texts["en"]["login_wrong"], false, "password mismatch", ""},
		{"another site", "/login", form("alice", alicePassword, link), http.Header{"Origin": {"https://evil.example"}}, 403, "cross-origin form refused", false, `"reason":""`, ""},
		{"no origin, no referer", "/login", form("alice", alicePassword, link), nil, 403, "cross-origin form refused", false, "", ""},
		{"null origin, same-site referer", "/login", form("alice", alicePassword, link),
			http.Header{"Origin": {"null"}, "Referer": {e.srv.URL + link}}, 303, "", true, "", link},
		{"back to another site", "/login", form("alice", alicePassword, "//evil.example/x"), http.Header{"Origin": {e.srv.URL}}, 400, "back must be a path on this site", false, "", ""},
		{"back with a backslash", "/login", form("alice", alicePassword, "/\\evil.example"), http.Header{"Origin": {e.srv.URL}}, 400, "back must be", false, "", ""},
		{"logout from another site", "/logout", "back=/", http.Header{"Origin": {"https://evil.example"}}, 403, "cross-origin", false, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(e.activeSessions())
			h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Accept": {acceptChromium}}
			for k, v := range tc.hdr {
				h[k] = v
			}
			mark := len(e.logs.String())
			r := e.req("POST", tc.path, testIP, h, strings.NewReader(tc.body))
			if r.status != tc.status || !strings.Contains(r.body, tc.want) {
				t.Fatalf("%d, want %d with %q: %s", r.status, tc.status, tc.want, r.body)
			}
			if got := r.header.Get("Location"); got != tc.location {
				t.Errorf("Location %q, want %q", got, tc.location)
			}
			c := r.sessionCookie()
			if (c != nil && c.Value != "") != tc.cookie {
				t.Fatalf("cookie %v, want one: %v", c, tc.cookie)
			}
			if grew := len(e.activeSessions()) - before; grew != map[bool]int{true: 1, false: 0}[tc.cookie] {
				t.Errorf("%d sessions created", grew)
			}
			line := e.logs.String()[mark:]
			if tc.logLine != "" && !strings.Contains(line, tc.logLine) {
				t.Errorf("access line lacks %q: %s", tc.logLine, line)
			}
			if strings.Contains(line, alicePassword) {
				t.Error("the password is in the log")
			}
		})
	}
	// The wrong password's access line is the one fail2ban counts, like a bad signature.
	if !strings.Contains(e.logs.String(), `"status":401,`) || !strings.Contains(e.logs.String(), `"reason":"password mismatch"`) {
		t.Errorf("no fail2ban line for the wrong password:\n%s", e.logs.String())
	}
	if !(logx.AccessRecord{Status: 401, Reason: "password mismatch"}).Denied() {
		t.Error("fail2ban's rule (logx.Denied) does not count a wrong password")
	}
	if strings.Contains(e.logs.String(), `"reason":"origin"`) {
		t.Error("a cross-origin form was logged as a denial (fail2ban would ban its victim)")
	}
}

// TestCookieFlags: HttpOnly, SameSite=Lax, Path=/, Max-Age = SESSION_TTL; Secure over TLS, or
// with X-Forwarded-Proto: https from a trusted proxy, never from anyone else.
func TestCookieFlags(t *testing.T) {
	e := newLoginEnv(t, map[string]string{"SESSION_TTL": "2h", "CLIENT_IP_HEADER": "", "TRUSTED_PROXIES": "10.0.0.0/8"})
	link := e.link(privateFile)
	for _, tc := range []struct {
		name, url, peer, proto string
		secure                 bool
	}{
		{"plain http", "http://landing.example/login", "203.0.113.7:5000", "", false},
		{"tls", "https://landing.example/login", "203.0.113.7:5000", "", true},
		{"https from a trusted proxy", "http://landing.example/login", "10.1.2.3:5000", "https", true},
		{"https claimed by a client", "http://landing.example/login", "203.0.113.7:5000", "https", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptestRequest("POST", tc.url, url.Values{"name": {"alice"}, "password": {alicePassword}, "back": {link}}.Encode())
			r.RemoteAddr = tc.peer
			r.Header.Set("Origin", "https://landing.example")
			if tc.proto != "" {
				r.Header.Set("X-Forwarded-Proto", tc.proto)
			}
			rec := e.serve(r)
			res := rec.Result()
			var c *http.Cookie
			for _, k := range res.Cookies() {
				if k.Name == identity.CookieName {
					c = k
				}
			}
			if rec.Code != 303 || c == nil {
				t.Fatalf("%d %v %s", rec.Code, res.Header, rec.Body)
			}
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.MaxAge != 7200 || c.Secure != tc.secure {
				t.Fatalf("cookie %+v (secure want %v)", c, tc.secure)
			}
		})
	}
}

// TestLogoutEndsSession: after logout the browser's cookie is cleared, and a copy of the old
// cookie is refused (the session ended in the store), on the page and on /me.
func TestLogoutEndsSession(t *testing.T) {
	e := newLoginEnv(t, nil)
	link := e.link(privateFile)
	c := e.loginForm("alice", alicePassword, link, testIP, nil).sessionCookie()
	if c == nil {
		t.Fatal("no cookie")
	}
	if r := e.browseWith(link, c); r.status != 200 || !strings.Contains(r.body, `id="dl"`) || !strings.Contains(r.body, "Signed in as alice (members)") {
		t.Fatalf("signed in: %d %s", r.status, r.body)
	}
	if ss := e.activeSessions(); len(ss) != 1 || ss[0].ID != e.sessionID(c) || ss[0].User != "alice" ||
		strings.Join(ss[0].Groups, ",") != "members" || ss[0].Source != identity.SourceUsersFile || !ss[0].Expires.Equal(e.clock.Now().Add(24*time.Hour)) {
		t.Fatalf("the database's sessions: %+v", ss)
	}
	r := e.req("POST", "/logout", testIP, http.Header{"Origin": {e.srv.URL}, "Cookie": {c.Name + "=" + c.Value},
		"Content-Type": {"application/x-www-form-urlencoded"}}, strings.NewReader("back="+url.QueryEscape(link)))
	cleared := r.sessionCookie()
	if r.status != 303 || r.header.Get("Location") != link || cleared == nil || cleared.Value != "" || cleared.MaxAge >= 0 {
		t.Fatalf("logout: %d %v", r.status, r.header)
	}
	sid := e.sessionID(c)
	if active, err := e.sessions().SessionActive(context.Background(), sid, e.clock.Now()); err != nil || active {
		t.Fatalf("the session did not end in the database: active %v, %v", active, err)
	}
	if ss := e.activeSessions(); len(ss) != 0 {
		t.Fatalf("sessions still listed after logout: %+v", ss)
	}
	if r := e.browseWith(link, c); r.status != 401 || !strings.Contains(r.body, `action="/login"`) {
		t.Fatalf("old cookie after logout: %d %s", r.status, r.body)
	}
	if r := e.req("GET", "/me", testIP, http.Header{"Cookie": {c.Name + "=" + c.Value}}, nil); r.status != 401 {
		t.Fatalf("/me with the old cookie: %d %s", r.status, r.body)
	}
}
