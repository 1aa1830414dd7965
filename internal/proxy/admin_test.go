package proxy

import (
	"context"
	"fmt"
	"time"

	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alist-edge/alist-edge/pkg/quota"
)

// The admin API on the proxy (docs/admin.md) with the real store: what it changes, the next
// request sees.

const testAdminToken = "admin-token-for-tests-0123456789"

type adminClient struct {
	t   *testing.T
	srv *httptest.Server
}

func (a adminClient) call(method, target, body string) (int, map[string]any) {
	a.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, a.srv.URL+target, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.srv.Client().Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &out); err != nil {
		a.t.Fatalf("%s %s: %d %q is not a JSON object", method, target, resp.StatusCode, b)
	}
	return resp.StatusCode, out
}

func TestAdminAPIEndToEnd(t *testing.T) {
	const mib = 1 << 20
	for _, db := range quotaDBs {
		t.Run(db.name, func(t *testing.T) {
			env := db.env(t)
			env["POLICY_FILE"] = filepath.Join("testdata", "policy", "e2e.toml")
			env["ADMIN_TOKEN"] = testAdminToken
			e := newEnv(t, envOpts{env: env, now: berlin(t, "2026-03-10 12:00")})
			e.put("/pub/a.iso", []byte(strings.Repeat("z", mib)))
			target := uriOf("/pub/a.iso", e.params("/pub/a.iso", testIP, mib))
			adm := adminClient{t, httptest.NewServer(e.h.AdminAPI())}
			defer adm.srv.Close()

			// Without the token: 401, nothing done.
			resp, err := http.Get(adm.srv.URL + "/blocks")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("no token: %d", resp.StatusCode)
			}

			// Revoke the folder: 410 until it is lifted, on the served path.
			if st, out := adm.call("POST", "/revocations", `{"path":"/pub/","prefix":true,"ttl":"1h"}`); st != http.StatusCreated {
				t.Fatalf("revoke: %d %v", st, out)
			}
			if f := e.fetch(target); f.status != http.StatusGone || !strings.Contains(f.body, "link revoked") {
				t.Fatalf("revoked link: %d %q", f.status, f.body)
			}
			if f := e.fetch(uriOf("/pub//a.iso", e.params("/pub//a.iso", testIP, mib))); f.status != http.StatusGone {
				t.Fatalf("revoked link spelled //: %d %q", f.status, f.body)
			}
			if st, out := adm.call("DELETE", "/revocations?path=/pub/&prefix=true", ""); st != http.StatusOK {
				t.Fatalf("unrevoke: %d %v", st, out)
			}
			if st, out := adm.call("DELETE", "/revocations?path=/pub/&prefix=true", ""); st != http.StatusNotFound {
				t.Fatalf("unrevoke again: %d %v, want 404", st, out)
			}
			if f := e.fetch(target); f.status != http.StatusOK || f.n != mib {
				t.Fatalf("after unrevoke: %d %q", f.status, f.body)
			}

			// Usage of the rule's quota: what was delivered, set, reset; the next request obeys.
			st, out := adm.call("GET", "/usage?quota=daytime&subnet="+testIP, "")
			if st != http.StatusOK || out["bytes"] != float64(mib) || out["limit_bytes"] != float64(3*mib) {
				t.Fatalf("usage: %d %v", st, out)
			}
			if st, out := adm.call("PUT", "/usage", `{"quota":"daytime","subnet":"`+testIP+`","bytes":3145728}`); st != http.StatusOK {
				t.Fatalf("set usage: %d %v", st, out)
			}
			if f := e.fetch(target); f.status != http.StatusTooManyRequests {
				t.Fatalf("after setting the quota used up: %d %q", f.status, f.body)
			}
			if st, out := adm.call("DELETE", "/usage?quota=daytime&subnet="+testIP, ""); st != http.StatusOK {
				t.Fatalf("reset usage: %d %v", st, out)
			}
			if f := e.fetch(target); f.status != http.StatusOK {
				t.Fatalf("after reset: %d %q", f.status, f.body)
			}

			// Explain: the deciding rule, the shadow rule that matched, and the quota's use.
			st, out = adm.call("GET", "/policy/explain?path=/pub/a.iso&ip="+testIP+"&at=2026-03-10T11:00:00Z", "")
			if st != http.StatusOK {
				t.Fatalf("explain: %d %v", st, out)
			}
			b, _ := json.Marshal(out)
			for _, want := range []string{`"rule":"daytime"`, `"iso-block-trial"`, `"used_bytes":1048576`, `"limit_bytes":3145728`,
				`"served_path":"/pub/a.iso"`, `"subnet":"203.0.113.7/32"`} {
				if !strings.Contains(string(b), want) {
					t.Errorf("explain answer lacks %s: %s", want, b)
				}
			}
			if ls, _ := out["limits"].([]any); len(ls) != 1 || ls[0].(map[string]any)["scope"] != "subnet" {
				t.Errorf("explain limits: %v", out["limits"])
			}
			st, out = adm.call("GET", "/policy/explain?path=/pub/a.iso&ip="+testIP+"&at=2026-03-10T23:00:00Z", "")
			if b, _ := json.Marshal(out); st != http.StatusOK || !strings.Contains(string(b), `"night-free"`) || !strings.Contains(string(b), `"limits":[]`) {
				t.Fatalf("explain at night: %d %s", st, b)
			}

			// Sessions the landing opened, in the shared database: listed and ended here.
			ss, ok := quota.SessionsOf(e.store.Store)
			if !ok {
				t.Fatal("the store has no sessions")
			}
			now := e.clock()
			if err := ss.CreateSession(context.Background(), quota.Session{ID: "s1", User: "alice", Groups: []string{"staff"},
				Source: "users-file", Subnet: testIP + "/32", Created: now, Expires: now.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			if st, out := adm.call("GET", "/sessions?user=alice", ""); st != http.StatusOK || !strings.Contains(fmt.Sprint(out), "s1") {
				t.Fatalf("sessions: %d %v", st, out)
			}
			if st, out := adm.call("DELETE", "/sessions?user=alice", ""); st != http.StatusOK || out["ended"] != float64(1) {
				t.Fatalf("end sessions: %d %v", st, out)
			}
			if active, _ := ss.SessionActive(context.Background(), "s1", now); active {
				t.Fatal("an ended session is still active")
			}
		})
	}
}
