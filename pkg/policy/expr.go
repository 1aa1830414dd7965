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
	// Fused forms of "matcher x; jump; pop" for a name (or "not name") on the left of and/or,
	// the common case: one dispatch instead of three. On the jump they push the value
	// that made them jump; otherwise they push nothing (the pop is folded in).
	opMatchJF    // x = matcher arg; if x is false, push false and jump to to
	opMatchJT    // if x is true, push true and jump to to
	opNotMatch   // push !x
	opNotMatchJF // if !x is false, push false and jump
	opNotMatchJT // if !x is true, push true and jump
)

type instr struct {
	op  uint8
	arg uint16 // matcher index, or jump target for opJF/opJT
	to  uint16 // jump target of the fused forms
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
	lookup := func(name string) (uint16, error) {
		i, ok := index[name]
		if !ok {
			return 0, fmt.Errorf("unknown matcher %q (accepted: %s)", name, known)
		}
		return uint16(i), nil
	}
	// leaf recognises "name" and "not name".
	leaf := func(n *exprNode) (string, bool, bool) {
		if n.op == 'n' {
			return n.name, false, true
		}
		if n.op == '!' && n.l.op == 'n' {
			return n.l.name, true, true
		}
		return "", false, false
	}
	var emit func(n *exprNode) error
	emit = func(n *exprNode) error {
		switch n.op {
		case 'n':
			i, err := lookup(n.name)
			if err != nil {
				return err
			}
			prog = append(prog, instr{op: opMatch, arg: i})
			sp++
		case 'c':
			a := uint16(0)
			if n.val {
				a = 1
			}
			prog = append(prog, instr{op: opConst, arg: a})
			sp++
		case '!':
			if name, _, ok := leaf(n.l); ok && n.l.op == 'n' {
				i, err := lookup(name)
				if err != nil {
					return err
				}
				prog = append(prog, instr{op: opNotMatch, arg: i})
				sp++
				break
			}
			if err := emit(n.l); err != nil {
				return err
			}
			prog = append(prog, instr{op: opNot})
		default:
			j := -1
			if name, neg, ok := leaf(n.l); ok {
				i, err := lookup(name)
				if err != nil {
					return err
				}
				op := map[[2]bool]uint8{{false, false}: opMatchJF, {false, true}: opNotMatchJF, {true, false}: opMatchJT, {true, true}: opNotMatchJT}[[2]bool{n.op == '|', neg}]
				j = len(prog)
				prog = append(prog, instr{op: op, arg: i})
				if sp+1 > max {
					max = sp + 1
				}
			} else {
				if err := emit(n.l); err != nil {
					return err
				}
				op := opJF
				if n.op == '|' {
					op = opJT
				}
				prog = append(prog, instr{op: op}, instr{op: opPop})
				sp--
			}
			k := len(prog) - 2
			if err := emit(n.r); err != nil {
				return err
			}
			if j >= 0 {
				prog[j].to = uint16(len(prog))
			} else {
				prog[k].arg = uint16(len(prog))
			}
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
	// A jump that lands on a jump taken on the same value can go straight to its target:
	// the value it carries is the one that made the first jump.
	for i := len(prog) - 1; i >= 0; i-- {
		in := &prog[i]
		var target *uint16
		onTrue := false
		switch in.op {
		case opJF, opJT:
			target, onTrue = &in.arg, in.op == opJT
		case opMatchJF, opNotMatchJF, opMatchJT, opNotMatchJT:
			target, onTrue = &in.to, in.op == opMatchJT || in.op == opNotMatchJT
		default:
			continue
		}
		if t := int(*target); t < len(prog) && (prog[t].op == opJT) == onTrue && (prog[t].op == opJF || prog[t].op == opJT) {
			*target = prog[t].arg
		}
	}
	return prog, nil
}

func exprSummary(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
