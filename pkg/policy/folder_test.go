package policy_test

import (
	"strings"
	"testing"

	"github.com/alist-edge/alist-edge/pkg/policy"
)

// TestFolderPrefix: paths reach Match in their served (cleaned) form, which has no trailing
// "/", so a prefix ending in "/" also covers the folder itself; before served paths, a
// request for "/private/" matched "/private/" and must still.
func TestFolderPrefix(t *testing.T) {
	black, err := policy.New(policy.Lists{BlacklistPrefix: "/private/", BlacklistAction: "block"}, policy.ProxyActions)
	if err != nil {
		t.Fatal(err)
	}
	except, err := policy.New(policy.Lists{ExceptPrefix: "/private/", ExceptAction: "skip-sign-except"}, policy.ProxyActions)
	if err != nil {
		t.Fatal(err)
	}
	root, err := policy.New(policy.Lists{WhitelistPrefix: "/", WhitelistAction: "skip-ip"}, policy.ProxyActions)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		p    *policy.Policy
		path string
		want policy.Action
	}{
		{black, "/private", policy.Block},
		{black, "/private/x", policy.Block},
		{black, "/privateer", 0},
		{black, "/", 0},
		{except, "/private", 0},
		{except, "/private/x", 0},
		{except, "/privateer", policy.SkipSign},
		{root, "/", policy.SkipIP},
		{root, "/x", policy.SkipIP},
	} {
		if got := tc.p.Match(tc.path); got != tc.want {
			t.Errorf("%q: got %b want %b", tc.path, got, tc.want)
		}
	}
}

// TestUnservablePrefix: a prefix that no served path can start with is a startup error naming
// the variable, not a list that silently never applies.
func TestUnservablePrefix(t *testing.T) {
	for _, pre := range []string{"private", "/a//b", "/a/./b", "/a/../b", "/a/..", "/a/.", "//", "/pub/,/x//"} {
		_, err := policy.New(policy.Lists{BlacklistPrefix: pre, BlacklistAction: "block"}, policy.ProxyActions)
		if err == nil || !strings.Contains(err.Error(), "BLACKLIST_PREFIX") {
			t.Errorf("%q: %v", pre, err)
		}
	}
	for _, pre := range []string{"/", "/a", "/a/", "/a b/c.d/", "/a/...", "/a/..b"} {
		if _, err := policy.New(policy.Lists{ExceptPrefix: pre, ExceptAction: "block-except"}, policy.ProxyActions); err != nil {
			t.Errorf("%q: %v", pre, err)
		}
	}
}
