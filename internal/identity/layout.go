package identity

import (
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"

	"github.com/alist-edge/alist-edge/internal/tomlpos"
)

// layout is where things are in a users file: the decoder tells what the file says, go-toml's
// AST where, so each complaint names the line to edit. It also lets AddUser replace one
// [[users]] table as text, keeping every comment and every other user exactly as written.
type layout struct {
	headers []int            // line (1-based) of each [[users]] header, in order
	ends    []int            // last line of each entry's own content (trailing comments belong to the next)
	keys    []map[string]int // per entry: key -> line
	top     map[string]int   // top-level keys and table headers -> line
	lines   []string
}

// scanLayout places a file the decoder has accepted. Should the AST still refuse it, the
// layout stops there: errors then name the entry instead of a line, and AddUser, which checks
// its result by parsing it, refuses rather than writes.
func scanLayout(data []byte) *layout {
	l := &layout{top: map[string]int{}, lines: strings.SplitAfter(string(data), "\n")}
	if n := len(l.lines); n > 0 && l.lines[n-1] == "" {
		l.lines = l.lines[:n-1]
	}
	at := tomlpos.NewLines(data)
	var p unstable.Parser
	p.Reset(data)
	entry := -1    // current [[users]] entry; -1 at top level
	other := false // inside another table
	for p.NextExpression() {
		e := p.Expression()
		keys, line := keyPath(e.Key(), at)
		if len(keys) == 0 {
			continue
		}
		switch e.Kind {
		case unstable.ArrayTable, unstable.Table:
			entry, other = -1, true
			switch {
			case e.Kind == unstable.ArrayTable && len(keys) == 1 && keys[0] == "users":
				l.headers = append(l.headers, line)
				l.ends = append(l.ends, line)
				l.keys = append(l.keys, map[string]int{})
				entry, other = len(l.headers)-1, false
			case keys[0] == "users" && len(keys) > 1 && len(l.headers) > 0:
				// [users.x] is key x of the last entry.
				firstLine(l.keys[len(l.keys)-1], keys[1], line)
			default:
				firstLine(l.top, keys[0], line)
			}
		case unstable.KeyValue:
			switch {
			case entry >= 0:
				firstLine(l.keys[entry], keys[0], line)
				l.ends[entry] = at.EndLine(e)
			case !other:
				firstLine(l.top, keys[0], line)
			}
		}
	}
	return l
}

// keyPath is a (possibly dotted) key's parts and the line of its first part.
func keyPath(it unstable.Iterator, at *tomlpos.Lines) ([]string, int) {
	var keys []string
	line := 0
	for it.Next() {
		if line == 0 {
			line = at.Line(it.Node())
		}
		keys = append(keys, string(it.Node().Data))
	}
	return keys, line
}

func firstLine(m map[string]int, key string, line int) {
	if _, seen := m[key]; !seen {
		m[key] = line
	}
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
