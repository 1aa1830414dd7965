package policy

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// The reader is strict because a policy is a security boundary: a misspelt key or an unused
// matcher is a rule that silently does not apply. It keeps going after a problem so the
// operator sees every one at once, each as "file:line: message (accepted: ...)".

const (
	maxRules    = 512
	maxMatchers = 512
)

var nameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]{0,63}$`)

type reader struct {
	name   string
	doc    *Document
	errs   []error
	failed map[string]bool // "matchers.NAME", "quota.NAME": defined but refused (no second complaint)
}

func (r *reader) errf(line int, format string, args ...any) {
	r.errs = append(r.errs, fmt.Errorf("%s:%d: %s", r.name, line, fmt.Sprintf(format, args...)))
}

// Parse reads a policy document; name is used in messages. Every problem is reported, joined.
func Parse(name string, data []byte) (*Document, error) {
	root, err := readTree(name, data)
	if err != nil {
		return nil, err
	}
	r := &reader{name: name, doc: &Document{Name: name, Default: "deny", lines: map[string]int{}}, failed: map[string]bool{}}
	r.keys(root, "the top level", "default", "matchers", "rules", "quotas", "rates", "alist_groups")
	if v := root.m["default"]; v != nil {
		if s, ok := r.str(v, "default"); ok {
			if a, err := normalizeActions(s, ""); err != nil {
				r.errf(v.line, "default: %v", err)
			} else {
				r.doc.Default = a
			}
		}
	}
	r.matchers(root.m["matchers"])
	r.limits(root.m["quotas"], "quota")
	r.limits(root.m["rates"], "rate")
	r.rules(root.m["rules"])
	r.alistGroups(root.m["alist_groups"])
	r.unused()
	if len(r.errs) > 0 {
		return nil, errors.Join(r.errs...)
	}
	return r.doc, nil
}

// keys refuses any key of t not in accepted.
func (r *reader) keys(t *ttable, where string, accepted ...string) {
	for _, k := range t.keys {
		if !contains(accepted, k) {
			r.errf(t.m[k].line, "unknown key %q in %s (accepted: %s)", k, where, strings.Join(accepted, ", "))
		}
	}
}

func (r *reader) str(v *tval, what string) (string, bool) {
	if v.kind != tString {
		r.errf(v.line, "%s: expected a string, got %s", what, v.kind)
		return "", false
	}
	return v.str, true
}

// strs reads an array of strings; single also accepts one string.
func (r *reader) strs(v *tval, what string, single bool) ([]string, bool) {
	if single && v.kind == tString {
		return []string{v.str}, true
	}
	if v.kind != tArray {
		r.errf(v.line, "%s: expected an array of strings, got %s", what, v.kind)
		return nil, false
	}
	out := make([]string, 0, len(v.arr))
	for _, e := range v.arr {
		if e.kind != tString {
			r.errf(e.line, "%s: expected an array of strings, found %s", what, e.kind)
			return nil, false
		}
		out = append(out, e.str)
	}
	return out, true
}

// section returns the named tables of [matchers], [quotas] or [rates].
func (r *reader) section(v *tval, what string) *ttable {
	if v == nil {
		return nil
	}
	if v.kind != tTable {
		r.errf(v.line, "%s: expected tables [%s.NAME], got %s", what, what, v.kind)
		return nil
	}
	return v.table
}

func (r *reader) checkName(line int, what, n string) bool {
	if !nameRE.MatchString(n) || reserved[n] {
		r.errf(line, "%s %q: a name is a letter or _ then up to 63 letters, digits, _ . -, and not and, or, not, true, false", what, n)
		return false
	}
	return true
}

func (r *reader) matchers(v *tval) {
	t := r.section(v, "matchers")
	if t == nil {
		return
	}
	if len(t.keys) > maxMatchers {
		r.errf(t.line, "more than %d matchers", maxMatchers)
	}
	for _, name := range t.keys {
		mv := t.m[name]
		where := "[matchers." + name + "]"
		if mv.kind != tTable {
			r.errf(mv.line, "matchers.%s: expected a table, got %s", name, mv.kind)
			continue
		}
		if !r.checkName(mv.line, "matcher", name) {
			continue
		}
		r.doc.lines["matchers."+name] = mv.line
		r.failed["matchers."+name] = true
		kv := mv.table.m["kind"]
		if kv == nil {
			r.errf(mv.line, "%s: kind is missing (accepted: %s)", where, kindNames())
			continue
		}
		kind, ok := r.str(kv, where+" kind")
		if !ok {
			continue
		}
		spec, ok := kinds[kind]
		if !ok {
			r.errf(kv.line, "%s: unknown kind %q (accepted: %s)", where, kind, kindNames())
			continue
		}
		accepted := []string{"kind"}
		for _, k := range spec.keys {
			accepted = append(accepted, k.name)
		}
		r.keys(mv.table, where, accepted...)
		def := &MatcherDef{Name: name, Kind: kind, Params: map[string][]string{}}
		bad := false
		for _, k := range spec.keys {
			pv := mv.table.m[k.name]
			if pv == nil {
				continue
			}
			if k.list {
				vals, ok := r.strs(pv, where+" "+k.name, false)
				bad = bad || !ok
				def.Params[k.name] = vals
			} else if s, ok := r.str(pv, where+" "+k.name); ok {
				def.Params[k.name] = []string{s}
			} else {
				bad = true
			}
		}
		if bad {
			continue
		}
		if _, err := spec.build(def.Params); err != nil {
			line := mv.line
			if k, _, ok := strings.Cut(err.Error(), ":"); ok && mv.table.m[k] != nil {
				line = mv.table.m[k].line
			}
			r.errf(line, "%s: %v", where, err)
			continue
		}
		r.doc.Matchers = append(r.doc.Matchers, def)
		delete(r.failed, "matchers."+name)
	}
}

func (r *reader) rules(v *tval) {
	if v == nil {
		return
	}
	if v.kind != tArray {
		r.errf(v.line, "rules: expected [[rules]] entries, got %s", v.kind)
		return
	}
	if len(v.arr) > maxRules {
		r.errf(v.line, "more than %d rules", maxRules)
	}
	index := map[string]int{}
	var known []string
	for _, m := range r.doc.Matchers {
		index[m.Name] = len(known)
		known = append(known, m.Name)
	}
	sort.Strings(known)
	for k := range r.failed {
		if n, ok := strings.CutPrefix(k, "matchers."); ok {
			index[n] = 0
		}
	}
	acceptedMatchers := strings.Join(known, ", ")
	seen := map[string]int{}
	for i, e := range v.arr {
		if e.kind != tTable {
			r.errf(e.line, "rules[%d]: expected a table, got %s", i, e.kind)
			continue
		}
		t := e.table
		where := fmt.Sprintf("rules[%d]", i)
		r.keys(t, where, "id", "when", "action", "quota", "rate", "shadow")
		rule := &RuleDef{}
		ok := true
		get := func(key string) (string, int, bool) {
			kv := t.m[key]
			if kv == nil {
				r.errf(t.line, "%s: %s is missing", where, key)
				return "", t.line, false
			}
			s, good := r.str(kv, where+" "+key)
			return s, kv.line, good
		}
		if id, line, good := get("id"); good && r.checkName(line, "rule id", id) {
			rule.ID = id
			where = fmt.Sprintf("rule %q", id)
			if first, dup := seen[id]; dup {
				r.errf(line, "duplicate rule id %q (first at line %d)", id, first)
				ok = false
			}
			seen[id] = line
			r.doc.lines["rules."+id] = line
		} else {
			ok = false
		}
		if when, line, good := get("when"); good {
			rule.When = when
			n, err := parseExpr(when)
			if err == nil {
				_, err = compileExpr(n, index, acceptedMatchers)
			}
			if err != nil {
				r.errf(line, "%s: when: %v", where, err)
				ok = false
			}
		} else {
			ok = false
		}
		if act, line, good := get("action"); good {
			a, err := normalizeActions(act, "")
			if err != nil {
				r.errf(line, "%s: action: %v", where, err)
				ok = false
			}
			rule.Action = a
		} else {
			ok = false
		}
		if qv := t.m["quota"]; qv != nil {
			names, good := r.strs(qv, where+" quota", true)
			ok = ok && good && r.refs(qv.line, where, "quota", names)
			rule.Quotas = names
		}
		if rv := t.m["rate"]; rv != nil {
			name, good := r.str(rv, where+" rate")
			ok = ok && good && r.refs(rv.line, where, "rate", []string{name})
			rule.Rate = name
		}
		if sv := t.m["shadow"]; sv != nil {
			if sv.kind != tBool {
				r.errf(sv.line, "%s: shadow: expected true or false, got %s", where, sv.kind)
				ok = false
			}
			rule.Shadow = sv.str == "true"
		}
		if ok {
			r.doc.Rules = append(r.doc.Rules, rule)
		}
	}
}

// refs checks that each name is a defined limit of the kind.
func (r *reader) refs(line int, where, kind string, names []string) bool {
	ok := len(names) > 0
	if !ok {
		r.errf(line, "%s: %s: no name given", where, kind)
	}
	for _, n := range names {
		if l := r.doc.limit(n); (l == nil || l.Kind != kind) && !r.failed[kind+"."+n] {
			r.errf(line, "%s: unknown %s %q (accepted: %s)", where, kind, n, r.doc.limitNames(kind))
			ok = false
		}
	}
	return ok
}

func (d *Document) limit(name string) *Limit {
	for _, l := range d.Limits {
		if l.Name == name {
			return l
		}
	}
	return nil
}

func (d *Document) limitNames(kind string) string {
	var n []string
	for _, l := range d.Limits {
		if l.Kind == kind {
			n = append(n, l.Name)
		}
	}
	sort.Strings(n)
	return strings.Join(n, ", ")
}

// unused refuses matchers and limits that no rule refers to: they are usually a rule the
// operator meant to write, or a misspelt name in one.
func (r *reader) unused() {
	used := map[string]bool{}
	for _, rule := range r.doc.Rules {
		if n, err := parseExpr(rule.When); err == nil {
			for _, name := range n.names(nil) {
				used["matchers."+name] = true
			}
		}
		for _, q := range rule.Quotas {
			used["quotas."+q] = true
		}
		if rule.Rate != "" {
			used["rates."+rule.Rate] = true
		}
	}
	if len(r.errs) > 0 {
		return // a rule that failed to load would make its names look unused
	}
	for _, m := range r.doc.Matchers {
		if !used["matchers."+m.Name] {
			r.errf(r.doc.lines["matchers."+m.Name], "matcher %q is not used by any rule", m.Name)
		}
	}
	for _, l := range r.doc.Limits {
		if key := l.Kind + "s." + l.Name; !used[key] {
			r.errf(r.doc.lines[key], "%s %q is not used by any rule", l.Kind, l.Name)
		}
	}
}
