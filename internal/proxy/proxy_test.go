package proxy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alist-edge/alist-edge/internal/alisttest"
	"github.com/alist-edge/alist-edge/pkg/quota"
	"github.com/alist-edge/alist-edge/pkg/sign"
)

// TestPolicyEndToEnd: the path policy's actions through the whole handler.
func TestPolicyEndToEnd(t *testing.T) {
	type req struct {
		path   string
		ip     string             // client; default testIP
		strip  func(*sign.Params) // remove parameters
		status int
		msg    string
	}
	noIP := func(p *sign.Params) { p.IPSign = "" }
	noAdd := func(p *sign.Params) { p.AdditionalInfo, p.AdditionalInfoSign = "", "" }
	none := func(p *sign.Params) { *p = sign.Params{} }
	cases := []struct {
		name string
		env  map[string]string
		reqs []req
	}{
		{"block", map[string]string{"BLACKLIST_PREFIX": "/private", "BLACKLIST_ACTION": "block"}, []req{
			{path: "/private/a.txt", status: 403, msg: "access denied"},
			{path: "/public/a.txt", status: 200},
		}},
		{"skip-ip", map[string]string{"WHITELIST_PREFIX": "/share", "WHITELIST_ACTION": "skip-ip"}, []req{
			{path: "/share/a.txt", strip: noIP, status: 200},
			{path: "/share/a.txt", ip: "198.51.100.9", status: 200}, // signed for another IP
			{path: "/other/a.txt", strip: noIP, status: 401, msg: "ipSign missing"},
		}},
		{"skip-addition", map[string]string{"WHITELIST_PREFIX": "/old", "WHITELIST_ACTION": "skip-addition"}, []req{
			{path: "/old/a.txt", strip: noAdd, status: 200},
			{path: "/new/a.txt", strip: noAdd, status: 401, msg: "additionalInfo missing"},
		}},
		{"skip everything", map[string]string{"WHITELIST_PREFIX": "/open",
			"WHITELIST_ACTION": "skip-sign,skip-hash,skip-worker,skip-ip,skip-addition"}, []req{
			{path: "/open/a.txt", strip: none, status: 200},
			{path: "/closed/a.txt", strip: none, status: 401, msg: "sign missing"},
		}},
		{"blacklist before whitelist", map[string]string{"BLACKLIST_PREFIX": "/x/secret", "BLACKLIST_ACTION": "block",
			"WHITELIST_PREFIX": "/x", "WHITELIST_ACTION": "skip-sign"}, []req{
			{path: "/x/secret/a.txt", status: 403, msg: "access denied"},
			{path: "/x/a.txt", strip: func(p *sign.Params) { p.Sign = "" }, status: 200},
		}},
		{"except", map[string]string{"EXCEPT_PREFIX": "/allowed", "EXCEPT_ACTION": "block-except"}, []req{
			{path: "/elsewhere/a.txt", status: 403, msg: "access denied"},
			{path: "/allowed/a.txt", status: 200},
		}},
		{"asis", map[string]string{"WHITELIST_PREFIX": "/a", "WHITELIST_ACTION": "asis"}, []req{
			{path: "/a/a.txt", strip: noIP, status: 401, msg: "ipSign missing"},
			{path: "/a/a.txt", status: 200},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{env: c.env})
			for i, rq := range c.reqs {
				e.put(rq.path, []byte("body of "+rq.path))
				signedFor := testIP
				if rq.ip != "" {
					signedFor = rq.ip
				}
				p := e.params(rq.path, signedFor, 10)
				if rq.strip != nil {
					rq.strip(&p)
				}
				calls, checks := e.alist.TotalCalls(), e.store.checks.Load()
				r := e.get(uriOf(rq.path, p))
				if rq.status != 200 {
					wantJSONError(t, r, rq.status, rq.msg)
					if e.alist.TotalCalls() != calls || e.store.checks.Load() != checks {
						t.Fatalf("request %d: refused request reached AList or the database", i)
					}
					continue
				}
				if r.status != 200 || string(r.body) != "body of "+rq.path {
					t.Fatalf("request %d: %d %q", i, r.status, r.body)
				}
			}
		})
	}
}

// TestClientIPRules: ALLOWED_IPS, BLOCKED_IPS and IPV4_ONLY, refused before any I/O.
func TestClientIPRules(t *testing.T) {
	cases := []struct {
		name   string
		env    map[string]string
		ip     string
		status int
		msg    string
	}{
		{"allowed list hit", map[string]string{"ALLOWED_IPS": "203.0.113.0/24"}, testIP, 200, ""},
		{"allowed list miss", map[string]string{"ALLOWED_IPS": "198.51.100.0/24"}, testIP, 403, "access denied"},
		{"blocked", map[string]string{"BLOCKED_IPS": "10.0.0.1, 203.0.113.7"}, testIP, 403, "access denied"},
		{"blocked other", map[string]string{"BLOCKED_IPS": "203.0.113.8/32"}, testIP, 200, ""},
		{"ipv6 default refused", nil, "2001:db8::7", 403, "ipv6 access is prohibited"},
		{"ipv6 allowed", map[string]string{"IPV4_ONLY": "false"}, "2001:db8::7", 200, ""},
		{"ipv4-mapped is ipv4", nil, "::ffff:203.0.113.7", 200, ""},
		{"blocked ipv6 prefix", map[string]string{"IPV4_ONLY": "false", "BLOCKED_IPS": "2001:db8::/32"}, "2001:db8::7", 403, "access denied"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{env: c.env})
			e.put("/f.txt", []byte("ok"))
			r := e.do(http.MethodGet, e.uri("/f.txt", c.ip), c.ip)
			if c.status != 200 {
				wantJSONError(t, r, c.status, c.msg)
				if e.alist.TotalCalls() != 0 || e.store.checks.Load() != 0 {
					t.Fatal("refused request reached AList or the database")
				}
				return
			}
			if r.status != 200 || string(r.body) != "ok" {
				t.Fatalf("%d %q", r.status, r.body)
			}
		})
	}
}

// TestRateLimit: the real SQLite store refuses the third request with docs/contract.md §8's exact answer.
func TestRateLimit(t *testing.T) {
	e := newEnv(t, envOpts{env: map[string]string{"IPSUBNET_WINDOWTIME_LIMIT": "2", "WINDOW_TIME": "1h"}})
	e.put("/f.txt", []byte("ok"))
	target := e.uri("/f.txt", testIP)
	for i := 0; i < 2; i++ {
		if r := e.get(target); r.status != 200 {
			t.Fatalf("request %d: %d %q", i, r.status, r.body)
		}
	}
	calls := e.alist.TotalCalls()
	r := e.get(target)
	want := `{"code":429,"message":"203.0.113.7/32 exceeds the limit of 2 requests in 1h","retry-after":3600}`
	if r.status != 429 || string(r.body) != want || r.header.Get("Retry-After") != "3600" {
		t.Fatalf("got %d %q Retry-After=%q", r.status, r.body, r.header.Get("Retry-After"))
	}
	if e.alist.TotalCalls() != calls {
		t.Fatal("a rate-limited request reached AList")
	}
	// Another subnet is not affected.
	if r := e.do(http.MethodGet, e.uri("/f.txt", "198.51.100.1"), "198.51.100.1"); r.status != 200 {
		t.Fatalf("other subnet: %d", r.status)
	}
}

// TestQuotaAnswers: each kind of refusal of the store, as the client sees it.
func TestQuotaAnswers(t *testing.T) {
	cases := []struct {
		name       string
		decision   *quota.Decision
		err        error
		status     int
		body       string
		retryAfter string
	}{
		{name: "bandwidth", decision: &quota.Decision{Reason: quota.ReasonBandwidth, RetryAfter: 600, Subnet: "203.0.113.7/32",
			Limit: quota.Limit{Bytes: quota.Size{Bytes: 10 << 30}, Window: 24 * time.Hour, WindowText: "1d"}}, status: 429,
			body: `{"code":429,"message":"203.0.113.7/32 exceeds the bandwidth quota of 10GB in 1d","retry-after":600}`, retryAfter: "600"},
		{name: "throttled", decision: &quota.Decision{Reason: quota.ReasonThrottled, RetryAfter: 42, UpstreamStatus: 503}, status: 503,
			body: `{"code":503,"message":"upstream host is throttled","retry-after":42}`, retryAfter: "42"},
		{name: "banned", decision: &quota.Decision{Reason: quota.ReasonBanned, RetryAfter: 100, Subnet: "203.0.113.7/32"},
			status: 403, body: `{"code":403,"message":"access denied"}`},
		{name: "fail-closed", err: fmt.Errorf("%w: disk I/O error", quota.ErrUnavailable), status: 500,
			body: `{"code":500,"message":"database unavailable"}`},
		{name: "fail-open", decision: &quota.Decision{Allowed: true, FailOpen: true, Size: -1}, status: 200, body: "ok"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{})
			e.put("/f.txt", []byte("ok"))
			if c.decision != nil {
				e.store.decision.Store(c.decision)
			}
			if c.err != nil {
				e.store.fail.Store(&c.err)
			}
			r := e.get(e.uri("/f.txt", testIP))
			if r.status != c.status || string(r.body) != c.body || r.header.Get("Retry-After") != c.retryAfter {
				t.Fatalf("got %d %q Retry-After=%q", r.status, r.body, r.header.Get("Retry-After"))
			}
			if c.status != 200 && e.alist.TotalCalls() != 0 {
				t.Fatal("refused request reached AList")
			}
			if c.name == "fail-open" && counterValue(t, e.m.FailOpen) != 1 {
				t.Fatal("fail-open not counted")
			}
		})
	}
}

// TestThrottleEndToEnd: a protected upstream host answering 503 is reported, and the next
// requests for its cached link are refused by the store without touching the upstream.
func TestThrottleEndToEnd(t *testing.T) {
	e := newEnv(t, envOpts{env: map[string]string{"THROTTLE_PROTECT_HOSTNAME": "127.0.0.1", "UPSTREAM_RETRIES": "0"}})
	var failing atomic.Bool
	var fetches atomic.Int64
	e.alist.Hook = func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasPrefix(r.URL.Path, "/d/") {
			return false
		}
		fetches.Add(1)
		if failing.Load() {
			w.WriteHeader(503)
			return true
		}
		return false
	}
	e.put("/t.txt", []byte("ok"))
	target := e.uri("/t.txt", testIP)
	if r := e.get(target); r.status != 200 {
		t.Fatalf("first: %d", r.status)
	}
	e.waitCached("/t.txt")
	failing.Store(true)
	if r := e.get(target); r.status != 503 {
		t.Fatalf("relayed upstream 503 expected, got %d %q", r.status, r.body)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		before := fetches.Load()
		r := e.get(target)
		if r.status == 503 && strings.Contains(string(r.body), "upstream host is throttled") {
			if fetches.Load() != before {
				t.Fatal("throttled request reached the upstream")
			}
			if r.header.Get("Retry-After") == "" {
				t.Fatal("no Retry-After on the throttle answer")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never throttled; last %d %q", r.status, r.body)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestUpstreamRetries: failures before the first byte are retried; the client only sees the
// final outcome.
func TestUpstreamRetries(t *testing.T) {
	reset := func(w http.ResponseWriter) {
		c, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			c.Close()
		}
	}
	cases := []struct {
		name     string
		failures int // attempts that fail before the upstream answers normally
		fail     func(w http.ResponseWriter)
		retries  string
		status   int
		attempts int64
	}{
		{"503 then ok", 2, func(w http.ResponseWriter) { w.WriteHeader(503) }, "2", 200, 3},
		{"502 then ok", 1, func(w http.ResponseWriter) { w.WriteHeader(502) }, "2", 200, 2},
		{"504 then ok", 1, func(w http.ResponseWriter) { w.WriteHeader(504) }, "2", 200, 2},
		{"reset before headers", 2, reset, "2", 200, 3},
		{"reset after headers before first byte", 1, func(w http.ResponseWriter) {
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(200)
			http.NewResponseController(w).Flush()
			reset(w)
		}, "2", 200, 2},
		{"retries exhausted", 5, func(w http.ResponseWriter) { w.WriteHeader(503) }, "2", 503, 3},
		{"no retries", 1, func(w http.ResponseWriter) { w.WriteHeader(503) }, "0", 503, 1},
		{"404 is not retried", 1, func(w http.ResponseWriter) { w.WriteHeader(404) }, "2", 404, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{env: map[string]string{"UPSTREAM_RETRIES": c.retries}})
			var attempts atomic.Int64
			e.alist.Hook = func(w http.ResponseWriter, r *http.Request) bool {
				if !strings.HasPrefix(r.URL.Path, "/d/") {
					return false
				}
				if attempts.Add(1) <= int64(c.failures) {
					c.fail(w)
					return true
				}
				return false
			}
			e.put("/r.txt", []byte("finally"))
			r := e.get(e.uri("/r.txt", testIP))
			if r.status != c.status || (c.status == 200 && string(r.body) != "finally") {
				t.Fatalf("got %d %q", r.status, r.body)
			}
			if got := attempts.Load(); got != c.attempts {
				t.Fatalf("upstream attempts %d, want %d", got, c.attempts)
			}
		})
	}
	t.Run("connect refused", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOpts{})
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		dead := "http://" + ln.Addr().String() + "/file"
		ln.Close()
		e.alist.Put("/dead.txt", &alisttest.File{LinkURL: dead})
		start := time.Now()
		r := e.get(e.uri("/dead.txt", testIP))
		wantJSONError(t, r, 502, "upstream unreachable")
		if got := counterValue(t, e.m.UpstreamRetries); got != 2 {
			t.Fatalf("retries counted %v, want 2", got)
		}
		if time.Since(start) > 3*time.Second {
			t.Fatal("too slow")
		}
	})
}

// TestMidStreamFailure: an upstream that dies after the answer started makes the proxy abort
// the client connection (never a complete-looking response), and usage is exactly what the
// client received.
func TestMidStreamFailure(t *testing.T) {
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%v", chunked), func(t *testing.T) {
			e := newEnv(t, envOpts{env: map[string]string{"QUOTA_LIMIT_TOTAL_ENABLED": "true", "IPSUBNET_BANDWIDTH_LIMIT": "1TB"}})
			e.alist.Hook = func(w http.ResponseWriter, r *http.Request) bool {
				if !strings.HasPrefix(r.URL.Path, "/d/") {
					return false
				}
				if !chunked {
					w.Header().Set("Content-Length", fmt.Sprint(4<<20))
				}
				w.WriteHeader(200)
				chunk := bytes.Repeat([]byte("x"), 64<<10)
				for i := 0; i < 5; i++ {
					_, _ = w.Write(chunk)
				}
				http.NewResponseController(w).Flush()
				time.Sleep(50 * time.Millisecond)
				c, _, err := http.NewResponseController(w).Hijack()
				if err == nil {
					_ = c.(*net.TCPConn).SetLinger(0)
					c.Close()
				}
				return true
			}
			e.put("/big.bin", []byte("unused"))
			req, _ := http.NewRequest(http.MethodGet, e.srv.URL+e.uri("/big.bin", testIP), nil)
			req.Header.Set("CF-Connecting-IP", testIP)
			resp, err := e.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, rerr := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if rerr == nil {
				t.Fatalf("client read %d bytes and saw a complete response", got)
			}
			if resp.StatusCode != 200 || got == 0 || got >= 4<<20 {
				t.Fatalf("status %d, got %d bytes", resp.StatusCode, got)
			}
			e.waitFinished(1)
			if u := e.store.usage.Load(); u != got {
				t.Fatalf("usage %d, client received %d", u, got)
			}
			if !strings.Contains(e.logs.String(), `"status":200,"bytes":`+fmt.Sprint(got)) || !strings.Contains(e.logs.String(), `"reason":"upstream_aborted"`) {
				t.Fatalf("abort not logged: %s", e.logs.String())
			}
		})
	}
}

// TestRedirects: followed within MAX_REDIRECTS; a redirect to WORKER_ADDRESS is served as a
// request to ourselves (with all checks), never fetched.
func TestRedirects(t *testing.T) {
	e := newEnv(t, envOpts{env: map[string]string{"MAX_REDIRECTS": "3"}})
	e.put("/target.txt", []byte("target body"))
	e.put("/other.txt", []byte("other body"))
	e.alist.Hook = func(w http.ResponseWriter, r *http.Request) bool {
		switch {
		case strings.HasPrefix(r.URL.Path, "/hop/"):
			n := len(strings.TrimPrefix(r.URL.Path, "/hop/"))
			if n > 1 {
				http.Redirect(w, r, "/hop/"+strings.Repeat("x", n-1), http.StatusFound)
			} else {
				http.Redirect(w, r, "/d/target.txt", http.StatusTemporaryRedirect)
			}
			return true
		case r.URL.Path == "/self":
			http.Redirect(w, r, testWorker+e.uri("/other.txt", testIP), http.StatusFound)
			return true
		case r.URL.Path == "/self-unsigned":
			http.Redirect(w, r, testWorker+"/other.txt", http.StatusFound)
			return true
		}
		return false
	}
	cases := []struct {
		name, link string
		status     int
		body       string
	}{
		{"two hops", "/hop/xx", 200, "target body"},
		{"three hops", "/hop/xxx", 200, "target body"},
		{"too many", "/hop/xxxx", 502, `{"code":502,"message":"too many upstream redirects"}`},
		{"to self", "/self", 200, "other body"},
		{"to self without signature", "/self-unsigned", 401, `{"code":401,"message":"sign missing"}`},
		{"link is self", testWorker + e.uri("/other.txt", testIP), 200, "other body"},
	}
	for i, c := range cases {
		p := fmt.Sprintf("/case%d.txt", i)
		link := c.link
		if strings.HasPrefix(link, "/") {
			link = e.alist.URL + link
		}
		e.alist.Put(p, &alisttest.File{LinkURL: link})
		r := e.get(e.uri(p, testIP))
		if r.status != c.status || string(r.body) != c.body {
			t.Errorf("%s: got %d %q, want %d %q", c.name, r.status, r.body, c.status, c.body)
		}
	}
	// A link pointing at itself loops through the proxy until the budget runs out.
	loop := testWorker + e.uri("/loop.txt", testIP)
	e.alist.Put("/loop.txt", &alisttest.File{LinkURL: loop})
	wantJSONError(t, e.get(loop[len(testWorker):]), 502, "too many upstream redirects")
}

// TestEnvelopeOnFetch: AList's JSON error envelope answered with HTTP 200 by the link is
// relayed with the envelope's code, never as a 200 download; its "object not found" is a 404.
func TestEnvelopeOnFetch(t *testing.T) {
	e := newEnv(t, envOpts{})
	r := e.get(e.uri("/missing.txt", testIP)) // /api/fs/link succeeds, /d/ answers {"code":500,"message":"failed link: object not found"}
	if r.status != 404 || string(r.body) != `{"code":404,"message":"object not found"}` ||
		r.header.Get("Content-Type") != "application/json;charset=UTF-8" || r.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("got %d %q %v", r.status, r.body, r.header)
	}
	// A real JSON file is not mistaken for an envelope.
	e.alist.Hook = func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/d/data.json" {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"code":500,"items":[1,2]}`)
		return true
	}
	e.put("/data.json", nil)
	r = e.get(e.uri("/data.json", testIP))
	if r.status != 200 || string(r.body) != `{"code":500,"items":[1,2]}` {
		t.Fatalf("json file: %d %q", r.status, r.body)
	}
}

// TestRefetchStaleLink: a cached link answering 401/403/404/410 is dropped and fetched from
// AList once more; a second failure is the client's answer.
func TestRefetchStaleLink(t *testing.T) {
	for _, status := range []int{401, 403, 404, 410} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			t.Parallel()
			var expired atomic.Bool
			old := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if expired.Load() {
					w.WriteHeader(status)
					return
				}
				_, _ = io.WriteString(w, "old link body")
			}))
			defer old.Close()
			e := newEnv(t, envOpts{})
			e.alist.Put("/s.txt", &alisttest.File{LinkURL: old.URL + "/s.txt"})
			target := e.uri("/s.txt", testIP)
			if r := e.get(target); r.status != 200 || string(r.body) != "old link body" {
				t.Fatalf("first: %d %q", r.status, r.body)
			}
			e.waitCached("/s.txt")
			expired.Store(true)
			e.put("/s.txt", []byte("fresh link body")) // AList now links to its own /d/
			r := e.get(target)
			if r.status != 200 || string(r.body) != "fresh link body" {
				t.Fatalf("after expiry: %d %q", r.status, r.body)
			}
			if got := e.alist.Calls("/api/fs/link"); got != 2 {
				t.Fatalf("fs/link calls %d, want 2", got)
			}
			if e.store.invalidated.Load() != 1 {
				t.Fatal("stale link not invalidated")
			}
		})
	}
	t.Run("fails twice", func(t *testing.T) {
		t.Parallel()
		var expired atomic.Bool
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if expired.Load() {
				w.WriteHeader(403)
				_, _ = io.WriteString(w, "denied")
				return
			}
			_, _ = io.WriteString(w, "ok")
		}))
		defer up.Close()
		e := newEnv(t, envOpts{})
		e.alist.Put("/s.txt", &alisttest.File{LinkURL: up.URL + "/s.txt"})
		target := e.uri("/s.txt", testIP)
		e.get(target)
		e.waitCached("/s.txt")
		expired.Store(true)
		r := e.get(target)
		if r.status != 403 || string(r.body) != "denied" {
			t.Fatalf("got %d %q", r.status, r.body)
		}
		if got := e.alist.Calls("/api/fs/link"); got != 2 {
			t.Fatalf("fs/link calls %d, want 2 (one refetch only)", got)
		}
	})
}

// TestAlistFailures: AList slow, dead, answering HTML or an error envelope.
func TestAlistFailures(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String()
	ln.Close()
	cases := []struct {
		name   string
		env    map[string]string
		token  string
		hook   func(w http.ResponseWriter, r *http.Request) bool
		status int
		body   string
		within time.Duration
	}{
		{name: "timeout", env: map[string]string{"ALIST_TIMEOUT": "200ms"}, hook: func(w http.ResponseWriter, r *http.Request) bool {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			return true
		}, status: 504, body: `{"code":504,"message":"AList did not answer in time"}`, within: 2 * time.Second},
		{name: "html", hook: func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(502)
			_, _ = io.WriteString(w, "<html>Bad Gateway</html>")
			return true
		}, status: 502, body: `{"code":502,"message":"Request failed with status: 502"}`},
		{name: "html 200", hook: func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, "<html>login</html>")
			return true
		}, status: 502, body: `{"code":502,"message":"Request failed with status: 200"}`},
		{name: "dead", env: map[string]string{"ADDRESS": dead}, status: 502, body: `{"code":502,"message":"AList is unreachable"}`},
		{name: "bad token", token: "other-token", status: 401},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{env: c.env, alistTok: c.token})
			if c.hook != nil {
				e.alist.Hook = func(w http.ResponseWriter, r *http.Request) bool {
					if r.URL.Path == "/api/fs/link" {
						return c.hook(w, r)
					}
					return false
				}
			}
			e.put("/a.txt", []byte("x"))
			start := time.Now()
			r := e.get(e.uri("/a.txt", testIP))
			if r.status != c.status || (c.body != "" && string(r.body) != c.body) {
				t.Fatalf("got %d %q", r.status, r.body)
			}
			if c.within > 0 && time.Since(start) > c.within {
				t.Fatalf("took %v", time.Since(start))
			}
			if c.token != "" && !strings.Contains(string(r.body), "token is invalidated") {
				t.Fatalf("AList's envelope not relayed: %q", r.body)
			}
		})
	}
}

// TestUpstreamTimeouts: a silent upstream ends in 504 (before headers) or an aborted transfer
// (after), quickly.
func TestUpstreamTimeouts(t *testing.T) {
	t.Run("headers", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOpts{env: map[string]string{"UPSTREAM_HEADER_TIMEOUT": "200ms"}})
		e.alist.Hook = func(w http.ResponseWriter, r *http.Request) bool {
			if !strings.HasPrefix(r.URL.Path, "/d/") {
				return false
			}
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			return true
		}
		e.put("/slow.txt", []byte("x"))
		start := time.Now()
		wantJSONError(t, e.get(e.uri("/slow.txt", testIP)), 504, "upstream timeout")
		if time.Since(start) > 2*time.Second {
			t.Fatalf("took %v", time.Since(start))
		}
	})
	t.Run("idle body", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOpts{env: map[string]string{"UPSTREAM_IDLE_TIMEOUT": "200ms"}})
		e.alist.Hook = func(w http.ResponseWriter, r *http.Request) bool {
			if !strings.HasPrefix(r.URL.Path, "/d/") {
				return false
			}
			w.Header().Set("Content-Length", "1000")
			_, _ = io.WriteString(w, "first bytes")
			http.NewResponseController(w).Flush()
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			return true
		}
		e.put("/stall.txt", []byte("x"))
		start := time.Now()
		r := e.get(e.uri("/stall.txt", testIP))
		if r.err == nil || string(r.body) != "first bytes" {
			t.Fatalf("want an aborted transfer after the first bytes, got %d %q err=%v", r.status, r.body, r.err)
		}
		if time.Since(start) > 2*time.Second {
			t.Fatalf("took %v", time.Since(start))
		}
	})
}

// TestReload: SIGHUP's Reload swaps keys and policy atomically, keeps the old configuration
// when the new one is invalid, and does not disturb a running stream.
func TestReload(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.put("/f.txt", []byte("ok"))
	release := make(chan struct{})
	e.alist.Hook = func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/d/slow.txt" {
			return false
		}
		w.Header().Set("Content-Length", "10")
		_, _ = io.WriteString(w, "01234")
		http.NewResponseController(w).Flush()
		<-release
		_, _ = io.WriteString(w, "56789")
		return true
	}
	e.put("/slow.txt", nil)
	oldTarget := e.uri("/f.txt", testIP)

	// A stream that starts before the reload.
	type out struct {
		body []byte
		err  error
	}
	done := make(chan out, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+e.uri("/slow.txt", testIP), nil)
		req.Header.Set("CF-Connecting-IP", testIP)
		resp, err := e.client.Do(req)
		if err != nil {
			done <- out{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- out{b, err}
	}()
	for counterValue(t, e.m.ActiveStreams) < 1 {
		time.Sleep(time.Millisecond)
	}

	env := map[string]string{}
	for k, v := range e.environ {
		env[k] = v
	}
	env["SIGN_SECRET"] = "new-key,old-key-unused"
	env["BLACKLIST_PREFIX"], env["BLACKLIST_ACTION"] = "/blocked", "block"
	if _, err := e.h.Reload(env); err != nil {
		t.Fatal(err)
	}
	close(release)
	if o := <-done; o.err != nil || string(o.body) != "0123456789" {
		t.Fatalf("stream across the reload: %q %v", o.body, o.err)
	}
	wantJSONError(t, e.get(oldTarget), 401, "sign mismatch")
	newKR := sign.NewKeyringFromSecrets("new-key")
	p := newKR.BuildParams("/f.txt", testWorker, testIP, 0,
		&sign.AdditionalInfo{PathHash: sign.PathHash("/f.txt"), FileSize: 2, ExpireTime: testNow + 60})
	if r := e.get(uriOf("/f.txt", p)); r.status != 200 {
		t.Fatalf("new key: %d %q", r.status, r.body)
	}
	wantJSONError(t, e.get(uriOf("/blocked/x", p)), 403, "access denied")

	// Invalid: the running configuration stays.
	bad := map[string]string{}
	for k, v := range env {
		bad[k] = v
	}
	bad["BLACKLIST_ACTION"] = "explode"
	if _, err := e.h.Reload(bad); err == nil {
		t.Fatal("invalid configuration accepted")
	}
	if r := e.get(uriOf("/f.txt", p)); r.status != 200 {
		t.Fatalf("after a failed reload: %d", r.status)
	}
	// Settings that need a restart are named, the rest applies.
	env["LISTEN_ADDR"] = ":1"
	env["IPV4_ONLY"] = "false"
	if restart, err := e.h.Reload(env); err != nil || strings.Join(restart, ",") != "LISTEN_ADDR" {
		t.Fatalf("restart-only change not reported: %v %v", restart, err)
	}
	// Switching the origin kind needs a restart.
	env["ADDRESS"] = "file://" + t.TempDir()
	if _, err := e.h.Reload(env); err == nil {
		t.Fatal("origin switch accepted")
	}
}

// TestAccessLog: one line per request; signatures never logged.
func TestAccessLog(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.put("/f.txt", []byte("ok"))
	p := e.params("/f.txt", testIP, 2)
	e.get(uriOf("/f.txt", p))
	bad := p
	bad.Sign = "AAAA" + p.Sign[4:]
	e.get(uriOf("/f.txt", bad))
	e.waitFinished(2)
	logs := e.logs.String()
	if n := strings.Count(logs, `"msg":"access"`); n != 2 {
		t.Fatalf("%d access lines:\n%s", n, logs)
	}
	for _, secret := range []string{p.Sign[:20], p.IPSign[:20], p.AdditionalInfoSign[:20], testToken} {
		if strings.Contains(logs, secret) {
			t.Fatalf("log contains a signature or token:\n%s", logs)
		}
	}
	for _, want := range []string{`"status":200,"bytes":2,`, `"status":401,"bytes":`, `"reason":"sign mismatch"`,
		`"client_ip":"203.0.113.7","subnet":"203.0.113.7/32","method":"GET"`} {
		if !strings.Contains(logs, want) {
			t.Fatalf("log lacks %s:\n%s", want, logs)
		}
	}
	// A status relayed from the upstream is not a refusal: no reason, so fail2ban ignores it.
	e.alist.Hook = func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/d/up403.txt" {
			w.WriteHeader(403)
			return true
		}
		return false
	}
	e.put("/up403.txt", nil)
	if r := e.get(e.uri("/up403.txt", testIP)); r.status != 403 {
		t.Fatalf("got %d", r.status)
	}
	e.waitFinished(3)
	last := strings.TrimSpace(e.logs.String())
	last = last[strings.LastIndexByte(last, '\n')+1:]
	if !strings.Contains(last, `"status":403`) || !strings.Contains(last, `"reason":""`) {
		t.Fatalf("relayed 403 logged as a refusal: %s", last)
	}
}

func TestParseParams(t *testing.T) {
	q := "sign=a%3D%3A0&hashSign=b&sign=second&workerSign=c+d&ipSign=&additionalInfo=x%2By%2Fz&additionalInfoSign=%zz&other=1"
	got := parseParams(q)
	want := sign.Params{Sign: "a=:0", HashSign: "b", WorkerSign: "c d", IPSign: "", AdditionalInfo: "x+y/z", AdditionalInfoSign: "%zz"}
	if got != want {
		t.Fatalf("got %+v", got)
	}
}

// FuzzParseParams: the hand-written query reader agrees with net/url for well-formed queries.
func FuzzParseParams(f *testing.F) {
	f.Add("sign=a%3D%3A0&hashSign=b")
	f.Add("sign=1&sign=2&ipSign=%2B+")
	f.Add("%73ign=x")
	f.Fuzz(func(t *testing.T, q string) {
		got := parseParams(q)
		vals, err := urlParseQuery(q)
		if err != nil {
			return
		}
		want := sign.Params{Sign: vals.Get("sign"), HashSign: vals.Get("hashSign"), WorkerSign: vals.Get("workerSign"),
			IPSign: vals.Get("ipSign"), AdditionalInfo: vals.Get("additionalInfo"), AdditionalInfoSign: vals.Get("additionalInfoSign")}
		if got != want {
			t.Fatalf("%q: got %+v, want %+v", q, got, want)
		}
	})
}

func urlParseQuery(q string) (url.Values, error) { return url.ParseQuery(q) }

// TestDatabaseDown: a real SQLite store that fails answers 500 under fail-closed and serves
// without limits under fail-open.
func TestDatabaseDown(t *testing.T) {
	for _, mode := range []string{"fail-closed", "fail-open"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, envOpts{env: map[string]string{"PG_ERROR_HANDLE": mode, "IPSUBNET_WINDOWTIME_LIMIT": "10"}})
			e.put("/f.txt", []byte("ok"))
			if err := e.store.Store.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			r := e.get(e.uri("/f.txt", testIP))
			if mode == "fail-closed" {
				wantJSONError(t, r, 500, "database unavailable")
				if e.alist.TotalCalls() != 0 {
					t.Fatal("fail-closed request reached AList")
				}
				return
			}
			if r.status != 200 || string(r.body) != "ok" || counterValue(t, e.m.FailOpen) != 1 {
				t.Fatalf("fail-open: %d %q", r.status, r.body)
			}
		})
	}
}

// TestAlistCallAndLinkHeaders: /api/fs/link gets docs/contract.md §7's headers (and never the client's
// X-Forwarded-*), and data.header goes with the fetch.
func TestAlistCallAndLinkHeaders(t *testing.T) {
	e := newEnv(t, envOpts{env: map[string]string{"VERIFY_HEADER": "X-Verify-A,X-Verify-B", "VERIFY_SECRET": "sa,sb"}})
	e.alist.Put("/h.txt", &alisttest.File{Data: []byte("guarded"), Header: http.Header{"X-Storage-Auth": {"abc"}}})
	r := e.get(e.uri("/h.txt", testIP), "X-Forwarded-For", "6.6.6.6", "X-Forwarded-Host", "evil.example")
	if r.status != 200 || string(r.body) != "guarded" {
		t.Fatalf("got %d %q (data.header not sent?)", r.status, r.body)
	}
	h := e.alist.LastHeaders()
	want := map[string]string{"Authorization": testToken, "Content-Type": "application/json;charset=UTF-8",
		"X-Verify-A": "sa", "X-Verify-B": "sb", "Cf-Connecting-Ip-Workers": testIP, "X-Forwarded-For": "", "X-Forwarded-Host": ""}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("AList got %s=%q, want %q", k, got, v)
		}
	}
}
