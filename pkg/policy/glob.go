package policy

import (
	"fmt"
	"strings"
)

// A glob is matched by simulating its automaton over a 64-bit state set: linear in the
// path's length whatever the pattern, so a client cannot make a crafted path cost
// exponential backtracking, and nothing is allocated. The literal text before the first and
// after the last wildcard is compared directly, which keeps long folder names out of the
// 63-element budget of the automaton.

type globTok struct {
	op        uint8 // gLit, gAny ('?'), gStar ('*'), gStars ('**')
	c         byte  // gLit
	skipSlash bool  // "/**/": the ** may also match nothing, eating the following "/"
}

const (
	gLit = iota
	gAny
	gStar
	gStars
)

type glob struct {
	prefix, suffix string
	toks           []globTok // at most 63
}

func compileGlob(p string) (*glob, error) {
	if !strings.HasPrefix(p, "/") && !strings.HasPrefix(p, "*") {
		return nil, fmt.Errorf("glob %q does not start with / or *", p)
	}
	first := strings.IndexAny(p, "*?")
	if first < 0 {
		return &glob{prefix: p}, nil
	}
	last := strings.LastIndexAny(p, "*?")
	g := &glob{prefix: p[:first], suffix: p[last+1:]}
	mid := p[first : last+1]
	for i := 0; i < len(mid); i++ {
		switch {
		case mid[i] == '*' && i+1 < len(mid) && mid[i+1] == '*':
			before := first+i > 0 && p[first+i-1] == '/'
			after := first+i+2 < len(p) && p[first+i+2] == '/'
			g.toks = append(g.toks, globTok{op: gStars, skipSlash: before && after})
			i++
			for i+1 < len(mid) && mid[i+1] == '*' { // "***" is "**"
				i++
			}
		case mid[i] == '*':
			g.toks = append(g.toks, globTok{op: gStar})
		case mid[i] == '?':
			g.toks = append(g.toks, globTok{op: gAny})
		default:
			g.toks = append(g.toks, globTok{op: gLit, c: mid[i]})
		}
	}
	if last+1 < len(p) && p[last+1] == '/' && g.toks[len(g.toks)-1].op == gStars && g.toks[len(g.toks)-1].skipSlash {
		// "/**/" with the "/" in the literal suffix: let the automaton own that "/" so that
		// skipping it stays possible.
		g.toks = append(g.toks, globTok{op: gLit, c: '/'})
		g.suffix = g.suffix[1:]
	}
	if len(g.toks) > 63 {
		return nil, fmt.Errorf("glob %q has too many wildcards and characters between its first and last wildcard (at most 63)", p)
	}
	return g, nil
}

func (g *glob) match(s string) bool {
	if len(s) < len(g.prefix)+len(g.suffix) || !strings.HasPrefix(s, g.prefix) || !strings.HasSuffix(s, g.suffix) {
		return false
	}
	if g.toks == nil {
		return len(s) == len(g.prefix)
	}
	s = s[len(g.prefix) : len(s)-len(g.suffix)]
	n := len(g.toks)
	st := g.closure(1)
	for i := 0; i < len(s) && st != 0; i++ {
		c := s[i]
		var next uint64
		for j := 0; j < n; j++ {
			if st&(1<<j) == 0 {
				continue
			}
			t := g.toks[j]
			switch t.op {
			case gLit:
				if c == t.c {
					next |= 1 << (j + 1)
				}
			case gAny:
				if c != '/' {
					next |= 1 << (j + 1)
				}
			case gStar:
				if c != '/' {
					next |= 1 << j
				}
			case gStars:
				next |= 1 << j
			}
		}
		st = g.closure(next)
	}
	return st&(1<<n) != 0
}

// closure adds the states reachable without reading: past any star (it may match nothing),
// and past the "/" after a "/**/".
func (g *glob) closure(st uint64) uint64 {
	for j, t := range g.toks {
		if st&(1<<j) == 0 || t.op < gStar {
			continue
		}
		st |= 1 << (j + 1)
		if t.skipSlash && j+1 < len(g.toks) {
			st |= 1 << (j + 2)
		}
	}
	return st
}
