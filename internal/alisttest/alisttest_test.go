package alisttest

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestClean pins the fake to AList's utils.FixAndCleanPath.
func TestClean(t *testing.T) {
	for in, want := range map[string]string{
		"/a/b":              "/a/b",
		`/pub/..\private/x`: "/private/x",
		"//private//x/":     "/private/x",
		"/a/./b/.":          "/a/b",
		"/a/..":             "/",
		"/..":               "/",
		"":                  "/",
		`x\y`:               "/x/y",
		"/a\x01b":           "/a\x01b",
	} {
		if got := Clean(in); got != want {
			t.Errorf("%q: got %q want %q", in, got, want)
		}
	}
}

func api(t *testing.T, s *Server, endpoint, path string) (code int, data map[string]any) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"path": path})
	req, _ := http.NewRequest(http.MethodPost, s.URL+endpoint, strings.NewReader(string(body)))
	req.Header.Set("Authorization", s.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env struct {
		Code int            `json:"code"`
		Data map[string]any `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%s %q: HTTP %d, %v", endpoint, path, resp.StatusCode, err)
	}
	return env.Code, env.Data
}

// rawGet sends the target byte for byte (Go's client would rewrite "//x" and clean nothing).
func rawGet(t *testing.T, s *Server, target string) (int, string) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.WriteString(c, "GET "+target+" HTTP/1.1\r\nHost: alist.test\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestFakeCleansLikeAList: /api/fs/get, /api/fs/link and the /d/ download all serve the
// cleaned path, as AList does; so a proxy test can see a policy decided on another spelling.
func TestFakeCleansLikeAList(t *testing.T) {
	s := New("tok")
	defer s.Close()
	s.Put("/private/secret.txt", &File{Data: []byte("secret")})
	for _, p := range []string{"/private/secret.txt", `/pub/..\private/secret.txt`, "//private//secret.txt", `\private\secret.txt`} {
		if code, data := api(t, s, "/api/fs/get", p); code != 200 || data["size"] != float64(6) || data["name"] != "secret.txt" {
			t.Errorf("fs/get %q: %d %v", p, code, data)
		}
		code, data := api(t, s, "/api/fs/link", p)
		if code != 200 || data["url"] != s.URL+"/d/private/secret.txt" {
			t.Errorf("fs/link %q: %d %v", p, code, data)
		}
	}
	// AList v3's own relative-path check looks for "/.." with "/" only.
	if code, _ := api(t, s, "/api/fs/get", "/pub/../private/secret.txt"); code != 403 {
		t.Errorf("relative path: %d", code)
	}
	for _, target := range []string{"/d/private/secret.txt", "/d/pub/..%5cprivate/secret.txt", "/d//private//secret.txt", "/d/x/../private/secret.txt"} {
		if status, body := rawGet(t, s, target); status != 200 || body != "secret" {
			t.Errorf("%s: %d %q", target, status, body)
		}
	}
	// A name with a `\` is stored where AList's cleaning of it leads.
	s.Put(`/x/a\b.txt`, &File{Data: []byte("ab")})
	if code, data := api(t, s, "/api/fs/get", "/x/a/b.txt"); code != 200 || data["size"] != float64(2) {
		t.Errorf("stored name: %d %v", code, data)
	}
	// Paths records what was asked, before cleaning.
	if got := s.Paths(); len(got) != 10 || got[2] != `/pub/..\private/secret.txt` || got[3] != got[2] {
		t.Errorf("Paths %q", got)
	}
}
