// Package tomlpos puts go-toml's values back on the lines they were written on, so a reader
// that checks a file (the policy, the users file) can name the line the operator must edit.
package tomlpos

import (
	"bytes"
	"errors"
	"fmt"
	"sort"

	toml "github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// Decode is toml.Unmarshal with a syntax error as "name:line: message". Readers decode first
// because the decoder knows every rule of the grammar (redefined tables, duplicate keys, bad
// escapes); the AST they walk next only places what the decoder accepted.
func Decode(name string, data []byte, v any) error {
	err := toml.Unmarshal(data, v)
	if err == nil {
		return nil
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		line, _ := de.Position()
		return fmt.Errorf("%s:%d: %s", name, line, de.Error())
	}
	return fmt.Errorf("%s: %w", name, err)
}

// Lines finds the line of a node of one document. go-toml's Parser.Shape counts the newlines
// from the start of the document on every call, which is quadratic over a large file; Lines
// counts them once.
type Lines struct {
	newlines []int // offsets of '\n', ascending
}

// NewLines indexes data, the bytes given to the parser's Reset.
func NewLines(data []byte) *Lines {
	l := &Lines{newlines: make([]int, 0, bytes.Count(data, []byte{'\n'}))}
	for i, c := range data {
		if c == '\n' {
			l.newlines = append(l.newlines, i)
		}
	}
	return l
}

// Line is the 1-based line n starts on, or 0 when n has no position (go-toml leaves table
// headers without one; their keys have it).
func (l *Lines) Line(n *unstable.Node) int {
	if n.Raw.Length == 0 && n.Raw.Offset == 0 {
		return 0
	}
	return l.at(int(n.Raw.Offset))
}

// EndLine is the line of n's last byte (of a key = value, the line its value ends on), or 0
// when n has no position.
func (l *Lines) EndLine(n *unstable.Node) int {
	if n.Raw.Length == 0 {
		return l.Line(n)
	}
	return l.at(int(n.Raw.Offset + n.Raw.Length - 1))
}

// at is the line of the byte at offset: one more than the newlines before it.
func (l *Lines) at(offset int) int {
	return 1 + sort.SearchInts(l.newlines, offset)
}
