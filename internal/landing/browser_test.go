package landing

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alist-edge/alist-edge/internal/alisttest"
	"github.com/alist-edge/alist-edge/internal/config"
	"github.com/alist-edge/alist-edge/internal/proxy"
	"github.com/alist-edge/alist-edge/pkg/quota"
	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// findChromium returns Debian's chromium (or another Chrome) or skips; with
// ALIST_EDGE_REQUIRE_BROWSER set (CI) a missing browser fails the test instead.
func findChromium(t *testing.T) string {
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("ALIST_EDGE_REQUIRE_BROWSER") != "" {
		t.Fatal("chromium not found and ALIST_EDGE_REQUIRE_BROWSER is set (apt-get install chromium)")
	}
	t.Skip("chromium not found; install it (apt-get install chromium) to run the browser test")
	return ""
}

// realProxy starts internal/proxy (the download proxy of this repository) on its own
// listener and database, in front of the same fake AList, with WORKER_ADDRESS set to its own
// address; it checks the whole signature chain the landing produced (worker, client IP,
// additionalInfo) and streams the file from AList, behind net/http's server as in production, so a real browser's
// requests go through it.
func realProxy(t *testing.T, alistURL, secret string, now func() time.Time) *browserProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	srv := &browserProxy{URL: "http://" + ln.Addr().String()}
	cfg, err := config.LoadProxy(map[string]string{
		"ADDRESS": alistURL, "TOKEN": testToken, "SIGN_SECRET": secret,
		"WORKER_ADDRESS": srv.URL,
		"SQLITE_PATH":    filepath.Join(t.TempDir(), "proxy.db"),
	})
	must(t, err)
	qc := cfg.QuotaConfig()
	qc.Clock = now
	st, err := quota.Open(context.Background(), cfg.QuotaDB(), qc, nil)
	must(t, err)
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	h, err := proxy.New(proxy.Options{Config: cfg, Store: st, Now: now})
	must(t, err)
	b := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); _ = b.Serve(ln) }()
	t.Cleanup(func() { _ = b.Close(); <-done })
	return srv
}

type browserProxy struct{ URL string }

func artifactsDir(t *testing.T) string {
	if d := os.Getenv("ALIST_EDGE_ARTIFACTS"); d != "" {
		must(t, os.MkdirAll(d, 0o755))
		return d
	}
	return t.TempDir()
}

// TestBrowser opens the landing page in headless Chromium with the proof-of-work on, lets the
// Web Worker solve it, clicks the download button and checks the bytes the browser saved from
// the real download proxy (internal/proxy). The
// English run uses a plain-HTTP host name (not a secure context: crypto.subtle is missing and
// the pure-JS SHA-256 does the work); the Chinese run uses 127.0.0.1 (secure: crypto.subtle).
func TestBrowser(t *testing.T) {
	chromium := findChromium(t)
	const filePath = "/reports/Quarterly report 2025.txt"
	content := []byte(strings.Repeat("alist-edge browser test: the bytes arrived intact.\n", 40))
	now := time.Now().Truncate(time.Second)

	const secret = "browser-test-secret"
	fake := alisttest.New(testToken)
	t.Cleanup(fake.Close)
	fake.Put(filePath, &alisttest.File{Data: content})
	dl := realProxy(t, fake.URL, secret, func() time.Time { return now })
	e := newEnv(t, map[string]string{
		"ALTCHA_ENABLED": "true", "ALTCHA_DIFFICULTY": "20000", "SIGN_SECRET": secret,
		"WORKER_ADDRESS_DOWNLOAD": dl.URL,
		// The browser connects directly: its socket address is the client IP.
		"CLIENT_IP_HEADER": "", "TRUSTED_PROXIES": "",
	}, envOpt{alist: fake, now: now.Unix()})
	kr := e.keyring()
	port := e.srv.Listener.Addr().(interface{ AddrPort() netip.AddrPort }).AddrPort().Port()

	bctx, bcancel := headless(t, chromium, 45*time.Second, 960, 720,
		chromedp.Flag("disable-quic", true), chromedp.Flag("host-resolver-rules", "MAP landing.test 127.0.0.1"))
	defer bcancel()

	var consoleMu sync.Mutex
	var problems []string
	// Any script exception or logged error (a CSP violation is one) fails the test.
	err := chromedp.Listen(bctx, func(ev any) {
		consoleMu.Lock()
		defer consoleMu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+ev.ExceptionDetails.Text)
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.EntryLevelError {
				problems = append(problems, "log: "+ev.Entry.Text+" "+ev.Entry.URL)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(bctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	dir := artifactsDir(t)

	run := func(t *testing.T, origin, lang, wantImpl, shot string) string {
		link := SignedURL(origin, kr, filePath, 0)
		if err := chromedp.Do(bctx, chromedp.Navigate(link)); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for state := ""; state != "ready"; {
			state = evalString(t, bctx, `document.body.dataset.state`)
			if state == "error" {
				t.Fatalf("page shows an error: %s", evalString(t, bctx, `document.getElementById('error').textContent + ' / ' + document.getElementById('detail').textContent`))
			}
			if time.Now().After(deadline) {
				t.Fatalf("proof-of-work did not finish (state %q)", state)
			}
			time.Sleep(50 * time.Millisecond)
		}
		impl := evalString(t, bctx, `document.body.dataset.hash || ''`)
		secure, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`window.isSecureContext`))
		if err != nil {
			t.Fatal(err)
		}
		href := evalString(t, bctx, `document.getElementById('dl').href`)
		png, err := chromedp.Run(bctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		if impl != wantImpl || secure != (wantImpl == "subtle") {
			t.Fatalf("hash implementation %q (secure context %v), want %q", impl, secure, wantImpl)
		}
		must(t, os.WriteFile(filepath.Join(dir, shot), png, 0o644))
		if htmlLang := evalString(t, bctx, `document.documentElement.lang`); !strings.HasPrefix(htmlLang, lang) {
			t.Fatalf("page language %q, want %s", htmlLang, lang)
		}
		if !strings.HasPrefix(href, dl.URL+EncodePath(filePath)+"?sign=") {
			t.Fatalf("download link %q", href)
		}
		return href
	}

	t.Run("plain-http-js-sha256", func(t *testing.T) {
		href := run(t, fmt.Sprintf("http://landing.test:%d", port), "en", "js", "landing-page.png")
		// The fallback agrees with crypto/sha256 (multi-block and non-ASCII input too).
		for _, s := range []string{"", "abc", strings.Repeat("x", 55), strings.Repeat("y", 64), strings.Repeat("文件", 100)} {
			got := evalString(t, bctx, fmt.Sprintf(`window.__alistEdge.sha256Hex(%q)`, s))
			sum := sha256.Sum256([]byte(s))
			if got != hex.EncodeToString(sum[:]) {
				t.Fatalf("JS sha256(%q) = %s", s, got)
			}
		}
		// Click the button: the browser downloads the file from the proxy.
		downloads := t.TempDir()
		if _, err := chromedp.CallBrowser(bctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads}); err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(bctx, chromedp.Click(chromedp.ID("dl"))); err != nil {
			t.Fatal(err)
		}
		saved := filepath.Join(downloads, filepath.Base(filePath))
		deadline := time.Now().Add(15 * time.Second)
		for {
			got, err := os.ReadFile(saved)
			if err == nil && string(got) == string(content) {
				break
			}
			if time.Now().After(deadline) {
				entries, _ := os.ReadDir(downloads)
				t.Fatalf("browser download: %d bytes, %v (folder: %v)", len(got), err, entries)
			}
			time.Sleep(50 * time.Millisecond)
		}
		// And byte for byte from Go, from the same client address.
		res, err := http.Get(href)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || string(got) != string(content) {
			t.Fatalf("download: %d, %d bytes", res.StatusCode, len(got))
		}
		if os.Getenv("UPDATE_SCREENSHOT") == "1" {
			png, err := os.ReadFile(filepath.Join(dir, "landing-page.png"))
			must(t, err)
			must(t, os.MkdirAll("../../docs", 0o755))
			must(t, os.WriteFile("../../docs/landing-screenshot.png", png, 0o644))
		}
	})

	t.Run("secure-context-subtle-zh", func(t *testing.T) {
		if _, err := chromedp.Call(bctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
			Headers: network.Headers{"Accept-Language": "zh-CN,zh;q=0.9"}}); err != nil {
			t.Fatal(err)
		}
		href := run(t, e.srv.URL, "zh", "subtle", "landing-page-zh.png")
		u, _ := url.Parse(href)
		if decodeAdditional(t, href).FileSize != int64(len(content)) || u.Query().Get("ipSign") == "" {
			t.Fatalf("link %s", href)
		}
	})

	consoleMu.Lock()
	defer consoleMu.Unlock()
	for _, p := range problems {
		t.Errorf("browser console: %s", p)
	}
	t.Logf("screenshots in %s", dir)
}

// evalString evaluates a JavaScript expression that yields a string.
func evalString(t *testing.T, ctx context.Context, expr string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// headless starts a headless Chromium for one test, bounded by timeout, in a w×h window, with
// everything that would reach the network on its own switched off; cancel ends it.
func headless(t *testing.T, chromium string, timeout time.Duration, w, h int, extra ...chromedp.ExecAllocatorOption) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	opts := append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-features", "HttpsUpgrades,HttpsFirstBalancedModeAutoEnable,MediaRouter"),
		chromedp.WindowSize(w, h),
	}, extra...)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	bctx, bcancel := chromedp.NewContext(actx)
	return bctx, func() { bcancel(); acancel(); cancel() }
}
