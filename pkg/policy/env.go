package policy

import (
	"errors"
	"fmt"
	"strings"
)

// FromLists turns the Workers' BLACKLIST_*/WHITELIST_*/EXCEPT_* variables into rules, so the
// environment and a POLICY_FILE run through one engine and -print-policy can show both.
// The rules keep Policy.Match's order and meaning exactly: env-blacklist, then
// env-whitelist, then env-except, which applies to paths matching NONE of its prefixes.
// The default is allow (action 0: "no list matched, the global checks apply"). Action names
// of either service are accepted; Compile keeps the ones of the service it builds for, as
// internal/config does for the lists today.
func FromLists(l Lists) (*Document, error) {
	d := &Document{Name: "env", Default: "allow"}
	var errs []error
	add := func(name, prefixes, action, suffix string) {
		if strings.TrimSpace(prefixes) == "" && strings.TrimSpace(action) == "" {
			return
		}
		if strings.TrimSpace(prefixes) == "" || strings.TrimSpace(action) == "" {
			errs = append(errs, fmt.Errorf("%s_PREFIX and %s_ACTION must be set together", name, name))
			return
		}
		a, err := normalizeActions(action, suffix)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s_ACTION: %w", name, err))
			return
		}
		var pres []string
		for _, pre := range strings.Split(prefixes, ",") {
			if pre = strings.TrimSpace(pre); pre == "" {
				continue
			}
			if err := checkPrefix(pre); err != nil {
				errs = append(errs, fmt.Errorf("%s_PREFIX: %w", name, err))
				continue
			}
			pres = append(pres, pre)
		}
		id := "env-" + strings.ToLower(name)
		when := id
		switch {
		case len(pres) > 0:
			d.Matchers = append(d.Matchers, &MatcherDef{Name: id, Kind: "path", Params: map[string][]string{"prefixes": pres}})
			if suffix != "" {
				when = "not " + id
			}
		case suffix != "":
			when = "true" // an except list with no prefix spares no path
		default:
			return // a black or white list with no prefix matches no path
		}
		d.Rules = append(d.Rules, &RuleDef{ID: id, When: when, Action: a})
	}
	add("BLACKLIST", l.BlacklistPrefix, l.BlacklistAction, "")
	add("WHITELIST", l.WhitelistPrefix, l.WhitelistAction, "")
	add("EXCEPT", l.ExceptPrefix, l.ExceptAction, "-except")
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return d, nil
}
