package landing

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alist-edge/alist-edge/internal/alisttest"
	"github.com/alist-edge/alist-edge/internal/identity"
	"github.com/alist-edge/alist-edge/pkg/policy"
	"github.com/alist-edge/alist-edge/pkg/quota"
)

// groupsPolicy: /members/ is for members and staff, under a per-user quota whose cap is a base
// plus each group's per_group amount, and one shared pool per group.
const groupsPolicy = `default = "allow"

[matchers.members]
kind = "group"
groups = ["members", "staff"]

[matchers.private]
kind = "path"
prefixes = ["/members/"]

[[rules]]
id = "members"
when = "private and members"
action = "allow"
quota = ["daily", "pool"]

[[rules]]
id = "members-only"
when = "private"
action = "deny"

[quotas.daily]
scope = "user"
bytes = "1GB"
per_group = { members = "10GB", staff = "5GB" }
period = "day"

[quotas.pool]
scope = "group"
bytes = "200GB"
per_group = { staff = "100GB" }
period = "week"
`

// TestUsageLinePerGroup: the usage lines and /me show the caps the proxy enforces (Limit.Apply):
// a user in two groups has the base plus both groups' per_group amounts as the limit, and one
// line per group pool, each with its own cap and counter.
func TestUsageLinePerGroup(t *testing.T) {
	dir := t.TempDir()
	users := filepath.Join(dir, "users.toml")
	must(t, identity.AddUser(users, "alice", alicePassword, []string{"members"}))
	must(t, identity.AddUser(users, "gina", "gina's long password", []string{"members", "staff"}))
	pol := filepath.Join(dir, "policy.toml")
	must(t, os.WriteFile(pol, []byte(groupsPolicy), 0o644))
	e := newEnv(t, map[string]string{"USERS_FILE": users, "POLICY_FILE": pol}, envOpt{})
	e.alist.Put(privateFile, &alisttest.File{Data: []byte("report")})
	adm, _ := quota.AdminOf(e.store)
	end := e.clock.Now().Add(5 * time.Hour)
	set := func(name, key string, used int64) {
		must(t, adm.SetUsage(context.Background(), name, key, quota.CounterUsage{Bytes: used, WindowEnd: end}))
	}
	set("daily", policy.CounterKey(policy.ScopeUser, "", "", "gina"), 32<<30/10)
	set("daily", policy.CounterKey(policy.ScopeUser, "", "", "alice"), 1<<30)
	set("pool", policy.CounterKey(policy.ScopeGroup, "", "", "members"), 50<<30)
	set("pool", policy.CounterKey(policy.ScopeGroup, "", "", "staff"), 7<<30)

	link := e.link(privateFile)
	for _, tc := range []struct {
		user, password string
		lines          []string
		limits         []int64 // /me: daily, then each pool
	}{
		{"gina", "gina's long password", []string{
			"daily: 3.20 GB of 16.0 GB used today, resets in 5 h",
			"pool: 50.0 GB of 200 GB used this week, resets in 5 h",
			"pool: 7.00 GB of 100 GB used this week, resets in 5 h",
		}, []int64{16 << 30, 200 << 30, 100 << 30}},
		{"alice", alicePassword, []string{
			"daily: 1.00 GB of 11.0 GB used today, resets in 5 h",
			"pool: 50.0 GB of 200 GB used this week, resets in 5 h",
		}, []int64{11 << 30, 200 << 30}},
	} {
		t.Run(tc.user, func(t *testing.T) {
			c := e.loginForm(tc.user, tc.password, link, testIP, nil).sessionCookie()
			if c == nil {
				t.Fatal("no cookie")
			}
			r := e.browseWith(link, c)
			if r.status != 200 {
				t.Fatalf("%d %s", r.status, r.body)
			}
			for _, l := range tc.lines {
				if !strings.Contains(r.body, "<li>"+l+"</li>") {
					t.Errorf("no line %q in:\n%s", l, r.body)
				}
			}
			if n := strings.Count(r.body, "<li>daily: ") + strings.Count(r.body, "<li>pool: "); n != len(tc.lines) {
				t.Errorf("%d usage lines, want %d", n, len(tc.lines))
			}
			m := e.req("GET", "/me?path="+strings.ReplaceAll(privateFile, " ", "%20"), testIP, http.Header{"Cookie": {c.Name + "=" + c.Value}}, nil)
			var me struct {
				Quotas []struct {
					Name       string `json:"name"`
					LimitBytes int64  `json:"limit_bytes"`
				} `json:"quotas"`
			}
			if m.status != 200 || json.Unmarshal([]byte(m.body), &me) != nil || len(me.Quotas) != len(tc.limits) {
				t.Fatalf("/me: %d %s", m.status, m.body)
			}
			for i, q := range me.Quotas {
				if q.LimitBytes != tc.limits[i] {
					t.Errorf("/me quota %d (%s): limit %d, want %d", i, q.Name, q.LimitBytes, tc.limits[i])
				}
			}
		})
	}
}
