package landing

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/alist-edge/alist-edge/internal/alisttest"
	"github.com/alist-edge/alist-edge/internal/config"
	"github.com/alist-edge/alist-edge/internal/identity"
	"github.com/alist-edge/alist-edge/internal/testpg"
	"github.com/alist-edge/alist-edge/pkg/policy"
	"github.com/alist-edge/alist-edge/pkg/quota"
)

// TestForwardAuth: the auth proxy's headers are believed from a trusted peer (no form, no
// cookie, and the identity signed into the link) and ignored from any other, which gets the
// form like any anonymous visitor, and an anonymous link on an open path.
func TestForwardAuth(t *testing.T) {
	e := newLoginEnv(t, map[string]string{"AUTH_HEADER": "authelia", "CLIENT_IP_HEADER": "", "TRUSTED_PROXIES": "10.0.0.0/8"})
	for _, tc := range []struct {
		name, path, peer, user, groups string
		status                         int
		want                           string
		linkUser, linkGroups           string // what the link's additionalInfo carries ("-": no link)
	}{
		{"trusted proxy, member", privateFile, "10.0.0.5:4000", "dave", "members, staff", 200, "Signed in as dave (members, staff)", "dave", "members,staff"},
		{"trusted proxy, not a member", privateFile, "10.0.0.5:4000", "erin", "guests", 403, "access denied", "-", ""},
		{"untrusted peer sends the same headers", privateFile, "203.0.113.50:4000", "dave", "members", 401, `action="/login"`, "-", ""},
		{"trusted proxy, no user header", privateFile, "10.0.0.5:4000", "", "members", 401, `action="/login"`, "-", ""},
		{"untrusted peer, open path: anonymous link", publicFile, "203.0.113.50:4000", "dave", "members", 200, `id="dl"`, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptestRequest("GET", "http://landing.example"+e.link(tc.path), "")
			r.RemoteAddr = tc.peer
			if tc.user != "" {
				r.Header.Set("Remote-User", tc.user)
			}
			r.Header.Set("Remote-Groups", tc.groups)
			rec := e.serve(r)
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.want) {
				t.Fatalf("%d, want %d with %q: %s", rec.Code, tc.status, tc.want, rec.Body)
			}
			if rec.Header().Get("Set-Cookie") != "" {
				t.Error("forward auth set a cookie")
			}
			dl := pageLink(rec.Body.String())
			if tc.linkUser == "-" {
				if dl != "" {
					t.Fatalf("a refused visitor got a link: %s", dl)
				}
				return
			}
			ip, _, _ := strings.Cut(tc.peer, ":")
			info := e.proxyVerified(dl, tc.path, ip)
			if info.User != tc.linkUser || strings.Join(info.Groups, ",") != tc.linkGroups {
				t.Fatalf("the link carries %q %q, want %q %q", info.User, info.Groups, tc.linkUser, tc.linkGroups)
			}
		})
	}
}

// TestUsageLineAndMe: a signed-in page shows each quota of the deciding rule with its use (read
// with the counter keys the proxy counts under); /me answers the same as JSON, 401 anonymous;
// the identity goes into the link, not for anonymous visitors.
func TestUsageLineAndMe(t *testing.T) {
	e := newLoginEnv(t, nil)
	link := e.link(privateFile)
	c := e.loginForm("alice", alicePassword, link, testIP, nil).sessionCookie()
	if c == nil {
		t.Fatal("no cookie")
	}
	adm, ok := quota.AdminOf(e.store)
	if !ok {
		t.Fatal("no admin")
	}
	now := e.clock.Now()
	end := now.Add(5 * time.Hour)
	used := int64(32 * (1 << 30) / 10)
	must(t, adm.SetUsage(context.Background(), "daily", policy.CounterKey(policy.ScopeUser, "", "", "alice"), quota.CounterUsage{Bytes: used, WindowEnd: end}))

	for _, tc := range []struct{ lang, want string }{
		{"en", "daily: 3.20 GB of 10.0 GB used today, resets in 5 h"},
		{"zh-CN", "daily: 今天已用 3.20 GB / 10.0 GB，5 小时后重置"},
	} {
		r := e.req("GET", link, testIP, http.Header{"Accept": {acceptChromium}, "Accept-Language": {tc.lang}, "Cookie": {c.Name + "=" + c.Value}}, nil)
		if r.status != 200 || !strings.Contains(r.body, "<li>"+tc.want+"</li>") || !strings.Contains(r.body, `action="/logout"`) {
			t.Fatalf("%s: %d %s", tc.lang, r.status, r.body)
		}
		if info := e.proxyVerified(pageLink(r.body), privateFile, testIP); info.User != "alice" || strings.Join(info.Groups, ",") != "members" {
			t.Fatalf("the link carries %+v", info)
		}
	}
	r := e.browse(e.link(publicFile))
	if r.status != 200 || strings.Contains(r.body, `id="who"`) {
		t.Fatalf("anonymous page: %d", r.status)
	}
	if info := e.proxyVerified(pageLink(r.body), publicFile, testIP); info.User != "" || info.Groups != nil {
		t.Fatalf("an anonymous link carries an identity: %+v", info)
	}

	if r := e.get("/me"); r.status != 401 || r.message(t) != "not signed in" || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("/me anonymous: %d %s", r.status, r.body)
	}
	for _, q := range []string{"/me", "/me?path=" + strings.ReplaceAll(privateFile, " ", "%20")} {
		r := e.req("GET", q, testIP, http.Header{"Cookie": {c.Name + "=" + c.Value}}, nil)
		var me struct {
			User           string     `json:"user"`
			Groups         []string   `json:"groups"`
			Source         string     `json:"source"`
			SessionExpires *time.Time `json:"session_expires"`
			Quotas         []struct {
				Name          string     `json:"name"`
				Scope         string     `json:"scope"`
				UsedBytes     int64      `json:"used_bytes"`
				LimitBytes    int64      `json:"limit_bytes"`
				UsedRequests  int64      `json:"used_requests"`
				LimitRequests int64      `json:"limit_requests"`
				WindowEnd     *time.Time `json:"window_end"`
			} `json:"quotas"`
		}
		if r.status != 200 || json.Unmarshal([]byte(r.body), &me) != nil {
			t.Fatalf("%s: %d %s", q, r.status, r.body)
		}
		if me.User != "alice" || strings.Join(me.Groups, ",") != "members" || me.Source != identity.SourceUsersFile ||
			me.SessionExpires == nil || !me.SessionExpires.Equal(now.Add(24*time.Hour)) {
			t.Fatalf("%s: %s", q, r.body)
		}
		if len(me.Quotas) != 1 || me.Quotas[0].Name != "daily" || me.Quotas[0].Scope != "user" || me.Quotas[0].UsedBytes != used ||
			me.Quotas[0].LimitBytes != 10<<30 || me.Quotas[0].WindowEnd == nil || !me.Quotas[0].WindowEnd.Equal(end) {
			t.Fatalf("%s quotas: %s", q, r.body)
		}
	}
	// A file may be called /me: its link has a sign and is served as a file.
	e.alist.Put("/me", &alisttest.File{Data: []byte("me")})
	if r := e.get(e.link("/me")); r.status != 302 {
		t.Fatalf("a file named /me: %d %s", r.status, r.body)
	}
}

// TestReloadSwapsUsers: SIGHUP re-reads USERS_FILE: a new user can sign in, and a removed
// user's session is refused at once.
func TestReloadSwapsUsers(t *testing.T) {
	e := newLoginEnv(t, nil)
	link := e.link(privateFile)
	c := e.loginForm("alice", alicePassword, link, testIP, nil).sessionCookie()
	if c == nil {
		t.Fatal("no cookie")
	}
	users := e.env["USERS_FILE"]
	must(t, os.Remove(users))
	must(t, identity.AddUser(users, "frank", "frank's password", []string{"members"}))
	if _, err := e.svc.Reload(e.env); err != nil {
		t.Fatal(err)
	}
	if r := e.browseWith(link, c); r.status != 401 {
		t.Fatalf("removed user's session: %d", r.status)
	}
	if r := e.loginForm("frank", "frank's password", link, testIP, nil); r.status != 303 {
		t.Fatalf("new user: %d %s", r.status, r.body)
	}
	if r := e.loginForm("alice", alicePassword, link, "198.51.100.3", nil); r.status != 401 {
		t.Fatalf("removed user logged in: %d", r.status)
	}
}

// TestLoginOnDatabase: a login source starts on SQLite and on Postgres, whose sessions table
// then holds the session; without a database that keeps sessions (none, or a store that
// offers none) it is refused at start, as a session could never be ended. Forward auth alone
// needs none.
func TestLoginOnDatabase(t *testing.T) {
	for _, tc := range []struct{ name, source string }{{"sqlite", "users"}, {"sqlite", "alist"}, {"postgres", "users"}, {"postgres", "alist"}} {
		t.Run(tc.name+"/"+tc.source, func(t *testing.T) {
			vars := identityVars(t, nil)
			if tc.name == "postgres" {
				vars["DB_MODE"], vars["DATABASE_URL"], vars["SQLITE_PATH"] = "postgres", testpg.URL(t), ""
			}
			fake := alisttest.New(testToken)
			t.Cleanup(fake.Close)
			name, password := "alice", alicePassword
			if tc.source == "alist" {
				delete(vars, "USERS_FILE")
				vars["ALIST_LOGIN"], vars["ALIST_GROUPS"] = "true", "carol:members"
				fake.AddUser("carol", "carol's alist password")
				name, password = "carol", "carol's alist password"
			}
			e := newEnv(t, vars, envOpt{alist: fake})
			c := e.loginForm(name, password, "/", testIP, nil).sessionCookie()
			if c == nil {
				t.Fatal("no cookie")
			}
			if ss := e.activeSessions(); len(ss) != 1 || ss[0].User != name || strings.Join(ss[0].Groups, ",") != "members" {
				t.Fatalf("sessions in the database: %+v", ss)
			}
			if r := e.req("GET", "/me", testIP, http.Header{"Cookie": {c.Name + "=" + c.Value}}, nil); r.status != 200 {
				t.Fatalf("/me: %d %s", r.status, r.body)
			}
		})
	}

	env := baseEnv(t)
	env["ADDRESS"] = "file://" + t.TempDir()
	env["SIGN_SECRET"] = "s"
	for k, v := range identityVars(t, nil) {
		env[k] = v
	}
	cfg, err := config.LoadLanding(env)
	must(t, err)
	st, err := quota.Open(context.Background(), cfg.QuotaDB(), cfg.QuotaConfig(), nil)
	must(t, err)
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	for name, store := range map[string]quota.Store{"no database": nil, "a store without sessions": struct{ quota.Store }{st}} {
		_, err = New(Options{Config: cfg, Store: store, Logger: slog.New(slog.DiscardHandler)})
		if err == nil || !strings.Contains(err.Error(), "needs server-side sessions") {
			t.Fatalf("%s: started: %v", name, err)
		}
	}
	delete(env, "USERS_FILE")
	env["AUTH_HEADER"] = "oauth2-proxy"
	cfg, err = config.LoadLanding(env)
	must(t, err)
	svc, err := New(Options{Config: cfg})
	must(t, err)
	_ = svc.Close()
}

// TestActiveSessionCache: a replica asks the database whether a session ended at most once
// per activeTTL, so a page with a session costs no database read; a session ended elsewhere
// (another replica, the proxy's admin API) is refused here once that answer is older than
// activeTTL.
func TestActiveSessionCache(t *testing.T) {
	var reads *countingSessions
	e := newLoginEnvOpt(t, nil, envOpt{setup: func(s *Service) {
		reads = &countingSessions{Sessions: s.sessStore}
		s.sessStore = reads
	}})
	link := e.link(publicFile)
	c := e.loginForm("alice", alicePassword, e.link(privateFile), testIP, nil).sessionCookie()
	signedIn := func() bool {
		r := e.browseWith(link, c)
		if r.status != 200 {
			t.Fatalf("%d", r.status)
		}
		return strings.Contains(r.body, "Signed in as alice")
	}
	for range 3 {
		if !signedIn() {
			t.Fatal("not signed in")
		}
	}
	if n := reads.asked.Load(); n != 1 {
		t.Fatalf("%d database reads for 3 views within %s", n, activeTTL)
	}
	e.clock.Add(activeTTL + time.Second)
	signedIn()
	if n := reads.asked.Load(); n != 2 {
		t.Fatalf("%d database reads after %s", n, activeTTL)
	}
	// Ended in the database, not through this replica.
	if n, err := e.sessions().EndSessions(context.Background(), e.sessionID(c), "", e.clock.Now()); n != 1 || err != nil {
		t.Fatalf("end: %d %v", n, err)
	}
	if !signedIn() {
		t.Fatal("the answer cached less than activeTTL ago was not used")
	}
	e.clock.Add(activeTTL + time.Second)
	if signedIn() {
		t.Fatalf("a session ended in the database is still accepted after %s", activeTTL)
	}
}
