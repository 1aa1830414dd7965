package policy

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

const engineDoc = `default = "deny"

[matchers.office]
kind = "cidr"
addresses = ["10.0.0.0/8"]

[matchers.private]
kind = "path"
prefixes = ["/private/"]

[matchers.big]
kind = "size"
min = "1GB"

[matchers.iso]
kind = "ext"
extensions = ["iso"]

[[rules]]
id = "watch-iso"
when = "iso"
action = "deny"
shadow = true

[[rules]]
id = "bots"
when = "not office and private"
action = "verify-pow"

[[rules]]
id = "office-private"
when = "private ∧ office"
action = "allow"
quota = "daily"

[[rules]]
id = "big-public"
when = "big and not private"
action = "skip-ip,verify-both"
rate = "burst"

[[rules]]
id = "public"
when = "not private"
action = "allow"

[quotas.daily]
scope = "subnet"
bytes = "50GB"
period = "day"

[rates.burst]
scope = "subnet"
requests = 100
period = "1h"
`

func compile(t testing.TB, doc string, v Vocabulary) *Engine {
	t.Helper()
	d, err := Parse("t.toml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	e, err := d.Compile(v)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestDecide(t *testing.T) {
	proxy, landing := compile(t, engineDoc, ProxyActions), compile(t, engineDoc, LandingActions)
	office, home := netip.MustParseAddr("10.1.1.1"), netip.MustParseAddr("192.0.2.1")
	for _, tc := range []struct {
		name       string
		e          *Engine
		r          Request
		rule       string
		action     Action
		shadows    string
		usedSize   bool
		limitNames string
	}{
		{"office private", proxy, Request{Path: "/private/a", Addr: office, Size: -1}, "office-private", 0, "", false, "daily"},
		{"bots rule is landing only", proxy, Request{Path: "/private/a", Addr: home, Size: -1}, "", Block, "", true, ""},
		{"bots on landing", landing, Request{Path: "/private/a", Addr: home, Size: -1}, "bots", VerifyPow, "", false, ""},
		{"big public proxy", proxy, Request{Path: "/pub/a.iso", Addr: home, Size: 2 << 30}, "big-public", SkipIP, "watch-iso", true, "burst"},
		{"big public landing", landing, Request{Path: "/pub/a", Addr: home, Size: 2 << 30}, "big-public", VerifyBoth, "", true, "burst"},
		{"small public", proxy, Request{Path: "/pub/a", Addr: home, Size: 10}, "public", 0, "", true, ""},
		{"unknown size", proxy, Request{Path: "/pub/a", Addr: home, Size: -1}, "public", 0, "", true, ""},
		{"shadow never decides", proxy, Request{Path: "/private/a.iso", Addr: office, Size: -1}, "office-private", 0, "watch-iso", false, "daily"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.e.Decide(&tc.r)
			rule := ""
			if d.Rule != nil {
				rule = d.Rule.ID
			}
			var sh, ln []string
			for s := range d.Shadows() {
				sh = append(sh, s.ID)
			}
			for _, l := range d.Limits {
				ln = append(ln, l.Name)
			}
			if rule != tc.rule || d.Action != tc.action || strings.Join(sh, ",") != tc.shadows || d.UsedSize != tc.usedSize ||
				strings.Join(ln, ",") != tc.limitNames || d.ShadowCount() != len(sh) {
				t.Fatalf("got rule %q action %b shadows %v usedSize %v limits %v", rule, d.Action, sh, d.UsedSize, ln)
			}
		})
	}
}

func TestRulesAndLimits(t *testing.T) {
	e := compile(t, engineDoc, ProxyActions)
	var ids []string
	for _, r := range e.Rules() {
		ids = append(ids, fmt.Sprintf("%d:%s:%s:%v", r.Index, r.ID, r.ActionText, r.Shadow))
	}
	if got := strings.Join(ids, " "); got != "0:watch-iso:deny:true 2:office-private:allow:false 3:big-public:skip-ip:false 4:public:allow:false" {
		t.Fatal(got)
	}
	if l := e.Limits(); len(l) != 2 || l[0].Name != "daily" || l[1].Name != "burst" {
		t.Fatal(l)
	}
}

func TestExpressions(t *testing.T) {
	vals := map[string]bool{"a": true, "b": false, "c": true}
	for expr, want := range map[string]bool{
		"a": true, "not a": false, "¬a": false, "a and b": false, "a or b": true, "a ∧ c": true, "b ∨ c": true,
		"a and b or c": true, "a or b and b": true, "not a or c": true, "not (a or b)": false, "(a or b) and b": false,
		"true": true, "false or not false": true, "not not a": true, "b or b or b or c": true, "a and a and a and b": false,
		"((a))": true, "a and (b or (c and not b))": true,
	} {
		n, err := parseExpr(expr)
		if err != nil {
			t.Fatalf("%q: %v", expr, err)
		}
		prog, err := compileExpr(n, map[string]int{"a": 0, "b": 1, "c": 2}, "")
		if err != nil {
			t.Fatal(err)
		}
		e := &Engine{}
		var m memo
		for i, name := range []string{"a", "b", "c"} {
			m[i] = 1
			if vals[name] {
				m[i] = 2
			}
		}
		var u used
		if got := e.eval(prog, &Request{}, &m, &u); got != want {
			t.Errorf("%q: got %v", expr, got)
		}
	}
	for _, bad := range []string{"", "a and", "(a", "a)", "and a", "a b", "a & b", "not", "()"} {
		if _, err := parseExpr(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// bench50 is a realistic 50-rule policy: office networks, private folders, night windows,
// big files, hot extensions, hosts and methods, mixed.
func bench50() string {
	var b strings.Builder
	b.WriteString("default = \"allow\"\n")
	fmt.Fprintf(&b, "[matchers.night]\nkind = \"time\"\nbetween = \"22:00-07:00\"\nzone = \"Europe/Berlin\"\n")
	fmt.Fprintf(&b, "[matchers.weekend]\nkind = \"time\"\ndays = [\"sat\", \"sun\"]\nzone = \"America/New_York\"\n")
	fmt.Fprintf(&b, "[matchers.big]\nkind = \"size\"\nmin = \"1GB\"\n")
	fmt.Fprintf(&b, "[matchers.head]\nkind = \"method\"\nmethods = [\"HEAD\"]\n")
	fmt.Fprintf(&b, "[matchers.media]\nkind = \"ext\"\nextensions = [\"iso\", \"mkv\", \"mp4\"]\n")
	fmt.Fprintf(&b, "[matchers.mirror]\nkind = \"host\"\nhosts = [\"*.mirror.example.com\"]\n")
	for i := 0; i < 12; i++ {
		fmt.Fprintf(&b, "[matchers.net%d]\nkind = \"cidr\"\naddresses = [\"10.%d.0.0/16\", \"2001:db8:%x::/48\"]\n", i, i, i)
		fmt.Fprintf(&b, "[matchers.dir%d]\nkind = \"path\"\nprefixes = [\"/team%d/\", \"/archive/%d/\"]\nglobs = [\"/**/project%d/*.bin\"]\n", i, i, i, i)
	}
	for i := 0; i < 50; i++ {
		var when, action string
		switch i % 5 {
		case 0:
			when, action = fmt.Sprintf("dir%d and not net%d", i%12, i%12), "deny"
		case 1:
			when, action = fmt.Sprintf("dir%d and (night or weekend)", i%12), "skip-ip"
		case 2:
			when, action = fmt.Sprintf("big and dir%d and not net%d", i%12, (i+1)%12), "verify-pow"
		case 3:
			when, action = fmt.Sprintf("media and mirror and net%d", i%12), "allow"
		default:
			when, action = fmt.Sprintf("head and dir%d or net%d and dir%d", i%12, i%12, (i+3)%12), "skip-sign,pass-web"
		}
		fmt.Fprintf(&b, "[[rules]]\nid = \"r%d\"\nwhen = \"%s\"\naction = \"%s\"\nshadow = %v\n", i, when, action, i%17 == 16)
	}
	return b.String()
}

var benchReq = Request{
	Path: "/public/releases/2026/distro-11.2-amd64.iso", Addr: netip.MustParseAddr("192.0.2.44"),
	Time: time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC), Size: 3 << 30, Method: "GET", Host: "dl.example.com",
}

// TestDecideNoAllocs: Decide allocates nothing, even with the Request built on the caller's
// stack (a matcher call through an interface would move it to the heap).
func TestDecideNoAllocs(t *testing.T) {
	e := compile(t, bench50(), ProxyActions)
	if n := testing.AllocsPerRun(200, func() {
		r := benchReq
		r.Path = "/team3/x.bin"
		d := e.Decide(&r)
		for range d.Shadows() {
		}
	}); n != 0 {
		t.Fatalf("%v allocations per Decide", n)
	}
}

func BenchmarkDecide50Rules(b *testing.B) {
	e := compile(b, bench50(), ProxyActions)
	b.ReportAllocs()
	for b.Loop() {
		r := benchReq
		d := e.Decide(&r)
		if d.Rule != nil {
			b.Fatal(d.Rule.ID)
		}
	}
}

func BenchmarkDecide50RulesEarlyMatch(b *testing.B) {
	e := compile(b, bench50(), ProxyActions)
	b.ReportAllocs()
	for b.Loop() {
		r := benchReq
		r.Path = "/team1/x"
		e.Decide(&r)
	}
}
