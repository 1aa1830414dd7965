package policy

import (
	"fmt"
	"strings"
	"time"
)

// timeMatcher is a recurring window on the wall clock of a zone. The request's instant is
// converted to that zone and compared as wall-clock time, so "22:00-07:00" means ten at
// night to seven in the morning local time on every day, whether the day has 23, 24 or 25
// hours: on the day clocks spring forward, a window inside the skipped hour never matches;
// when they fall back, the repeated hour matches twice. A window that crosses midnight
// belongs to the day it starts on: Friday's "22:00-07:00" covers Saturday 03:00.
type timeMatcher struct {
	days       uint8 // bit per time.Weekday; all days when the key is absent
	start, end int   // minutes since midnight; end may be 1440 ("24:00")
	loc        *time.Location
}

var dayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

const daysAccepted = "mon, tue, wed, thu, fri, sat, sun"

func buildTime(p map[string][]string) (matcher, error) {
	if err := need(p, "days", "between"); err != nil {
		return nil, err
	}
	m := &timeMatcher{days: 0x7f, start: 0, end: 1440, loc: time.UTC}
	if ds := p["days"]; len(ds) > 0 {
		m.days = 0
		for _, d := range ds {
			wd, ok := dayNames[strings.ToLower(d)]
			if !ok {
				return nil, fmt.Errorf("days: %q is not a day (accepted: %s)", d, daysAccepted)
			}
			m.days |= 1 << wd
		}
	}
	if b := p["between"]; len(b) > 0 {
		s, e, err := parseBetween(b[0])
		if err != nil {
			return nil, fmt.Errorf("between: %v", err)
		}
		m.start, m.end = s, e
	}
	if z := p["zone"]; len(z) > 0 {
		loc, err := loadZone(z[0])
		if err != nil {
			return nil, fmt.Errorf("zone: %v", err)
		}
		m.loc = loc
	}
	return m, nil
}

func loadZone(z string) (*time.Location, error) {
	if z == "" || z == "Local" {
		return nil, fmt.Errorf("%q is not an IANA time zone (accepted: names such as UTC, Europe/Berlin, America/New_York)", z)
	}
	loc, err := time.LoadLocation(z)
	if err != nil {
		return nil, fmt.Errorf("%q is not an IANA time zone (accepted: names such as UTC, Europe/Berlin, America/New_York)", z)
	}
	return loc, nil
}

func parseBetween(s string) (start, end int, err error) {
	const accepted = `(accepted: "HH:MM-HH:MM" such as "22:00-07:00"; end may be 24:00)`
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, fmt.Errorf("%q is not a window %s", s, accepted)
	}
	start, ok1 := parseClock(strings.TrimSpace(a))
	end, ok2 := parseClock(strings.TrimSpace(b))
	if !ok1 || !ok2 || start == 1440 {
		return 0, 0, fmt.Errorf("%q is not a window %s", s, accepted)
	}
	if start == end || start == 0 && end == 1440 {
		return 0, 0, fmt.Errorf("%q covers no time or all of it: leave out between for the whole day", s)
	}
	return start, end, nil
}

func parseClock(s string) (int, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	for _, i := range []int{0, 1, 3, 4} {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	h, m := int(s[0]-'0')*10+int(s[1]-'0'), int(s[3]-'0')*10+int(s[4]-'0')
	if m > 59 || h > 24 || h == 24 && m != 0 {
		return 0, false
	}
	return h*60 + m, true
}

func (m *timeMatcher) match(r *Request) bool {
	t := r.Time.In(m.loc)
	hh, mm, _ := t.Clock()
	now := hh*60 + mm
	wd := t.Weekday()
	if m.start < m.end {
		return m.days&(1<<wd) != 0 && now >= m.start && now < m.end
	}
	if now >= m.start {
		return m.days&(1<<wd) != 0
	}
	return now < m.end && m.days&(1<<((wd+6)%7)) != 0
}
