package policy

import (
	"strings"
	"time"
)

const (
	scopesAccepted  = "subnet, path, subnet+path, global, user, group"
	periodsAccepted = `a Go duration such as "1h" or "24h" (rolling), or "day", "week", "month" (calendar)`
)

// limits reads [quotas.*] or [rates.*]. A rate counts requests only (bandwidth is a quota).
func (r *reader) limits(v *tval, kind string) {
	t := r.section(v, kind+"s")
	if t == nil {
		return
	}
	for _, name := range t.keys {
		lv := t.m[name]
		where := "[" + kind + "s." + name + "]"
		if lv.kind != tTable {
			r.errf(lv.line, "%ss.%s: expected a table, got %s", kind, name, lv.kind)
			continue
		}
		if !r.checkName(lv.line, kind, name) {
			continue
		}
		if prev := r.doc.limit(name); prev != nil {
			r.errf(lv.line, "%s: the name %q is already a %s (line %d)", where, name, prev.Kind, r.doc.lines[prev.Kind+"s."+name])
			continue
		}
		r.failed[kind+"."+name] = true
		lt := lv.table
		r.keys(lt, where, "scope", "bytes", "requests", "period", "reset", "zone")
		l := &Limit{Name: name, Kind: kind}
		ok := true
		if sv := lt.m["scope"]; sv == nil {
			r.errf(lv.line, "%s: scope is missing (accepted: %s)", where, scopesAccepted)
			ok = false
		} else if s, good := r.str(sv, where+" scope"); good {
			if l.Scope, good = parseScope(s); !good {
				r.errf(sv.line, "%s: unknown scope %q (accepted: %s)", where, s, scopesAccepted)
				ok = false
			}
		} else {
			ok = false
		}
		if bv := lt.m["bytes"]; bv != nil {
			switch {
			case kind == "rate":
				r.errf(bv.line, "%s: a rate counts requests only; put a byte cap in a [quotas.*] table", where)
				ok = false
			case bv.kind == tInt && bv.num > 0:
				l.Bytes = bv.num
			case bv.kind == tString:
				n, err := parseSize(bv.str)
				if err != nil || n <= 0 {
					r.errf(bv.line, "%s: bytes: %q is not a positive size (accepted: %s)", where, bv.str, sizeAccepted)
					ok = false
				}
				l.Bytes = n
			default:
				r.errf(bv.line, "%s: bytes: expected a size string such as \"50GB\" or a positive integer, got %s", where, bv.kind)
				ok = false
			}
		}
		if qv := lt.m["requests"]; qv != nil {
			if qv.kind != tInt || qv.num <= 0 {
				r.errf(qv.line, "%s: requests: expected a positive integer, got %s %s", where, qv.kind, qv.str)
				ok = false
			}
			l.Requests = qv.num
		}
		if lt.m["bytes"] == nil && lt.m["requests"] == nil {
			if kind == "rate" {
				r.errf(lv.line, "%s: requests is missing", where)
			} else {
				r.errf(lv.line, "%s: needs bytes or requests (or both)", where)
			}
			ok = false
		}
		ok = r.period(lt, where, &l.Period) && ok
		if ok {
			r.doc.lines[kind+"s."+name] = lv.line
			r.doc.Limits = append(r.doc.Limits, l)
			delete(r.failed, kind+"."+name)
		}
	}
}

func (r *reader) period(t *ttable, where string, p *Period) bool {
	pv := t.m["period"]
	if pv == nil {
		r.errf(t.line, "%s: period is missing (accepted: %s)", where, periodsAccepted)
		return false
	}
	s, ok := r.str(pv, where+" period")
	if !ok {
		return false
	}
	rv, zv := t.m["reset"], t.m["zone"]
	switch s {
	case "day", "week", "month":
		p.Unit, p.Zone, p.loc = s, "UTC", time.UTC
	default:
		d, err := time.ParseDuration(s)
		if err != nil || d < time.Second {
			r.errf(pv.line, "%s: period %q (accepted: %s; at least 1s)", where, s, periodsAccepted)
			return false
		}
		p.Rolling = d
		if rv != nil || zv != nil {
			bad := rv
			if bad == nil {
				bad = zv
			}
			line := bad.line
			r.errf(line, "%s: reset and zone apply to calendar periods (day, week, month), not to a rolling %s", where, s)
			return false
		}
		return true
	}
	if zv != nil {
		z, good := r.str(zv, where+" zone")
		if !good {
			return false
		}
		loc, err := loadZone(z)
		if err != nil {
			r.errf(zv.line, "%s: zone: %v", where, err)
			return false
		}
		p.Zone, p.loc = z, loc
	}
	switch {
	case p.Unit == "month":
		p.Reset = 1
		if rv != nil {
			if rv.kind != tInt || rv.num < 1 || rv.num > 28 {
				r.errf(rv.line, "%s: reset: %s %s is not a day of the month (accepted: 1 to 28, which every month has)", where, rv.kind, rv.str)
				return false
			}
			p.Reset = int(rv.num)
		}
	case p.Unit == "week":
		p.Reset = 1
		if rv != nil {
			i := -1
			if rv.kind == tString {
				i = indexOf(weekdayNames, strings.ToLower(rv.str))
			}
			if i < 0 {
				r.errf(rv.line, "%s: reset: %s %s is not a weekday (accepted: %s)", where, rv.kind, rv.str, strings.Join(weekdayNames, ", "))
				return false
			}
			p.Reset = i + 1
		}
	case rv != nil:
		r.errf(rv.line, "%s: reset applies to week and month periods; a day resets at midnight", where)
		return false
	}
	return true
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}
