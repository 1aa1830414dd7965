package policy

import (
	"os"
	"reflect"
)

// Document is a parsed policy: from a POLICY_FILE (Parse, Load), from the Workers' list
// variables (FromLists), or both (Merge). It is plain data, printable as TOML; Compile turns
// it into an Engine for one service. A Document is not modified after it is made.
type Document struct {
	// Name is where the document came from ("policy.toml", "env"), for messages.
	Name string
	// Default is the action text applied when no rule decides; "" means deny.
	Default  string
	Matchers []*MatcherDef
	Rules    []*RuleDef
	// Limits holds the [quotas.*] and [rates.*] tables in document order (Kind tells them apart).
	Limits []*Limit
	// AlistGroups is [alist_groups]: the groups of AList accounts (ALIST_LOGIN); nil when absent.
	AlistGroups map[string][]string

	lines map[string]int // "matchers.NAME", "rules.ID", ... → line, for Compile's messages
}

// MatcherDef is one [matchers.NAME] table. Params holds each key's values as written (a
// single value is a one-element list), so a new matcher kind needs no new field here.
type MatcherDef struct {
	Name   string
	Kind   string
	Params map[string][]string
}

// RuleDef is one [[rules]] entry.
type RuleDef struct {
	ID     string
	When   string   // the expression as written
	Action string   // comma-separated action names, normalised to lower case
	Quotas []string // names of [quotas.*]
	Rate   string   // name of a [rates.*]
	Shadow bool
}

// Load reads and parses a policy file; see Parse.
func Load(path string) (*Document, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Equal reports whether two documents say the same thing (where they came from and the
// lines they were written on do not count): the lead can skip a reload that changes nothing,
// and the fuzz target checks that printing loses nothing.
func (d *Document) Equal(o *Document) bool {
	return reflect.DeepEqual(d.plain(), o.plain())
}

func (d *Document) plain() *Document {
	if d == nil {
		return nil
	}
	c := *d
	c.Name, c.lines = "", nil
	c.Limits = make([]*Limit, len(d.Limits))
	for i, l := range d.Limits {
		lc := *l
		lc.Period.loc = nil
		c.Limits[i] = &lc
	}
	if len(c.Matchers) == 0 {
		c.Matchers = nil
	}
	if len(c.Rules) == 0 {
		c.Rules = nil
	}
	if len(c.Limits) == 0 {
		c.Limits = nil
	}
	return &c
}

// Merge puts the environment's rules before the file's, so BLACKLIST_* keeps deciding first
// exactly as it did before POLICY_FILE existed. Matchers and limits are the union; the
// file's default applies. A file that defines a name the environment also produced (it
// pasted -print-policy's output) replaces the environment's definition of it.
func Merge(env, file *Document) *Document {
	if file == nil {
		return env
	}
	if env == nil {
		return file
	}
	out := &Document{Name: file.Name, Default: file.Default, lines: file.lines}
	fm := map[string]bool{}
	for _, m := range file.Matchers {
		fm[m.Name] = true
	}
	for _, m := range env.Matchers {
		if !fm[m.Name] {
			out.Matchers = append(out.Matchers, m)
		}
	}
	out.Matchers = append(out.Matchers, file.Matchers...)
	fr := map[string]bool{}
	for _, r := range file.Rules {
		fr[r.ID] = true
	}
	for _, r := range env.Rules {
		if !fr[r.ID] {
			out.Rules = append(out.Rules, r)
		}
	}
	out.Rules = append(out.Rules, file.Rules...)
	fl := map[string]bool{}
	for _, l := range file.Limits {
		fl[l.Name] = true
	}
	for _, l := range env.Limits {
		if !fl[l.Name] {
			out.Limits = append(out.Limits, l)
		}
	}
	out.Limits = append(out.Limits, file.Limits...)
	out.AlistGroups = file.AlistGroups
	return out
}
