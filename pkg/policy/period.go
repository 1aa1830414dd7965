package policy

import (
	"strconv"
	"strings"
	"time"
)

// Scope says what one counter of a limit is kept for.
type Scope uint8

const (
	ScopeSubnet     Scope = iota + 1 // one counter per client subnet
	ScopePath                        // one counter per served path
	ScopeSubnetPath                  // one per subnet and path
	ScopeGlobal                      // one counter for everyone
	ScopeUser                        // one per user (identities, issue #17)
	ScopeGroup                       // one per group (identities, issue #17)
)

var scopeNames = []string{"", "subnet", "path", "subnet+path", "global", "user", "group"}

func (s Scope) String() string {
	if int(s) < len(scopeNames) {
		return scopeNames[s]
	}
	return "scope(" + strconv.Itoa(int(s)) + ")"
}

// MarshalText makes a Scope read as its name in JSON (explain).
func (s Scope) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

func parseScope(s string) (Scope, bool) {
	for i, n := range scopeNames {
		if i > 0 && n == s {
			return Scope(i), true
		}
	}
	return 0, false
}

// Limit is one [quotas.NAME] or [rates.NAME]: a cap per window on bytes and/or requests.
type Limit struct {
	Name     string
	Kind     string // "quota" or "rate"
	Scope    Scope
	Bytes    int64 // 0 = no byte cap; user and group scopes: the base allowance or pool cap
	Requests int64 // 0 = no request cap
	// PerGroup (scopes user and group): bytes by group name. A user's cap adds the entry of
	// each group they are in; a group's pool takes its entry instead of Bytes. nil when unset.
	PerGroup map[string]int64
	// Groups (scope group): the groups that have a pool; nil = every group of the user.
	Groups []string
	Period Period
}

// Period is either rolling (Rolling > 0: a window opens at first use and lasts Rolling) or
// calendar (Unit day, week or month: windows follow the wall clock of Zone and all
// counters roll over together at the boundary). Counters are stored under the end of their
// window, so a new window is simply a new key: nothing has to reset them.
type Period struct {
	Rolling time.Duration
	Unit    string // "day", "week", "month"; "" when rolling
	Reset   int    // month: day of month 1-28; week: 1 (Monday) to 7 (Sunday); else 0
	Zone    string // IANA zone of a calendar period; "" when rolling

	loc *time.Location
}

var weekdayNames = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

// WindowEnd is the end of the window that a counter (re)started at now gets: now+Rolling, or
// the next calendar boundary after now. Boundaries are midnights on the zone's wall clock
// (computed with time.Date, so a 23- or 25-hour day around a DST change ends at the right
// instant); a month resets on day Reset (1-28, which every month has), a week on weekday
// Reset. A request exactly at a boundary belongs to the window that starts there.
func (p Period) WindowEnd(now time.Time) time.Time {
	if p.Unit == "" {
		return now.Add(p.Rolling)
	}
	loc := p.loc
	if loc == nil {
		loc = time.UTC
	}
	t := now.In(loc)
	y, m, d := t.Date()
	switch p.Unit {
	case "week":
		// ISO weekday of t: Monday 1 ... Sunday 7.
		wd := int(t.Weekday()+6)%7 + 1
		delta := (p.Reset - wd + 7) % 7
		if delta == 0 {
			delta = 7
		}
		return time.Date(y, m, d+delta, 0, 0, 0, 0, loc)
	case "month":
		if d < p.Reset {
			return time.Date(y, m, p.Reset, 0, 0, 0, 0, loc)
		}
		return time.Date(y, m+1, p.Reset, 0, 0, 0, 0, loc)
	default: // day
		return time.Date(y, m, d+1, 0, 0, 0, 0, loc)
	}
}

// String reads like the file: "24h", "day (UTC)", "month, reset 1 (Europe/Berlin)".
func (p Period) String() string {
	switch p.Unit {
	case "":
		return formatDuration(p.Rolling)
	case "week":
		return "week, reset " + weekdayNames[(p.Reset+6)%7] + " (" + p.Zone + ")"
	case "month":
		return "month, reset " + strconv.Itoa(p.Reset) + " (" + p.Zone + ")"
	}
	return p.Unit + " (" + p.Zone + ")"
}

// formatDuration drops Go's trailing zero units ("24h0m0s" → "24h") so a printed
// policy reads as written; time.ParseDuration reads both.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
