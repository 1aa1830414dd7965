package policy_test

import (
	"strings"
	"testing"

	"github.com/alist-edge/alist-edge/pkg/policy"
)

func TestProxyPolicyTable(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lists policy.Lists
		path  string
		want  policy.Action
	}{
		{"no lists", policy.Lists{}, "/a", 0},
		{"black block", policy.Lists{BlacklistPrefix: "/private", BlacklistAction: "block"}, "/private/x", policy.Block},
		{"black miss", policy.Lists{BlacklistPrefix: "/private", BlacklistAction: "block"}, "/public/x", 0},
		{"prefix is case sensitive", policy.Lists{BlacklistPrefix: "/private", BlacklistAction: "block"}, "/Private/x", 0},
		{"prefix is plain, not a segment", policy.Lists{BlacklistPrefix: "/priv", BlacklistAction: "block"}, "/private", policy.Block},
		{"comma prefixes", policy.Lists{BlacklistPrefix: "/a, /b", BlacklistAction: "block"}, "/b/1", policy.Block},
		{"white skip-ip", policy.Lists{WhitelistPrefix: "/pub", WhitelistAction: "skip-ip"}, "/pub/f", policy.SkipIP},
		{"white combined skips", policy.Lists{WhitelistPrefix: "/pub", WhitelistAction: "skip-sign,skip-hash,skip-worker,skip-ip,skip-addition"}, "/pub/f",
			policy.SkipSign | policy.SkipHash | policy.SkipWorker | policy.SkipIP | policy.SkipAddition},
		{"white asis", policy.Lists{WhitelistPrefix: "/pub", WhitelistAction: "asis"}, "/pub/f", policy.Asis},
		{"black wins over white", policy.Lists{BlacklistPrefix: "/x", BlacklistAction: "block", WhitelistPrefix: "/x", WhitelistAction: "skip-ip"}, "/x/1", policy.Block},
		{"white wins over except", policy.Lists{WhitelistPrefix: "/x", WhitelistAction: "skip-ip", ExceptPrefix: "/y", ExceptAction: "block-except"}, "/x/1", policy.SkipIP},
		{"except applies to non-matching", policy.Lists{ExceptPrefix: "/public", ExceptAction: "block-except"}, "/secret", policy.Block},
		{"except spares matching", policy.Lists{ExceptPrefix: "/public", ExceptAction: "block-except"}, "/public/a", 0},
		{"except skips", policy.Lists{ExceptPrefix: "/public", ExceptAction: "skip-ip-except,skip-worker-except"}, "/other", policy.SkipIP | policy.SkipWorker},
		{"half-set list inactive is an error elsewhere", policy.Lists{}, "/x", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := policy.New(tc.lists, policy.ProxyActions)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Match(tc.path); got != tc.want {
				t.Fatalf("got %b want %b", got, tc.want)
			}
		})
	}
}

func TestLandingPolicyTable(t *testing.T) {
	for action, want := range map[string]policy.Action{
		"block": policy.Block, "verify-pow": policy.VerifyPow, "verify-turn": policy.VerifyTurn,
		"verify-both": policy.VerifyBoth, "pass-web": policy.PassWeb, "pass-server": policy.PassServer, "pass-asis": policy.PassAsis,
	} {
		p, err := policy.New(policy.Lists{WhitelistPrefix: "/w", WhitelistAction: action}, policy.LandingActions)
		if err != nil {
			t.Fatalf("%s: %v", action, err)
		}
		if got := p.Match("/w/f"); got != want {
			t.Errorf("%s: got %b want %b", action, got, want)
		}
		e, err := policy.New(policy.Lists{ExceptPrefix: "/w", ExceptAction: action + "-except"}, policy.LandingActions)
		if err != nil {
			t.Fatalf("%s-except: %v", action, err)
		}
		if got := e.Match("/z"); got != want {
			t.Errorf("%s-except: got %b want %b", action, got, want)
		}
	}
}

func TestPolicyErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lists policy.Lists
		vocab policy.Vocabulary
		want  []string
	}{
		{"unknown action", policy.Lists{BlacklistPrefix: "/a", BlacklistAction: "deny"}, policy.ProxyActions, []string{"BLACKLIST_ACTION", `"deny"`, "skip-ip"}},
		{"block combined", policy.Lists{WhitelistPrefix: "/a", WhitelistAction: "block,skip-ip"}, policy.ProxyActions, []string{"WHITELIST_ACTION", "stand alone"}},
		{"asis combined", policy.Lists{WhitelistPrefix: "/a", WhitelistAction: "asis,skip-ip"}, policy.ProxyActions, []string{"stand alone"}},
		{"except without suffix", policy.Lists{ExceptPrefix: "/a", ExceptAction: "block"}, policy.ProxyActions, []string{"EXCEPT_ACTION", "-except"}},
		{"landing word on proxy", policy.Lists{BlacklistPrefix: "/a", BlacklistAction: "verify-pow"}, policy.ProxyActions, []string{"BLACKLIST_ACTION"}},
		{"proxy word on landing", policy.Lists{BlacklistPrefix: "/a", BlacklistAction: "skip-ip"}, policy.LandingActions, []string{"BLACKLIST_ACTION"}},
		{"landing combined", policy.Lists{BlacklistPrefix: "/a", BlacklistAction: "verify-pow,pass-web"}, policy.LandingActions, []string{"stand alone"}},
		{"prefix without action", policy.Lists{BlacklistPrefix: "/a"}, policy.ProxyActions, []string{"BLACKLIST_PREFIX and BLACKLIST_ACTION"}},
		{"two bad lists at once", policy.Lists{BlacklistPrefix: "/a", BlacklistAction: "x", WhitelistPrefix: "/b", WhitelistAction: "y"}, policy.ProxyActions, []string{"BLACKLIST_ACTION", "WHITELIST_ACTION"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := policy.New(tc.lists, tc.vocab)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not mention %q", err, w)
				}
			}
		})
	}
}

func FuzzPolicy(f *testing.F) {
	f.Add("/a,/b", "skip-ip,skip-hash", "/a/x")
	f.Add("", "block", "/")
	f.Fuzz(func(t *testing.T, prefixes, actions, path string) {
		for _, v := range []policy.Vocabulary{policy.ProxyActions, policy.LandingActions} {
			p, err := policy.New(policy.Lists{BlacklistPrefix: prefixes, BlacklistAction: actions}, v)
			if err != nil {
				continue
			}
			got := p.Match(path)
			if got.Has(policy.Block) && got != policy.Block {
				t.Fatalf("block combined: %b", got)
			}
		}
	})
}
