package landing

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// adminCall sends one admin API request to srv (no token: the landing has none).
func adminCall(t *testing.T, srv *httptest.Server, method, path string) (int, string) {
	t.Helper()
	r := rawReq(t, srv.URL, method, path, "", nil, nil)
	return r.status, r.body
}

// TestAdminSessions: the landing's admin API (its ADMIN_ADDR, loopback) lists the sessions of
// its database and ends one by id or all of a user's; the ended session's cookie is refused
// on the page and /me at once (this replica forgets it had found the session active), and
// other sessions keep working. Counters and blocks are the proxy's: 501 here.
func TestAdminSessions(t *testing.T) {
	e := newLoginEnv(t, nil)
	adm := httptest.NewServer(e.svc.AdminAPI())
	t.Cleanup(adm.Close)
	link := e.link(privateFile)
	login := func(name, pw, ip string) *http.Cookie {
		c := e.loginForm(name, pw, link, ip, nil).sessionCookie()
		if c == nil {
			t.Fatalf("%s: no cookie", name)
		}
		e.clock.Add(time.Second) // listed oldest first
		return c
	}
	alice1, alice2, bob := login("alice", alicePassword, testIP), login("alice", alicePassword, "198.51.100.9"), login("bob", bobPassword, testIP)
	signedIn := func(c *http.Cookie, who string) bool {
		t.Helper()
		r := e.browseWith(e.link(publicFile), c)
		me := e.req("GET", "/me", testIP, http.Header{"Cookie": {c.Name + "=" + c.Value}}, nil)
		page := strings.Contains(r.body, "Signed in as "+who)
		if page != (me.status == 200) {
			t.Fatalf("the page (%v) and /me (%d) disagree", page, me.status)
		}
		return page
	}
	for _, c := range []*http.Cookie{alice1, alice2} {
		if !signedIn(c, "alice") {
			t.Fatal("alice not signed in")
		}
	}
	list := func(q string) []string {
		t.Helper()
		status, body := adminCall(t, adm, "GET", "/sessions"+q)
		var v struct {
			Sessions []struct {
				ID, User, Source string
				Groups           []string
			} `json:"sessions"`
		}
		if status != 200 || json.Unmarshal([]byte(body), &v) != nil {
			t.Fatalf("GET /sessions%s: %d %s", q, status, body)
		}
		var out []string
		for _, s := range v.Sessions {
			out = append(out, s.User+"/"+s.ID+"/"+s.Source+"/"+strings.Join(s.Groups, "+"))
		}
		return out
	}
	sid := func(c *http.Cookie, user, groups string) string {
		return user + "/" + e.sessionID(c) + "/users-file/" + groups
	}
	if got, want := strings.Join(list(""), " "), strings.Join([]string{sid(alice1, "alice", "members"), sid(alice2, "alice", "members"), sid(bob, "bob", "guests")}, " "); got != want {
		t.Fatalf("sessions:\n%s\nwant\n%s", got, want)
	}
	if got := list("?user=bob"); len(got) != 1 || got[0] != sid(bob, "bob", "guests") {
		t.Fatalf("bob's sessions: %v", got)
	}

	if status, body := adminCall(t, adm, "DELETE", "/sessions?id="+e.sessionID(alice1)); status != 200 || !strings.Contains(body, `"ended":1`) {
		t.Fatalf("end by id: %d %q", status, body)
	}
	if signedIn(alice1, "alice") {
		t.Fatal("the session ended by id is still accepted on this replica")
	}
	if !signedIn(alice2, "alice") || !signedIn(bob, "bob") {
		t.Fatal("ending one session ended others")
	}
	if r := e.browseWith(link, alice1); r.status != 401 || !strings.Contains(r.body, `action="/login"`) {
		t.Fatalf("the ended session's cookie on a members' file: %d", r.status)
	}

	if status, body := adminCall(t, adm, "DELETE", "/sessions?user=alice"); status != 200 || !strings.Contains(body, `"ended":1`) {
		t.Fatalf("end by user: %d %q", status, body)
	}
	if signedIn(alice2, "alice") {
		t.Fatal("a session ended with its user is still accepted on this replica")
	}
	if !signedIn(bob, "bob") {
		t.Fatal("bob's session ended with alice's")
	}
	if got := list(""); len(got) != 1 || got[0] != sid(bob, "bob", "guests") {
		t.Fatalf("sessions left: %v", got)
	}
	if status, _ := adminCall(t, adm, "DELETE", "/sessions?user=alice"); status != 404 {
		t.Fatalf("nothing left to end: %d", status)
	}
	if status, body := adminCall(t, adm, "GET", "/blocks"); status != 501 {
		t.Fatalf("/blocks on the landing: %d %s", status, body)
	}
	if !strings.Contains(e.logs.String(), `"end-session"`) {
		t.Errorf("no admin change line:\n%s", e.logs.String())
	}
}

// TestAdminNotLoopback: without ADMIN_TOKEN (the landing has none) an ADMIN_ADDR on every
// interface serves no admin route.
func TestAdminNotLoopback(t *testing.T) {
	e := newLoginEnv(t, map[string]string{"ADMIN_ADDR": "0.0.0.0:9091"})
	adm := httptest.NewServer(e.svc.AdminAPI())
	t.Cleanup(adm.Close)
	e.loginForm("alice", alicePassword, "/", testIP, nil)
	if status, body := adminCall(t, adm, "GET", "/sessions"); status != 403 || strings.Contains(body, "alice") {
		t.Fatalf("%d %s", status, body)
	}
	if status, _ := adminCall(t, adm, "DELETE", "/sessions?user=alice"); status != 403 || len(e.activeSessions()) != 1 {
		t.Fatalf("ended through a non-loopback admin API: %d", status)
	}
}

// TestAdminToken: with ADMIN_TOKEN the landing's admin API wants it, on loopback too.
func TestAdminToken(t *testing.T) {
	const tok = "landing-admin-token-0123456789abcdef"
	e := newLoginEnv(t, map[string]string{"ADMIN_ADDR": "0.0.0.0:9091", "ADMIN_TOKEN": tok})
	adm := httptest.NewServer(e.svc.AdminAPI())
	t.Cleanup(adm.Close)
	e.loginForm("alice", alicePassword, "/", testIP, nil)
	if status, _ := adminCall(t, adm, "GET", "/sessions"); status != http.StatusUnauthorized {
		t.Fatalf("no token: %d", status)
	}
	req, _ := http.NewRequest(http.MethodGet, adm.URL+"/sessions", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := adm.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"user":"alice"`) {
		t.Fatalf("with the token: %d %s", resp.StatusCode, b)
	}
}
