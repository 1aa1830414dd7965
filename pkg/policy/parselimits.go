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
		r.keys(lt, where, "scope", "bytes", "requests", "per_group", "groups", "period", "reset", "zone")
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
			default:
				n, good := r.size(bv, where+": bytes")
				l.Bytes, ok = n, good && ok
			}
		}
		if qv := lt.m["requests"]; qv != nil {
			if qv.kind != tInt || qv.num <= 0 {
				r.errf(qv.line, "%s: requests: expected a positive integer, got %s %s", where, qv.kind, qv.str)
				ok = false
			}
			l.Requests = qv.num
		}
		ok = r.identityKeys(lt, where, kind, l) && ok
		if lt.m["bytes"] == nil && lt.m["requests"] == nil && lt.m["per_group"] == nil {
			if kind == "rate" {
				r.errf(lv.line, "%s: requests is missing", where)
			} else {
				r.errf(lv.line, "%s: needs bytes or requests (or per_group, for scope user or group)", where)
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

// size reads a positive size: a string such as "50GB" or a positive integer of bytes.
func (r *reader) size(v *tval, what string) (int64, bool) {
	switch {
	case v.kind == tInt && v.num > 0:
		return v.num, true
	case v.kind == tString:
		n, err := ParseSize(v.str)
		if err != nil || n <= 0 {
			r.errf(v.line, "%s: %q is not a positive size (accepted: %s)", what, v.str, sizeAccepted)
			return 0, false
		}
		return n, true
	}
	r.errf(v.line, "%s: expected a size string such as \"50GB\" or a positive integer, got %s", what, v.kind)
	return 0, false
}

// identityKeys reads per_group (scopes user and group, quotas only: bytes per group) and
// groups (scope group: which groups have a pool).
func (r *reader) identityKeys(t *ttable, where, kind string, l *Limit) bool {
	ok := true
	if pv := t.m["per_group"]; pv != nil {
		switch {
		case kind == "rate":
			r.errf(pv.line, "%s: per_group gives bytes; a rate counts requests only, put it in a [quotas.*] table", where)
			ok = false
		case l.Scope != ScopeUser && l.Scope != ScopeGroup:
			r.errf(pv.line, "%s: per_group applies to scope user or group, not %s", where, l.Scope)
			ok = false
		case pv.kind != tTable:
			r.errf(pv.line, "%s: per_group: expected a table such as { members = \"50GB\" }, got %s", where, pv.kind)
			ok = false
		case len(pv.table.keys) == 0:
			r.errf(pv.line, "%s: per_group is empty: name at least one group, or leave it out", where)
			ok = false
		default:
			l.PerGroup = make(map[string]int64, len(pv.table.keys))
			for _, g := range pv.table.keys {
				gv := pv.table.m[g]
				if !ValidName(g, MaxGroupLen) {
					r.errf(gv.line, "%s: per_group: %q is not a group name (1 to %d bytes, no control characters)", where, g, MaxGroupLen)
					ok = false
					continue
				}
				n, good := r.size(gv, where+": per_group."+g)
				l.PerGroup[g], ok = n, good && ok
			}
		}
	}
	if gv := t.m["groups"]; gv != nil {
		if l.Scope != ScopeGroup {
			r.errf(gv.line, "%s: groups applies to scope group (which groups have a pool), not %s", where, l.Scope)
			return false
		}
		gs, good := r.strs(gv, where+" groups", false)
		if !good {
			return false
		}
		if len(gs) == 0 {
			r.errf(gv.line, "%s: groups: an empty list gives no group a pool; leave groups out for every group", where)
			return false
		}
		for i, g := range gs {
			if !ValidName(g, MaxGroupLen) {
				r.errf(gv.line, "%s: groups: %q is not a group name (1 to %d bytes, no control characters)", where, g, MaxGroupLen)
				return false
			}
			if seenBefore(gs, i) {
				r.errf(gv.line, "%s: groups: %q is listed twice", where, g)
				return false
			}
		}
		l.Groups = gs
		for _, g := range t.m["per_group"].tableKeys() {
			if !contains(gs, g) {
				r.errf(t.m["per_group"].line, "%s: per_group names %q, which is not in groups (it would never have a pool)", where, g)
				ok = false
			}
		}
	}
	return ok
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
