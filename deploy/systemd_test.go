package deploy_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alist-edge/alist-edge/internal/config"
)

// systemd units (deploy/systemd): structure, systemd-analyze verify and security.

var units = []string{"alist-edge-proxy.service", "alist-edge-landing.service", "alist-edge-upload.service"}

// unitFile is section → key → values (in order).
type unitFile map[string]map[string][]string

func parseUnit(t *testing.T, text string) unitFile {
	t.Helper()
	u := unitFile{}
	section := ""
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		ln := strings.TrimSpace(sc.Text())
		switch {
		case ln == "" || strings.HasPrefix(ln, "#") || strings.HasPrefix(ln, ";"):
		case strings.HasPrefix(ln, "[") && strings.HasSuffix(ln, "]"):
			section = ln[1 : len(ln)-1]
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(ln, "=")
			if !ok || section == "" {
				t.Fatalf("unit line %q is not Key=Value inside a section", ln)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	return u
}

// systemdSeconds reads the simple systemd time spans the units use ("45s", "2min", "1min 30s", "90").
func systemdSeconds(t *testing.T, s string) time.Duration {
	t.Helper()
	var total time.Duration
	for _, part := range strings.Fields(s) {
		i := strings.IndexFunc(part, func(r rune) bool { return r < '0' || r > '9' })
		num, unit := part, "s"
		if i >= 0 {
			num, unit = part[:i], part[i:]
		}
		n, err := strconv.Atoi(num)
		if err != nil {
			t.Fatalf("time span %q", s)
		}
		mult := map[string]time.Duration{"s": time.Second, "sec": time.Second, "m": time.Minute, "min": time.Minute, "h": time.Hour}[unit]
		if mult == 0 {
			t.Fatalf("time span %q: unit %q", s, unit)
		}
		total += time.Duration(n) * mult
	}
	return total
}

func TestSystemdUnitRules(t *testing.T) {
	shutdown, err := config.ParseDuration(configDefault(t, "ShutdownTimeout"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range units {
		t.Run(name, func(t *testing.T) {
			u := parseUnit(t, read(t, filepath.Join("systemd", name)))
			svc := u["Service"]
			if svc == nil || u["Unit"] == nil || u["Install"] == nil {
				t.Fatal("want [Unit], [Service] and [Install]")
			}
			one := func(k string) string {
				if len(svc[k]) == 0 {
					t.Errorf("[Service] lacks %s=", k)
					return ""
				}
				return svc[k][len(svc[k])-1]
			}
			want := map[string]string{
				"ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes", "NoNewPrivileges": "yes",
				"CapabilityBoundingSet": "", "ExecReload": "/bin/kill -HUP $MAINPID", "StateDirectory": "alist-edge",
			}
			for k, v := range want {
				if got := one(k); got != v && len(svc[k]) > 0 {
					t.Errorf("%s=%q, want %q", k, got, v)
				}
			}
			if len(svc["User"]) == 0 && one("DynamicUser") != "yes" {
				t.Error("want a dedicated User= or DynamicUser=yes")
			}
			if u := one("User"); u == "root" || u == "0" {
				t.Error("runs as root")
			}
			if got := one("RestrictAddressFamilies"); got != "" && strings.Trim(got, " ") != "AF_INET AF_INET6 AF_UNIX" {
				t.Errorf("RestrictAddressFamilies=%q", got)
			}
			hasFilter := false
			for _, f := range svc["SystemCallFilter"] {
				hasFilter = hasFilter || f == "@system-service"
			}
			if !hasFilter {
				t.Error("want SystemCallFilter=@system-service")
			}
			if len(svc["EnvironmentFile"]) == 0 {
				t.Error("want EnvironmentFile=")
			}
			service := strings.TrimSuffix(strings.TrimPrefix(name, "alist-edge-"), ".service")
			if exe := strings.Fields(one("ExecStart")); len(exe) == 0 || filepath.Base(exe[0]) != "alist-edge-"+service {
				t.Errorf("ExecStart=%v does not run alist-edge-%s", exe, service)
			}
			// ENV_FILE makes SIGHUP see edits of the EnvironmentFile.
			envFile := ""
			effectiveShutdown := shutdown
			for _, e := range svc["Environment"] {
				k, v, _ := strings.Cut(e, "=")
				switch k {
				case "ENV_FILE":
					envFile = v
				case "SHUTDOWN_TIMEOUT":
					if effectiveShutdown, err = config.ParseDuration(v); err != nil {
						t.Fatalf("Environment=SHUTDOWN_TIMEOUT=%q: %v", v, err)
					}
				}
			}
			if envFile == "" || envFile != strings.TrimPrefix(one("EnvironmentFile"), "-") {
				t.Errorf("Environment=ENV_FILE=%q must name the EnvironmentFile (%q) so SIGHUP re-reads it", envFile, one("EnvironmentFile"))
			}
			if stop := systemdSeconds(t, one("TimeoutStopSec")); stop <= effectiveShutdown {
				t.Errorf("TimeoutStopSec=%v must exceed SHUTDOWN_TIMEOUT (%v) or systemd kills draining downloads", stop, effectiveShutdown)
			}
		})
	}
}

// stubUnits copies the units into a temp dir with ExecStart pointing at stub executables there
// (systemd-analyze verify insists that the binary exists).
func stubUnits(t *testing.T) (dir string, paths []string) {
	t.Helper()
	dir = t.TempDir()
	for _, name := range units {
		text := read(t, filepath.Join("systemd", name))
		bin := "alist-edge-" + strings.TrimSuffix(strings.TrimPrefix(name, "alist-edge-"), ".service")
		stub := filepath.Join(dir, bin)
		if err := os.WriteFile(stub, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(text, "/usr/local/bin/"+bin) {
			t.Fatalf("%s: ExecStart is not /usr/local/bin/%s", name, bin)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.ReplaceAll(text, "/usr/local/bin/"+bin, stub)), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return dir, paths
}

func TestSystemdAnalyzeVerify(t *testing.T) {
	sa := tool(t, "systemd-analyze", "apt-get install -y systemd")
	dir, paths := stubUnits(t)
	out, err := run(t, dir, sa, append([]string{"verify"}, paths...)...)
	// verify exits 0 on unknown keys and bad values, printing a warning: any output fails.
	if err != nil || strings.TrimSpace(out) != "" {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	// and it does catch a bad unit
	bad := filepath.Join(dir, "bad.service")
	if err := os.WriteFile(bad, []byte(strings.Replace(read(t, paths[0]), "ProtectSystem=strict", "ProtectSystm=strict", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, _ := run(t, dir, sa, "verify", bad); !strings.Contains(out, "ProtectSystm") {
		t.Fatalf("systemd-analyze verify did not flag an unknown key:\n%s", out)
	}
}

// exposureThreshold is the highest `systemd-analyze security` exposure allowed (x10: 20 = 2.0).
const exposureThreshold = 20

func TestSystemdAnalyzeSecurity(t *testing.T) {
	sa := tool(t, "systemd-analyze", "apt-get install -y systemd")
	dir, paths := stubUnits(t)
	for _, p := range paths {
		out, err := run(t, dir, sa, "security", "--offline=true", "--no-pager", fmt.Sprintf("--threshold=%d", exposureThreshold), p)
		if err != nil {
			t.Errorf("systemd-analyze security %s above %d.%d: %v\n%s", filepath.Base(p), exposureThreshold/10, exposureThreshold%10, err, out)
			continue
		}
		if m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`).FindStringSubmatch(out); m != nil {
			t.Logf("%s exposure %s", filepath.Base(p), m[1])
		}
	}
}
