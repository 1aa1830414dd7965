package config_test

import (
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/alist-edge/alist-edge/internal/config"
	"github.com/alist-edge/alist-edge/pkg/sign"
)

// secretVars are the variables that hold a secret: .env.example must ship each commented out,
// with a value the services refuse as a placeholder. POSTGRES_PASSWORD is compose's (it goes
// into DATABASE_URL, whose password the services check).
var secretVars = map[string]bool{"TOKEN": true, "SIGN_SECRET": true, "VERIFY_SECRET": true, "DATABASE_URL": true,
	"PAGE_SECRET": true, "TURNSTILE_SITE_KEY": true, "TURNSTILE_SECRET_KEY": true, "POSTGRES_PASSWORD": true,
	"UPLOAD_SECRET": true, "ADMIN_TOKEN": true}

// TestEnvExampleSecrets: every secret in .env.example is commented out with a placeholder value
// that IsPlaceholder refuses, and no variable whose name says secret is missing from secretVars.
func TestEnvExampleSecrets(t *testing.T) {
	var problems []string
	example := readEnvExample(t, &problems)
	for name, ex := range example {
		secretName := (strings.Contains(name, "SECRET") || strings.Contains(name, "TOKEN") || strings.Contains(name, "PASSWORD") ||
			strings.HasSuffix(name, "_KEY") || name == "DATABASE_URL") && name != "ALTCHA_TOKEN_EXPIRE"
		if secretName && !secretVars[name] {
			problems = append(problems, sprintf("%s looks like a secret: add it to secretVars (and check it in internal/config)", name))
		}
		if !secretVars[name] {
			continue
		}
		if !ex.commented {
			problems = append(problems, sprintf(".env.example line %d: the secret %s must be commented out", ex.line, name))
		}
		value := ex.value
		if name == "DATABASE_URL" {
			u, err := url.Parse(value)
			if err != nil || u.User == nil {
				problems = append(problems, sprintf(".env.example line %d: DATABASE_URL should show user:password@", ex.line))
				continue
			}
			value, _ = u.User.Password()
		}
		if !config.IsPlaceholder(value) {
			problems = append(problems, sprintf(".env.example line %d: %s=%s is not an obvious placeholder (config.IsPlaceholder)", ex.line, name, ex.value))
		}
	}
	for name := range secretVars {
		if _, ok := example[name]; !ok {
			problems = append(problems, sprintf("secret %s is missing from .env.example", name))
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		t.Fatal(strings.Join(problems, "\n"))
	}
}

// exampleEnv is .env.example as a user starts from it: the uncommented lines, then the
// commented lines of uncomment (as written there), then set (the user's own values).
func exampleEnv(t *testing.T, uncomment []string, set map[string]string) map[string]string {
	t.Helper()
	var problems []string
	example := readEnvExample(t, &problems)
	if len(problems) > 0 {
		t.Fatal(strings.Join(problems, "\n"))
	}
	env := map[string]string{}
	for name, ex := range example {
		if !ex.commented {
			env[name] = ex.value
		}
	}
	for _, name := range uncomment {
		ex, ok := example[name]
		if !ok || !ex.commented {
			t.Fatalf("%s is not a commented line of .env.example", name)
		}
		env[name] = ex.value
	}
	for k, v := range set {
		env[k] = v
	}
	return env
}

// TestEnvExampleLoads: what a user who copies .env.example sees. As it is, both services name
// the one thing left to set (a signing key). A user who follows the README (ADDRESS, TOKEN,
// WORKER_ADDRESS…) gets a working configuration whose key is TOKEN, AList's own; one who also
// uncomments the shipped SIGN_SECRET (issue #13: every AList link then said "sign mismatch"
// while -check-config said "configuration ok") is refused, by both services, naming SIGN_SECRET;
// and every shipped secret placeholder is refused by each service that reads it.
func TestEnvExampleLoads(t *testing.T) {
	load := func(env map[string]string) (proxyErr, landingErr error) {
		_, proxyErr = config.LoadProxy(env)
		_, landingErr = config.LoadLanding(env)
		return
	}
	// As is: one problem, the signing key.
	pe, le := load(exampleEnv(t, nil, nil))
	for svc, err := range map[string]error{"proxy": pe, "landing": le} {
		if err == nil || !strings.Contains(err.Error(), "(1 problem(s))") || !strings.Contains(err.Error(), "SIGN_SECRET/TOKEN: at least one must be set") {
			t.Errorf(".env.example as is, %s: %v", svc, err)
		}
	}
	readme := map[string]string{"ADDRESS": "https://alist.example.com", "TOKEN": "alist-3f6b2a1c-real-token-9d8e7f",
		"WORKER_ADDRESS": "https://dl.example.com", "WORKER_ADDRESS_DOWNLOAD": "https://dl.example.com"}
	if pe, le := load(exampleEnv(t, nil, readme)); pe != nil || le != nil {
		t.Errorf("README's steps: proxy %v, landing %v", pe, le)
	}
	c, err := config.LoadLanding(exampleEnv(t, nil, readme))
	if err == nil && c.Parsed.Keyring.Sign("/f", 0) != sign.NewKeyringFromSecrets(readme["TOKEN"]).Sign("/f", 0) {
		t.Error("README's steps: the landing does not sign with TOKEN")
	}
	local := map[string]string{"SIGN_SECRET": "9c1e5b0f7a3d4e2c8b6a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c"}
	if pe, le := load(exampleEnv(t, nil, local)); pe != nil || le != nil {
		t.Errorf("quick start with a key: proxy %v, landing %v", pe, le)
	}
	// The user: README's steps with the shipped SIGN_SECRET uncommented.
	pe, le = load(exampleEnv(t, []string{"SIGN_SECRET"}, readme))
	for svc, err := range map[string]error{"proxy": pe, "landing": le} {
		if err == nil || !strings.Contains(err.Error(), "(1 problem(s))") || !strings.Contains(err.Error(), "SIGN_SECRET holds a placeholder") {
			t.Errorf("shipped SIGN_SECRET, %s: %v", svc, err)
		} else {
			t.Logf("%s -check-config prints:\n%v", svc, err)
		}
	}
	// Every shipped secret uncommented: each named, in one message, by each service reading it.
	all := []string{"TOKEN", "SIGN_SECRET", "VERIFY_HEADER", "VERIFY_SECRET", "DATABASE_URL", "PAGE_SECRET", "TURNSTILE_SITE_KEY", "TURNSTILE_SECRET_KEY"}
	env := exampleEnv(t, all, map[string]string{"VERIFY_HEADER": "X-Verify"})
	pe, le = load(env)
	for svc, c := range map[string]struct {
		err  error
		want []string
	}{
		"proxy":   {pe, []string{"TOKEN", "SIGN_SECRET", "VERIFY_SECRET", "DATABASE_URL: its password"}},
		"landing": {le, []string{"TOKEN", "SIGN_SECRET", "VERIFY_SECRET", "DATABASE_URL: its password", "PAGE_SECRET", "TURNSTILE_SITE_KEY", "TURNSTILE_SECRET_KEY"}},
	} {
		if c.err == nil {
			t.Errorf("%s accepted every placeholder", svc)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(c.err.Error(), "\n  "+w) {
				t.Errorf("%s: no problem starting with %q:\n%v", svc, w, c.err)
			}
		}
		msg := strings.ReplaceAll(c.err.Error(), "(change-me…, your-…, <…>, xxx…)", "")
		for _, v := range env {
			if config.IsPlaceholder(v) && strings.Contains(msg, v) {
				t.Errorf("%s: the message echoes the value %q", svc, v)
			}
		}
	}
}
