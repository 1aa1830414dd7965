package policy

import (
	"strings"
	"testing"
)

const okDoc = `default = "deny"

[matchers.office]
kind = "cidr"
addresses = ["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"]

[matchers.private]
kind = "path"
prefixes = ["/private/"]
globs = ["/**/*.iso"]

[[rules]]
id = "office-private"
when = "private and office"
action = "allow"
quota = "daily"
rate = "burst"

[quotas.daily]
scope = "subnet"
bytes = "50GB"
period = "day"

[rates.burst]
scope = "subnet"
requests = 100
period = "1h"
`

func TestParseOK(t *testing.T) {
	d, err := Parse("p.toml", []byte(okDoc))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Matchers) != 2 || len(d.Rules) != 1 || len(d.Limits) != 2 || d.Default != "deny" {
		t.Fatalf("%+v", d)
	}
	q := d.Limits[0]
	if q.Name != "daily" || q.Kind != "quota" || q.Bytes != 50<<30 || q.Scope != ScopeSubnet || q.Period.Unit != "day" || q.Period.Zone != "UTC" {
		t.Fatalf("quota %+v", q)
	}
	if r := d.Rules[0]; r.Quotas[0] != "daily" || r.Rate != "burst" || r.When != "private and office" {
		t.Fatalf("rule %+v", r)
	}
}

// TestParseErrors: each mistake is refused with the line it is on and what is accepted.
func TestParseErrors(t *testing.T) {
	rule := "\n[[rules]]\nid = \"r\"\nwhen = \"m\"\naction = \"allow\"\n"
	m := "[matchers.m]\nkind = \"method\"\nmethods = [\"GET\"]\n"
	for _, tc := range []struct {
		name, doc string
		want      []string
	}{
		{"unknown top key", "colour = 1\n" + m + rule, []string{"x.toml:1:", `unknown key "colour"`, "accepted: default, matchers"}},
		{"unknown matcher key", m + "prefix = [\"/a\"]\n" + rule, []string{"x.toml:4:", `unknown key "prefix"`, "accepted: kind, methods"}},
		{"unknown kind", "[matchers.m]\nkind = \"ip\"\n" + rule, []string{"x.toml:2:", `unknown kind "ip"`, "cidr, ext, group"}},
		{"missing kind", "[matchers.m]\nmethods = [\"GET\"]\n" + rule, []string{"x.toml:1:", "kind is missing"}},
		{"type error", "[matchers.m]\nkind = \"method\"\nmethods = \"GET\"\n" + rule, []string{"x.toml:3:", "expected an array of strings, got a string"}},
		{"element type", "[matchers.m]\nkind = \"method\"\nmethods = [\n\"GET\",\n 3]\n" + rule, []string{"x.toml:5:", "found an integer"}},
		{"bad cidr", "[matchers.m]\nkind = \"cidr\"\naddresses = [\"10.0.0.1/8\"]\n" + rule, []string{"x.toml:3:", "did you mean 10.0.0.0/8"}},
		{"bad address", "[matchers.m]\nkind = \"cidr\"\naddresses = [\"10.0.0\"]\n" + rule, []string{"x.toml:3:", "accepted: an IPv4 or IPv6"}},
		{"bad prefix", "[matchers.m]\nkind = \"path\"\nprefixes = [\"a/\"]\n" + rule, []string{"x.toml:3:", "does not start with /"}},
		{"bad time", "[matchers.m]\nkind = \"time\"\nbetween = \"22-07\"\n" + rule, []string{"x.toml:3:", "HH:MM-HH:MM"}},
		{"bad day", "[matchers.m]\nkind = \"time\"\ndays = [\"monday\"]\n" + rule, []string{"x.toml:3:", "mon, tue"}},
		{"bad zone", "[matchers.m]\nkind = \"time\"\ndays = [\"mon\"]\nzone = \"Mars/Olympus\"\n" + rule, []string{"x.toml:4:", "IANA"}},
		{"size order", "[matchers.m]\nkind = \"size\"\nmin = \"2GB\"\nmax = \"1GB\"\n" + rule, []string{"x.toml:4:", "below min"}},
		{"bad size", "[matchers.m]\nkind = \"size\"\nmin = \"lots\"\n" + rule, []string{"x.toml:3:", "500MB"}},
		{"unused matcher", m + "[matchers.n]\nkind = \"user\"\nusers = [\"a\"]\n" + rule, []string{"x.toml:4:", `matcher "n" is not used`}},
		{"unknown matcher in when", m + "\n[[rules]]\nid = \"r\"\nwhen = \"m and nope\"\naction = \"allow\"\n", []string{"x.toml:7:", `unknown matcher "nope" (accepted: m)`}},
		{"duplicate id", m + rule + rule, []string{"x.toml:11:", `duplicate rule id "r" (first at line 6)`}},
		{"bad action", m + "\n[[rules]]\nid = \"r\"\nwhen = \"m\"\naction = \"permit\"\n", []string{"x.toml:8:", `unknown action "permit"`, "accepted: allow, asis, block, deny"}},
		{"alone action", m + "\n[[rules]]\nid = \"r\"\nwhen = \"m\"\naction = \"block,skip-ip\"\n", []string{"x.toml:8:", "stand alone"}},
		{"allow combined", m + "\n[[rules]]\nid = \"r\"\nwhen = \"m\"\naction = \"allow,skip-ip\"\n", []string{"x.toml:8:", "allow and deny stand alone"}},
		{"missing when", m + "\n[[rules]]\nid = \"r\"\naction = \"allow\"\n", []string{"x.toml:5:", "when is missing"}},
		{"shadow type", m + rule + "shadow = \"yes\"\n", []string{"x.toml:9:", "expected true or false"}},
		{"unknown quota", m + rule + "quota = [\"q\"]\n", []string{"x.toml:9:", `unknown quota "q"`}},
		{"expr syntax", m + "\n[[rules]]\nid = \"r\"\nwhen = \"m and\"\naction = \"allow\"\n", []string{"x.toml:7:", "expression ends"}},
		{"expr depth", m + "\n[[rules]]\nid = \"r\"\nwhen = \"" + strings.Repeat("not ", 40) + "m\"\naction = \"allow\"\n", []string{"x.toml:7:", "deeper than 32"}},
		{"expr size", m + "\n[[rules]]\nid = \"r\"\nwhen = \"m" + strings.Repeat(" or m", 130) + "\"\naction = \"allow\"\n", []string{"x.toml:7:", "longer than 256 tokens"}},
		{"rate with bytes", m + rule + "rate = \"b\"\n[rates.b]\nscope = \"subnet\"\nbytes = \"1GB\"\nrequests = 5\nperiod = \"1h\"\n", []string{"x.toml:12:", "requests only"}},
		{"quota without caps", m + rule + "quota = \"q\"\n[quotas.q]\nscope = \"path\"\nperiod = \"day\"\n", []string{"x.toml:10:", "needs bytes or requests"}},
		{"bad scope", m + rule + "quota = \"q\"\n[quotas.q]\nscope = \"ip\"\nrequests = 1\nperiod = \"day\"\n", []string{"x.toml:11:", `unknown scope "ip"`, "subnet+path"}},
		{"bad period", m + rule + "quota = \"q\"\n[quotas.q]\nscope = \"global\"\nrequests = 1\nperiod = \"fortnight\"\n", []string{"x.toml:13:", "day"}},
		{"reset on rolling", m + rule + "quota = \"q\"\n[quotas.q]\nscope = \"global\"\nrequests = 1\nperiod = \"24h\"\nreset = 1\n", []string{"x.toml:14:", "calendar periods"}},
		{"zone on rolling", m + rule + "quota = \"q\"\n[quotas.q]\nscope = \"global\"\nrequests = 1\nperiod = \"24h\"\nzone = \"UTC\"\n", []string{"x.toml:14:", "calendar periods"}},
		{"month reset range", m + rule + "quota = \"q\"\n[quotas.q]\nscope = \"global\"\nrequests = 1\nperiod = \"month\"\nreset = 31\n", []string{"x.toml:14:", "1 to 28"}},
		{"week reset", m + rule + "quota = \"q\"\n[quotas.q]\nscope = \"global\"\nrequests = 1\nperiod = \"week\"\nreset = \"funday\"\n", []string{"x.toml:14:", "mon, tue"}},
		{"unused quota", m + rule + "[quotas.q]\nscope = \"global\"\nrequests = 1\nperiod = \"day\"\n", []string{"x.toml:9:", `quota "q" is not used`}},
		{"toml syntax", "default = \n", []string{"x.toml:1:"}},
		{"toml redefinition", "[matchers.m]\nkind = \"a\"\n[matchers.m]\nkind = \"b\"\n", []string{"x.toml:3:"}},
		{"reserved name", "[matchers.and]\nkind = \"method\"\nmethods = [\"GET\"]\n", []string{"x.toml:1:", `matcher "and"`}},
		{"bad default", "default = \"open\"\n", []string{"x.toml:1:", "default:", `unknown action "open"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("x.toml", []byte(tc.doc))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestParseAllAtOnce: an operator sees every problem in one run.
func TestParseAllAtOnce(t *testing.T) {
	doc := "colour = 1\n[matchers.m]\nkind = \"method\"\nmethods = [\"get\"]\n[matchers.n]\nkind = \"nope\"\n" +
		"[[rules]]\nid = \"r\"\nwhen = \"m\"\naction = \"permit\"\n"
	_, err := Parse("x.toml", []byte(doc))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, w := range []string{"x.toml:1: unknown key", "x.toml:4:", "x.toml:6: [matchers.n]: unknown kind", "x.toml:10:"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%q lacks %q", err, w)
		}
	}
}

// TestAlistGroups: [alist_groups] maps AList account names to groups, strictly, and prints back.
func TestAlistGroups(t *testing.T) {
	doc, err := Parse("p.toml", []byte("[alist_groups]\nalice = [\"members\", \"staff\"]\n\"bob smith\" = []\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.AlistGroups) != 2 || len(doc.AlistGroups["alice"]) != 2 || len(doc.AlistGroups["bob smith"]) != 0 {
		t.Fatalf("%v", doc.AlistGroups)
	}
	again, err := Parse("again.toml", doc.TOML())
	if err != nil || !again.Equal(doc) {
		t.Fatalf("round trip: %v\n%s", err, doc.TOML())
	}
	_, err = Parse("p.toml", []byte("[alist_groups]\nalice = \"members\"\nbob = [\"a\", \"a\"]\n\"\\u0001x\" = [\"g\"]\n"))
	for _, want := range []string{"p.toml:2:", "p.toml:3: [alist_groups] bob: \"a\" is listed twice", "p.toml:4: [alist_groups]: \"\\x01x\" is not a user name"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q in %v", want, err)
		}
	}
}
