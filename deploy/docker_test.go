package deploy_test

import (
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// deploy/Dockerfile: own rules, dockerfilelint, and a build from the dockerignored context.

type instruction struct {
	cmd, args string
	line      int
}

// parseDockerfile joins continuation lines and drops comments.
func parseDockerfile(t *testing.T, text string) []instruction {
	t.Helper()
	var out []instruction
	var cur strings.Builder
	start := 0
	for i, ln := range strings.Split(text, "\n") {
		trim := strings.TrimSpace(ln)
		if cur.Len() == 0 && (trim == "" || strings.HasPrefix(trim, "#")) {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if strings.HasSuffix(trim, "\\") {
			cur.WriteString(strings.TrimSuffix(trim, "\\") + " ")
			continue
		}
		cur.WriteString(trim)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{strings.ToUpper(cmd), strings.TrimSpace(args), start})
		cur.Reset()
	}
	return out
}

type stage struct {
	name, base   string
	user         string
	expose       []string
	entrypoint   string
	healthcheck  bool
	instructions []instruction
	parent       *stage
}

func stagesOf(t *testing.T, ins []instruction) []*stage {
	t.Helper()
	var stages []*stage
	byName := map[string]*stage{}
	for _, in := range ins {
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			var args []string
			for _, a := range f {
				if !strings.HasPrefix(a, "--") {
					args = append(args, a)
				}
			}
			s := &stage{base: args[0]}
			if len(args) == 3 && strings.EqualFold(args[1], "AS") {
				s.name = args[2]
			}
			s.parent = byName[s.base]
			stages = append(stages, s)
			if s.name != "" {
				byName[s.name] = s
			}
			continue
		}
		if len(stages) == 0 {
			if in.cmd != "ARG" {
				t.Fatalf("line %d: %s before the first FROM", in.line, in.cmd)
			}
			continue
		}
		s := stages[len(stages)-1]
		s.instructions = append(s.instructions, in)
		switch in.cmd {
		case "USER":
			s.user = in.args
		case "EXPOSE":
			s.expose = append(s.expose, strings.Fields(in.args)...)
		case "ENTRYPOINT":
			s.entrypoint = in.args
		case "HEALTHCHECK":
			s.healthcheck = !strings.EqualFold(in.args, "NONE")
		}
	}
	return stages
}

// inherited walks s and its parents (FROM <stage>) for the first value get finds.
func inherited[T comparable](s *stage, get func(*stage) T) T {
	var zero T
	for ; s != nil; s = s.parent {
		if v := get(s); v != zero {
			return v
		}
	}
	return zero
}

func dockerStages(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, s := range stagesOf(t, parseDockerfile(t, read(t, "Dockerfile"))) {
		if s.name != "" {
			out[s.name] = true
		}
	}
	return out
}

func TestDockerfileRules(t *testing.T) {
	ins := parseDockerfile(t, read(t, "Dockerfile"))
	stages := stagesOf(t, ins)
	if len(stages) < 2 {
		t.Fatal("want a multi-stage build")
	}
	names := map[string]*stage{}
	for i, s := range stages {
		if s.parent == nil {
			// an external image: pinned tag or digest, never latest
			ref := s.base
			slash := strings.LastIndex(ref, "/")
			tagged := strings.Contains(ref[slash+1:], ":")
			if strings.Contains(ref, "@sha256:") {
				tagged = true
			}
			if !tagged || strings.HasSuffix(ref, ":latest") {
				t.Errorf("stage %d (%s): base %q must have a pinned tag (not latest) or digest", i, s.name, ref)
			}
		}
		if s.name != "" {
			names[s.name] = s
		}
		for _, in := range s.instructions {
			if in.cmd == "ADD" && regexp.MustCompile(`(?i)https?://`).MatchString(in.args) {
				t.Errorf("line %d: ADD of a URL; download in a RUN step with a checksum instead", in.line)
			}
			if from := regexp.MustCompile(`--from=(\S+)`).FindStringSubmatch(in.args); in.cmd == "COPY" && from != nil {
				if names[from[1]] == nil {
					t.Errorf("line %d: COPY --from=%s is not an earlier stage", in.line, from[1])
				}
			}
		}
	}
	build := names["build"]
	if build == nil {
		t.Fatal("no stage named build")
	}
	var buildText strings.Builder
	for _, in := range build.instructions {
		buildText.WriteString(in.cmd + " " + in.args + "\n")
	}
	for _, want := range []string{"CGO_ENABLED=0", "./cmd/proxy", "./cmd/landing", "./cmd/upload", "./deploy/healthcheck"} {
		if !strings.Contains(buildText.String(), want) {
			t.Errorf("build stage lacks %q", want)
		}
	}
	for target, port := range map[string]string{"proxy": "8080", "landing": "8081", "upload": "8082"} {
		s := names[target]
		if s == nil {
			t.Errorf("no target %q", target)
			continue
		}
		user := inherited(s, func(s *stage) string { return s.user })
		if u, _, _ := strings.Cut(user, ":"); u == "" || u == "root" || u == "0" {
			t.Errorf("target %s runs as %q; want a non-root USER", target, user)
		}
		if !inherited(s, func(s *stage) bool { return s.healthcheck }) {
			t.Errorf("target %s has no HEALTHCHECK", target)
		}
		if !strings.Contains(strings.Join(s.expose, " "), port) {
			t.Errorf("target %s does not EXPOSE %s", target, port)
		}
		if !strings.Contains(s.entrypoint, "/usr/local/bin/"+target) {
			t.Errorf("target %s: ENTRYPOINT %s", target, s.entrypoint)
		}
	}
	if last := stages[len(stages)-1]; last.name != "proxy" {
		t.Errorf("the default (last) target is %q, want proxy", last.name)
	}
}

func TestDockerfileLint(t *testing.T) {
	lint := tool(t, "dockerfilelint", "npm install -g dockerfilelint@1.8.0")
	out, err := run(t, ".", lint, "-c", ".", "Dockerfile")
	if err != nil {
		t.Fatalf("dockerfilelint: %v\n%s", err, out)
	}
	// and it is awake: a Dockerfile with known problems fails
	bad := filepath.Join(t.TempDir(), "Dockerfile")
	if err := os.WriteFile(bad, []byte("FROM golang:latest\nRUN apt-get update\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, ".", lint, "-c", ".", bad); err == nil {
		t.Fatalf("dockerfilelint passed a bad Dockerfile:\n%s", out)
	}
}

// TestDockerBuildContext copies what Dockerfile.dockerignore lets into the build context and
// builds the image's binaries from it exactly as the Dockerfile does, so a package or embedded
// file left out of the context fails here instead of in `docker build`.
func TestDockerBuildContext(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries")
	}
	f, err := os.Open("Dockerfile.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	patterns, err := ignorefile.ReadAll(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatal(err)
	}
	ctxDir := t.TempDir()
	n := 0
	err = filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("..", path)
		if rel == "." {
			return nil
		}
		if d.IsDir() && (rel == ".git" || rel == "bin" || rel == "data") {
			return filepath.SkipDir
		}
		if d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		excluded, err := pm.MatchesOrParentMatches(filepath.ToSlash(rel))
		if err != nil || excluded {
			return err
		}
		dst := filepath.Join(ctxDir, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(dst)
		if err != nil {
			return err
		}
		n++
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, must := range []string{"go.mod", "go.sum", "cmd/proxy", "cmd/landing", "deploy/healthcheck/main.go"} {
		if _, err := os.Stat(filepath.Join(ctxDir, must)); err != nil {
			t.Errorf("the build context lacks %s", must)
		}
	}
	for _, mustNot := range []string{".env", ".env.example", ".git", "deploy/.env", "README.md"} {
		if _, err := os.Stat(filepath.Join(ctxDir, mustNot)); err == nil {
			t.Errorf("the build context holds %s", mustNot)
		}
	}
	cmd := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(t.TempDir(), "out")+string(filepath.Separator),
		"./cmd/proxy", "./cmd/landing", "./deploy/healthcheck")
	cmd.Dir = ctxDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=readonly")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building from the %d-file docker context: %v\n%s", n, err, out)
	}
}
