package policy

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

// matcher is one named condition over a request. Implementations are immutable after
// build and must not allocate in match: Decide calls them on every request.
type matcher interface {
	match(r *Request) bool
}

// keySpec is one key a matcher kind accepts.
type keySpec struct {
	name string
	list bool // an array of strings; otherwise one string
}

// kindSpec is a matcher kind: the keys it accepts and how to build it from them. A new kind
// (identities, say) is one more entry in kinds; the reader, printer and explain need
// nothing else.
type kindSpec struct {
	keys  []keySpec
	build func(p map[string][]string) (matcher, error)
}

var kinds = map[string]kindSpec{
	"path":   {[]keySpec{{"prefixes", true}, {"globs", true}}, buildPath},
	"cidr":   {[]keySpec{{"addresses", true}}, buildCIDR},
	"time":   {[]keySpec{{"days", true}, {"between", false}, {"zone", false}}, buildTime},
	"size":   {[]keySpec{{"min", false}, {"max", false}}, buildSize},
	"ext":    {[]keySpec{{"extensions", true}}, buildExt},
	"method": {[]keySpec{{"methods", true}}, buildMethod},
	"host":   {[]keySpec{{"hosts", true}}, buildHost},
	"user":   {[]keySpec{{"users", true}}, buildUser},
	"group":  {[]keySpec{{"groups", true}}, buildGroup},
}

func kindNames() string {
	var n []string
	for k := range kinds {
		n = append(n, k)
	}
	sort.Strings(n)
	return strings.Join(n, ", ")
}

// need refuses a matcher with none of the given keys: it would match nothing (or everything),
// which is never what was meant.
func need(p map[string][]string, keys ...string) error {
	for _, k := range keys {
		if len(p[k]) > 0 {
			return nil
		}
	}
	return fmt.Errorf("needs %s", strings.Join(keys, " or "))
}

// pathMatcher: prefixes with BLACKLIST_PREFIX's folder rule, and globs.
type pathMatcher struct {
	l     list
	globs []*glob
}

func buildPath(p map[string][]string) (matcher, error) {
	if err := need(p, "prefixes", "globs"); err != nil {
		return nil, err
	}
	m := &pathMatcher{}
	for _, pre := range p["prefixes"] {
		if err := checkPrefix(pre); err != nil {
			return nil, fmt.Errorf("prefixes: %v", err)
		}
		m.l.prefixes = append(m.l.prefixes, pre)
	}
	for _, g := range p["globs"] {
		c, err := compileGlob(g)
		if err != nil {
			return nil, fmt.Errorf("globs: %v", err)
		}
		m.globs = append(m.globs, c)
	}
	return m, nil
}

func (m *pathMatcher) match(r *Request) bool {
	if m.l.matches(r.Path) {
		return true
	}
	for _, g := range m.globs {
		if g.match(r.Path) {
			return true
		}
	}
	return false
}

// cidrMatcher: a single address is a /32 or /128 prefix.
type cidrMatcher struct{ prefixes []netip.Prefix }

func buildCIDR(p map[string][]string) (matcher, error) {
	if err := need(p, "addresses"); err != nil {
		return nil, err
	}
	m := &cidrMatcher{}
	for _, s := range p["addresses"] {
		pf, err := parseAddress(s)
		if err != nil {
			return nil, fmt.Errorf("addresses: %v", err)
		}
		m.prefixes = append(m.prefixes, pf)
	}
	return m, nil
}

func parseAddress(s string) (netip.Prefix, error) {
	const accepted = "(accepted: an IPv4 or IPv6 address or CIDR such as 10.0.0.0/8, 192.0.2.7, 2001:db8::/32)"
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("%q is not an address %s", s, accepted)
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	pf, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a CIDR %s", s, accepted)
	}
	if pf.Addr().Is4In6() {
		return netip.Prefix{}, fmt.Errorf("%q is an IPv4-mapped range: client addresses are unmapped, write the IPv4 form", s)
	}
	if pf.Masked() != pf {
		return netip.Prefix{}, fmt.Errorf("%q has bits set after the prefix length: did you mean %s?", s, pf.Masked())
	}
	return pf, nil
}

func (m *cidrMatcher) match(r *Request) bool {
	a := r.Addr.Unmap()
	for _, p := range m.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// sizeMatcher: min and max inclusive. An unknown size (< 0, a link without additionalInfo)
// never matches: it is neither big nor small, and explain shows the value so an operator
// can see why "big" did not apply.
type sizeMatcher struct{ min, max int64 }

func buildSize(p map[string][]string) (matcher, error) {
	if err := need(p, "min", "max"); err != nil {
		return nil, err
	}
	m := &sizeMatcher{min: 0, max: -1}
	if v := p["min"]; len(v) > 0 {
		n, err := ParseSize(v[0])
		if err != nil {
			return nil, fmt.Errorf("min: %v", err)
		}
		m.min = n
	}
	if v := p["max"]; len(v) > 0 {
		n, err := ParseSize(v[0])
		if err != nil {
			return nil, fmt.Errorf("max: %v", err)
		}
		if n < m.min {
			return nil, fmt.Errorf("max: %s is below min %s", v[0], p["min"][0])
		}
		m.max = n
	}
	return m, nil
}

func (m *sizeMatcher) match(r *Request) bool {
	return r.Size >= 0 && r.Size >= m.min && (m.max < 0 || r.Size <= m.max)
}

// extMatcher: the file name's extension, case-insensitive; "tar.gz" is allowed.
type extMatcher struct{ exts []string }

func buildExt(p map[string][]string) (matcher, error) {
	if err := need(p, "extensions"); err != nil {
		return nil, err
	}
	m := &extMatcher{}
	for _, e := range p["extensions"] {
		if e == "" || strings.HasPrefix(e, ".") || strings.ContainsAny(e, "/*? ") {
			return nil, fmt.Errorf("extensions: %q is not an extension (accepted: names without the dot, such as iso or tar.gz)", e)
		}
		m.exts = append(m.exts, strings.ToLower(e))
	}
	return m, nil
}

func (m *extMatcher) match(r *Request) bool {
	name := r.Path[strings.LastIndexByte(r.Path, '/')+1:]
	for _, e := range m.exts {
		if n := len(name) - len(e); n > 1 && name[n-1] == '.' && strings.EqualFold(name[n:], e) {
			return true
		}
	}
	return false
}

// methodMatcher compares the method exactly (methods are case-sensitive; written upper case).
type methodMatcher struct{ methods []string }

func buildMethod(p map[string][]string) (matcher, error) {
	if err := need(p, "methods"); err != nil {
		return nil, err
	}
	m := &methodMatcher{}
	for _, s := range p["methods"] {
		if s == "" || strings.ToUpper(s) != s || strings.ContainsAny(s, " /\t") {
			return nil, fmt.Errorf("methods: %q is not a method (accepted: upper-case HTTP methods such as GET, HEAD)", s)
		}
		m.methods = append(m.methods, s)
	}
	return m, nil
}

func (m *methodMatcher) match(r *Request) bool { return contains(m.methods, r.Method) }

// hostMatcher: exact names, or "*.example.com" for the domain and all its subdomains.
type hostMatcher struct {
	exact    []string
	suffixes []string // ".example.com"
}

func buildHost(p map[string][]string) (matcher, error) {
	if err := need(p, "hosts"); err != nil {
		return nil, err
	}
	m := &hostMatcher{}
	for _, h := range p["hosts"] {
		base := strings.TrimPrefix(h, "*.")
		if base == "" || strings.ContainsAny(base, "*/:@ ") || strings.HasSuffix(base, ".") || strings.HasPrefix(base, ".") {
			return nil, fmt.Errorf("hosts: %q is not a host name (accepted: example.com or *.example.com, no port)", h)
		}
		base = strings.ToLower(base)
		if strings.HasPrefix(h, "*.") {
			m.suffixes = append(m.suffixes, "."+base)
		} else {
			m.exact = append(m.exact, base)
		}
	}
	return m, nil
}

func (m *hostMatcher) match(r *Request) bool {
	h := strings.TrimSuffix(r.Host, ".")
	for _, e := range m.exact {
		if strings.EqualFold(h, e) {
			return true
		}
	}
	for _, s := range m.suffixes {
		if strings.EqualFold(h, s[1:]) || len(h) > len(s) && strings.EqualFold(h[len(h)-len(s):], s) {
			return true
		}
	}
	return false
}

// userMatcher and groupMatcher read the identity signed into the link (issue #17); an
// anonymous request (User "") matches neither.
type userMatcher struct{ names []string }
type groupMatcher struct{ names []string }

func names(p map[string][]string, key string) ([]string, error) {
	if err := need(p, key); err != nil {
		return nil, err
	}
	for _, n := range p[key] {
		if n == "" {
			return nil, fmt.Errorf("%s: an empty name never matches", key)
		}
	}
	return p[key], nil
}

func buildUser(p map[string][]string) (matcher, error) {
	n, err := names(p, "users")
	return &userMatcher{n}, err
}

func buildGroup(p map[string][]string) (matcher, error) {
	n, err := names(p, "groups")
	return &groupMatcher{n}, err
}

func (m *userMatcher) match(r *Request) bool { return r.User != "" && contains(m.names, r.User) }

func (m *groupMatcher) match(r *Request) bool {
	for _, g := range r.Groups {
		if contains(m.names, g) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
