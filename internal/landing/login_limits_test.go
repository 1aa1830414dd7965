package landing

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/alist-edge/alist-edge/internal/alisttest"
	"github.com/alist-edge/alist-edge/internal/identity"
	"github.com/alist-edge/alist-edge/internal/webpage"
)

// TestLoginRateLimit: LOGIN_ATTEMPTS counts every attempt per user name (from any subnet) and
// per subnet (for any name), in the store's one check, before any password is looked at: past
// it even the right password gets 429 with Retry-After, and 15 minutes later it works again.
func TestLoginRateLimit(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ip     func(i int) string // the i-th attempt's client
		user   func(i int) string
		lastIP string
	}{
		{"per name", func(i int) string { return "198.51.100." + string(rune('1'+i)) }, func(int) string { return "alice" }, "198.51.100.9"},
		{"per subnet", func(int) string { return testIP }, func(i int) string { return "guess" + string(rune('a'+i)) }, testIP},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newLoginEnv(t, map[string]string{"LOGIN_ATTEMPTS": "3"})
			link := e.link(privateFile)
			for i := range 3 {
				if r := e.loginForm(tc.user(i), "wrong password", link, tc.ip(i), nil); r.status != 401 {
					t.Fatalf("attempt %d: %d %s", i+1, r.status, r.body)
				}
			}
			r := e.loginForm("alice", alicePassword, link, tc.lastIP, nil)
			if r.status != 429 || r.sessionCookie() != nil || r.header.Get("Retry-After") == "" ||
				!strings.Contains(r.body, strings.SplitN(webpage.Texts["en"]["login_rate"], "{s}", 2)[0]) {
				t.Fatalf("4th attempt: %d %v %s", r.status, r.header, r.body)
			}
			if ss := e.activeSessions(); len(ss) != 0 {
				t.Fatalf("refused attempts left sessions in the database: %+v", ss)
			}
			if !strings.Contains(e.logs.String(), `"status":429,`) || !strings.Contains(e.logs.String(), `"reason":"login_rate"`) {
				t.Error("no denial line for the refused attempt")
			}
			e.clock.Add(15*time.Minute + time.Second)
			if r := e.loginForm("alice", alicePassword, link, tc.lastIP, nil); r.status != 303 {
				t.Fatalf("after the window: %d %s", r.status, r.body)
			}
		})
	}
}

// TestLoginBan: wrong passwords count towards BAN_AFTER_FAILS like bad signatures: the subnet
// is then refused everywhere on the landing.
func TestLoginBan(t *testing.T) {
	e := newLoginEnv(t, map[string]string{"BAN_AFTER_FAILS": "2", "BAN_WINDOW": "10m", "BAN_TIME": "1h"})
	link := e.link(privateFile)
	for range 2 {
		if r := e.loginForm("alice", "nope nope nope", link, testIP, nil); r.status != 401 {
			t.Fatalf("%d %s", r.status, r.body)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := e.get(e.link(publicFile))
		if r.status == 403 && r.message(t) == "access denied" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not banned after two wrong passwords: %d %s", r.status, r.body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r := e.loginForm("alice", alicePassword, link, testIP, nil); r.status != 403 || r.sessionCookie() != nil {
		t.Fatalf("banned subnet logged in: %d", r.status)
	}
	// Another subnet is not affected.
	if r := e.loginForm("alice", alicePassword, link, "198.51.100.77", nil); r.status != 303 {
		t.Fatalf("other subnet: %d", r.status)
	}
}

// TestAListLogin: with ALIST_LOGIN the name and password go to AList's /api/auth/login after
// the users file; ALIST_GROUPS gives the groups; AList unavailable is a 503 form, not a wrong
// password (no ban, no fail2ban line).
func TestAListLogin(t *testing.T) {
	fake := alisttest.New(testToken)
	t.Cleanup(fake.Close)
	fake.AddUser("carol", "carol's alist password")
	fake.Put(privateFile, &alisttest.File{Data: []byte("x")})
	e := newEnv(t, identityVars(t, map[string]string{"ALIST_LOGIN": "true", "ALIST_GROUPS": "carol:members"}), envOpt{alist: fake})
	link := e.link(privateFile)
	if r := e.loginForm("carol", "wrong", link, testIP, nil); r.status != 401 {
		t.Fatalf("wrong AList password: %d", r.status)
	}
	r := e.loginForm("carol", "carol's alist password", link, testIP, nil)
	c := r.sessionCookie()
	if r.status != 303 || c == nil {
		t.Fatalf("AList login: %d %s", r.status, r.body)
	}
	r = e.browseWith(link, c)
	if r.status != 200 || !strings.Contains(r.body, "Signed in as carol (members)") {
		t.Fatalf("carol: %d %s", r.status, r.body)
	}
	if info := e.proxyVerified(pageLink(r.body), privateFile, testIP); info.User != "carol" || strings.Join(info.Groups, ",") != "members" {
		t.Fatalf("carol's link carries %+v", info)
	}
	ss, err := e.sessions().ListSessions(context.Background(), e.clock.Now(), "carol")
	if err != nil || len(ss) != 1 || ss[0].Source != identity.SourceAList || ss[0].ID != e.sessionID(c) {
		t.Fatalf("carol's sessions in the database: %+v %v", ss, err)
	}
	if r := e.loginForm("alice", alicePassword, link, testIP, nil); r.status != 303 {
		t.Fatalf("the users file still comes first: %d", r.status)
	}
	// An AList account named like a users-file user is another person: it cannot sign in as
	// the file's alice, and AList is not even asked.
	fake.AddUser("alice", "alice's alist password")
	calls := fake.Calls("/api/auth/login")
	if r := e.loginForm("alice", "alice's alist password", link, "198.51.100.3", nil); r.status != 401 || fake.Calls("/api/auth/login") != calls {
		t.Fatalf("AList's alice signed in as the file's alice: %d (AList asked %d times)", r.status, fake.Calls("/api/auth/login")-calls)
	}
	fake.Close()
	mark := len(e.logs.String())
	r = e.loginForm("carol", "carol's alist password", link, "198.51.100.4", nil)
	if r.status != 503 || !strings.Contains(r.body, webpage.Texts["en"]["login_unavailable"]) {
		t.Fatalf("AList down: %d %s", r.status, r.body)
	}
	if strings.Contains(e.logs.String()[mark:], "password mismatch") {
		t.Error("AList being down was logged as a wrong password")
	}
}
