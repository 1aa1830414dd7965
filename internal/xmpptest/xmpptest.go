// Package xmpptest drives a real Prosody and real XMPP clients for the end-to-end upload tests:
// Prosody hands out XEP-0363 slots signed for an upload service at a given URL, and the clients
// (slixmpp through testdata/xmpp/upload.py, and go-sendxmpp) PUT to that service. The parts are
// Debian packages installed by scripts/xmpp-env.sh; the Prosody runner is scripts/prosody-test.sh.
package xmpptest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Mode is the upload module Prosody runs, as scripts/prosody-test.sh names it.
type Mode string

const (
	// ExtV1 is mod_http_upload_external with its default protocol: ?v= HMAC over "P L".
	ExtV1 Mode = "ext-v1"
	// ExtV2 is mod_http_upload_external with protocol v2: ?v2= HMAC over "P\0L\0T".
	ExtV2 Mode = "ext-v2"
	// Share is Prosody 0.12's mod_http_file_share with an external base URL: a JWT in the
	// slot's Authorization header.
	Share Mode = "share"
)

// Modes lists every mode, for table-driven tests.
var Modes = []Mode{ExtV1, ExtV2, Share}

// Required reports whether missing XMPP tools must fail the test instead of skipping it: the
// real-Prosody tests are the only proof the upload service works with real servers and clients.
func Required() bool { return os.Getenv("ALIST_EDGE_REQUIRE_XMPP") == "1" }

// Python is the interpreter with Debian's python3-slixmpp and python3-aiohttp (a pyenv or venv
// python3 first in PATH would not see them); XMPP_PYTHON overrides it.
func Python() string {
	if p := os.Getenv("XMPP_PYTHON"); p != "" {
		return p
	}
	return "/usr/bin/python3"
}

// Missing lists the tools the harness needs that are not installed.
func Missing() []string {
	var m []string
	for _, bin := range []string{"prosody", "prosodyctl", "openssl", "go-sendxmpp"} {
		if _, err := exec.LookPath(bin); err != nil {
			m = append(m, bin)
		}
	}
	if err := exec.Command(Python(), "-c", "import slixmpp, aiohttp").Run(); err != nil {
		m = append(m, "python3-slixmpp/python3-aiohttp ("+Python()+")")
	}
	return m
}

// Require skips t when a tool is missing, or fails it when ALIST_EDGE_REQUIRE_XMPP=1.
func Require(t testing.TB) {
	t.Helper()
	m := Missing()
	if len(m) == 0 {
		return
	}
	msg := fmt.Sprintf("XMPP end-to-end tools missing: %s (install: bash scripts/xmpp-env.sh)", strings.Join(m, ", "))
	if Required() {
		t.Fatal(msg)
	}
	t.Skip(msg + "; set ALIST_EDGE_REQUIRE_XMPP=1 to make this a failure")
}

// RepoRoot is the repository's top folder, found from this file's location so tests work from
// any package directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Server is one running throwaway Prosody.
type Server struct {
	Mode      Mode
	Dir       string // state folder: prosody.cfg.lua, prosody.log, data
	Port      int    // c2s on 127.0.0.1, STARTTLS with a self-signed certificate
	Domain    string // "localhost"
	UploadJID string // "upload.localhost"
	User      string // bare JID of the first account
	Password  string
	User2     string // bare JID of the second account (a recipient for go-sendxmpp)
	Password2 string
}

// Start runs Prosody in mode, handing out slots under baseURL signed with secret, and stops it
// when t ends. For ExtV1/ExtV2 Prosody appends "<uuid>/<file>" to baseURL as is, so it should end
// in "/". Start calls Require first.
func Start(t testing.TB, mode Mode, baseURL, secret string) *Server {
	t.Helper()
	Require(t)
	dir, err := os.MkdirTemp("", "xmpptest-")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Mode: mode, Dir: dir}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Logf("xmpptest: stop: %v", err)
		}
	})
	var lastErr error
	// The free port is picked before Prosody binds it; another package's test may win the race.
	for attempt := 0; attempt < 3; attempt++ {
		if lastErr = s.start(baseURL, secret); lastErr == nil {
			return s
		}
	}
	t.Fatalf("xmpptest: start prosody (%s): %v", mode, lastErr)
	return nil
}

func (s *Server) script(ctx context.Context, env []string, arg string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(RepoRoot(), "scripts", "prosody-test.sh"), arg)
	cmd.Env = append(os.Environ(), append(env, "XMPPTEST_DIR="+s.Dir)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("prosody-test.sh %s: %w: %s", arg, err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

func (s *Server) start(baseURL, secret string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := s.script(ctx, []string{
		"XMPPTEST_MODE=" + string(s.Mode),
		"XMPPTEST_BASE_URL=" + baseURL,
		"XMPPTEST_SECRET=" + secret,
		"XMPPTEST_WATCH_PID=" + strconv.Itoa(os.Getpid()),
	}, "start")
	if err != nil {
		return err
	}
	env := parseExports(out)
	s.Port, err = strconv.Atoi(env["XMPP_C2S_PORT"])
	if err != nil {
		return fmt.Errorf("prosody-test.sh printed no port: %q", out)
	}
	s.Domain, s.UploadJID = env["XMPP_DOMAIN"], env["XMPP_UPLOAD_JID"]
	s.User, s.Password = env["XMPP_USER"], env["XMPP_PASSWORD"]
	s.User2, s.Password2 = env["XMPP_USER2"], env["XMPP_PASSWORD2"]
	return nil
}

// parseExports reads the `export X=value` lines scripts/prosody-test.sh prints.
func parseExports(out []byte) map[string]string {
	env := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "=")
		if ok {
			env[k] = strings.Trim(v, "'\"")
		}
	}
	return env
}

// Stop ends Prosody and removes its state folder; it is safe to call twice.
func (s *Server) Stop() error {
	if s.Dir == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := s.script(ctx, nil, "stop")
	_ = os.RemoveAll(s.Dir)
	s.Dir = ""
	return err
}

// Log returns Prosody's debug log (it names each slot handed out), for failure messages.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "prosody.log"))
	return string(b)
}
