package proxy

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alist-edge/alist-edge/internal/testpg"
)

// The policy file end to end (issue #16): a real policy file, the proxy, a real SQLite file or
// Postgres, and real listeners.

// berlin is a wall-clock time in Europe/Berlin as the test clock's Unix seconds.
func berlin(t *testing.T, s string) int64 {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	at, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return at.Unix()
}

func policyEnv(t *testing.T, db map[string]string, at int64) *testEnv {
	t.Helper()
	env := map[string]string{"POLICY_FILE": filepath.Join("testdata", "policy", "e2e.toml")}
	for k, v := range db {
		env[k] = v
	}
	e := newEnv(t, envOpts{env: env, now: at})
	return e
}

func TestPolicyFileEndToEnd(t *testing.T) {
	const mib = 1 << 20
	data := []byte(strings.Repeat("x", mib))
	for _, db := range quotaDBs {
		t.Run(db.name, func(t *testing.T) {
			day := berlin(t, "2026-03-10 12:00")
			e := policyEnv(t, db.env(t), day)
			for _, p := range []string{"/private/plan.pdf", "/pub/a.iso", "/hot/x.bin"} {
				e.put(p, data)
			}
			get := func(p, ip string) fetched {
				t.Helper()
				req := uriOf(p, e.params(p, ip, mib))
				return e.fetch(req, "CF-Connecting-IP", ip)
			}

			// A CIDR allow list on a private folder: the office gets it, everyone else 403.
			if f := get("/private/plan.pdf", "10.1.2.3"); f.status != http.StatusOK || f.n != mib {
				t.Fatalf("office: %d %q", f.status, f.body)
			}
			if f := get("/private/plan.pdf", testIP); f.status != http.StatusForbidden || !strings.Contains(f.body, "access denied") {
				t.Fatalf("outside: %d %q", f.status, f.body)
			}

			// By day the subnet quota (3MB rolling) applies: three 1 MiB downloads, then 429
			// naming the quota. The shadow rule matches .iso and is counted, not enforced.
			for i := range 3 {
				if f := get("/pub/a.iso", testIP); f.status != http.StatusOK || f.n != mib {
					t.Fatalf("day download %d: %d %q", i, f.status, f.body)
				}
			}
			f := get("/pub/a.iso", testIP)
			if f.status != http.StatusTooManyRequests || !strings.Contains(f.body, `quota \"daytime\" used up`) {
				t.Fatalf("4th day download: %d %q", f.status, f.body)
			}
			if n := counterValue(t, e.m.PolicyDecisions.WithLabelValues("iso-block-trial", "deny", "shadow")); n != 4 {
				t.Fatalf("shadow rule counted %v times, want 4", n)
			}
			if n := counterValue(t, e.m.LimitRefusals.WithLabelValues("daytime")); n != 1 {
				t.Fatalf("daytime refusals %v, want 1", n)
			}

			// At night (22:00-07:00 Berlin) downloads are free: no quota attached.
			e.now.Store(berlin(t, "2026-03-10 23:30"))
			for i := range 4 {
				if f := get("/pub/a.iso", testIP); f.status != http.StatusOK {
					t.Fatalf("night download %d: %d %q", i, f.status, f.body)
				}
			}
			e.now.Store(berlin(t, "2026-03-11 07:00")) // the window's end is exclusive
			if f := get("/pub/a.iso", testIP); f.status != http.StatusTooManyRequests {
				t.Fatalf("07:00: %d %q, want the daytime quota again", f.status, f.body)
			}

			// The hot file has a per-path quota shared by every subnet: 2MB a (UTC) day.
			var served int
			for i, ip := range []string{"198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4"} {
				switch f := get("/hot/x.bin", ip); f.status {
				case http.StatusOK:
					served++
				case http.StatusTooManyRequests:
					if !strings.Contains(f.body, `quota \"hot\" used up`) {
						t.Fatalf("hot %d: %q", i, f.body)
					}
				default:
					t.Fatalf("hot %d: %d %q", i, f.status, f.body)
				}
			}
			if served != 2 {
				t.Fatalf("hot file served %d times, want 2 (2MB per path)", served)
			}
		})
	}
}

// TestPolicyReplicasShareQuota: three proxies on one Postgres hold one subnet quota exactly,
// with parallel clients spread over them.
func TestPolicyReplicasShareQuota(t *testing.T) {
	const mib = 1 << 20
	data := []byte(strings.Repeat("y", mib))
	url := testpg.URL(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "policy.toml")
	if err := writeFile(file, `default = "allow"
[matchers.all]
kind = "path"
prefixes = ["/"]
[[rules]]
id = "metered"
when = "all"
action = "allow"
quota = "pool"
[quotas.pool]
scope = "subnet"
bytes = "5MB"
period = "month"
reset = 1
zone = "UTC"
`); err != nil {
		t.Fatal(err)
	}
	var replicas []*testEnv
	for range 3 {
		e := newEnv(t, envOpts{env: map[string]string{"DB_MODE": "postgres", "DATABASE_URL": url, "SQLITE_PATH": "",
			"POLICY_FILE": file}})
		e.put("/f.bin", data)
		replicas = append(replicas, e)
	}
	target := uriOf("/f.bin", replicas[0].params("/f.bin", testIP, mib))
	results := make(chan fetched, 30)
	for i := range 30 {
		go func() { results <- replicas[i%3].fetch(target) }()
	}
	var served int
	var delivered int64
	for range 30 {
		f := <-results
		switch f.status {
		case http.StatusOK:
			served++
			delivered += f.n
		case http.StatusTooManyRequests:
		default:
			t.Fatalf("status %d %q", f.status, f.body)
		}
	}
	t.Logf("30 parallel clients over 3 replicas: %d served, %d bytes", served, delivered)
	if served != 5 || delivered != 5*mib {
		t.Fatalf("served %d (%d bytes), want exactly 5 (5MB pool)", served, delivered)
	}
}
