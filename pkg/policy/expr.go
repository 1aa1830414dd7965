package policy

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Expressions are compiled once, at load, into a short program with jumps (and/or stop as
// soon as the answer is known, so a rule does not consult a matcher it does not need), run
// on a fixed-size stack: evaluation allocates nothing. The caps keep both the stack and the
// time per rule bounded whatever the file says.
const (
	maxExprTokens = 256
	maxExprDepth  = 32
	maxStack      = maxExprDepth + 2
)

const (
	opMatch uint8 = iota // push the value of matcher arg
	opConst              // push arg != 0
	opNot
	opJF  // if top is false, jump to arg (keeping it)
	opJT  // if top is true, jump to arg (keeping it)
	opPop // drop top
)

type instr struct {
	op  uint8
	arg uint16
}

type exprNode struct {
	op   byte // 'n' name, 'c' const, '!' not, '&' and, '|' or
	name string
	val  bool
	l, r *exprNode
}

type exprParser struct {
	toks []string
	pos  int
}

func tokenize(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c, w := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
		case c == '(' || c == ')':
			toks = append(toks, string(c))
		case c == '∧':
			toks = append(toks, "and")
		case c == '∨':
			toks = append(toks, "or")
		case c == '¬':
			toks = append(toks, "not")
		case isNameByte(s[i]):
			j := i
			for j < len(s) && isNameByte(s[j]) {
				j++
			}
			toks = append(toks, s[i:j])
			w = j - i
		default:
			return nil, fmt.Errorf("unexpected %q (accepted: matcher names, and, or, not, ∧, ∨, ¬, parentheses, true, false)", c)
		}
		i += w
		if len(toks) > maxExprTokens {
			return nil, fmt.Errorf("expression longer than %d tokens", maxExprTokens)
		}
	}
	return toks, nil
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.'
}

var reserved = map[string]bool{"and": true, "or": true, "not": true, "true": true, "false": true}

// parseExpr reads the grammar
//
//	or   = and { "or" and }
//	and  = not { "and" not }
//	not  = "not" not | atom
//	atom = "(" or ")" | "true" | "false" | name
func parseExpr(s string) (*exprNode, error) {
	toks, err := tokenize(s)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, fmt.Errorf("empty expression")
	}
	p := &exprParser{toks: toks}
	n, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if p.pos < len(toks) {
		return nil, fmt.Errorf("unexpected %q after a complete expression", toks[p.pos])
	}
	return n, nil
}

func (p *exprParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *exprParser) or(depth int) (*exprNode, error) {
	return p.binary(depth, "or", '|', p.and)
}

func (p *exprParser) and(depth int) (*exprNode, error) {
	return p.binary(depth, "and", '&', p.not)
}

func (p *exprParser) binary(depth int, word string, op byte, next func(int) (*exprNode, error)) (*exprNode, error) {
	l, err := next(depth)
	if err != nil {
		return nil, err
	}
	for p.peek() == word {
		p.pos++
		r, err := next(depth)
		if err != nil {
			return nil, err
		}
		l = &exprNode{op: op, l: l, r: r}
	}
	return l, nil
}

func (p *exprParser) not(depth int) (*exprNode, error) {
	if depth > maxExprDepth {
		return nil, fmt.Errorf("expression nested deeper than %d", maxExprDepth)
	}
	if p.peek() == "not" {
		p.pos++
		x, err := p.not(depth + 1)
		if err != nil {
			return nil, err
		}
		return &exprNode{op: '!', l: x}, nil
	}
	return p.atom(depth)
}

func (p *exprParser) atom(depth int) (*exprNode, error) {
	t := p.peek()
	p.pos++
	switch {
	case t == "":
		return nil, fmt.Errorf("expression ends where a matcher name or ( was expected")
	case t == "(":
		n, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, fmt.Errorf("missing )")
		}
		p.pos++
		return n, nil
	case t == "true" || t == "false":
		return &exprNode{op: 'c', val: t == "true"}, nil
	case t == ")" || reserved[t]:
		return nil, fmt.Errorf("unexpected %q where a matcher name or ( was expected", t)
	}
	return &exprNode{op: 'n', name: t}, nil
}

// names lists the matcher names an expression uses, in order, once each.
func (n *exprNode) names(out []string) []string {
	if n == nil {
		return out
	}
	if n.op == 'n' && !contains(out, n.name) {
		out = append(out, n.name)
	}
	return n.r.names(n.l.names(out))
}

// compileExpr emits the program; index maps a matcher name to its slot.
func compileExpr(n *exprNode, index map[string]int, known string) ([]instr, error) {
	var prog []instr
	sp, max := 0, 0
	var emit func(n *exprNode) error
	emit = func(n *exprNode) error {
		switch n.op {
		case 'n':
			i, ok := index[n.name]
			if !ok {
				return fmt.Errorf("unknown matcher %q (accepted: %s)", n.name, known)
			}
			prog = append(prog, instr{opMatch, uint16(i)})
			sp++
		case 'c':
			a := uint16(0)
			if n.val {
				a = 1
			}
			prog = append(prog, instr{opConst, a})
			sp++
		case '!':
			if err := emit(n.l); err != nil {
				return err
			}
			prog = append(prog, instr{op: opNot})
		default:
			if err := emit(n.l); err != nil {
				return err
			}
			j := len(prog)
			op := opJF
			if n.op == '|' {
				op = opJT
			}
			prog = append(prog, instr{op: op}, instr{op: opPop})
			sp--
			if err := emit(n.r); err != nil {
				return err
			}
			prog[j].arg = uint16(len(prog))
		}
		if sp > max {
			max = sp
		}
		return nil
	}
	if err := emit(n); err != nil {
		return nil, err
	}
	if max > maxStack {
		return nil, fmt.Errorf("expression nested deeper than %d", maxExprDepth)
	}
	// A jump that lands on a jump of the same kind can go straight to its target: the value
	// it carries is the one that made the first jump.
	for i := len(prog) - 1; i >= 0; i-- {
		if in := prog[i]; in.op == opJF || in.op == opJT {
			if t := int(in.arg); t < len(prog) && prog[t].op == in.op {
				prog[i].arg = prog[t].arg
			}
		}
	}
	return prog, nil
}

func exprSummary(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
