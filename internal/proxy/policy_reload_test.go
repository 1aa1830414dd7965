package proxy

import (
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// SIGHUP re-reads POLICY_FILE: a valid file is swapped in for the next request; a broken one is
// refused whole (every problem with its line) and the running policy stays.
func TestPolicyFileReload(t *testing.T) {
	file := filepath.Join(t.TempDir(), "policy.toml")
	write := func(s string) {
		t.Helper()
		if err := writeFile(file, s); err != nil {
			t.Fatal(err)
		}
	}
	const denyPrivate = `default = "allow"
[matchers.private]
kind = "path"
prefixes = ["/private/"]
[[rules]]
id = "private"
when = "private"
action = "deny"
`
	write(denyPrivate)
	e := newEnv(t, envOpts{env: map[string]string{"POLICY_FILE": file}})
	e.put("/private/a", []byte("a"))
	e.put("/public/b", []byte("b"))
	status := func(p string) int { return e.get(uriOf(p, e.params(p, testIP, 1))).status }
	if status("/private/a") != http.StatusForbidden || status("/public/b") != http.StatusOK {
		t.Fatal("initial policy not applied")
	}

	write(strings.ReplaceAll(denyPrivate, `prefixes = ["/private/"]`, `prefixes = ["/public/"]`))
	if _, err := e.h.Reload(e.environ); err != nil {
		t.Fatal(err)
	}
	if status("/private/a") != http.StatusOK || status("/public/b") != http.StatusForbidden {
		t.Fatal("reloaded policy not applied")
	}

	write(denyPrivate + "\n[[rules]]\nid = \"private\"\nwhen = \"nothing\"\naction = \"allow\"\n")
	_, err := e.h.Reload(e.environ)
	if err == nil || !strings.Contains(err.Error(), "policy.toml:11: duplicate rule id") || !strings.Contains(err.Error(), "nothing") {
		t.Fatalf("broken file: %v", err)
	}
	if status("/private/a") != http.StatusOK || status("/public/b") != http.StatusForbidden {
		t.Fatal("a broken file changed the running policy")
	}
}

// With LOG_LEVEL=debug every decision is one log line carrying the explain trace; at info there
// is none (the trace is built only when it is logged).
func TestPolicyTraceAtDebug(t *testing.T) {
	file := filepath.Join(t.TempDir(), "policy.toml")
	if err := writeFile(file, "default = \"allow\"\n[matchers.all]\nkind = \"path\"\nprefixes = [\"/\"]\n[[rules]]\nid = \"everything\"\nwhen = \"all\"\naction = \"allow\"\n"); err != nil {
		t.Fatal(err)
	}
	for _, level := range []string{"debug", "info"} {
		e := newEnv(t, envOpts{env: map[string]string{"POLICY_FILE": file, "LOG_LEVEL": level}})
		if level == "info" { // the env's logger writes debug lines: log at info as the service would
			e.h.log = slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
		}
		e.put("/f", []byte("f"))
		if r := e.get(uriOf("/f", e.params("/f", testIP, 1))); r.status != http.StatusOK {
			t.Fatal(r.status)
		}
		logs := e.logs.String()
		has := strings.Contains(logs, `"msg":"policy decision"`) && strings.Contains(logs, `"rule":"everything"`) &&
			strings.Contains(logs, `"outcome":"decided"`)
		if has != (level == "debug") {
			t.Fatalf("LOG_LEVEL=%s: trace line present=%v: %s", level, has, logs)
		}
	}
}
