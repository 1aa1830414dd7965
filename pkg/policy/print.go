package policy

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
)

// TOML prints the document in the file format: what -check-config -print-policy shows, with
// the rules the environment produced included, so an operator can see the effective policy
// and paste it into a POLICY_FILE. Parse(TOML()) gives an equal document.
func (d *Document) TOML() []byte {
	var b bytes.Buffer
	def := d.Default
	if def == "" {
		def = "deny"
	}
	fmt.Fprintf(&b, "# Effective policy. Rules are tried in order; the first one that matches decides\n")
	fmt.Fprintf(&b, "# (shadow rules are evaluated and logged, never enforced).\n")
	fmt.Fprintf(&b, "default = %s # when no rule matches\n", quote(def))
	for _, m := range d.Matchers {
		fmt.Fprintf(&b, "\n[matchers.%s]\n", m.Name)
		if strings.HasPrefix(m.Name, "env-") {
			fmt.Fprintf(&b, "# from %s_PREFIX\n", strings.ToUpper(strings.TrimPrefix(m.Name, "env-")))
		}
		fmt.Fprintf(&b, "kind = %s\n", quote(m.Kind))
		for _, k := range kinds[m.Kind].keys {
			v, ok := m.Params[k.name]
			if !ok {
				continue
			}
			if k.list {
				fmt.Fprintf(&b, "%s = %s\n", k.name, quoteList(v))
			} else if len(v) > 0 {
				fmt.Fprintf(&b, "%s = %s\n", k.name, quote(v[0]))
			}
		}
	}
	for _, r := range d.Rules {
		b.WriteString("\n[[rules]]\n")
		if strings.HasPrefix(r.ID, "env-") {
			v := strings.ToUpper(strings.TrimPrefix(r.ID, "env-"))
			fmt.Fprintf(&b, "# from %s_PREFIX and %s_ACTION\n", v, v)
		}
		fmt.Fprintf(&b, "id = %s\nwhen = %s\naction = %s\n", quote(r.ID), quote(r.When), quote(r.Action))
		switch len(r.Quotas) {
		case 0:
		case 1:
			fmt.Fprintf(&b, "quota = %s\n", quote(r.Quotas[0]))
		default:
			fmt.Fprintf(&b, "quota = %s\n", quoteList(r.Quotas))
		}
		if r.Rate != "" {
			fmt.Fprintf(&b, "rate = %s\n", quote(r.Rate))
		}
		if r.Shadow {
			b.WriteString("shadow = true # evaluated and logged, never enforced\n")
		}
	}
	for _, l := range d.Limits {
		fmt.Fprintf(&b, "\n[%ss.%s]\nscope = %s\n", l.Kind, l.Name, quote(l.Scope.String()))
		if l.Bytes > 0 {
			fmt.Fprintf(&b, "bytes = %s\n", quote(formatSize(l.Bytes)))
		}
		if l.Requests > 0 {
			fmt.Fprintf(&b, "requests = %d\n", l.Requests)
		}
		if l.PerGroup != nil {
			fmt.Fprintf(&b, "per_group = %s\n", perGroupTOML(l.PerGroup))
		}
		if l.Groups != nil {
			fmt.Fprintf(&b, "groups = %s\n", quoteList(l.Groups))
		}
		p := l.Period
		if p.Unit == "" {
			fmt.Fprintf(&b, "period = %s # rolling: a window opens at first use\n", quote(formatDuration(p.Rolling)))
			continue
		}
		fmt.Fprintf(&b, "period = %s\n", quote(p.Unit))
		switch p.Unit {
		case "month":
			fmt.Fprintf(&b, "reset = %d # day of the month\n", p.Reset)
		case "week":
			fmt.Fprintf(&b, "reset = %s\n", quote(weekdayNames[(p.Reset+6)%7]))
		}
		fmt.Fprintf(&b, "zone = %s\n", quote(p.Zone))
	}
	if d.AlistGroups != nil {
		b.WriteString("\n[alist_groups] # the groups of AList accounts (ALIST_LOGIN)\n")
		for _, name := range slices.Sorted(maps.Keys(d.AlistGroups)) {
			fmt.Fprintf(&b, "%s = %s\n", quote(name), quoteList(d.AlistGroups[name]))
		}
	}
	return b.Bytes()
}

// quote writes a TOML basic string: only " and \ and control characters are escaped (TOML
// has no \x escape, so Go's strconv.Quote will not do). Parsed text is valid UTF-8.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// perGroupTOML prints per_group as an inline table, by group name.
func perGroupTOML(m map[string]int64) string {
	names := make([]string, 0, len(m))
	for g := range m {
		names = append(names, g)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, g := range names {
		parts[i] = tomlKey(g) + " = " + quote(formatSize(m[g]))
	}
	if len(parts) == 0 {
		return "{}"
	}
	return "{ " + strings.Join(parts, ", ") + " }"
}

// tomlKey writes a bare key when TOML allows one, else a quoted key.
func tomlKey(s string) string {
	for _, c := range []byte(s) {
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return quote(s)
		}
	}
	return s
}

func quoteList(v []string) string {
	q := make([]string, len(v))
	for i, s := range v {
		q[i] = quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
