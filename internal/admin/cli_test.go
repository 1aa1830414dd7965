package admin

import (
	"bytes"
	"flag"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the CLI's golden files in testdata/cli")

// recorder keeps the last request the API got, as "METHOD /path?query body".
type recorder struct {
	mu   sync.Mutex
	last string
	next http.Handler
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.last = strings.TrimSpace(req.Method + " " + req.URL.RequestURI() + " " + string(b))
	if req.Header.Get("Authorization") != "Bearer s3cret-token" {
		r.last += " (no token)"
	}
	r.mu.Unlock()
	req.Body = io.NopCloser(bytes.NewReader(b))
	r.next.ServeHTTP(w, req)
}

func TestCLI(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		req    string // the request sent; "" none
		calls  []string
		stderr string
	}{
		{name: "explain", args: []string{"explain", "-path", "/a/b.iso", "-ip", "1.2.3.4", "-at", "2026-01-01T22:00:00Z", "-group", "staff", "-group", "ops", "-size", "10"},
			req: "GET /policy/explain?at=2026-01-01T22%3A00%3A00Z&group=staff&group=ops&ip=1.2.3.4&path=%2Fa%2Fb.iso&size=10"},
		{name: "explain-json", args: []string{"explain", "-json", "-path", "/a", "-ip", "1.2.3.4"}, req: "GET /policy/explain?ip=1.2.3.4&path=%2Fa"},
		{name: "explain-missing-ip", args: []string{"explain", "-path", "/a"}, code: 2, stderr: "-path and -ip are required"},
		{name: "explain-bad-at", args: []string{"explain", "-path", "/a", "-ip", "1.2.3.4", "-at", "tonight"}, code: 1,
			req: "GET /policy/explain?at=tonight&ip=1.2.3.4&path=%2Fa", stderr: `admin explain: parameter "at": not an RFC 3339 time`},
		{name: "usage", args: []string{"usage", "-quota", "daily", "-key", "k1"}, req: "GET /usage?key=k1&quota=daily", calls: []string{"Usage daily k1"}},
		{name: "usage-subnet", args: []string{"usage", "-quota", "daily", "-subnet", "10.1.2.3"}, req: "GET /usage?quota=daily&subnet=10.1.2.3", calls: []string{"Usage daily s:10.1.2.3"}},
		{name: "usage-per-group", args: []string{"usage", "-quota", "members", "-key", "u1"}, req: "GET /usage?key=u1&quota=members", calls: []string{"Usage members u1"}},
		{name: "usage-json", args: []string{"usage", "-json", "-quota", "daily", "-key", "k1"}, req: "GET /usage?key=k1&quota=daily", calls: []string{"Usage daily k1"}},
		{name: "usage-unknown-quota", args: []string{"usage", "-quota", "dialy", "-key", "k1"}, code: 1, req: "GET /usage?key=k1&quota=dialy",
			stderr: `admin usage: no quota or rate named "dialy" (known: burst, daily, members, nokey) (HTTP 404)`},
		{name: "usage-no-quota", args: []string{"usage", "-key", "k1"}, code: 2, stderr: "-quota is required"},
		{name: "set-usage", args: []string{"set-usage", "-quota", "daily", "-subnet", "10.1.2.3", "-bytes", "1073741824"},
			req:   `PUT /usage {"quota":"daily","key":"","subnet":"10.1.2.3","path":"","user":"","group":"","bytes":1073741824,"requests":null,"window_end":null}`,
			calls: []string{"Usage daily s:10.1.2.3", "SetUsage daily s:10.1.2.3 1073741824 0 2026-01-03T00:00:00Z"}},
		{name: "set-usage-nothing", args: []string{"set-usage", "-quota", "daily", "-key", "k1"}, code: 2, stderr: "give -bytes, -requests or -window-end"},
		{name: "set-usage-bad-bytes", args: []string{"set-usage", "-quota", "daily", "-key", "k1", "-bytes", "1GB"}, code: 2, stderr: `invalid value "1GB" for flag -bytes`},
		{name: "reset-usage", args: []string{"reset-usage", "-quota", "daily", "-key", "k1"}, req: "DELETE /usage?key=k1&quota=daily",
			calls: []string{"SetUsage daily k1 0 0 0001-01-01T00:00:00Z"}},
		{name: "blocks", args: []string{"blocks"}, req: "GET /blocks", calls: []string{"Blocks 2026-01-02T15:04:05Z"}},
		{name: "blocks-json", args: []string{"blocks", "-json"}, req: "GET /blocks", calls: []string{"Blocks 2026-01-02T15:04:05Z"}},
		{name: "unban", args: []string{"unban", "-subnet", "10.1.2.3/24"}, req: "DELETE /blocks?subnet=10.1.2.3%2F24", calls: []string{"Unblock proxy 10.1.2.0/24"}},
		{name: "unban-scope", args: []string{"unban", "-subnet", "10.1.2.3", "-scope", "landing"}, req: "DELETE /blocks?scope=landing&subnet=10.1.2.3", calls: []string{"Unblock landing 10.1.2.3"}},
		{name: "unban-no-subnet", args: []string{"unban"}, code: 2, stderr: "-subnet is required"},
		{name: "revoke", args: []string{"revoke", "-path", "/private/", "-prefix", "-ttl", "24h"},
			req:   `POST /revocations {"path":"/private/","prefix":true,"until":null,"ttl":"24h"}`,
			calls: []string{"Revoke /private/ true 2026-01-03T15:04:05Z"}},
		{name: "revoke-until", args: []string{"revoke", "-path", "/a.iso", "-until", "2026-02-01T00:00:00Z"},
			req:   `POST /revocations {"path":"/a.iso","prefix":false,"until":"2026-02-01T00:00:00Z","ttl":""}`,
			calls: []string{"Revoke /a.iso false 2026-02-01T00:00:00Z"}},
		{name: "revoke-both", args: []string{"revoke", "-path", "/a", "-ttl", "1h", "-until", "2026-02-01T00:00:00Z"}, code: 2, stderr: "one of -ttl or -until"},
		{name: "revoke-bad-ttl", args: []string{"revoke", "-path", "/a", "-ttl", "1d"}, code: 1,
			req: `POST /revocations {"path":"/a","prefix":false,"until":null,"ttl":"1d"}`, stderr: `parameter "ttl"`},
		{name: "revocations", args: []string{"revocations"}, req: "GET /revocations", calls: []string{"Revocations 2026-01-02T15:04:05Z"}},
		{name: "unrevoke", args: []string{"unrevoke", "-path", "/old/", "-prefix"}, req: "DELETE /revocations?path=%2Fold%2F&prefix=true", calls: []string{"Unrevoke /old/ true"}},
		{name: "unrevoke-missing", args: []string{"unrevoke", "-path", "/nope"}, code: 1, req: "DELETE /revocations?path=%2Fnope&prefix=false",
			calls: []string{"Unrevoke /nope false"}, stderr: `no revocation of "/nope" (prefix false) (HTTP 404)`},
		{name: "sessions", args: []string{"sessions"}, req: "GET /sessions", calls: []string{`ListSessions 2026-01-02T15:04:05Z ""`}},
		{name: "sessions-user", args: []string{"sessions", "-user", "bob"}, req: "GET /sessions?user=bob", calls: []string{`ListSessions 2026-01-02T15:04:05Z "bob"`}},
		{name: "sessions-json", args: []string{"sessions", "-json", "-user", "bob"}, req: "GET /sessions?user=bob", calls: []string{`ListSessions 2026-01-02T15:04:05Z "bob"`}},
		{name: "sessions-none", args: []string{"sessions", "-user", "carol"}, req: "GET /sessions?user=carol", calls: []string{`ListSessions 2026-01-02T15:04:05Z "carol"`}},
		{name: "end-session", args: []string{"end-session", "-id", "a1b2c3d4e5f60718293a4b5c6d7e8f90"}, req: "DELETE /sessions?id=a1b2c3d4e5f60718293a4b5c6d7e8f90",
			calls: []string{`EndSessions "a1b2c3d4e5f60718293a4b5c6d7e8f90" "" 2026-01-02T15:04:05Z`}},
		{name: "end-session-user", args: []string{"end-session", "-user", "alice"}, req: "DELETE /sessions?user=alice",
			calls: []string{`EndSessions "" "alice" 2026-01-02T15:04:05Z`}},
		{name: "end-session-missing", args: []string{"end-session", "-id", "ffff"}, code: 1, req: "DELETE /sessions?id=ffff",
			calls: []string{`EndSessions "ffff" "" 2026-01-02T15:04:05Z`}, stderr: `admin end-session: no active session "ffff" (HTTP 404)`},
		{name: "end-session-bad-id", args: []string{"end-session", "-id", "a/b"}, code: 1, req: "DELETE /sessions?id=a%2Fb",
			stderr: `parameter "id": not a session id`},
		{name: "end-session-neither", args: []string{"end-session"}, code: 2, stderr: "give one of -id or -user"},
		{name: "end-session-both", args: []string{"end-session", "-id", "ab", "-user", "alice"}, code: 2, stderr: "give one of -id or -user"},
		{name: "help", args: []string{"help"}},
		{name: "no-command", args: nil, code: 2, stderr: "usage: proxy admin <command>"},
		{name: "unknown-command", args: []string{"ban"}, code: 2, stderr: `unknown command "ban"`},
		{name: "stray-argument", args: []string{"blocks", "all"}, code: 2, stderr: `unexpected argument "all"`},
		{name: "unknown-flag", args: []string{"blocks", "-all"}, code: 2, stderr: "flag provided but not defined: -all"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newFakeStore()
			store.usage["daily|k1"] = Usage{Bytes: 3 << 30, Requests: 3, WindowEnd: testNow.Add(2 * time.Hour)}
			store.blocks = []Block{
				{Kind: "ban", Scope: "proxy", Subnet: "9f86d081884c7d65", Until: testNow.Add(time.Hour)},
				{Kind: "bandwidth", Scope: "proxy", Subnet: "60303ae22b998861", PathHash: "fd61a03af4f77d87", Until: testNow.Add(30 * time.Minute)},
			}
			store.revs = []Revocation{{Path: "/old/", Prefix: true, Until: time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)}}
			store.sess = testSessions()
			rec := &recorder{next: Handler(testOptions(t, store, &explainCall{}, nil))}
			srv := httptest.NewServer(rec)
			defer srv.Close()
			var stdout, stderr bytes.Buffer
			code := RunCLI(tt.args, map[string]string{"ADMIN_ADDR": srv.URL, "ADMIN_TOKEN": "s3cret-token"}, &stdout, &stderr)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tt.code, stderr.String())
			}
			if rec.last != tt.req {
				t.Errorf("request\n  %s\nwant\n  %s", rec.last, tt.req)
			}
			if got := store.Calls(); strings.Join(got, "|") != strings.Join(tt.calls, "|") {
				t.Errorf("store calls %q, want %q", got, tt.calls)
			}
			if !strings.Contains(stderr.String(), tt.stderr) || tt.stderr == "" && stderr.Len() > 0 {
				t.Errorf("stderr %q, want %q", stderr.String(), tt.stderr)
			}
			if tt.code == 0 {
				golden(t, filepath.Join("testdata", "cli", tt.name+".golden"), stdout.Bytes())
			} else if stdout.Len() > 0 {
				t.Errorf("output on failure: %s", stdout.String())
			}
		})
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestCLI -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s:\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// TestCLIUnixSocket: ADMIN_ADDR=unix:PATH reaches a tokenless API on a unix socket (the
// client's Host, localhost, passes the loopback Host check), and a server that refuses
// (no token configured on a non-loopback listener) exits 1 with the server's message.
func TestCLIUnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "admin.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Skipf("no unix sockets here: %v", err)
	}
	o := testOptions(t, newFakeStore(), &explainCall{}, nil)
	o.Token, o.Loopback = "", true
	srv := &http.Server{Handler: Handler(o)}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	var stdout, stderr bytes.Buffer
	if code := RunCLI([]string{"revocations"}, map[string]string{"ADMIN_ADDR": "unix:" + sock}, &stdout, &stderr); code != 0 || stdout.String() != "no revocations\n" {
		t.Fatalf("exit %d, out %q, err %q", code, stdout.String(), stderr.String())
	}

	o.Loopback = false
	closed := httptest.NewServer(Handler(o))
	defer closed.Close()
	stdout.Reset()
	stderr.Reset()
	code := RunCLI([]string{"blocks"}, map[string]string{"ADMIN_ADDR": strings.TrimPrefix(closed.URL, "http://")}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "set ADMIN_TOKEN") || !strings.Contains(stderr.String(), "HTTP 403") {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
}

// TestCLIUnreachable: nothing listening is exit 1; a malformed ADMIN_ADDR is a usage error.
func TestCLIUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var stdout, stderr bytes.Buffer
	if code := RunCLI([]string{"blocks"}, map[string]string{"ADMIN_ADDR": addr}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "connection refused") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
	stderr.Reset()
	if code := RunCLI([]string{"blocks"}, map[string]string{"ADMIN_ADDR": "localhost"}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "want host:port") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
}

func TestNewClientAddr(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:9090": "http://127.0.0.1:9090", ":9090": "http://127.0.0.1:9090", "0.0.0.0:9090": "http://127.0.0.1:9090",
		"[::]:9090": "http://[::1]:9090", "[::1]:9090": "http://[::1]:9090", "unix:/run/a.sock": "http://localhost",
		"https://admin.example:8443/": "https://admin.example:8443", "admin.internal:9090": "http://admin.internal:9090",
	} {
		c, err := NewClient(addr, "")
		if err != nil || c.base != want {
			t.Errorf("NewClient(%q): %v %v, want %s", addr, c, err, want)
		}
	}
	for _, addr := range []string{"unix:", "9090", "http://"} {
		if _, err := NewClient(addr, ""); err == nil {
			t.Errorf("NewClient(%q) accepted", addr)
		}
	}
}

// TestCLITextIsPrintable: text from the API cannot break a line or reach the terminal as an
// escape sequence.
func TestCLITextIsPrintable(t *testing.T) {
	var b bytes.Buffer
	body := `{"revocations":[{"path":"/a\u001b[31mred\nb","prefix":false,"until":"2026-01-05T00:00:00Z"}]}`
	if err := printRevocations(&b, []byte(body)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"/a\x1b[31mred\nb"  false`) {
		t.Fatalf("revocations %q", b.String())
	}
	b.Reset()
	if err := printTree(&b, []byte(`{"k\n":"v\u001b]0;x\u0007","e":""}`)); err != nil {
		t.Fatal(err)
	}
	if got, want := b.String(), "\"k\\n\": \"v\\x1b]0;x\\a\"\ne: \"\"\n"; got != want {
		t.Fatalf("tree %q, want %q", got, want)
	}
}
