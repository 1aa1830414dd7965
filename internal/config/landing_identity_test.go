package config_test

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alist-edge/alist-edge/internal/config"
	"github.com/alist-edge/alist-edge/internal/identity"
)

func landingBase() map[string]string {
	return map[string]string{"ADDRESS": "https://alist.example.com", "TOKEN": "alist-token", "WORKER_ADDRESS_DOWNLOAD": "https://dl.example.com"}
}

// TestLandingIdentityAccepted: each source parses into what the landing uses.
func TestLandingIdentityAccepted(t *testing.T) {
	users := filepath.Join(t.TempDir(), "users.toml")
	if err := identity.AddUser(users, "alice", "correct horse", []string{"members"}); err != nil {
		t.Fatal(err)
	}
	env := landingBase()
	maps.Copy(env, map[string]string{
		"USERS_FILE": users, "AUTH_HEADER": "authelia", "TRUSTED_PROXIES": "10.0.0.0/8",
		"ALIST_LOGIN": "true", "ALIST_GROUPS": " alice:members+staff , bob:guests", "SESSION_TTL": "12h", "LOGIN_ATTEMPTS": "5",
	})
	c, err := config.LoadLanding(env)
	if err != nil {
		t.Fatal(err)
	}
	d := c.Parsed.IdentityDerived
	if d.Users.Len() != 1 || d.ForwardAuth == nil || d.ForwardAuth.UserHeader != "Remote-User" || len(d.ForwardAuth.Trusted) != 1 {
		t.Fatalf("%+v", d)
	}
	if d.AlistLogin == nil || d.AlistLogin.BaseURL != "https://alist.example.com" || strings.Join(d.AlistGroups["alice"], "+") != "members+staff" ||
		strings.Join(d.AlistLogin.Groups["bob"], "") != "guests" {
		t.Fatalf("%+v %+v", d.AlistLogin, d.AlistGroups)
	}
	if c.SessionTTL != 12*time.Hour || c.LoginAttempts != 5 || !c.LoginConfigured() || !c.IdentityConfigured() {
		t.Fatalf("%+v", c.LandingIdentity)
	}
	for v, want := range map[string][2]string{
		"oauth2-proxy": {"X-Forwarded-User", "X-Forwarded-Groups"}, "Authentik": {"Remote-User", "Remote-Groups"},
		"X-Auth-User,X-Auth-Groups": {"X-Auth-User", "X-Auth-Groups"}, "X-Auth-User": {"X-Auth-User", ""},
	} {
		env := landingBase()
		env["AUTH_HEADER"], env["UNIX_SOCKET"] = v, "/run/landing.sock"
		c, err := config.LoadLanding(env)
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		if fa := c.Parsed.ForwardAuth; fa.UserHeader != want[0] || fa.GroupsHeader != want[1] {
			t.Errorf("%s: %+v", v, fa)
		}
	}
	c, err = config.LoadLanding(landingBase())
	if err != nil || c.IdentityConfigured() || c.SessionTTL != 24*time.Hour || c.LoginAttempts != 10 {
		t.Fatalf("defaults: %v %+v", err, c.LandingIdentity)
	}
}

// TestLandingIdentityProblems: every identity mistake is reported in one load, each with what
// is accepted.
func TestLandingIdentityProblems(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "users.toml")
	if err := os.WriteFile(bad, []byte("[[users]]\nname = \"alice\"\npassword = \"hunter22\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"all at once", map[string]string{
			"USERS_FILE": bad, "AUTH_HEADER": "keycloak", "ALIST_GROUPS": "alice=members", "SESSION_TTL": "10s",
			"LOGIN_ATTEMPTS": "0", "IF_APPEND_ADDITIONAL": "false", "PAGE_SECRET": "short-page-secret",
		}, []string{
			bad + ":3: user \"alice\": password:",
			`AUTH_HEADER="keycloak": forward-auth preset "keycloak": accepted: authelia, authentik, oauth2-proxy, or two header names`,
			"AUTH_HEADER needs TRUSTED_PROXIES (or UNIX_SOCKET)",
			`ALIST_GROUPS="alice=members": "alice=members" has no ':'; accepted: user:group+group,user:group`,
			"SESSION_TTL=10s; accepted: 1m to 90d",
			"LOGIN_ATTEMPTS=0; accepted: 1 to 10000",
			"IF_APPEND_ADDITIONAL=false with USERS_FILE, AUTH_HEADER or ALIST_LOGIN",
			"PAGE_SECRET is 17 characters",
			"8 problem(s)",
		}},
		{"missing users file", map[string]string{"USERS_FILE": filepath.Join(dir, "nope.toml")}, []string{"USERS_FILE: open "}},
		{"alist login on a folder", map[string]string{"ADDRESS": "file:///srv", "SIGN_SECRET": "s", "ALIST_LOGIN": "yes"},
			[]string{"ALIST_LOGIN=true needs an AList ADDRESS"}},
		{"bad header name", map[string]string{"AUTH_HEADER": "X User,X-Groups", "TRUSTED_PROXIES": "10.0.0.1"},
			[]string{`"X User" is not a header name`}},
		{"bad group", map[string]string{"ALIST_GROUPS": "bob:a,b", "ALIST_LOGIN": "true"}, []string{`ALIST_GROUPS="bob:a,b": "b" has no ':'`}},
		{"empty group", map[string]string{"ALIST_GROUPS": "bob:members+"}, []string{`user "bob": group "": empty`}},
		{"duplicate user", map[string]string{"ALIST_GROUPS": "bob:x,bob:y"}, []string{`user "bob" is listed twice`}},
		{"not a bool", map[string]string{"ALIST_LOGIN": "maybe"}, []string{`ALIST_LOGIN="maybe": not a boolean`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := landingBase()
			maps.Copy(env, tc.env)
			_, err := config.LoadLanding(env)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message lacks %q:\n%s", w, err)
				}
			}
			if strings.Contains(err.Error(), "hunter22") {
				t.Error("the message repeats a password")
			}
		})
	}
}

// TestAlistGroupsFromPolicy: the policy file's [alist_groups] gives AList accounts their groups,
// together with ALIST_GROUPS (a name in both gets both lists).
func TestAlistGroupsFromPolicy(t *testing.T) {
	pol := filepath.Join(t.TempDir(), "policy.toml")
	if err := os.WriteFile(pol, []byte("default = \"allow\"\n[alist_groups]\nalice = [\"staff\", \"members\"]\n\"carol d\" = [\"guests\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := landingBase()
	maps.Copy(env, map[string]string{"ALIST_LOGIN": "true", "ALIST_GROUPS": "alice:members+admins", "POLICY_FILE": pol})
	c, err := config.LoadLanding(env)
	if err != nil {
		t.Fatal(err)
	}
	g := c.Parsed.AlistLogin.Groups
	if strings.Join(g["alice"], "+") != "members+admins+staff" || strings.Join(g["carol d"], "+") != "guests" || len(g) != 2 {
		t.Fatalf("AList groups: %v", g)
	}
}
