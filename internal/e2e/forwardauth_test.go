// Package e2e runs the services with real outside parts in front of them: here, a real nginx
// doing forward auth (auth_request, as with Authelia or oauth2-proxy) before the landing.
package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alist-edge/alist-edge/internal/alisttest"
	"github.com/alist-edge/alist-edge/internal/config"
	"github.com/alist-edge/alist-edge/internal/landing"
	"github.com/alist-edge/alist-edge/internal/testutil"
	"github.com/alist-edge/alist-edge/pkg/quota"
	"github.com/alist-edge/alist-edge/pkg/sign"
)

const (
	token  = "alist-token-0123456789abcdef"
	policy = `default = "deny"
[matchers.staff]
kind = "group"
groups = ["staff"]
[[rules]]
id = "staff"
when = "staff"
action = "pass-server"
`
)

// authServer is the auth proxy's verify endpoint: a known session cookie is alice (staff),
// anything else 401, as Authelia's /api/verify answers nginx's auth_request.
func authServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie("authelia_session"); err == nil && c.Value == "good" {
			w.Header().Set("Remote-User", "alice")
			w.Header().Set("Remote-Groups", "staff,members")
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestForwardAuthThroughNginx(t *testing.T) {
	dir := t.TempDir()
	alist := alisttest.New(token)
	t.Cleanup(alist.Close)
	alist.Put("/staff/plan.pdf", &alisttest.File{Data: []byte("plan"), ModTime: time.Unix(1700000000, 0)})
	pol := filepath.Join(dir, "policy.toml")
	if err := os.WriteFile(pol, []byte(policy), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadLanding(map[string]string{
		"ADDRESS": alist.URL, "TOKEN": token, "WORKER_ADDRESS_DOWNLOAD": "https://dl.example.com",
		"AUTH_HEADER": "authelia", "TRUSTED_PROXIES": "127.0.0.1/32", "POLICY_FILE": pol,
		"SQLITE_PATH": filepath.Join(dir, "edge.db"),
	})
	if err != nil {
		t.Fatal(err)
	}
	st, err := quota.Open(context.Background(), cfg.QuotaDB(), cfg.QuotaConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	svc, err := landing.New(landing.Options{Config: cfg, Store: st, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	// The landing on 127.0.0.1: nginx reaches it from 127.0.0.1 (trusted); the "outsider" below
	// connects from 127.0.0.2, which is not in TRUSTED_PROXIES.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	land := &httptest.Server{Listener: ln, Config: &http.Server{Handler: svc}}
	land.Start()
	t.Cleanup(land.Close)
	auth := authServer(t)

	port := testutil.FreePort(t)
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	testutil.Nginx(t, fmt.Sprintf(`
    server {
        listen %s;
        location / {
            auth_request /_auth;
            auth_request_set $user $upstream_http_remote_user;
            auth_request_set $groups $upstream_http_remote_groups;
            proxy_set_header Remote-User $user;
            proxy_set_header Remote-Groups $groups;
            proxy_pass http://%s;
        }
        location = /_auth {
            internal;
            proxy_pass http://%s/verify;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
        }
    }`, listen, strings.TrimPrefix(land.URL, "http://"), strings.TrimPrefix(auth.URL, "http://")), listen)

	link := landing.SignedURL("", cfg.Parsed.Keyring, "/staff/plan.pdf", 0)
	noRedirect := func(local string) *http.Client {
		d := &net.Dialer{}
		if local != "" {
			d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
		}
		return &http.Client{Transport: &http.Transport{DialContext: d.DialContext},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	get := func(c *http.Client, base string, hdr ...string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+link, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	// Through nginx, signed in at the auth proxy: the landing believes nginx's headers (the
	// client's own Remote-User is replaced by nginx) and signs alice (staff) into the link.
	resp, body := get(noRedirect(""), "http://"+listen, "Cookie", "authelia_session=good", "Remote-User", "mallory")
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("signed in through nginx: %d %q", resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	info, err := sign.DecodeAdditionalInfo(loc.Query().Get("additionalInfo"))
	if err != nil {
		t.Fatalf("link %s: %v", loc, err)
	}
	if info.User != "alice" || !slices.Equal(info.Groups, []string{"staff", "members"}) {
		t.Fatalf("identity in the link: %q %q", info.User, info.Groups)
	}

	// Not signed in: nginx stops the request itself.
	if resp, _ := get(noRedirect(""), "http://"+listen); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("not signed in, through nginx: %d", resp.StatusCode)
	}

	// Straight to the landing from an untrusted address with the same headers: ignored, so the
	// visitor is anonymous and the policy's default denies.
	resp, body = get(noRedirect("127.0.0.2"), land.URL, "Remote-User", "alice", "Remote-Groups", "staff")
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "access denied") {
		t.Fatalf("forged headers from an untrusted peer: %d %q", resp.StatusCode, body)
	}
}
