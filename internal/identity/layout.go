package identity

import (
	"strings"
)

// layout is where things are in a users file, line by line: the TOML decoder tells what the
// file says but not where, and an error without a line number makes the operator search. It
// also lets AddUser replace one [[users]] table as text, keeping every comment and every other
// user exactly as written. It is a light scanner, not a parser: anything it misreads only
// costs a line number (errors then name the entry), and AddUser checks its result by parsing it.
type layout struct {
	headers []int            // line (1-based) of each [[users]] header, in order
	ends    []int            // last line of each entry's own content (trailing comments belong to the next)
	keys    []map[string]int // per entry: key -> line
	top     map[string]int   // top-level keys and table headers -> line
	lines   []string
}

func scanLayout(text string) *layout {
	l := &layout{top: map[string]int{}, lines: strings.SplitAfter(text, "\n")}
	if n := len(l.lines); n > 0 && l.lines[n-1] == "" {
		l.lines = l.lines[:n-1]
	}
	entry := -1      // current [[users]] entry; -1 at top level
	other := false   // inside another table
	closing := ""    // delimiter of the multi-line string we are inside
	lastContent := 0 // last line with content in the current entry
	finish := func() {
		if entry >= 0 {
			l.ends = append(l.ends, lastContent)
		}
	}
	for i, raw := range l.lines {
		n := i + 1
		line := strings.TrimSpace(raw)
		if closing != "" {
			if strings.Count(line, closing)%2 == 1 {
				closing = ""
			}
			lastContent = n
			continue
		}
		if line == "" || line[0] == '#' {
			continue
		}
		if strings.HasPrefix(line, "[") {
			name, isArray := headerName(line)
			finish()
			entry, other = -1, true
			if isArray && name == "users" {
				l.headers = append(l.headers, n)
				l.keys = append(l.keys, map[string]int{})
				entry, other, lastContent = len(l.headers)-1, false, n
			} else if _, seen := l.top[name]; !seen {
				l.top[name] = n
			}
			continue
		}
		if key, rest, ok := keyOf(line); ok {
			switch {
			case entry >= 0:
				if _, seen := l.keys[entry][key]; !seen {
					l.keys[entry][key] = n
				}
			case !other:
				if _, seen := l.top[key]; !seen {
					l.top[key] = n
				}
			}
			for _, d := range []string{`"""`, `'''`} {
				if strings.Count(rest, d)%2 == 1 {
					closing = d
					break
				}
			}
		}
		lastContent = n
	}
	finish()
	return l
}

// headerName reads "[name]" or "[[name]]" (spaces and a comment allowed, quotes dropped).
func headerName(line string) (string, bool) {
	isArray := strings.HasPrefix(line, "[[")
	inner := strings.TrimLeft(line, "[")
	if i := strings.IndexByte(inner, ']'); i >= 0 {
		inner = inner[:i]
	}
	inner = strings.TrimSpace(inner)
	if i := strings.IndexByte(inner, '.'); i >= 0 && inner[0] != '"' && inner[0] != '\'' {
		inner = strings.TrimSpace(inner[:i])
	}
	return strings.Trim(inner, `"'`), isArray
}

// keyOf reads the first key of "key = value" (bare or quoted; of a dotted key, the first part).
func keyOf(line string) (key, rest string, ok bool) {
	var end int
	if q := line[0]; q == '"' || q == '\'' {
		j := strings.IndexByte(line[1:], q)
		if j < 0 {
			return "", "", false
		}
		key, end = line[1:1+j], j+2
	} else {
		for end < len(line) && (isBare(line[end])) {
			end++
		}
		if end == 0 {
			return "", "", false
		}
		key = line[:end]
	}
	after := strings.TrimLeft(line[end:], " \t")
	if after == "" || (after[0] != '=' && after[0] != '.') {
		return "", "", false
	}
	return key, after, true
}

func isBare(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// entryLine is the header line of entry i (0 when unknown).
func (l *layout) entryLine(i int) int {
	if i < len(l.headers) {
		return l.headers[i]
	}
	return 0
}

// keyLine is the line of key in entry i, or the entry's header line.
func (l *layout) keyLine(i int, key string) int {
	if i < len(l.keys) {
		if n, ok := l.keys[i][key]; ok {
			return n
		}
	}
	return l.entryLine(i)
}
