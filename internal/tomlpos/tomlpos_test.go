package tomlpos

import (
	"bytes"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2/unstable"
)

// visit calls fn on every node of every expression of data, with the parser that made it.
func visit(data []byte, fn func(p *unstable.Parser, n *unstable.Node)) {
	var p unstable.Parser
	p.Reset(data)
	var walk func(n *unstable.Node)
	walk = func(n *unstable.Node) {
		fn(&p, n)
		it := n.Children()
		for it.Next() {
			walk(it.Node())
		}
	}
	for p.NextExpression() {
		walk(p.Expression()) // a key = value's children are its value, then its key parts
	}
}

// sameAsShape: Line is what go-toml's own Shape says, and EndLine is the line of the node's last
// byte, for every node of the document.
func sameAsShape(t *testing.T, data []byte) {
	l := NewLines(data)
	visit(data, func(p *unstable.Parser, n *unstable.Node) {
		wantStart, wantEnd := 0, 0
		if n.Raw.Length != 0 || n.Raw.Offset != 0 {
			wantStart = p.Shape(n.Raw).Start.Line
			wantEnd = wantStart + bytes.Count(p.Raw(n.Raw)[:max(0, int(n.Raw.Length)-1)], []byte{'\n'})
		}
		if got := l.Line(n); got != wantStart {
			t.Fatalf("%s %q: Line %d, Shape says %d\n%q", n.Kind, p.Raw(n.Raw), got, wantStart, data)
		}
		if got := l.EndLine(n); got != wantEnd {
			t.Fatalf("%s %q: EndLine %d, want %d\n%q", n.Kind, p.Raw(n.Raw), got, wantEnd, data)
		}
	})
}

func TestLines(t *testing.T) {
	doc := "a = 1\r\n# c\n\n[t]\nb = \"\"\"\nx\ny\"\"\" # end\narr = [\n  1,\n  2, # two\n]\n[[u]]\nk = {x = 1}\n"
	sameAsShape(t, []byte(doc))
	l := NewLines([]byte(doc))
	var got []int
	visit([]byte(doc), func(p *unstable.Parser, n *unstable.Node) {
		if n.Kind == unstable.KeyValue {
			got = append(got, l.Line(n), l.EndLine(n))
		}
	})
	// a: 1-1, b: 5-7 (multi-line string), arr: 8-11, k: 13-13, and k's inline x: 13-13.
	want := []int{1, 1, 5, 7, 8, 11, 13, 13, 13, 13}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}

func TestDecode(t *testing.T) {
	var v map[string]any
	if err := Decode("f.toml", []byte("a = 1\nb = [1, 2]\n"), &v); err != nil || len(v) != 2 {
		t.Fatalf("%v %v", v, err)
	}
	for _, c := range []struct{ doc, want string }{
		{"a = 1\na = 2\n", "f.toml:2: toml: "},
		{"a = 1\n\n[t\n", "f.toml:3: toml: "},
		{"x = \"\"\"\n\n\n", "f.toml:"},
	} {
		err := Decode("f.toml", []byte(c.doc), &v)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q…", c.doc, err, c.want)
		}
	}
	// Not a syntax error: no pointer to decode into.
	if err := Decode("f.toml", []byte("a = 1\n"), v); err == nil || !strings.HasPrefix(err.Error(), "f.toml: toml: ") {
		t.Errorf("into int: %v", err)
	}
}

// FuzzLines: on any document go-toml parses, Line agrees with Shape on every node.
func FuzzLines(f *testing.F) {
	for _, s := range []string{"", "a = 1\n", "[t]\nb = '''\nx'''\n", "a = [\n1,\n]\r\n[[u]]\nk = {x = \"\\n\"}\n", "\n\n\"q\".b = 1 # c\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sameAsShape(t, data)
	})
}
