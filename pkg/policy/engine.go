package policy

import (
	"fmt"
	"iter"
	"math/bits"
	"net/netip"
	"sort"
	"strings"
	"time"
)

// Request is what a rule decides on. Decide never allocates and never keeps it.
type Request struct {
	Path   string     // the path the origin will serve (sign.ServedPath)
	Addr   netip.Addr // client address (unmapped)
	Time   time.Time
	Size   int64  // signed file size (additionalInfo.filesize); < 0 unknown
	Method string // HTTP method
	Host   string // request Host, without port
	User   string // "" = anonymous; only from a verified additionalInfo (issue #17)
	Groups []string
}

// RuleInfo names a rule in this service's terms (metrics labels, logs).
type RuleInfo struct {
	Index      int    // position in the document's rules
	ID         string // the rule's id
	ActionText string // the action names this service reads ("allow", "deny", "skip-ip,skip-sign")
	Shadow     bool
}

// Engine is a Document compiled for one service; safe for concurrent use.
type Engine struct {
	doc      *Document
	vocab    Vocabulary
	matchers []matcher
	mdefs    []*MatcherDef
	size     [maxMatchers]bool // matcher i is a size matcher (Decision.UsedSize)
	ident    [maxMatchers]bool // matcher i is a user or group matcher (Decision.UsedIdentity)
	usesID   bool              // UsesIdentity
	rules    []crule
	def      Action
	defText  string
	limits   []*Limit
}

type crule struct {
	info    RuleInfo
	def     *RuleDef
	prog    []instr
	applies bool // the rule has an action of this service
	action  Action
	limits  []*Limit
}

// Decision is Decide's answer. It is a value with no pointers into the request.
type Decision struct {
	Rule     *RuleInfo // nil: no rule matched, the default applied
	Action   Action    // flags in this service's vocabulary (Block for deny; 0 for allow)
	Limits   []*Limit  // quotas and rate of the deciding rule (shared, read only)
	UsedSize bool      // a size matcher was consulted on the way to the decision
	// UsedIdentity: a user or group matcher was consulted on the way to the decision, so the
	// identity it read must be the signed one (the proxy decides again with it).
	UsedIdentity bool

	shadows [maxRules / 64]uint64 // rules (by index) that matched as shadows before the decision
	rules   []crule
}

// ShadowCount is the number of shadow rules that matched before the decision.
func (d *Decision) ShadowCount() int {
	n := 0
	for _, w := range d.shadows {
		n += bits.OnesCount64(w)
	}
	return n
}

// Shadows yields the shadow rules that matched before the decision, in rule order: they were
// evaluated and must be logged and counted, never enforced.
func (d *Decision) Shadows() iter.Seq[*RuleInfo] {
	return func(yield func(*RuleInfo) bool) {
		for wi, w := range d.shadows {
			for w != 0 {
				i := wi*64 + bits.TrailingZeros64(w)
				w &= w - 1
				if !yield(&d.rules[i].info) {
					return
				}
			}
		}
	}
}

// Compile builds the engine for the vocabulary v (ProxyActions or LandingActions). Action
// names of the other service are dropped; a rule left with none does not apply here. A
// default naming only the other service's actions is allow (0) here.
func (d *Document) Compile(v Vocabulary) (*Engine, error) {
	e := &Engine{doc: d, vocab: v}
	var errs []string
	fail := func(key, format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		if line, ok := d.lines[key]; ok {
			msg = fmt.Sprintf("%s:%d: %s", d.Name, line, msg)
		}
		errs = append(errs, msg)
	}
	if len(d.Matchers) > maxMatchers || len(d.Rules) > maxRules {
		return nil, fmt.Errorf("%s: at most %d matchers and %d rules", d.Name, maxMatchers, maxRules)
	}
	index := map[string]int{}
	var known []string
	for _, m := range d.Matchers {
		spec, ok := kinds[m.Kind]
		if !ok {
			fail("matchers."+m.Name, "matcher %q: unknown kind %q (accepted: %s)", m.Name, m.Kind, kindNames())
			continue
		}
		mm, err := spec.build(m.Params)
		if err != nil {
			fail("matchers."+m.Name, "matcher %q: %v", m.Name, err)
			continue
		}
		index[m.Name] = len(e.matchers)
		e.matchers = append(e.matchers, mm)
		e.mdefs = append(e.mdefs, m)
		e.size[len(e.matchers)-1] = m.Kind == "size"
		e.ident[len(e.matchers)-1] = m.Kind == "user" || m.Kind == "group"
		known = append(known, m.Name)
	}
	sort.Strings(known)
	e.limits = append(e.limits, d.Limits...)
	sort.SliceStable(e.limits, func(i, j int) bool {
		if e.limits[i].Kind != e.limits[j].Kind {
			return e.limits[i].Kind < e.limits[j].Kind
		}
		return e.limits[i].Name < e.limits[j].Name
	})
	defText := d.Default
	if defText == "" {
		defText = "deny"
	}
	if a, ok, err := v.own(strings.Split(defText, ",")); err != nil {
		fail("default", "default: %v", err)
	} else if ok {
		e.def, e.defText = a, v.ownText(defText)
	} else {
		e.defText = "allow"
	}
	for i, rd := range d.Rules {
		cr := crule{def: rd, info: RuleInfo{Index: i, ID: rd.ID, Shadow: rd.Shadow}}
		key := "rules." + rd.ID
		n, err := parseExpr(rd.When)
		if err == nil {
			cr.prog, err = compileExpr(n, index, strings.Join(known, ", "))
		}
		if err != nil {
			fail(key, "rule %q: when: %v", rd.ID, err)
		}
		a, ok, err := v.own(strings.Split(rd.Action, ","))
		if err != nil {
			fail(key, "rule %q: action: %v", rd.ID, err)
		}
		cr.action, cr.applies, cr.info.ActionText = a, ok, v.ownText(rd.Action)
		for _, q := range rd.Quotas {
			l := d.limit(q)
			if l == nil || l.Kind != "quota" {
				fail(key, "rule %q: unknown quota %q (accepted: %s)", rd.ID, q, d.limitNames("quota"))
				continue
			}
			cr.limits = append(cr.limits, l)
		}
		if rd.Rate != "" {
			l := d.limit(rd.Rate)
			if l == nil || l.Kind != "rate" {
				fail(key, "rule %q: unknown rate %q (accepted: %s)", rd.ID, rd.Rate, d.limitNames("rate"))
			} else {
				cr.limits = append(cr.limits, l)
			}
		}
		e.rules = append(e.rules, cr)
	}
	e.usesID = e.identityNeeded()
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return e, nil
}

// Rules lists the rules that can decide for this service, for metrics pre-registration.
func (e *Engine) Rules() []RuleInfo {
	var out []RuleInfo
	for _, r := range e.rules {
		if r.applies {
			out = append(out, r.info)
		}
	}
	return out
}

// Limits lists every quota and rate the document defines, quotas first, by name.
func (e *Engine) Limits() []*Limit { return e.limits }

// DefaultText is the default action in this service's terms.
func (e *Engine) DefaultText() string { return e.defText }

// memo holds each matcher's answer for one request: 0 not asked yet, 1 false, 2 true. A
// matcher used by many rules is evaluated once.
type memo [maxMatchers]uint8

// Decide returns the first non-shadow rule that matches, or the default. Pure and
// allocation-free: the memo and expression stack live on this call's stack.
func (e *Engine) Decide(r *Request) Decision {
	var m memo
	var u used
	d := Decision{rules: e.rules}
	for i := range e.rules {
		cr := &e.rules[i]
		if !cr.applies || !e.eval(cr.prog, r, &m, &u) {
			continue
		}
		if cr.info.Shadow {
			d.shadows[i>>6] |= 1 << (i & 63)
			continue
		}
		d.Rule, d.Action, d.Limits = &cr.info, cr.action, cr.limits
		d.UsedSize, d.UsedIdentity = u.size, u.identity
		return d
	}
	d.Action = e.def
	d.UsedSize, d.UsedIdentity = u.size, u.identity
	return d
}

// used records which kinds of matcher a decision consulted: their inputs (size, identity)
// come from the link and must be the signed ones.
type used struct{ size, identity bool }

func (e *Engine) eval(prog []instr, r *Request, m *memo, u *used) bool {
	// The masks below never change an index (the compiler keeps them in range); they let
	// the Go compiler drop bounds checks from this loop, which is most of Decide's time.
	var stack [64]bool
	sp := 0
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		switch in.op {
		case opMatch:
			stack[sp&63] = e.memoValue(in.arg, r, m, u)
			sp++
		case opNotMatch:
			stack[sp&63] = !e.memoValue(in.arg, r, m, u)
			sp++
		case opMatchJF, opNotMatchJF, opMatchJT, opNotMatchJT:
			v := e.memoValue(in.arg, r, m, u)
			if in.op == opNotMatchJF || in.op == opNotMatchJT {
				v = !v
			}
			if v == (in.op == opMatchJT || in.op == opNotMatchJT) {
				stack[sp&63] = v
				sp++
				pc = int(in.to) - 1
			}
		case opConst:
			stack[sp&63] = in.arg != 0
			sp++
		case opNot:
			stack[(sp-1)&63] = !stack[(sp-1)&63]
		case opJF:
			if !stack[(sp-1)&63] {
				pc = int(in.arg) - 1
			}
		case opJT:
			if stack[(sp-1)&63] {
				pc = int(in.arg) - 1
			}
		case opPop:
			sp--
		}
	}
	return stack[0]
}

func (e *Engine) memoValue(arg uint16, r *Request, m *memo, u *used) bool {
	i := arg & (maxMatchers - 1)
	if e.size[i] {
		u.size = true
	}
	if e.ident[i] {
		u.identity = true
	}
	v := m[i]
	if v == 0 {
		v = 1
		if e.value(int(i), r) {
			v = 2
		}
		m[i] = v
	}
	return v == 2
}

// value calls matcher i. The known kinds are called directly so that the compiler can see
// the request does not escape (a call through the interface would make every caller's
// Request a heap allocation); a kind added later without a case here still works, at the
// cost of one allocation for the copy it gets.
func (e *Engine) value(i int, r *Request) bool {
	switch m := e.matchers[i].(type) {
	case *pathMatcher:
		return m.match(r)
	case *cidrMatcher:
		return m.match(r)
	case *timeMatcher:
		return m.match(r)
	case *sizeMatcher:
		return m.match(r)
	case *extMatcher:
		return m.match(r)
	case *methodMatcher:
		return m.match(r)
	case *hostMatcher:
		return m.match(r)
	case *userMatcher:
		return m.match(r)
	case *groupMatcher:
		return m.match(r)
	}
	c := *r
	return e.matchers[i].match(&c)
}
