package policy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func roundTrip(t testing.TB, d *Document) {
	t.Helper()
	out := d.TOML()
	back, err := Parse("printed.toml", out)
	if err != nil {
		t.Fatalf("printed policy does not parse: %v\n%s", err, out)
	}
	if !back.Equal(d) {
		t.Fatalf("printed policy differs:\n%s", out)
	}
}

func TestTOMLRoundTrip(t *testing.T) {
	for _, doc := range []string{okDoc, engineDoc, bench50()} {
		d, err := Parse("t.toml", []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		roundTrip(t, d)
	}
	files, _ := filepath.Glob("testdata/examples/*.toml")
	for _, f := range files {
		d, err := Load(f)
		if err != nil {
			t.Fatal(err)
		}
		roundTrip(t, d)
	}
}

// TestTOMLEnv: the environment's lists print as rules (what -print-policy shows) and parse
// back; merged with a file, env rules come first.
func TestTOMLEnv(t *testing.T) {
	env, err := FromLists(Lists{BlacklistPrefix: "/private/", BlacklistAction: "block", WhitelistPrefix: "/pub", WhitelistAction: "skip-ip,verify-pow",
		ExceptPrefix: "/a,/b", ExceptAction: "skip-sign-except"})
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, env)
	out := string(env.TOML())
	for _, w := range []string{`[matchers.env-blacklist]`, `# from EXCEPT_PREFIX and EXCEPT_ACTION`, `when = "not env-except"`, `action = "skip-sign"`, `default = "allow"`} {
		if !strings.Contains(out, w) {
			t.Errorf("missing %q in\n%s", w, out)
		}
	}
	file, err := Parse("f.toml", []byte(engineDoc))
	if err != nil {
		t.Fatal(err)
	}
	m := Merge(env, file)
	if m.Rules[0].ID != "env-blacklist" || m.Rules[3].ID != "watch-iso" || m.Default != "deny" {
		t.Fatalf("%+v", m.Rules)
	}
	roundTrip(t, m)
	e, err := m.Compile(ProxyActions)
	if err != nil {
		t.Fatal(err)
	}
	if d := e.Decide(&Request{Path: "/private/x", Size: -1}); d.Rule == nil || d.Rule.ID != "env-blacklist" || d.Action != Block {
		t.Fatalf("%+v", d)
	}
}

// TestExamples: every worked example of docs/policy.md parses and compiles for both services.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob("testdata/examples/*.toml")
	if err != nil || len(files) < 5 {
		t.Fatalf("%v %v", files, err)
	}
	doc, err := os.ReadFile("../../docs/policy.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		d, err := Load(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []Vocabulary{ProxyActions, LandingActions} {
			if _, err := d.Compile(v); err != nil {
				t.Fatal(err)
			}
		}
		src, _ := os.ReadFile(f)
		if !strings.Contains(string(doc), strings.TrimSpace(string(src))) {
			t.Errorf("docs/policy.md does not quote %s as it is", f)
		}
	}
}

func FuzzRoundTrip(f *testing.F) {
	for _, s := range []string{okDoc, engineDoc, identityDoc} {
		f.Add(s)
	}
	f.Add("[[rules]]\nid = \"r\"\nwhen = \"true\"\naction = \"allow\"\nquota = \"q\"\n[quotas.q]\nscope = \"group\"\n" +
		"per_group = { \"a b\" = 1, \"\\u00e9\" = \"2KB\" }\ngroups = [\"a b\", \"é\"]\nperiod = \"1h\"\n")
	f.Add("[matchers.a]\nkind = \"host\"\nhosts = [\"*.x.org\"]\n[[rules]]\nid = \"r\"\nwhen = \"¬a ∨ (a ∧ true)\"\naction = \"skip-ip, verify-pow\"\nshadow = true\n")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Parse("fuzz.toml", []byte(s))
		if err != nil {
			return
		}
		roundTrip(t, d)
	})
}

func FuzzParse(f *testing.F) {
	f.Add(okDoc)
	f.Add(engineDoc)
	f.Add("[[rules]]\nid = 1\n[rules]\n")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Parse("fuzz.toml", []byte(s))
		if err != nil {
			return
		}
		for _, v := range []Vocabulary{ProxyActions, LandingActions} {
			e, err := d.Compile(v)
			if err != nil {
				t.Fatalf("parsed but does not compile: %v", err)
			}
			r := Request{Path: "/a/b.iso", Size: 5}
			e.Decide(&r)
			e.Explain(&r)
		}
	})
}
