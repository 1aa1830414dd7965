package policy

import (
	"reflect"
	"strings"
	"testing"
)

// identityDoc has one limit of every identity shape; rules attach them all.
const identityDoc = `default = "allow"
[matchers.staff]
kind = "group"
groups = ["staff"]
[matchers.internal]
kind = "path"
prefixes = ["/internal/"]
[[rules]]
id = "staff-internal"
when = "internal and not staff"
action = "deny"
[[rules]]
id = "all"
when = "true"
action = "allow"
quota = ["members", "perks", "class", "pools", "calls"]
[quotas.members]
scope = "user"
bytes = "5GB"
per_group = { members = "50GB", staff = "100GB" }
period = "day"
[quotas.perks]
scope = "user"
per_group = { "VIP club" = 1024 }
period = "week"
[quotas.class]
scope = "group"
bytes = "200GB"
groups = ["class-a", "class-b"]
per_group = { class-b = "300GB" }
period = "week"
[quotas.pools]
scope = "group"
per_group = { staff = "1MB" }
period = "1h"
[quotas.calls]
scope = "user"
requests = 100
period = "day"
`

func identityLimits(t *testing.T) map[string]*Limit {
	t.Helper()
	d, err := Parse("id.toml", []byte(identityDoc))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]*Limit{}
	for _, l := range d.Limits {
		m[l.Name] = l
	}
	return m
}

func TestApply(t *testing.T) {
	const gb = 1 << 30
	ls := identityLimits(t)
	u := func(n string) string { return CounterKey(ScopeUser, "", "", n) }
	g := func(n string) string { return CounterKey(ScopeGroup, "", "", n) }
	ph := strings.Repeat("ab", 32)
	plain := func(s Scope) *Limit {
		return &Limit{Name: "x", Kind: "quota", Scope: s, Bytes: 10, Requests: 3}
	}
	none := []Applied{{None: true}}
	for _, tc := range []struct {
		name string
		l    *Limit
		s    Subject
		want []Applied
	}{
		{"subnet", plain(ScopeSubnet), Subject{Subnet: "192.0.2.0/24", PathHash: ph, User: "al"},
			[]Applied{{Key: "s:" + hashText("192.0.2.0/24"), Bytes: 10, Requests: 3}}},
		{"path", plain(ScopePath), Subject{Subnet: "192.0.2.0/24", PathHash: ph}, []Applied{{Key: "p:" + ph, Bytes: 10, Requests: 3}}},
		{"subnet+path", plain(ScopeSubnetPath), Subject{Subnet: "192.0.2.0/24", PathHash: ph},
			[]Applied{{Key: "s:" + hashText("192.0.2.0/24") + "|p:" + ph, Bytes: 10, Requests: 3}}},
		{"global", plain(ScopeGlobal), Subject{Subnet: "192.0.2.0/24", PathHash: ph}, []Applied{{Key: "", Bytes: 10, Requests: 3}}},
		{"user base only", ls["members"], Subject{User: "al"}, []Applied{{Key: u("al"), Bytes: 5 * gb}}},
		{"user base + sum of groups", ls["members"], Subject{User: "al", Groups: []string{"members", "staff", "guests"}},
			[]Applied{{Key: u("al"), Bytes: 155 * gb}}},
		{"a group listed twice counts once", ls["members"], Subject{User: "al", Groups: []string{"staff", "staff"}},
			[]Applied{{Key: u("al"), Bytes: 105 * gb}}},
		{"user in no group, no base", ls["perks"], Subject{User: "al"}, []Applied{{Key: u("al"), None: true}}},
		{"user in another group, no base", ls["perks"], Subject{User: "al", Groups: []string{"members"}}, []Applied{{Key: u("al"), None: true}}},
		{"user per_group only", ls["perks"], Subject{User: "al", Groups: []string{"VIP club"}}, []Applied{{Key: u("al"), Bytes: 1024}}},
		{"anonymous under user scope", ls["members"], Subject{Subnet: "192.0.2.0/24"}, none},
		{"anonymous under group scope", ls["class"], Subject{Groups: []string{"class-a"}}, none},
		{"requests-only user", ls["calls"], Subject{User: "al"}, []Applied{{Key: u("al"), Requests: 100}}},
		{"requests-only anonymous", ls["calls"], Subject{}, none},
		{"pool filtered by groups", ls["class"], Subject{User: "al", Groups: []string{"staff", "class-a"}},
			[]Applied{{Key: g("class-a"), Bytes: 200 * gb}}},
		{"two pools, per_group cap", ls["class"], Subject{User: "al", Groups: []string{"class-b", "class-a", "class-b"}},
			[]Applied{{Key: g("class-b"), Bytes: 300 * gb}, {Key: g("class-a"), Bytes: 200 * gb}}},
		{"no pool for the user's groups", ls["class"], Subject{User: "al", Groups: []string{"staff"}}, none},
		{"pools only where per_group names one", ls["pools"], Subject{User: "al", Groups: []string{"members", "staff"}},
			[]Applied{{Key: g("staff"), Bytes: 1 << 20}}},
		{"pool without cap", ls["pools"], Subject{User: "al", Groups: []string{"members"}}, none},
		{"requests-only group", &Limit{Scope: ScopeGroup, Requests: 7}, Subject{User: "al", Groups: []string{"a", "b"}},
			[]Applied{{Key: g("a"), Requests: 7}, {Key: g("b"), Requests: 7}}},
		{"requests-only group, user in none", &Limit{Scope: ScopeGroup, Requests: 7}, Subject{User: "al"}, none},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.l.Apply(tc.s); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
	if k := u("al"); len(k) != 2+32 || k == g("al") {
		t.Fatalf("user key %q", k)
	}
}

func TestApplySaturates(t *testing.T) {
	l := &Limit{Scope: ScopeUser, Bytes: 1 << 62, PerGroup: map[string]int64{"a": 1 << 62, "b": 1 << 62}}
	if a := l.Apply(Subject{User: "x", Groups: []string{"a", "b"}}); a[0].Bytes != 1<<63-1 || a[0].None {
		t.Fatalf("%+v", a)
	}
}

func TestIdentityParseErrors(t *testing.T) {
	const rule = "[matchers.m]\nkind = \"method\"\nmethods = [\"GET\"]\n[[rules]]\nid = \"r\"\nwhen = \"m\"\naction = \"allow\"\nquota = \"q\"\n"
	for _, tc := range []struct{ name, limit, want string }{
		{"per_group on subnet", "scope = \"subnet\"\nbytes = 1\nper_group = { a = 1 }\n", "x.toml:12: [quotas.q]: per_group applies to scope user or group, not subnet"},
		{"groups on user", "scope = \"user\"\nbytes = 1\ngroups = [\"a\"]\n", "x.toml:12: [quotas.q]: groups applies to scope group"},
		{"per_group not a table", "scope = \"user\"\nper_group = \"5GB\"\n", "x.toml:11: [quotas.q]: per_group: expected a table"},
		{"per_group bad size", "scope = \"user\"\nper_group = { a = \"lots\" }\n", `x.toml:11: [quotas.q]: per_group.a: "lots" is not a positive size`},
		{"per_group zero", "scope = \"user\"\nper_group = { a = 0 }\n", "x.toml:11: [quotas.q]: per_group.a: expected a size string"},
		{"per_group empty", "scope = \"user\"\nper_group = {}\n", "x.toml:11: [quotas.q]: per_group is empty"},
		{"per_group control char", "scope = \"user\"\nper_group = { \"a\\u0007\" = 1 }\n", "is not a group name"},
		{"per_group long name", "scope = \"user\"\nper_group = { " + strings.Repeat("g", 65) + " = 1 }\n", "is not a group name (1 to 64 bytes"},
		{"per_group outside groups", "scope = \"group\"\nbytes = 1\ngroups = [\"a\"]\nper_group = { b = 1 }\n", `per_group names "b", which is not in groups`},
		{"groups empty", "scope = \"group\"\nbytes = 1\ngroups = []\n", "x.toml:12: [quotas.q]: groups: an empty list"},
		{"groups twice", "scope = \"group\"\nbytes = 1\ngroups = [\"a\", \"a\"]\n", `"a" is listed twice`},
		{"groups not strings", "scope = \"group\"\nbytes = 1\ngroups = [1]\n", "expected an array of strings"},
		{"unknown key", "scope = \"user\"\nbytes = 1\nper_groups = { a = 1 }\n", `x.toml:12: unknown key "per_groups" in [quotas.q] (accepted: scope, bytes, requests, per_group, groups`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := rule + "[quotas.q]\n" + tc.limit + "period = \"day\"\n"
			_, err := Parse("x.toml", []byte(doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v lacks %q", err, tc.want)
			}
		})
	}
	rate := "[matchers.m]\nkind = \"method\"\nmethods = [\"GET\"]\n[[rules]]\nid = \"r\"\nwhen = \"m\"\naction = \"allow\"\nrate = \"q\"\n" +
		"[rates.q]\nscope = \"user\"\nrequests = 1\nper_group = { a = 1 }\nperiod = \"day\"\n"
	if _, err := Parse("x.toml", []byte(rate)); err == nil || !strings.Contains(err.Error(), "x.toml:12: [rates.q]: per_group gives bytes") {
		t.Fatalf("rate with per_group: %v", err)
	}
}

func TestIdentityRoundTrip(t *testing.T) {
	d, err := Parse("id.toml", []byte(identityDoc))
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, d)
	out := string(d.TOML())
	for _, w := range []string{`per_group = { members = "50GB", staff = "100GB" }`, `per_group = { "VIP club" = "1KB" }`,
		`groups = ["class-a", "class-b"]`} {
		if !strings.Contains(out, w) {
			t.Errorf("missing %q in\n%s", w, out)
		}
	}
}

func TestUsesIdentity(t *testing.T) {
	for _, tc := range []struct {
		name, doc     string
		proxy, landng bool
	}{
		{"no identity", engineDoc, false, false},
		{"group matcher and identity quotas", identityDoc, true, true},
		{"user matcher in a proxy-only rule", "[matchers.u]\nkind = \"user\"\nusers = [\"al\"]\n[[rules]]\nid = \"r\"\nwhen = \"u\"\naction = \"skip-ip\"\n", true, false},
		{"user quota only", "default = \"allow\"\n[[rules]]\nid = \"r\"\nwhen = \"true\"\naction = \"allow\"\nquota = \"q\"\n[quotas.q]\nscope = \"user\"\nrequests = 1\nperiod = \"day\"\n", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := compile(t, tc.doc, ProxyActions).UsesIdentity(); got != tc.proxy {
				t.Errorf("proxy: %v", got)
			}
			if got := compile(t, tc.doc, LandingActions).UsesIdentity(); got != tc.landng {
				t.Errorf("landing: %v", got)
			}
		})
	}
}

func TestUsedIdentity(t *testing.T) {
	e := compile(t, identityDoc, ProxyActions)
	for _, tc := range []struct {
		r         Request
		rule      string
		action    Action
		usedIdent bool
	}{
		{Request{Path: "/internal/a", Size: -1}, "staff-internal", Block, true},
		{Request{Path: "/internal/a", Size: -1, User: "al", Groups: []string{"staff"}}, "all", 0, true},
		{Request{Path: "/pub/a", Size: -1}, "all", 0, false}, // "internal and …" stops at internal
	} {
		d := e.Decide(&tc.r)
		if d.Rule == nil || d.Rule.ID != tc.rule || d.Action != tc.action || d.UsedIdentity != tc.usedIdent {
			t.Errorf("%+v: %+v", tc.r, d)
		}
	}
}

func TestValidName(t *testing.T) {
	for s, want := range map[string]bool{"alice": true, "Ärzte Team": true, "": false, "a\nb": false, "a\x7f": false,
		"a\u0085": false, "\xff": false, strings.Repeat("x", 64): true, strings.Repeat("x", 65): false} {
		if ValidName(s, MaxGroupLen) != want {
			t.Errorf("%q: want %v", s, want)
		}
	}
}

// TestIdentityExamples: the identity examples of docs/policy.md do what the doc says.
func TestIdentityExamples(t *testing.T) {
	load := func(name string) *Engine {
		d, err := Load("testdata/examples/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return compile(t, string(d.TOML()), ProxyActions)
	}
	caps := func(d Decision, s Subject) string {
		var out []string
		for _, l := range d.Limits {
			for _, a := range l.Apply(s) {
				if a.None {
					out = append(out, l.Name+":none")
				} else {
					out = append(out, l.Name+":"+formatSize(a.Bytes))
				}
			}
		}
		return strings.Join(out, ",")
	}
	for _, tc := range []struct {
		file, path, user string
		groups           []string
		action           Action
		caps             string
	}{
		{"6-members-guests.toml", "/a", "ann", []string{"members"}, 0, "daily:50GB"},
		{"6-members-guests.toml", "/a", "gus", []string{"guests"}, 0, "daily:5GB"},
		{"6-members-guests.toml", "/a", "bea", []string{"guests", "members"}, 0, "daily:55GB"},
		{"6-members-guests.toml", "/a", "", nil, Block, ""},
		{"6-members-guests.toml", "/a", "eve", []string{"other"}, Block, ""},
		{"7-staff-internal.toml", "/internal/x", "sam", []string{"staff"}, 0, ""},
		{"7-staff-internal.toml", "/internal/x", "ann", []string{"members"}, Block, ""},
		{"7-staff-internal.toml", "/internal/x", "", nil, Block, ""},
		{"7-staff-internal.toml", "/pub/x", "", nil, 0, ""},
		{"8-class-pools.toml", "/a", "stu", []string{"class-a"}, 0, "class-pool:200GB,per-student:20GB"},
		{"8-class-pools.toml", "/a", "stu", []string{"class-c", "chess"}, 0, "class-pool:500GB,per-student:20GB"},
		{"8-class-pools.toml", "/a", "tut", []string{"class-a", "class-b"}, 0, "class-pool:200GB,class-pool:200GB,per-student:20GB"},
		{"8-class-pools.toml", "/a", "", nil, Block, ""},
	} {
		r := Request{Path: tc.path, Size: -1, User: tc.user, Groups: tc.groups}
		d := load(tc.file).Decide(&r)
		got := caps(d, Subject{User: tc.user, Groups: tc.groups})
		if d.Action != tc.action || got != tc.caps || !d.UsedIdentity && tc.path != "/pub/x" {
			t.Errorf("%s %s %v: action %b caps %q used identity %v", tc.file, tc.user, tc.groups, d.Action, got, d.UsedIdentity)
		}
	}
}
