package policy

import (
	"fmt"
	"sort"
	"strings"
)

// A rule's action is written once for both services: "allow", "deny", or names from either
// vocabulary ("skip-ip,verify-pow"), like the Workers' *_ACTION variables. Each service keeps
// its own names (Compile); a name neither service knows is refused at load.

// normalizeActions checks an action text against both vocabularies and returns it in
// canonical form (lower case, no spaces, suffix removed). suffix is "-except" for EXCEPT_ACTION.
func normalizeActions(s, suffix string) (string, error) {
	var out []string
	for _, item := range strings.Split(s, ",") {
		name := strings.ToLower(strings.TrimSpace(item))
		if name == "" {
			continue
		}
		base, ok := strings.CutSuffix(name, suffix)
		if suffix != "" && !ok {
			return "", fmt.Errorf("%q: except actions end in %q (accepted: %s)", name, suffix, actionsAccepted(suffix))
		}
		if base != "allow" && base != "deny" && !ProxyActions.knows(base) && !LandingActions.knows(base) {
			return "", fmt.Errorf("unknown action %q (accepted: %s)", name, actionsAccepted(suffix))
		}
		out = append(out, base)
	}
	if len(out) == 0 {
		return "", fmt.Errorf("no action given (accepted: %s)", actionsAccepted(suffix))
	}
	if len(out) > 1 && (contains(out, "allow") || contains(out, "deny")) {
		return "", fmt.Errorf("%q: allow and deny stand alone", s)
	}
	for _, v := range []Vocabulary{ProxyActions, LandingActions} {
		if _, _, err := v.own(out); err != nil {
			return "", err
		}
	}
	return strings.Join(out, ","), nil
}

func actionsAccepted(suffix string) string {
	seen := map[string]bool{"allow": true, "deny": true}
	for _, v := range []Vocabulary{ProxyActions, LandingActions} {
		for n := range v.names {
			seen[n] = true
		}
	}
	var names []string
	for n := range seen {
		if suffix == "" || n != "allow" && n != "deny" {
			names = append(names, n+suffix)
		}
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func (v Vocabulary) knows(name string) bool {
	_, ok := v.names[name]
	return ok
}

// own returns the flags of the names in v ("allow" is 0, "deny" is Block); ok is false when
// none of the names is v's, i.e. the action is the other service's only.
func (v Vocabulary) own(names []string) (Action, bool, error) {
	if len(names) == 1 && names[0] == "allow" {
		return 0, true, nil
	}
	if len(names) == 1 && names[0] == "deny" {
		return Block, true, nil
	}
	var mine []string
	for _, n := range names {
		if v.knows(n) {
			mine = append(mine, n)
		}
	}
	if len(mine) == 0 {
		return 0, false, nil
	}
	a, err := v.ParseActions(strings.Join(mine, ","), "")
	return a, true, err
}

// ownText is the part of an action text that v reads, for RuleInfo and explain.
func (v Vocabulary) ownText(text string) string {
	var mine []string
	for _, n := range strings.Split(text, ",") {
		if n == "allow" || n == "deny" || v.knows(n) {
			mine = append(mine, n)
		}
	}
	return strings.Join(mine, ",")
}
