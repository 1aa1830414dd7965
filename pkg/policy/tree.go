package policy

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"

	"github.com/alist-edge/alist-edge/internal/tomlpos"
)

// The policy is read in two passes: go-toml's decoder first, because it knows every rule of
// the TOML grammar (redefined tables, mixed arrays, bad escapes) and reports a position;
// then go-toml's AST, which keeps the line of every key and value, into a small tree. The
// tree is what the strict reader walks, so each complaint names the line the operator must
// edit, and keys keep the order they were written in.

// tkind is a TOML value type as the strict reader reports it.
type tkind uint8

const (
	tString tkind = iota
	tInt
	tFloat
	tBool
	tDate
	tArray
	tTable
)

var tkindNames = [...]string{"a string", "an integer", "a float", "a boolean", "a date", "an array", "a table"}

func (k tkind) String() string { return tkindNames[k] }

// tval is one value with the line it starts on.
type tval struct {
	kind  tkind
	line  int
	str   string // tString; the raw text for tInt, tFloat, tBool, tDate
	num   int64  // tInt
	arr   []*tval
	table *ttable
	isAOT bool // an array of tables ([[name]])
}

// ttable keeps keys in document order.
type ttable struct {
	line int
	keys []string
	m    map[string]*tval
}

func newTable(line int) *ttable { return &ttable{line: line, m: map[string]*tval{}} }

func (t *ttable) set(k string, v *tval) {
	if _, ok := t.m[k]; !ok {
		t.keys = append(t.keys, k)
	}
	t.m[k] = v
}

// readTree parses data into a tree; a syntax error comes back as "name:line: message".
func readTree(name string, data []byte) (*ttable, error) {
	var any map[string]interface{}
	if err := tomlpos.Decode(name, data, &any); err != nil {
		return nil, err
	}
	var p unstable.Parser
	p.Reset(data)
	root := newTable(1)
	cur := root
	lineOf := tomlpos.NewLines(data).Line
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			keys, line := keyPath(e.Key(), lineOf)
			t := root
			for i, k := range keys {
				last := i == len(keys)-1
				v := t.m[k]
				switch {
				case last && e.Kind == unstable.ArrayTable:
					if v == nil {
						v = &tval{kind: tArray, line: line, isAOT: true}
						t.set(k, v)
					}
					nt := newTable(line)
					v.arr = append(v.arr, &tval{kind: tTable, line: line, table: nt})
					t = nt
				case v == nil:
					v = &tval{kind: tTable, line: line, table: newTable(line)}
					t.set(k, v)
					t = v.table
				case v.kind == tArray && len(v.arr) > 0 && v.arr[len(v.arr)-1].kind == tTable:
					t = v.arr[len(v.arr)-1].table
				default:
					if v.table == nil { // the decoder has already refused this
						return nil, fmt.Errorf("%s:%d: %q is not a table", name, line, k)
					}
					if last {
						v.line, v.table.line = line, line // the explicit header is the line to name
					}
					t = v.table
				}
			}
			cur = t
		case unstable.KeyValue:
			if err := setKeyValue(cur, e, lineOf); err != nil {
				_, line := keyPath(e.Key(), lineOf)
				return nil, fmt.Errorf("%s:%d: %v", name, line, err)
			}
		}
	}
	if err := p.Error(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return root, nil
}

func keyPath(it unstable.Iterator, lineOf func(*unstable.Node) int) ([]string, int) {
	var keys []string
	line := 0
	for it.Next() {
		n := it.Node()
		if line == 0 {
			line = lineOf(n)
		}
		keys = append(keys, string(n.Data))
	}
	return keys, line
}

// setKeyValue stores a (possibly dotted) key = value into t.
func setKeyValue(t *ttable, e *unstable.Node, lineOf func(*unstable.Node) int) error {
	keys, line := keyPath(e.Key(), lineOf)
	for _, k := range keys[:len(keys)-1] {
		v := t.m[k]
		if v == nil {
			v = &tval{kind: tTable, line: line, table: newTable(line)}
			t.set(k, v)
		}
		if v.table == nil {
			return fmt.Errorf("%q is not a table", k)
		}
		t = v.table
	}
	v, err := convert(e.Value(), line, lineOf)
	if err != nil {
		return err
	}
	t.set(keys[len(keys)-1], v)
	return nil
}

func convert(n *unstable.Node, line int, lineOf func(*unstable.Node) int) (*tval, error) {
	if l := lineOf(n); l > 0 {
		line = l
	}
	v := &tval{line: line, str: string(n.Data)}
	switch n.Kind {
	case unstable.String:
		v.kind = tString
	case unstable.Integer:
		v.kind = tInt
		i, err := strconv.ParseInt(strings.ReplaceAll(v.str, "_", ""), 0, 64)
		if err != nil {
			return nil, fmt.Errorf("integer %s: %v", v.str, err)
		}
		v.num = i
	case unstable.Float:
		v.kind = tFloat
	case unstable.Bool:
		v.kind = tBool
	case unstable.Array:
		v.kind = tArray
		it := n.Children()
		for it.Next() {
			c, err := convert(it.Node(), line, lineOf)
			if err != nil {
				return nil, err
			}
			v.arr = append(v.arr, c)
		}
	case unstable.InlineTable:
		v.kind = tTable
		v.table = newTable(line)
		it := n.Children()
		for it.Next() {
			if err := setKeyValue(v.table, it.Node(), lineOf); err != nil {
				return nil, err
			}
		}
	default:
		v.kind = tDate
	}
	return v, nil
}

// tableKeys are the keys of a table value in document order (none for another kind).
func (v *tval) tableKeys() []string {
	if v == nil || v.table == nil {
		return nil
	}
	return v.table.keys
}
