// Package deploy_test checks the deployment files of deploy/ with the tools that read them and
// with rules of its own, so `go test ./...` catches a broken unit, compose file, Dockerfile,
// dashboard, Prometheus file or fail2ban filter:
//
//   - systemd units: structure, `systemd-analyze verify` (no output allowed) and
//     `systemd-analyze security --offline` under an exposure threshold;
//   - compose files: loaded by compose-go (the loader and compose-spec JSON schema of
//     `docker compose`), then references, health checks and env names;
//   - Dockerfile: rules below and `dockerfilelint`; the build context of
//     Dockerfile.dockerignore really builds the binaries;
//   - Grafana dashboard and Prometheus rules: every metric and label queried exists
//     (internal/metrics/testdata/metrics.golden); `promtool check config/rules`;
//   - fail2ban: `fail2ban-regex` over access lines written by logx.Access, and
//     `fail2ban-client -t` of the jail.
//
// A missing tool skips its check on a developer machine and fails under CI (CI set) or with
// ALIST_EDGE_REQUIRE_DEPLOY_TOOLS=1; scripts/check-deploy.sh --install installs them.
package deploy_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/alist-edge/alist-edge/internal/config"
)

func requireTools() bool {
	return os.Getenv("CI") != "" || os.Getenv("ALIST_EDGE_REQUIRE_DEPLOY_TOOLS") == "1"
}

// tool finds name on PATH; when missing it skips the test, or fails it under CI.
func tool(t *testing.T, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if requireTools() {
			t.Fatalf("%s is not installed, and CI must run this check: %s (scripts/check-deploy.sh --install does it)", name, install)
		}
		t.Skipf("%s not installed (%s); CI runs this check", name, install)
	}
	return p
}

func run(t *testing.T, dir string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// configDefault is the envDefault of a Common field (e.g. ShutdownTimeout → "30s").
func configDefault(t *testing.T, field string) string {
	t.Helper()
	f, ok := reflect.TypeOf(config.Common{}).FieldByName(field)
	if !ok {
		t.Fatalf("config.Common has no field %s", field)
	}
	return f.Tag.Get("envDefault")
}

// golden reads internal/metrics/testdata/metrics.golden: metric → label names.
func golden(t *testing.T) map[string]map[string]bool {
	t.Helper()
	out := map[string]map[string]bool{}
	for _, ln := range strings.Split(read(t, "../internal/metrics/testdata/metrics.golden"), "\n") {
		f := strings.Fields(ln)
		if len(f) < 2 || strings.HasPrefix(ln, "#") {
			continue
		}
		labels := map[string]bool{}
		if len(f) > 2 {
			for _, l := range strings.Split(f[2], ",") {
				labels[l] = true
			}
		}
		out[f[0]] = labels
		if f[1] == "histogram" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				hl := map[string]bool{}
				for l := range labels {
					hl[l] = true
				}
				if s == "_bucket" {
					hl["le"] = true
				}
				out[f[0]+s] = hl
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("metrics.golden is empty")
	}
	return out
}

// envExampleNames lists the variables .env.example names (commented or not).
func envExampleNames(t *testing.T) map[string]bool {
	t.Helper()
	re := regexp.MustCompile(`^(?:#\s?)?([A-Z][A-Z0-9_]*)=`)
	out := map[string]bool{}
	for _, ln := range strings.Split(read(t, "../.env.example"), "\n") {
		if m := re.FindStringSubmatch(ln); m != nil {
			out[m[1]] = true
		}
	}
	return out
}
