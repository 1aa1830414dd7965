package proxy

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/alist-edge/alist-edge/internal/admin"
	"github.com/alist-edge/alist-edge/internal/testpg"
	"github.com/alist-edge/alist-edge/pkg/policy"
	"github.com/alist-edge/alist-edge/pkg/quota"
)

const poolDoc = `default = "allow"
[[rules]]
id = "class"
when = "true"
action = "allow"
quota = ["class", "each"]
[quotas.class]
scope = "group"
bytes = "5MB"
groups = ["class-a"]
period = "week"
[quotas.each]
scope = "user"
bytes = "2MB"
period = "week"
`

// TestIdentityGroupPoolReplicas: three users of one class share a 5MB pool (and each has a
// 2MB quota of their own) and download in parallel through two proxy replicas on one
// Postgres: the pool delivers at most 5MB, and each user's counter and the pool's hold exactly
// what was delivered.
func TestIdentityGroupPoolReplicas(t *testing.T) {
	const mib = 1 << 20
	data := []byte(strings.Repeat("p", mib))
	env := policyFile(t, poolDoc, map[string]string{"DB_MODE": "postgres", "DATABASE_URL": testpg.URL(t), "SQLITE_PATH": ""})
	var replicas []*testEnv
	for range 2 {
		e := newEnv(t, envOpts{env: env})
		e.put("/f.bin", data)
		replicas = append(replicas, e)
	}
	users := []string{"ann", "ben", "cat"}
	const perUser = 6
	var mu sync.Mutex
	delivered := map[string]int64{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, u := range users {
		// The landing signs every user's groups; "staff" has no pool under this quota.
		target := uriOf("/f.bin", replicas[0].idParams("/f.bin", testIP, mib, u, "class-a", "staff"))
		for j := range perUser {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				f := replicas[(i+j)%2].fetch(target)
				switch {
				case f.status == http.StatusOK && f.err == nil:
					mu.Lock()
					delivered[u] += f.n
					mu.Unlock()
				case f.status == http.StatusTooManyRequests:
					if !strings.Contains(f.body, `quota \"class\" used up`) && !strings.Contains(f.body, `quota \"each\" used up`) {
						t.Errorf("%s: %q", u, f.body)
					}
				default:
					t.Errorf("%s: %d %q %v", u, f.status, f.body, f.err)
				}
			}()
		}
	}
	close(start)
	wg.Wait()
	var total int64
	for _, u := range users {
		total += delivered[u]
		if delivered[u] > 2*mib {
			t.Errorf("%s got %d bytes, over their own 2MB", u, delivered[u])
		}
	}
	t.Logf("%d parallel downloads over 2 replicas: %v, %d bytes in all", len(users)*perUser, delivered, total)
	if total > 5*mib {
		t.Fatalf("the pool delivered %d bytes, over its 5MB", total)
	}
	if total != 5*mib {
		t.Fatalf("the pool delivered %d bytes; with 6 MB of user allowance waiting it should fill exactly", total)
	}
	a, _ := quota.AdminOf(replicas[1].store.Store)
	lims := map[string]*policy.Limit{}
	for _, l := range replicas[1].cfg.Parsed.Policy.Limits() {
		lims[l.Name] = l
	}
	for _, u := range users {
		applied := lims["each"].Apply(policy.Subject{User: u, Groups: []string{"class-a", "staff"}})
		waitUsage(t, a, "each", applied[0].Key, delivered[u])
	}
	pool := lims["class"].Apply(policy.Subject{User: users[0], Groups: []string{"class-a", "staff"}})
	if len(pool) != 1 || pool[0].Key != policy.CounterKey(policy.ScopeGroup, "", "", "class-a") {
		t.Fatalf("pools %+v", pool)
	}
	waitUsage(t, a, "class", pool[0].Key, total)
	if u, _ := a.Usage(context.Background(), "class", policy.CounterKey(policy.ScopeGroup, "", "", "staff")); u.Bytes != 0 {
		t.Fatalf("a pool for staff was written: %+v", u)
	}
}

// TestIdentitySkipAdditionAnonymous: under skip-addition a user-scoped quota still needs the
// link's signed additionalInfo: without one the link is refused (401), and an anonymous one
// is refused by the quota (429) rather than served uncapped; neither reaches the database.
func TestIdentitySkipAdditionAnonymous(t *testing.T) {
	doc := strings.Replace(membersDoc, `action = "allow"`, `action = "skip-addition"`, 1)
	e := newEnv(t, envOpts{env: policyFile(t, doc, nil)})
	e.put("/f.bin", []byte("x"))
	p := e.params("/f.bin", testIP, 1)
	p.AdditionalInfo, p.AdditionalInfoSign = "", ""
	checks := e.store.checks.Load()
	if f := e.fetch(uriOf("/f.bin", p)); f.status != http.StatusUnauthorized || !strings.Contains(f.body, "additionalInfo missing") {
		t.Fatalf("without additionalInfo: %d %q", f.status, f.body)
	}
	f := e.fetch(uriOf("/f.bin", e.params("/f.bin", testIP, 1)))
	if f.status != http.StatusTooManyRequests || !strings.Contains(f.body, "needs a signed-in user") || e.store.checks.Load() != checks {
		t.Fatalf("anonymous: %d %q", f.status, f.body)
	}
	if f := e.fetch(uriOf("/f.bin", e.idParams("/f.bin", testIP, 1, "al", "members"))); f.status != http.StatusOK {
		t.Fatalf("signed-in: %d %q", f.status, f.body)
	}
	// A forged identity under skip-addition: the user quota makes the proxy verify it.
	forged := reforge(t, e.idParams("/f.bin", testIP, 1, "al", "guests"), "al", "members")
	if r := e.get(uriOf("/f.bin", forged)); r.status != http.StatusUnauthorized {
		t.Fatalf("forged: %d %s", r.status, r.body)
	}
}

// TestIdentityAdminKeys: the admin API's keys for user and group quotas are the ones the
// requests count under (read back through a download), and explain shows a user's own caps.
func TestIdentityAdminKeys(t *testing.T) {
	const mib = 1 << 20
	e := newEnv(t, envOpts{env: policyFile(t, poolDoc, nil)})
	e.put("/f.bin", []byte(strings.Repeat("k", mib)))
	if f := e.fetch(uriOf("/f.bin", e.idParams("/f.bin", testIP, mib, "ann", "class-a"))); f.status != http.StatusOK {
		t.Fatalf("%d %q", f.status, f.body)
	}
	a, _ := quota.AdminOf(e.store.Store)
	for _, tc := range []struct{ quota, user, group, err string }{
		{"each", "ann", "", ""},
		{"class", "", "class-a", ""},
		{"each", "", "class-a", "scope user needs user"},
		{"class", "ann", "", "scope group needs group"},
		{"class", "", "staff", `quota "class" has no pool for group "staff" (its groups: class-a)`},
	} {
		key, err := e.h.keyFor(tc.quota, "", "", tc.user, tc.group)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("%+v: %v", tc, err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		waitUsage(t, a, tc.quota, key, mib)
	}
	for _, li := range e.h.limitInfos() {
		if li.Scope != map[string]string{"class": "group", "each": "user"}[li.Name] {
			t.Errorf("limit info %+v", li)
		}
	}
	ex, err := e.h.explain(context.Background(), adminExplainQuery("/f.bin", "ann", "class-a", "staff"))
	if err != nil {
		t.Fatal(err)
	}
	got := ex.(explained).Limits
	if len(got) != 2 || got[0].Name != "class" || got[0].Group != "class-a" || got[0].UsedBytes != mib || got[0].LimitBytes != 5*mib ||
		got[1].Name != "each" || got[1].Scope != "user" || got[1].UsedBytes != mib || got[1].LimitBytes != 2*mib {
		t.Fatalf("%+v", got)
	}
	ex, _ = e.h.explain(context.Background(), adminExplainQuery("/f.bin", ""))
	if got := ex.(explained).Limits; len(got) != 2 || !got[0].NoAllowance || !got[1].NoAllowance {
		t.Fatalf("anonymous: %+v", got)
	}
}

func adminExplainQuery(path, user string, groups ...string) admin.ExplainQuery {
	return admin.ExplainQuery{Path: path, Addr: netip.MustParseAddr(testIP), Size: -1, Method: http.MethodGet, User: user, Groups: groups}
}
