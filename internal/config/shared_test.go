package config_test

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/alist-edge/alist-edge/internal/config"
	"github.com/alist-edge/alist-edge/pkg/policy"
)

// The action names of docs/contract.md §6, written out here (not taken from internal/config) so the test
// checks the code against the contract.
var (
	specProxyNames   = []string{"block", "skip-sign", "skip-hash", "skip-worker", "skip-ip", "skip-addition", "asis"}
	specLandingNames = []string{"block", "verify-pow", "verify-turn", "verify-both", "pass-web", "pass-server", "pass-asis"}
)

// workerExample is one path-policy example of the Workers' READMEs (simple-alist-cf-proxy at
// 13b7579 "docs: except_path doc", alist-landing-worker at 64996a7 / 150a65b), plus one per
// contract name the READMEs never showed. The landing README's `verify` / `verify-except` were
// renamed verify-pow/-turn/-both by the Worker itself (which then refused `verify`), so they
// appear under the new names.
type workerExample struct {
	name string
	vars map[string]string
}

func ex(name string, kv ...string) workerExample {
	m := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return workerExample{name, m}
}

var proxyExamples = []workerExample{
	ex("block sensitive paths", "BLACKLIST_PREFIX", "/admin,/api/internal,/private", "BLACKLIST_ACTION", "block"),
	ex("skip IP check for public content", "WHITELIST_PREFIX", "/public,/shared", "WHITELIST_ACTION", "skip-ip"),
	ex("unsigned access", "WHITELIST_PREFIX", "/cdn,/static", "WHITELIST_ACTION", "skip-sign"),
	ex("combine blacklist and whitelist", "BLACKLIST_PREFIX", "/admin,/private", "BLACKLIST_ACTION", "block", "WHITELIST_PREFIX", "/public", "WHITELIST_ACTION", "skip-ip"),
	ex("only guest without verification", "EXCEPT_PREFIX", "/guest", "EXCEPT_ACTION", "skip-sign-except"),
	ex("block all but public", "EXCEPT_PREFIX", "/public,/shared", "EXCEPT_ACTION", "block-except"),
	ex("IP check only for sensitive paths", "EXCEPT_PREFIX", "/admin,/private", "EXCEPT_ACTION", "skip-ip-except"),
	ex("spec: skip-hash", "WHITELIST_PREFIX", "/public", "WHITELIST_ACTION", "skip-hash"),
	ex("spec: skip-worker,skip-addition", "WHITELIST_PREFIX", "/cdn", "WHITELIST_ACTION", "skip-worker,skip-addition"),
	ex("spec: asis", "BLACKLIST_PREFIX", "/docs", "BLACKLIST_ACTION", "asis"),
	ex("spec: asis-except", "EXCEPT_PREFIX", "/free", "EXCEPT_ACTION", "asis-except"),
}

var landingExamples = []workerExample{
	ex(".dev.vars example", "BLACKLIST_PREFIX", "/private,/admin", "BLACKLIST_ACTION", "block", "WHITELIST_PREFIX", "/public,/shared",
		"WHITELIST_ACTION", "pass-asis", "EXCEPT_PREFIX", "/guest,/public", "EXCEPT_ACTION", "block-except"),
	ex("blacklist example", "BLACKLIST_PREFIX", "/private,/admin,/internal", "BLACKLIST_ACTION", "block"),
	ex("whitelist example", "WHITELIST_PREFIX", "/public,/shared,/downloads", "WHITELIST_ACTION", "pass-asis"),
	ex("except example", "EXCEPT_PREFIX", "/guest,/public", "EXCEPT_ACTION", "block-except"),
	ex("block sensitive paths", "BLACKLIST_PREFIX", "/admin,/api/internal", "BLACKLIST_ACTION", "block"),
	ex("verification for valuable content (pow)", "BLACKLIST_PREFIX", "/premium,/exclusive", "BLACKLIST_ACTION", "verify-pow"),
	ex("verification for valuable content (turnstile)", "BLACKLIST_PREFIX", "/premium,/exclusive", "BLACKLIST_ACTION", "verify-turn"),
	ex("verification for valuable content (both)", "BLACKLIST_PREFIX", "/premium,/exclusive", "BLACKLIST_ACTION", "verify-both"),
	ex("fast-track public downloads", "WHITELIST_PREFIX", "/public", "WHITELIST_ACTION", "pass-server"),
	ex("force landing page for documentation", "WHITELIST_PREFIX", "/docs,/guides", "WHITELIST_ACTION", "pass-web"),
	ex("verification for all but free content", "EXCEPT_PREFIX", "/free,/trial", "EXCEPT_ACTION", "verify-pow-except"),
}

var probePaths = []string{"/admin/x", "/api/internal/y", "/private/z", "/internal/q", "/public/a", "/shared/b", "/cdn/c",
	"/static/d", "/guest/e", "/premium/f", "/exclusive/g", "/docs/h", "/guides/i", "/downloads/j", "/free/k", "/trial/l", "/other/m"}

func sharedBase() map[string]string {
	return map[string]string{"ADDRESS": "https://alist.example.com", "TOKEN": "alist-3f6b2a1c-real-token-9d8e7f",
		"WORKER_ADDRESS": "https://dl.example.com", "WORKER_ADDRESS_DOWNLOAD": "https://dl.example.com",
		"TURNSTILE_SITE_KEY": "0x4AAAAAAAB1cDeFgHiJkLmN", "TURNSTILE_SECRET_KEY": "0x4AAAAAAAB1cDeFgHiJkLmN-sEcReT0123456789"}
}

var lists = []string{"BLACKLIST", "WHITELIST", "EXCEPT"}

// ownOnly is what the file means to one service: each list keeps the names of that service's
// contract vocabulary, and a list left with none is removed; foreign lists the variables that lost
// names.
func ownOnly(env map[string]string, names []string) (own map[string]string, foreign []string) {
	own = maps.Clone(env)
	for _, l := range lists {
		action, ok := env[l+"_ACTION"]
		if !ok {
			continue
		}
		var keep []string
		lost := false
		for _, n := range strings.Split(action, ",") {
			base := strings.TrimSuffix(n, "-except")
			if slices.Contains(names, base) {
				keep = append(keep, n)
			} else {
				lost = true
			}
		}
		if lost {
			foreign = append(foreign, l+"_ACTION")
		}
		if len(keep) == 0 {
			delete(own, l+"_ACTION")
			delete(own, l+"_PREFIX")
		} else {
			own[l+"_ACTION"] = strings.Join(keep, ",")
		}
	}
	return own, foreign
}

// match is the action eng decides for a path alone (the lists look at nothing else).
func match(eng *policy.Engine, path string) policy.Action {
	return eng.Decide(&policy.Request{Path: path, Size: -1}).Action
}

type loaded struct {
	pol      *policy.Engine
	warnings []config.Warning
}

func loadBoth(t *testing.T, env map[string]string) (proxy, landing loaded) {
	t.Helper()
	p, err := config.LoadProxy(env)
	if err != nil {
		t.Fatalf("proxy refused %v: %v", env, err)
	}
	l, err := config.LoadLanding(env)
	if err != nil {
		t.Fatalf("landing refused %v: %v", env, err)
	}
	return loaded{p.Parsed.Policy, p.Parsed.Warnings}, loaded{l.Parsed.Policy, l.Parsed.Warnings}
}

// checkShared: both services accept env; each one's policy decides every probe path exactly as
// if the file held only that service's names; and each says once, per variable, which of the
// other's names it ignores.
func checkShared(t *testing.T, env map[string]string) {
	t.Helper()
	proxy, landing := loadBoth(t, env)
	for _, svc := range []struct {
		name  string
		got   loaded
		names []string
		load  func(map[string]string) (*policy.Engine, []config.Warning, error)
	}{
		{"proxy", proxy, specProxyNames, func(e map[string]string) (*policy.Engine, []config.Warning, error) {
			c, err := config.LoadProxy(e)
			if err != nil {
				return nil, nil, err
			}
			return c.Parsed.Policy, c.Parsed.Warnings, nil
		}},
		{"landing", landing, specLandingNames, func(e map[string]string) (*policy.Engine, []config.Warning, error) {
			c, err := config.LoadLanding(e)
			if err != nil {
				return nil, nil, err
			}
			return c.Parsed.Policy, c.Parsed.Warnings, nil
		}},
	} {
		own, foreign := ownOnly(env, svc.names)
		ref, refWarnings, err := svc.load(own)
		if err != nil || len(refWarnings) != 0 {
			t.Fatalf("%s: its own names alone: %v %v", svc.name, err, refWarnings)
		}
		for _, p := range probePaths {
			if got, want := match(svc.got.pol, p), match(ref, p); got != want {
				t.Errorf("%s %s: action %b, want %b (as with its own names only)", svc.name, p, got, want)
			}
		}
		var vars []string
		for _, w := range svc.got.warnings {
			vars = append(vars, w.Variable)
			action := strings.Split(env[w.Variable], ",")
			for _, n := range action {
				base := strings.TrimSuffix(n, "-except")
				if !slices.Contains(svc.names, base) && !strings.Contains(w.Message, n) {
					t.Errorf("%s: warning %q does not name %q", svc.name, w.Message, n)
				}
			}
		}
		if !slices.Equal(vars, foreign) {
			t.Errorf("%s: warnings for %v, want one for each of %v", svc.name, vars, foreign)
		}
	}
}

// TestSharedEnvWorkerExamples: one file holds both Workers' documented examples. Every example
// alone, and every proxy example with every landing example (same variable: one list with both
// services' names when the prefixes agree; different prefixes cannot share one file), loads in
// both services with the meaning it had for its own Worker.
func TestSharedEnvWorkerExamples(t *testing.T) {
	for _, names := range []struct {
		vocab policy.Vocabulary
		names []string
	}{{policy.ProxyActions, specProxyNames}, {policy.LandingActions, specLandingNames}} {
		for _, n := range names.names {
			if _, err := names.vocab.ParseActions(n, ""); err != nil {
				t.Fatalf("contract name %q: %v", n, err)
			}
		}
	}
	combos := 0
	for _, e := range append(slices.Clone(proxyExamples), landingExamples...) {
		env := sharedBase()
		maps.Copy(env, e.vars)
		t.Run("alone/"+e.name, func(t *testing.T) { checkShared(t, env) })
		combos++
	}
	for _, pe := range proxyExamples {
		for _, le := range landingExamples {
			env := sharedBase()
			maps.Copy(env, pe.vars)
			ok := true
			for k, v := range le.vars {
				old, clash := env[k]
				switch {
				case !clash:
					env[k] = v
				case strings.HasSuffix(k, "_PREFIX") && old != v:
					ok = false
				case strings.HasSuffix(k, "_ACTION") && old != v:
					env[k] = old + "," + v
				}
			}
			if !ok {
				continue
			}
			t.Run(pe.name+" + "+le.name, func(t *testing.T) { checkShared(t, env) })
			combos++
		}
	}
	t.Logf("%d shared files checked", combos)
}

// TestSharedEnvIssue: issue #13's file: the proxy's WHITELIST_ACTION=skip-ip no longer stops the
// landing, which says so once; the proxy applies it.
func TestSharedEnvIssue(t *testing.T) {
	env := sharedBase()
	env["WHITELIST_PREFIX"], env["WHITELIST_ACTION"] = "/public", "skip-ip"
	proxy, landing := loadBoth(t, env)
	if match(proxy.pol, "/public/f") != policy.SkipIP || len(proxy.warnings) != 0 {
		t.Fatalf("proxy: %b %v", match(proxy.pol, "/public/f"), proxy.warnings)
	}
	want := []config.Warning{{Variable: "WHITELIST_ACTION",
		Message: "ignoring proxy action(s) skip-ip (this is the landing); WHITELIST_PREFIX/WHITELIST_ACTION is off for the landing"}}
	if match(landing.pol, "/public/f") != 0 || !slices.Equal(landing.warnings, want) {
		t.Fatalf("landing: %b %v", match(landing.pol, "/public/f"), landing.warnings)
	}
	// One list with both services' names: each keeps its own.
	env["WHITELIST_ACTION"] = "skip-ip, skip-hash, pass-server"
	proxy, landing = loadBoth(t, env)
	if match(proxy.pol, "/public/f") != policy.SkipIP|policy.SkipHash || match(landing.pol, "/public/f") != policy.PassServer {
		t.Fatalf("mixed list: proxy %b, landing %b", match(proxy.pol, "/public/f"), match(landing.pol, "/public/f"))
	}
	if len(proxy.warnings) != 1 || !strings.Contains(proxy.warnings[0].Message, "ignoring landing action(s) pass-server (this is the proxy)") ||
		strings.Contains(proxy.warnings[0].Message, "off") {
		t.Fatalf("mixed list, proxy: %v", proxy.warnings)
	}
}

// TestSharedEnvTypos: a name neither service knows is still refused by both, naming the
// variable and what this service accepts, even next to the other service's names.
func TestSharedEnvTypos(t *testing.T) {
	for _, tc := range []struct {
		variable, prefix, action string
		bad                      string
	}{
		{"WHITELIST_ACTION", "/public", "skip-ipp", `"skip-ipp"`},
		{"BLACKLIST_ACTION", "/premium", "verify", `"verify"`}, // the landing README's old name
		{"WHITELIST_ACTION", "/public", "skip-ip,verfy-pow", `"verfy-pow"`},
		{"EXCEPT_ACTION", "/free", "verify-pow-except,blok-except", `"blok-except"`},
		{"EXCEPT_ACTION", "/free", "skip-ip", "-except"},
	} {
		env := sharedBase()
		l := strings.TrimSuffix(tc.variable, "_ACTION")
		env[l+"_PREFIX"], env[tc.variable] = tc.prefix, tc.action
		_, perr := config.LoadProxy(env)
		_, lerr := config.LoadLanding(env)
		for svc, c := range map[string]struct {
			err    error
			accept string
		}{"proxy": {perr, "skip-addition"}, "landing": {lerr, "verify-both"}} {
			if c.err == nil || !strings.Contains(c.err.Error(), tc.variable+": ") || !strings.Contains(c.err.Error(), tc.bad) ||
				!strings.Contains(c.err.Error(), c.accept) {
				t.Errorf("%s=%s, %s: %v", tc.variable, tc.action, svc, c.err)
			}
		}
	}
}
