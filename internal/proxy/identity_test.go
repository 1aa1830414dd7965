package proxy

import (
	"context"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alist-edge/alist-edge/pkg/policy"
	"github.com/alist-edge/alist-edge/pkg/quota"
	"github.com/alist-edge/alist-edge/pkg/sign"
)

// Identities (issue #17) end to end: links signed with a user and groups, a real policy file,
// the proxy, a real SQLite file or Postgres, real listeners.

// idParams signs decoded path p for ip as the landing does for a signed-in user.
func (e *testEnv) idParams(p, ip string, size int64, user string, groups ...string) sign.Params {
	info := &sign.AdditionalInfo{PathHash: sign.PathHash(p), FileSize: size, ExpireTime: e.now.Load() + 3600,
		User: user, Groups: groups}
	return e.kr.BuildParams(p, e.cfg.Parsed.WorkerAddr, ip, 0, info)
}

// policyFile writes a policy into a temporary file and returns the environment naming it.
func policyFile(t *testing.T, doc string, db map[string]string) map[string]string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "policy.toml")
	if err := writeFile(file, doc); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"POLICY_FILE": file}
	for k, v := range db {
		env[k] = v
	}
	return env
}

// reforge swaps the identity of a signed link's additionalInfo, keeping its signature.
func reforge(t *testing.T, p sign.Params, user string, groups ...string) sign.Params {
	t.Helper()
	info, err := sign.DecodeAdditionalInfo(p.AdditionalInfo)
	if err != nil {
		t.Fatal(err)
	}
	info.User, info.Groups = user, groups
	p.AdditionalInfo = info.Encode()
	return p
}

const staffDoc = `default = "allow"
[matchers.internal]
kind = "path"
prefixes = ["/internal/"]
[matchers.staff]
kind = "group"
groups = ["staff"]
[[rules]]
id = "staff-internal"
when = "internal and staff"
action = "skip-addition"
[[rules]]
id = "others-internal"
when = "internal"
action = "deny"
`

// TestIdentityGroupMatcher: staff may download /internal, nobody else; the groups are read
// only from a verified additionalInfo, so an altered one is 401 although the staff rule skips
// the additionalInfo check.
func TestIdentityGroupMatcher(t *testing.T) {
	e := newEnv(t, envOpts{env: policyFile(t, staffDoc, nil)})
	const p = "/internal/plan.pdf"
	e.put(p, []byte("secret plan"))
	e.put("/pub/a.txt", []byte("public"))
	staff := e.idParams(p, testIP, 11, "alice", "members", "staff")
	member := e.idParams(p, testIP, 11, "bob", "members")
	for _, tc := range []struct {
		name    string
		params  sign.Params
		status  int
		message string
	}{
		{"staff", staff, http.StatusOK, ""},
		{"member", member, http.StatusForbidden, "access denied"},
		{"anonymous link", e.params(p, testIP, 11), http.StatusForbidden, "access denied"},
		{"no additionalInfo", func() sign.Params { q := staff; q.AdditionalInfo, q.AdditionalInfoSign = "", ""; return q }(),
			http.StatusForbidden, "access denied"},
		{"member claims staff", reforge(t, member, "bob", "members", "staff"), http.StatusUnauthorized, "additionalInfoSign mismatch"},
		{"anonymous claims staff", reforge(t, e.params(p, testIP, 11), "mallory", "staff"), http.StatusUnauthorized, "additionalInfoSign mismatch"},
		{"staff link, user renamed", reforge(t, staff, "mallory", "members", "staff"), http.StatusUnauthorized, "additionalInfoSign mismatch"},
		{"public needs no identity", e.idParams("/pub/a.txt", testIP, 6, "bob", "members"), http.StatusOK, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := p
			if strings.HasPrefix(tc.name, "public") {
				path = "/pub/a.txt"
			}
			r := e.get(uriOf(path, tc.params))
			if tc.status == http.StatusOK {
				if r.status != http.StatusOK {
					t.Fatalf("%d %s", r.status, r.body)
				}
				return
			}
			wantJSONError(t, r, tc.status, tc.message)
		})
	}
	if n := e.store.failures.Load(); n != 3 {
		t.Fatalf("%d failures recorded, want 3 (each forged identity counts toward the ban)", n)
	}
}

const membersDoc = `default = "allow"
[[rules]]
id = "all"
when = "true"
action = "allow"
quota = "members"
[quotas.members]
scope = "user"
per_group = { members = "2MB", staff = "1MB" }
period = "day"
`

// TestIdentityUserQuota: a user's quota is the sum of their groups' (members 2MB + staff 1MB =
// 3MB exactly); a user in neither group and an anonymous link get a 429 before the database.
func TestIdentityUserQuota(t *testing.T) {
	const mib = 1 << 20
	data := []byte(strings.Repeat("m", mib))
	for _, db := range quotaDBs {
		t.Run(db.name, func(t *testing.T) {
			e := newEnv(t, envOpts{env: policyFile(t, membersDoc, db.env(t))})
			e.put("/f.bin", data)
			get := func(p sign.Params) fetched { return e.fetch(uriOf("/f.bin", p)) }
			alice := e.idParams("/f.bin", testIP, mib, "alice", "members", "staff")
			bob := e.idParams("/f.bin", testIP, mib, "bob", "members")
			for i := range 3 {
				if f := get(alice); f.status != http.StatusOK || f.n != mib {
					t.Fatalf("alice %d: %d %q", i, f.status, f.body)
				}
			}
			req, _ := http.NewRequest(http.MethodGet, e.srv.URL+uriOf("/f.bin", alice), nil)
			req.Header.Set("CF-Connecting-IP", testIP)
			resp, err := e.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			midnight := time.Unix(testNow, 0).UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
			if want := midnight.Sub(time.Unix(testNow, 0)) / time.Second; resp.Header.Get("Retry-After") != strconv.FormatInt(int64(want), 10) {
				t.Fatalf("Retry-After %q, want %d", resp.Header.Get("Retry-After"), want)
			}
			f := get(alice)
			want := `quota \"members\" used up (3MB per day (UTC), by user); frees up at ` + midnight.Format(time.RFC3339)
			if f.status != http.StatusTooManyRequests || !strings.Contains(f.body, want) {
				t.Fatalf("alice 4th: %d %q, want %q", f.status, f.body, want)
			}
			for i := range 2 {
				if f := get(bob); f.status != http.StatusOK {
					t.Fatalf("bob %d: %d %q", i, f.status, f.body)
				}
			}
			if f := get(bob); f.status != http.StatusTooManyRequests || !strings.Contains(f.body, "(2MB per day (UTC), by user)") {
				t.Fatalf("bob 3rd: %d %q", f.status, f.body)
			}
			a, _ := quota.AdminOf(e.store.Store)
			for user, want := range map[string]int64{"alice": 3 * mib, "bob": 2 * mib} {
				key := policy.CounterKey(policy.ScopeUser, "", "", user)
				waitUsage(t, a, "members", key, want)
			}

			// No allowance: refused before the database and the origin, no counter written.
			checks, calls := e.store.checks.Load(), e.alist.TotalCalls()
			for name, p := range map[string]sign.Params{
				"anonymous": e.params("/f.bin", testIP, mib),
				"guest":     e.idParams("/f.bin", testIP, mib, "carol", "guests"),
			} {
				f := get(p)
				msg := `quota \"members\" (by user) needs a signed-in user`
				if name == "guest" {
					msg = `quota \"members\" (by user) gives this user no allowance`
				}
				if f.status != http.StatusTooManyRequests || !strings.Contains(f.body, msg) {
					t.Fatalf("%s: %d %q", name, f.status, f.body)
				}
			}
			if e.store.checks.Load() != checks || e.alist.TotalCalls() != calls {
				t.Fatalf("a refusal reached the database (%d checks) or the origin (%d calls)", e.store.checks.Load()-checks, e.alist.TotalCalls()-calls)
			}
			waitUsage(t, a, "members", policy.CounterKey(policy.ScopeUser, "", "", "carol"), 0)
			if n := counterValue(t, e.m.LimitRefusals.WithLabelValues("members")); n != 5 {
				t.Fatalf("members refusals %v, want 5 (alice 2, bob, anonymous, guest)", n)
			}
		})
	}
}

// waitUsage waits until the counter holds want bytes (the meters settle as answers end).
func waitUsage(t *testing.T, a quota.Admin, name, key string, want int64) {
	t.Helper()
	var u quota.CounterUsage
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		var err error
		if u, err = a.Usage(context.Background(), name, key); err != nil {
			t.Fatal(err)
		}
		if u.Bytes == want {
			return
		}
	}
	t.Fatalf("%s %s: %d bytes used, want %d", name, key, u.Bytes, want)
}
