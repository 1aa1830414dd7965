package e2e

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alist-edge/alist-edge/internal/alisttest"
	"github.com/alist-edge/alist-edge/internal/config"
	"github.com/alist-edge/alist-edge/internal/identity"
	"github.com/alist-edge/alist-edge/internal/landing"
	"github.com/alist-edge/alist-edge/internal/proxy"
	"github.com/alist-edge/alist-edge/pkg/quota"
)

// A member's whole journey over real listeners and one SQLite file, as one .env would run the
// two services: the landing asks for a sign-in, signs the member into the link, and the proxy
// counts the member's own daily quota (whatever the address) and says when it frees up.
const journeyPolicy = `default = "deny"
[matchers.members]
kind = "group"
groups = ["members"]
[[rules]]
id = "members"
when = "members"
action = "allow"
quota = "daily"
[quotas.daily]
scope = "user"
per_group = { members = "2MB" }
period = "day"
`

func TestSignInAndDownloadUnderUserQuota(t *testing.T) {
	const mib = 1 << 20
	dir := t.TempDir()
	alist := alisttest.New(token)
	t.Cleanup(alist.Close)
	alist.Put("/members/big.bin", &alisttest.File{Data: []byte(strings.Repeat("m", mib)), ModTime: time.Unix(1700000000, 0)})
	users, pol := filepath.Join(dir, "users.toml"), filepath.Join(dir, "policy.toml")
	if err := identity.AddUser(users, "alice", "correct horse battery", []string{"members"}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pol, []byte(journeyPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	proxySrv := httptest.NewUnstartedServer(nil)
	env := map[string]string{
		"ADDRESS": alist.URL, "TOKEN": token, "POLICY_FILE": pol, "USERS_FILE": users,
		"SQLITE_PATH": filepath.Join(dir, "edge.db"), "IPV4_ONLY": "false",
		"WORKER_ADDRESS":          "http://" + proxySrv.Listener.Addr().String(),
		"WORKER_ADDRESS_DOWNLOAD": "http://" + proxySrv.Listener.Addr().String(),
		"PAGE_SECRET":             "page-secret-for-the-journey-0123456789",
	}

	lcfg, err := config.LoadLanding(env)
	if err != nil {
		t.Fatal(err)
	}
	lst := openStore(t, lcfg.QuotaDB(), lcfg.QuotaConfig())
	land, err := landing.New(landing.Options{Config: lcfg, Store: lst, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = land.Close() })
	landSrv := httptest.NewServer(land)
	t.Cleanup(landSrv.Close)

	pcfg, err := config.LoadProxy(env)
	if err != nil {
		t.Fatal(err)
	}
	pst := openStore(t, pcfg.QuotaDB(), pcfg.QuotaConfig())
	px, err := proxy.New(proxy.Options{Config: pcfg, Store: pst, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = px.Close() })
	proxySrv.Config.Handler = px
	proxySrv.Start()
	t.Cleanup(proxySrv.Close)

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	link := landSrv.URL + landing.SignedURL("", lcfg.Parsed.Keyring, "/members/big.bin", 0)
	do := func(method, u string, body io.Reader, hdr ...string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, u, body)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := browser.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	const html = "text/html,application/xhtml+xml"

	// Anonymous: the sign-in form instead of a download.
	if resp, body := do("GET", link, nil, "Accept", html); resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusOK || !strings.Contains(body, `action="/login"`) {
		t.Fatalf("anonymous: %d, no sign-in form: %.300q", resp.StatusCode, body)
	}
	// Sign in; the cookie takes the member back to the link.
	form := url.Values{"name": {"alice"}, "password": {"correct horse battery"}, "back": {strings.TrimPrefix(link, landSrv.URL)}}
	if resp, body := do("POST", landSrv.URL+"/login", strings.NewReader(form.Encode()), "Content-Type", "application/x-www-form-urlencoded",
		"Origin", landSrv.URL, "Accept", html); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: %d %.300q", resp.StatusCode, body)
	}
	// A download manager with the member's cookie gets the 302 to the proxy, identity signed in.
	download := func() (int, string, string) {
		t.Helper()
		resp, body := do("GET", link, nil)
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("link with a session: %d %.300q", resp.StatusCode, body)
		}
		resp, body = do("GET", resp.Header.Get("Location"), nil)
		return resp.StatusCode, body, resp.Header.Get("Retry-After")
	}
	for i := range 2 {
		if status, body, _ := download(); status != http.StatusOK || len(body) != mib {
			t.Fatalf("download %d: %d, %d bytes", i, status, len(body))
		}
	}
	status, body, retry := download()
	if status != http.StatusTooManyRequests || !strings.Contains(body, `quota \"daily\" used up (2MB per day (UTC), by user); frees up at`) || retry == "" {
		t.Fatalf("third download: %d %q (Retry-After %q)", status, body, retry)
	}
	// What the member is told on the landing matches what the proxy counted.
	if resp, body := do("GET", landSrv.URL+"/me", nil); resp.StatusCode != http.StatusOK || !strings.Contains(body, `"used_bytes":2097152`) {
		t.Fatalf("/me: %d %s", resp.StatusCode, body)
	}
}

func openStore(t *testing.T, db quota.DB, qc quota.Config) quota.Store {
	t.Helper()
	st, err := quota.Open(context.Background(), db, qc, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	return st
}
