package main

import (
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/alist-edge/alist-edge/internal/identity"
)

// freeAddr is a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestServeLoginAndAdminSessions runs the real command with USERS_FILE on SQLite: it starts
// (its sessions are in the database), a sign-in gives a cookie /me accepts, the admin listener
// (loopback ADMIN_ADDR, no token) lists the session and ends it, and the cookie is refused.
func TestServeLoginAndAdminSessions(t *testing.T) {
	dir := t.TempDir()
	users := filepath.Join(dir, "users.toml")
	must(t, identity.AddUser(users, "alice", "correct horse battery", []string{"members"}))
	addr, adminAddr := freeAddr(t), freeAddr(t)
	envFile := filepath.Join(dir, "landing.env")
	must(t, os.WriteFile(envFile, []byte("ADDRESS=file://"+dir+"\nWORKER_ADDRESS_DOWNLOAD=https://dl.example.com\nSIGN_SECRET=k\n"+
		"LISTEN_ADDR="+addr+"\nADMIN_ADDR="+adminAddr+"\nSQLITE_PATH="+filepath.Join(dir, "edge.db")+"\nUSERS_FILE="+users+"\nLOG_FORMAT=text\n"), 0o644))
	t.Setenv("ENV_FILE", envFile)
	var out, errb syncBuf
	done := make(chan int, 1)
	go func() { done <- run(nil, &out, &errb) }()
	stop := func() {
		must(t, syscall.Kill(os.Getpid(), syscall.SIGTERM))
		select {
		case code := <-done:
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
		case <-time.After(10 * time.Second):
			t.Fatal("did not stop on SIGTERM")
		}
	}

	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 10 * time.Second}
	call := func(method, u string, hdr http.Header, body string) (int, string, *http.Response) {
		t.Helper()
		r, err := http.NewRequest(method, u, strings.NewReader(body))
		must(t, err)
		for k, v := range hdr {
			r.Header[k] = v
		}
		res, err := c.Do(r)
		if err != nil {
			return 0, err.Error(), nil
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b), res
	}
	login := func() (int, *http.Cookie) {
		form := url.Values{"name": {"alice"}, "password": {"correct horse battery"}, "back": {"/"}}.Encode()
		status, _, res := call("POST", "http://"+addr+"/login", http.Header{"Origin": {"http://" + addr},
			"Content-Type": {"application/x-www-form-urlencoded"}}, form)
		if res == nil {
			return 0, nil
		}
		for _, k := range res.Cookies() {
			if k.Name == identity.CookieName {
				return status, k
			}
		}
		return status, nil
	}
	deadline := time.Now().Add(10 * time.Second)
	status, cookie := login()
	for status == 0 {
		select {
		case code := <-done:
			t.Fatalf("exited %d: %s", code, errb.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("not serving: %s", errb.String())
		}
		time.Sleep(20 * time.Millisecond)
		status, cookie = login()
	}
	defer stop()
	if status != http.StatusSeeOther || cookie == nil {
		t.Fatalf("login: %d\n%s", status, errb.String())
	}
	withCookie := http.Header{"Cookie": {cookie.Name + "=" + cookie.Value}}
	if status, body, _ := call("GET", "http://"+addr+"/me", withCookie, ""); status != 200 || !strings.Contains(body, `"user":"alice"`) {
		t.Fatalf("/me: %d %s", status, body)
	}
	status, body, _ := call("GET", "http://"+adminAddr+"/sessions?user=alice", nil, "")
	if status != 200 || strings.Count(body, `"user":"alice"`) != 1 {
		t.Fatalf("admin GET /sessions: %d %s", status, body)
	}
	if status, body, _ := call("DELETE", "http://"+adminAddr+"/sessions?user=alice", nil, ""); status != 200 || !strings.Contains(body, `"ended":1`) {
		t.Fatalf("admin DELETE /sessions: %d %s", status, body)
	}
	if status, body, _ := call("GET", "http://"+addr+"/me", withCookie, ""); status != 401 {
		t.Fatalf("/me after the admin ended the session: %d %s", status, body)
	}
}
