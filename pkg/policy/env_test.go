package policy

import (
	"math/rand"
	"strings"
	"testing"
)

// ownLists drops the other service's action names as internal/config does before New, so
// the old Match and the engine are compared on what each service really ran.
func ownLists(l Lists, v Vocabulary) Lists {
	f := func(pre, act *string, suffix string) {
		var keep []string
		for _, n := range strings.Split(*act, ",") {
			n = strings.TrimSpace(n)
			if n == "" {
				continue
			}
			if v.knows(strings.TrimSuffix(n, suffix)) {
				keep = append(keep, n)
			}
		}
		if *act != "" && len(keep) == 0 {
			*pre = ""
		}
		*act = strings.Join(keep, ",")
	}
	f(&l.BlacklistPrefix, &l.BlacklistAction, "")
	f(&l.WhitelistPrefix, &l.WhitelistAction, "")
	f(&l.ExceptPrefix, &l.ExceptAction, "-except")
	return l
}

// sameAsMatch checks the engine built from l against Policy.Match for every path.
func sameAsMatch(t testing.TB, l Lists, paths []string) {
	doc, err := FromLists(l)
	if err != nil {
		return // New refuses it too (checked by TestFromListsErrors)
	}
	for _, v := range []Vocabulary{ProxyActions, LandingActions} {
		old, err := New(ownLists(l, v), v)
		if err != nil {
			t.Fatalf("%+v: New: %v", l, err)
		}
		e, err := doc.Compile(v)
		if err != nil {
			t.Fatalf("%+v: Compile: %v", l, err)
		}
		for _, p := range paths {
			r := Request{Path: p, Size: -1}
			if got, want := e.Decide(&r).Action, old.Match(p); got != want {
				t.Fatalf("%+v path %q: engine %b, Match %b", l, p, got, want)
			}
		}
	}
}

var (
	envPrefixes = []string{"", "/", "/a", "/a/", "/ab", "/a/b", "/private/", "/private", "/x/y/", ",", "/a,/b/", " /b , /x "}
	envActions  = []string{"", "block", "asis", "skip-ip", "skip-sign,skip-hash", "verify-pow", "skip-ip,verify-pow", "pass-web", "verify-both"}
	envPaths    = []string{"/", "/a", "/a/", "/a/b", "/ab", "/abc/d", "/b", "/b/c", "/private", "/private/x", "/privateer", "/x/y", "/x/yz", "/x/y/z", "/z"}
)

// TestFromListsMatchesPolicy: for every combination of list settings drawn at random, the
// compiled rules give the same action as Policy.Match on every path, for both services.
func TestFromListsMatchesPolicy(t *testing.T) {
	rnd := rand.New(rand.NewSource(16))
	pick := func(s []string) string { return s[rnd.Intn(len(s))] }
	except := func() string {
		a := pick(envActions)
		if a == "" {
			return ""
		}
		parts := strings.Split(a, ",")
		for i := range parts {
			parts[i] += "-except"
		}
		return strings.Join(parts, ",")
	}
	for i := 0; i < 5000; i++ {
		l := Lists{
			BlacklistPrefix: pick(envPrefixes), BlacklistAction: pick(envActions),
			WhitelistPrefix: pick(envPrefixes), WhitelistAction: pick(envActions),
			ExceptPrefix: pick(envPrefixes), ExceptAction: except(),
		}
		sameAsMatch(t, l, envPaths)
	}
}

func FuzzFromLists(f *testing.F) {
	f.Add("/private/", "block", "/pub", "skip-ip", "/pub", "skip-sign-except", "/private")
	f.Add("/a,/b", "block", "/", "asis", ",", "block-except", "/c")
	f.Fuzz(func(t *testing.T, bp, ba, wp, wa, ep, ea, path string) {
		sameAsMatch(t, Lists{bp, ba, wp, wa, ep, ea}, []string{path, "/", "/a", "/private"})
	})
}

func TestFromListsErrors(t *testing.T) {
	for _, tc := range []struct {
		l    Lists
		want string
	}{
		{Lists{BlacklistPrefix: "/a"}, "BLACKLIST_PREFIX and BLACKLIST_ACTION must be set together"},
		{Lists{WhitelistPrefix: "/a", WhitelistAction: "skip-everything"}, "WHITELIST_ACTION: unknown action"},
		{Lists{WhitelistPrefix: "/a", WhitelistAction: "block,skip-ip"}, "stand alone"},
		{Lists{ExceptPrefix: "/a", ExceptAction: "block"}, "-except"},
		{Lists{BlacklistPrefix: "a", BlacklistAction: "block"}, "BLACKLIST_PREFIX"},
	} {
		if _, err := FromLists(tc.l); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want %q", tc.l, err, tc.want)
		}
	}
}
