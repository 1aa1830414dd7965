package landing

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alist-edge/alist-edge/internal/alisttest"
)

// One POLICY_FILE for both services: the landing reads its own action names (pass-server,
// verify-pow) and ignores the proxy's (skip-ip) in the same rule.
const landingPolicy = `default = "verify-pow"
[matchers.office]
kind = "cidr"
addresses = ["10.0.0.0/8"]
[matchers.private]
kind = "path"
prefixes = ["/private/"]
[[rules]]
id = "private"
when = "private and not office"
action = "deny"
[[rules]]
id = "office"
when = "office"
action = "pass-server, skip-ip"
`

func TestLandingPolicyFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "policy.toml")
	if err := os.WriteFile(file, []byte(landingPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, map[string]string{"POLICY_FILE": file}, envOpt{})
	for _, p := range []string{"/pub/f.txt", "/private/f.txt"} {
		e.alist.Put(p, &alisttest.File{Data: []byte("data")})
	}
	browser := http.Header{"Accept": {acceptChromium}}
	for _, tc := range []struct {
		name, path, ip string
		hdr            http.Header
		status         int
		want           string
	}{
		{"office browser: pass-server", "/pub/f.txt", "10.2.3.4", browser, http.StatusFound, ""},
		{"office private: allowed", "/private/f.txt", "10.2.3.4", browser, http.StatusFound, ""},
		{"outside private: denied", "/private/f.txt", testIP, nil, http.StatusForbidden, "access denied"},
		{"outside browser: the default's proof of work", "/pub/f.txt", testIP, browser, http.StatusOK, `"pow"`},
		{"outside client: the default's proof of work", "/pub/f.txt", testIP, nil, http.StatusForbidden, "proof of work required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.req("GET", e.link(tc.path), tc.ip, tc.hdr, nil)
			if r.status != tc.status || !strings.Contains(r.body, tc.want) {
				t.Fatalf("%d %.300q; want %d with %q", r.status, r.body, tc.status, tc.want)
			}
		})
	}
	if got := counterValue(e.metrics.PolicyDecisions.WithLabelValues("office", "pass-server", "enforced")); got != 2 {
		t.Fatalf("office decisions counted %v, want 2", got)
	}
}
