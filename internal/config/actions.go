package config

import (
	"log/slog"
	"strings"

	"github.com/alist-edge/alist-edge/pkg/policy"
)

// One .env may serve both services, yet the path-policy variables (BLACKLIST_*, WHITELIST_*,
// EXCEPT_*) carry each service's own action names (docs/contract.md §6): the Workers' documented examples
// put skip-ip in WHITELIST_ACTION for the download proxy and verify-pow for the landing. So
// each service drops the names that belong only to the other one, says so once at start-up,
// and still refuses a name that belongs to neither (a typo) with the accepted values. A list
// left with no name of this service is off for this service (its prefixes match nothing here),
// so a path falls through to the next list exactly as if the other service's list were absent.

// Warning is a configuration oddity that does not stop the service (logged once at start-up,
// printed by -check-config).
type Warning struct {
	Variable string
	Message  string
}

func (w Warning) String() string { return w.Variable + ": " + w.Message }

// LogWarnings logs each warning once, at start-up: one line per variable.
func LogWarnings(log *slog.Logger, ws []Warning) {
	for _, w := range ws {
		log.Warn("configuration: "+w.Message, "variable", w.Variable)
	}
}

// service names and vocabularies, for the messages.
type vocabulary struct {
	name  string // "proxy", "landing"
	words policy.Vocabulary
}

var (
	proxyVocab   = vocabulary{name: "proxy", words: policy.ProxyActions}
	landingVocab = vocabulary{name: "landing", words: policy.LandingActions}
)

// knows reports whether name (without the -except suffix) is one of v's actions.
func (v vocabulary) knows(name string) bool {
	_, err := v.words.ParseActions(name, "")
	return err == nil
}

// foreignActions splits one *_ACTION value: kept is what this service parses (its own names,
// and unknown names so that the policy refuses them), ignored the other service's names.
func foreignActions(value, suffix string, own, other vocabulary) (kept string, ignored []string) {
	var keep []string
	for _, item := range strings.Split(value, ",") {
		name := strings.ToLower(strings.TrimSpace(item))
		if name == "" {
			continue
		}
		base, ok := strings.CutSuffix(name, suffix)
		if suffix != "" && !ok {
			keep = append(keep, name) // the policy explains the missing suffix
			continue
		}
		if !own.knows(base) && other.knows(base) {
			ignored = append(ignored, name)
			continue
		}
		keep = append(keep, name)
	}
	return strings.Join(keep, ","), ignored
}

// shareLists removes the other service's action names from l, turning off a list left with
// none, and returns one warning per variable that lost names.
func shareLists(l *policy.Lists, own, other vocabulary) []Warning {
	var out []Warning
	for _, li := range []struct {
		name           string
		prefix, action *string
		suffix         string
	}{
		{"BLACKLIST", &l.BlacklistPrefix, &l.BlacklistAction, ""},
		{"WHITELIST", &l.WhitelistPrefix, &l.WhitelistAction, ""},
		{"EXCEPT", &l.ExceptPrefix, &l.ExceptAction, "-except"},
	} {
		kept, ignored := foreignActions(*li.action, li.suffix, own, other)
		if len(ignored) == 0 {
			continue
		}
		msg := "ignoring " + other.name + " action(s) " + strings.Join(ignored, ", ") + " (this is the " + own.name + ")"
		if kept == "" {
			msg += "; " + li.name + "_PREFIX/" + li.name + "_ACTION is off for the " + own.name
			*li.prefix = ""
		}
		*li.action = kept
		out = append(out, Warning{Variable: li.name + "_ACTION", Message: msg})
	}
	return out
}
