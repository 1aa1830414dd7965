package landing

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alist-edge/alist-edge/internal/alisttest"
	"github.com/alist-edge/alist-edge/internal/webpage"
	"github.com/alist-edge/alist-edge/pkg/policy"
	"github.com/alist-edge/alist-edge/pkg/quota"
	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// TestBrowserLogin drives headless Chromium through a link that needs signing in: the form
// (no script, posted under the page's CSP), a wrong password and its message, the right one
// and the download page with the signed-in line and the usage line, then logout and the form
// again. Any script error or CSP violation fails it. UPDATE_SCREENSHOTS=1 writes
// docs/img/login.png and docs/img/usage.png.
func TestBrowserLogin(t *testing.T) {
	chromium := findChromium(t)
	now := time.Now().Truncate(time.Second)
	fake := alisttest.New(testToken)
	t.Cleanup(fake.Close)
	fake.Put(privateFile, &alisttest.File{Data: []byte(strings.Repeat("members only\n", 100))})
	const secret = "browser-login-secret"
	dl := realProxy(t, fake.URL, secret, func() time.Time { return now })
	e := newEnv(t, identityVars(t, map[string]string{"SIGN_SECRET": secret, "WORKER_ADDRESS_DOWNLOAD": dl.URL,
		"CLIENT_IP_HEADER": "", "TRUSTED_PROXIES": ""}), envOpt{alist: fake, now: now.Unix()})
	adm, _ := quota.AdminOf(e.store)
	must(t, adm.SetUsage(context.Background(), "daily", policy.CounterKey(policy.ScopeUser, "", "", "alice"),
		quota.CounterUsage{Bytes: 32 << 30 / 10, WindowEnd: now.Add(5*time.Hour + 10*time.Minute)}))

	bctx, bcancel := headless(t, chromium, 60*time.Second, 720, 780)
	defer bcancel()
	var mu sync.Mutex
	var problems []string
	must(t, chromedp.Listen(bctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+ev.ExceptionDetails.Text)
		case *cdplog.EventEntryAdded:
			// The form itself answers 401 (and a wrong password too): Chromium logs each.
			expected := ev.Entry.Source == cdplog.EntrySourceNetwork && strings.Contains(ev.Entry.Text, "status of 401")
			if ev.Entry.Level == cdplog.EntryLevelError && !expected {
				problems = append(problems, "log: "+ev.Entry.Text+" "+ev.Entry.URL)
			}
		}
	}))
	if _, err := chromedp.Call(bctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	dir := artifactsDir(t)
	shot := func(name string) {
		png, err := chromedp.Run(bctx, chromedp.CaptureScreenshot())
		must(t, err)
		must(t, os.WriteFile(filepath.Join(dir, name), png, 0o644))
		if os.Getenv("UPDATE_SCREENSHOTS") == "1" {
			must(t, os.MkdirAll("../../docs/img", 0o755))
			must(t, os.WriteFile(filepath.Join("../../docs/img", name), png, 0o644))
		}
	}
	waitFor := func(what, expr string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			ok, err := chromedp.Run(bctx, chromedp.Evaluate[bool](expr))
			if err == nil && ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %v; page: %s", what, err, evalString(t, bctx, `document.body.innerText`))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	signIn := func(password string) {
		t.Helper()
		if _, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`document.getElementById('login-name').value = ''; document.getElementById('login-password').value = ''; true`)); err != nil {
			t.Fatal(err)
		}
		must(t, chromedp.Do(bctx, chromedp.SendKeys(chromedp.ID("login-name"), "alice"),
			chromedp.SendKeys(chromedp.ID("login-password"), password), chromedp.Click(chromedp.ID("login-submit"))))
	}

	link := SignedURL(e.srv.URL, e.keyring(), privateFile, 0)
	must(t, chromedp.Do(bctx, chromedp.Navigate(link)))
	waitFor("the sign-in form", `!!document.getElementById('login') && document.body.dataset.state === 'login'`)
	shot("login.png")

	signIn("not her password")
	waitFor("the wrong-password message", `(document.getElementById('login-error')||{}).textContent === `+jsString(webpage.Texts["en"]["login_wrong"]))
	if v := evalString(t, bctx, `document.getElementById('login-name').value`); v != "alice" {
		t.Fatalf("the name was not kept: %q", v)
	}

	signIn(alicePassword)
	waitFor("the download page", `document.body.dataset.state === 'ready' && !!document.getElementById('usage')`)
	href := evalString(t, bctx, `document.getElementById('dl').href`)
	if !strings.HasPrefix(href, dl.URL+EncodePath(privateFile)+"?sign=") {
		t.Fatalf("download link %q", href)
	}
	if got := evalString(t, bctx, `document.getElementById('usage').innerText`); got != "daily: 3.20 GB of 10.0 GB used today, resets in 5 h" {
		t.Fatalf("usage line %q", got)
	}
	if got := evalString(t, bctx, `document.getElementById('who-text').textContent`); got != "Signed in as alice (members)" {
		t.Fatalf("who %q", got)
	}
	if js := evalString(t, bctx, `String(document.cookie)`); js != "" {
		t.Fatalf("page scripts can read a cookie: %q", js)
	}
	if info := e.proxyVerified(href, privateFile, "127.0.0.1"); info.User != "alice" || strings.Join(info.Groups, ",") != "members" {
		t.Fatalf("the link carries %+v", info)
	}
	shot("usage.png")

	must(t, chromedp.Do(bctx, chromedp.Click(chromedp.ID("logout"))))
	waitFor("the form after logout", `!!document.getElementById('login') && !document.getElementById('usage')`)
	// The same link again: still the form (the cookie is gone and its session ended).
	must(t, chromedp.Do(bctx, chromedp.Navigate(link)))
	waitFor("the form on a fresh visit", `!!document.getElementById('login')`)

	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Errorf("browser console: %s", p)
	}
	t.Logf("screenshots in %s", dir)
}

func jsString(s string) string { return "'" + strings.ReplaceAll(s, "'", `\'`) + "'" }
