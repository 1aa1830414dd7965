package main

import (
	"bytes"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/alist-edge/alist-edge/pkg/sign"
)

func TestSign(t *testing.T) {
	t.Setenv("SIGN_SECRET", "k1,k0")
	t.Setenv("LANDING_URL", "https://landing.example.com/")
	var out, errb bytes.Buffer
	if code := run([]string{"sign", "/中文/a b#1.txt"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	got := strings.TrimSpace(out.String())
	want := "https://landing.example.com/%E4%B8%AD%E6%96%87/a%20b%231.txt?sign=" + url.QueryEscape(sign.NewKeyringFromSecrets("k1").Sign("/中文/a b#1.txt", 0))
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	out.Reset()
	if code := run([]string{"sign", "-base", "http://l", "-expire", "1761900000", "/f"}, &out, &errb); code != 0 ||
		!strings.HasSuffix(strings.TrimSpace(out.String()), "%3A1761900000") || !strings.HasPrefix(out.String(), "http://l/f?sign=") {
		t.Fatalf("exit %d: %q", code, out.String())
	}
	out.Reset()
	if code := run([]string{"sign", "-expire", "1h", "/f"}, &out, &errb); code != 0 {
		t.Fatal(errb.String())
	}
	u, err := url.Parse(strings.TrimSpace(out.String()))
	must(t, err)
	exp, _, _, _ := sign.ParseExpire(u.Query().Get("sign"))
	if d := exp - time.Now().Unix(); d < 3590 || d > 3610 {
		t.Fatalf("-expire 1h gave %d", exp)
	}
	for _, bad := range [][]string{{"sign"}, {"sign", "relative"}, {"sign", "-expire", "soon", "/f"}} {
		if code := run(bad, &out, &errb); code != 2 {
			t.Errorf("%v: exit %d", bad, code)
		}
	}
}

func TestCheckConfigAndMigrate(t *testing.T) {
	var out, errb bytes.Buffer
	t.Setenv("ADDRESS", "")
	if code := run([]string{"-check-config"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "ADDRESS is required") {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	dir := t.TempDir()
	t.Setenv("ADDRESS", "file://"+dir)
	t.Setenv("SIGN_SECRET", "k")
	t.Setenv("WORKER_ADDRESS_DOWNLOAD", "https://dl.example.com")
	t.Setenv("SQLITE_PATH", filepath.Join(dir, "db", "edge.db"))
	if code := run([]string{"-check-config"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "configuration ok") {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if code := run([]string{"migrate"}, &out, &errb); code != 0 {
		t.Fatalf("migrate: exit %d: %s", code, errb.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "db", "edge.db")); err != nil {
		t.Fatal(err)
	}
	if code := run([]string{"frobnicate"}, &out, &errb); code != 2 {
		t.Fatalf("unknown command: exit %d", code)
	}
}

// TestCheckConfigSharedFile: -check-config refuses a placeholder secret naming it (issue #13:
// it used to say "configuration ok"), and accepts the proxy's action names in a shared file
// with one warning on stderr.
func TestCheckConfigSharedFile(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("ADDRESS", "https://alist.example.com")
	t.Setenv("TOKEN", "alist-3f6b2a1c-real-token")
	t.Setenv("WORKER_ADDRESS_DOWNLOAD", "https://dl.example.com")
	t.Setenv("SQLITE_PATH", filepath.Join(dir, "edge.db"))
	t.Setenv("SIGN_SECRET", "change-me-to-a-long-random-secret")
	var out, errb bytes.Buffer
	if code := run([]string{"-check-config"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "SIGN_SECRET holds a placeholder") ||
		strings.Contains(out.String(), "configuration ok") {
		t.Fatalf("placeholder: exit %d: %s%s", code, out.String(), errb.String())
	}
	t.Setenv("SIGN_SECRET", "")
	t.Setenv("WHITELIST_PREFIX", "/public")
	t.Setenv("WHITELIST_ACTION", "skip-ip")
	out.Reset()
	errb.Reset()
	if code := run([]string{"-check-config"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "configuration ok") ||
		errb.String() != "warning: WHITELIST_ACTION: ignoring proxy action(s) skip-ip (this is the landing); WHITELIST_PREFIX/WHITELIST_ACTION is off for the landing\n" {
		t.Fatalf("shared file: exit %d: %q %q", code, out.String(), errb.String())
	}
}

// TestServeAndSIGHUP runs the real command: it serves a local folder, SIGHUP with an edited
// env file rotates the key, a broken file is refused keeping the running key, and SIGTERM
// stops it cleanly.
func TestServeAndSIGHUP(t *testing.T) {
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "f.txt"), []byte("hello"), 0o644))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	addr := ln.Addr().String()
	ln.Close()
	envFile := filepath.Join(dir, "landing.env")
	writeEnv := func(extra string) {
		must(t, os.WriteFile(envFile, []byte("# test\nADDRESS=file://"+dir+"\nWORKER_ADDRESS_DOWNLOAD=\"https://dl.example.com\"\n"+
			"LISTEN_ADDR="+addr+"\nADMIN_ADDR=127.0.0.1:0\nFAST_REDIRECT=true\nSQLITE_PATH="+filepath.Join(dir, "edge.db")+"\nLOG_FORMAT=text\n"+extra), 0o644))
	}
	writeEnv("SIGN_SECRET=old\n")
	t.Setenv("ENV_FILE", envFile)
	var out, errb syncBuf
	done := make(chan int, 1)
	go func() { done <- run(nil, &out, &errb) }()

	get := func(secret string) int {
		u := "http://" + addr + "/f.txt?sign=" + url.QueryEscape(sign.NewKeyringFromSecrets(secret).Sign("/f.txt", 0))
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		res, err := c.Get(u)
		if err != nil {
			return 0
		}
		res.Body.Close()
		return res.StatusCode
	}
	deadline := time.Now().Add(10 * time.Second)
	for get("old") != http.StatusFound {
		select {
		case code := <-done:
			t.Fatalf("exited %d: %s", code, errb.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("not serving: %s", errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	hupAndWait := func(secret string, want int) {
		t.Helper()
		must(t, syscall.Kill(os.Getpid(), syscall.SIGHUP))
		deadline := time.Now().Add(5 * time.Second)
		for get(secret) != want {
			if time.Now().After(deadline) {
				t.Fatalf("after SIGHUP %s: %d\n%s", secret, get(secret), errb.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	writeEnv("SIGN_SECRET=new,old\n")
	hupAndWait("new", http.StatusFound)
	writeEnv("SIGN_SECRET=newer\nBLACKLIST_ACTION=nope\nBLACKLIST_PREFIX=/\n")
	must(t, syscall.Kill(os.Getpid(), syscall.SIGHUP))
	deadline = time.Now().Add(5 * time.Second)
	for !strings.Contains(errb.String(), "reload refused") {
		if time.Now().After(deadline) {
			t.Fatalf("bad reload not reported:\n%s", errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if get("new") != http.StatusFound || get("newer") != http.StatusUnauthorized {
		t.Fatal("a refused reload changed the keys")
	}
	must(t, syscall.Kill(os.Getpid(), syscall.SIGTERM))
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not stop on SIGTERM")
	}
	if !strings.Contains(errb.String(), "msg=access") {
		t.Fatalf("no access log:\n%s", errb.String())
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// syncBuf is a writer the service's goroutines and the test can share.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
