// Package policy decides what happens to a path before any signature is checked: the
// blacklist, whitelist and except lists of docs/contract.md §6, with the proxy's and the landing's action
// vocabularies. Everything is parsed and validated at startup, so a typo in an action is a
// startup error naming the variable rather than a silently open door.
package policy

import (
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
)

// Action is a set of action flags; the zero value means "no list matched: defaults apply".
type Action uint16

const (
	Block Action = 1 << iota
	Asis
	SkipSign
	SkipHash
	SkipWorker
	SkipIP
	SkipAddition
	VerifyPow
	VerifyTurn
	PassWeb
	PassServer
	PassAsis
)

// VerifyBoth is the landing's verify-both: proof-of-work and Turnstile.
const VerifyBoth = VerifyPow | VerifyTurn

// Has reports whether every flag of f is set.
func (a Action) Has(f Action) bool { return a&f == f && f != 0 }

// Vocabulary maps action names to flags for one service, with the flags that must stand alone.
type Vocabulary struct {
	names map[string]Action
	alone Action // actions that cannot be combined with any other
}

// ProxyActions is the proxy's vocabulary (docs/contract.md §6).
var ProxyActions = Vocabulary{
	names: map[string]Action{
		"block":         Block,        // refuse with 403 access denied
		"asis":          Asis,         // apply the default checks (an explicit no-op)
		"skip-sign":     SkipSign,     // do not check sign
		"skip-hash":     SkipHash,     // do not check hashSign
		"skip-worker":   SkipWorker,   // do not check workerSign
		"skip-ip":       SkipIP,       // do not check ipSign (shareable links)
		"skip-addition": SkipAddition, // do not check additionalInfo (no expireTime, no quota size)
	},
	alone: Block | Asis,
}

// LandingActions is the landing's vocabulary (docs/contract.md §6).
var LandingActions = Vocabulary{
	names: map[string]Action{
		"block":       Block,      // refuse with 403 access denied
		"verify-pow":  VerifyPow,  // require the proof-of-work
		"verify-turn": VerifyTurn, // require Turnstile
		"verify-both": VerifyBoth, // require both
		"pass-web":    PassWeb,    // always show the landing page, no bot check
		"pass-server": PassServer, // always 302 straight to the proxy, no bot check
		"pass-asis":   PassAsis,   // apply the global settings
	},
	alone: Block | VerifyPow | VerifyTurn | PassWeb | PassServer | PassAsis,
}

// ParseActions parses a comma list of action names; suffix is "-except" for EXCEPT_ACTION.
func (v Vocabulary) ParseActions(s, suffix string) (Action, error) {
	var a Action
	n := 0
	for _, name := range strings.Split(s, ",") {
		name = strings.ToLower(strings.TrimSpace(name))
		if name == "" {
			continue
		}
		base, ok := strings.CutSuffix(name, suffix)
		if suffix != "" && !ok {
			return 0, fmt.Errorf("%q: except actions end in %q; accepted: %s", name, suffix, v.list(suffix))
		}
		f, ok := v.names[base]
		if !ok {
			return 0, fmt.Errorf("unknown action %q; accepted: %s", name, v.list(suffix))
		}
		a |= f
		n++
	}
	if n == 0 {
		return 0, fmt.Errorf("no action given; accepted: %s", v.list(suffix))
	}
	if n > 1 && a&v.alone != 0 {
		return 0, fmt.Errorf("%q combines an action that must stand alone (%s)", s, v.aloneList(suffix))
	}
	return a, nil
}

func (v Vocabulary) list(suffix string) string {
	names := make([]string, 0, len(v.names))
	for n := range v.names {
		names = append(names, n+suffix)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func (v Vocabulary) aloneList(suffix string) string {
	var names []string
	for n, f := range v.names {
		if f&v.alone != 0 {
			names = append(names, n+suffix)
		}
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// Lists is the environment as written: BLACKLIST_*, WHITELIST_*, EXCEPT_*.
type Lists struct {
	BlacklistPrefix, BlacklistAction string
	WhitelistPrefix, WhitelistAction string
	ExceptPrefix, ExceptAction       string
}

type list struct {
	prefixes []string
	action   Action
}

// Policy is a parsed, immutable path policy; safe for concurrent use.
type Policy struct {
	black, white, except *list
}

// New parses the lists with vocabulary v. A list is active only when both of its variables are
// set; one without the other is an error (it is never what the operator meant).
func New(l Lists, v Vocabulary) (*Policy, error) {
	p := &Policy{}
	var errs []error
	parse := func(name, prefixes, action, suffix string) *list {
		if strings.TrimSpace(prefixes) == "" && strings.TrimSpace(action) == "" {
			return nil
		}
		if strings.TrimSpace(prefixes) == "" || strings.TrimSpace(action) == "" {
			errs = append(errs, fmt.Errorf("%s_PREFIX and %s_ACTION must be set together", name, name))
			return nil
		}
		a, err := v.ParseActions(action, suffix)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s_ACTION: %w", name, err))
			return nil
		}
		out := &list{action: a}
		for _, pre := range strings.Split(prefixes, ",") {
			if pre = strings.TrimSpace(pre); pre == "" {
				continue
			}
			if err := checkPrefix(pre); err != nil {
				errs = append(errs, fmt.Errorf("%s_PREFIX: %w", name, err))
				continue
			}
			out.prefixes = append(out.prefixes, pre)
		}
		return out
	}
	p.black = parse("BLACKLIST", l.BlacklistPrefix, l.BlacklistAction, "")
	p.white = parse("WHITELIST", l.WhitelistPrefix, l.WhitelistAction, "")
	p.except = parse("EXCEPT", l.ExceptPrefix, l.ExceptAction, "-except")
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

// checkPrefix refuses a prefix that no served path can start with (sign.ServedPath gives
// path.Clean's form): it would be a list that silently never applies.
func checkPrefix(pre string) error {
	if !strings.HasPrefix(pre, "/") {
		return fmt.Errorf("%q does not start with /", pre)
	}
	if c := path.Clean(pre); pre != c && (c == "/" || pre != c+"/") {
		return fmt.Errorf("%q is not a clean path (no //, . or .. segments): paths are matched after the origin's cleaning", pre)
	}
	return nil
}

// matches is a plain prefix match, except that a prefix ending in "/" names a folder and
// also matches the folder itself: served paths have no trailing "/" ("/private/" is served
// as "/private"), and "/private/" must not become a way around BLACKLIST_PREFIX=/private/.
func (l *list) matches(path string) bool {
	for _, pre := range l.prefixes {
		if strings.HasPrefix(path, pre) || len(pre) > 1 && pre[len(pre)-1] == '/' && path == pre[:len(pre)-1] {
			return true
		}
	}
	return false
}

// Match returns the action for a path: blacklist, then whitelist, then except (which applies
// to paths matching none of its prefixes); the first list that matches wins, and 0 means no
// list matched. Both services pass the path the origin will serve (sign.ServedPath), never
// the path as the client spelled it.
func (p *Policy) Match(path string) Action {
	if p == nil {
		return 0
	}
	if p.black != nil && p.black.matches(path) {
		return p.black.action
	}
	if p.white != nil && p.white.matches(path) {
		return p.white.action
	}
	if p.except != nil && !p.except.matches(path) {
		return p.except.action
	}
	return 0
}
