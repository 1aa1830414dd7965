package deploy_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/alist-edge/alist-edge/internal/config"
)

// docker compose files: compose-go (schema), references, health checks, env names.

var composeFiles = []string{"docker-compose.yml", "docker-compose.sqlite.yml"}

// loadCompose loads a compose file the way `docker compose` does (compose-go: schema
// validation, interpolation, merge of anchors), from a copy of deploy/ whose .env is
// .env.example plus POSTGRES_PASSWORD.
func loadCompose(t *testing.T, file string, mutate func(string) string) (*types.Project, error) {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "deploy")
	if err := os.MkdirAll(filepath.Join(root, "data", "files"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	text := read(t, file)
	if mutate != nil {
		text = mutate(text)
	}
	if err := os.WriteFile(filepath.Join(dir, file), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	env := read(t, "../.env.example") + "\nPOSTGRES_PASSWORD=test-password\n"
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(env), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join(dir, file)},
		cli.WithWorkingDirectory(dir), cli.WithEnvFiles(filepath.Join(dir, ".env")), cli.WithDotEnv,
		cli.WithoutEnvironmentResolution, cli.WithProfiles([]string{"xmpp"})) // xmpp: the upload service
	if err != nil {
		t.Fatal(err)
	}
	return opts.LoadProject(context.Background())
}

func TestComposeFiles(t *testing.T) {
	shutdown, err := config.ParseDuration(configDefault(t, "ShutdownTimeout"))
	if err != nil {
		t.Fatal(err)
	}
	documented := envExampleNames(t)
	stages := dockerStages(t)
	for _, file := range composeFiles {
		t.Run(file, func(t *testing.T) {
			p, err := loadCompose(t, file, nil)
			if err != nil {
				t.Fatalf("compose-go rejects %s: %v", file, err)
			}
			for _, want := range []string{"proxy", "landing", "upload"} {
				if _, ok := p.Services[want]; !ok {
					t.Errorf("no %q service", want)
				}
			}
			for name, s := range p.Services {
				if s.Image == "" && s.Build == nil {
					t.Errorf("%s: neither image nor build", name)
				}
				if s.HealthCheck == nil || s.HealthCheck.Disable || len(s.HealthCheck.Test) == 0 {
					t.Errorf("%s: no healthcheck", name)
				}
				for dep, d := range s.DependsOn {
					target, ok := p.Services[dep]
					if !ok {
						t.Errorf("%s depends on %q, which is not a service", name, dep)
						continue
					}
					if d.Condition != types.ServiceConditionHealthy {
						t.Errorf("%s depends on %s with condition %q, want service_healthy", name, dep, d.Condition)
					}
					if target.HealthCheck == nil {
						t.Errorf("%s waits for %s to be healthy, but %s has no healthcheck", name, dep, dep)
					}
				}
				for _, v := range s.Volumes {
					if v.Type == types.VolumeTypeVolume {
						if _, ok := p.Volumes[v.Source]; !ok {
							t.Errorf("%s mounts volume %q, not declared under volumes:", name, v.Source)
						}
					}
				}
				if s.Build == nil {
					continue
				}
				// one of ours
				if s.Build.Target == "" || !stages[s.Build.Target] {
					t.Errorf("%s: build target %q is not a stage of deploy/Dockerfile", name, s.Build.Target)
				}
				if filepath.Base(s.Build.Dockerfile) != "Dockerfile" {
					t.Errorf("%s: build dockerfile %q", name, s.Build.Dockerfile)
				}
				if len(s.EnvFiles) == 0 || filepath.Base(s.EnvFiles[0].Path) != ".env" {
					t.Errorf("%s: want env_file .env", name)
				}
				for k := range s.Environment {
					if !documented[k] {
						t.Errorf("%s: environment %s is not a variable of .env.example (a typo?)", name, k)
					}
				}
				if s.StopGracePeriod == nil || time.Duration(*s.StopGracePeriod) <= shutdown {
					t.Errorf("%s: stop_grace_period must exceed SHUTDOWN_TIMEOUT (%v)", name, shutdown)
				}
				if len(s.Ports) == 0 {
					t.Errorf("%s: no published port", name)
				}
				for _, port := range s.Ports {
					if port.Target == 9090 || port.Target == 9091 || port.Target == 9092 {
						t.Errorf("%s publishes the admin port %d", name, port.Target)
					}
				}
			}
			if strings.Contains(file, "sqlite") {
				seen := map[string]string{}
				for name, s := range p.Services {
					for _, v := range s.Volumes {
						if v.Target == "/data" {
							if other, dup := seen[v.Source]; dup {
								t.Errorf("%s and %s share the volume %s: give each service its own SQLite volume", name, other, v.Source)
							}
							seen[v.Source] = name
						}
					}
				}
			} else {
				pg, ok := p.Services["postgres"]
				if !ok || !strings.HasPrefix(pg.Image, "postgres:15") {
					t.Errorf("want a postgres:15 service, got %q", pg.Image)
				}
			}
		})
	}
}

// TestComposeSchemaIsEnforced: the loader really validates (a misspelt key fails).
func TestComposeSchemaIsEnforced(t *testing.T) {
	for _, c := range []struct{ from, to string }{
		{"healthcheck:", "healthchek:"},
		{"condition: service_healthy", "condition: service_happy"},
		{"read_only: true", "read_only: maybe"},
		{"stop_grace_period: 45s", "stop_grace_period: forever"},
		{"condition: service_healthy", "condition: service_healthy\n      bogus: 1"},
	} {
		_, err := loadCompose(t, "docker-compose.yml", func(s string) string { return strings.Replace(s, c.from, c.to, 1) })
		if err == nil {
			t.Errorf("compose-go accepted %q → %q", c.from, c.to)
		}
	}
}

// TestDockerComposeConfig runs `docker compose config` when the compose plugin is there (it
// needs no engine). Not required in CI: compose-go above is the same loader.
func TestDockerComposeConfig(t *testing.T) {
	docker, err := exec.LookPath("docker")
	if err != nil {
		t.Skip("docker CLI not installed")
	}
	if out, err := run(t, ".", docker, "compose", "version"); err != nil {
		t.Skipf("docker compose plugin not installed: %s", strings.TrimSpace(out))
	}
	root := t.TempDir()
	for _, file := range composeFiles {
		if err := os.WriteFile(filepath.Join(root, file), []byte(read(t, file)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := read(t, "../.env.example") + "\nPOSTGRES_PASSWORD=test-password\n"
	if err := os.WriteFile(filepath.Join(root, ".env"), []byte(env), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, file := range composeFiles {
		if out, err := run(t, root, docker, "compose", "-f", file, "config", "--quiet"); err != nil {
			t.Errorf("docker compose -f %s config: %v\n%s", file, err, out)
		}
	}
}
