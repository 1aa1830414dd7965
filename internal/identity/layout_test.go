package identity

import (
	"os"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	toml "github.com/pelletier/go-toml/v2"
)

// TestLayoutFollowsTheParser: lines come from go-toml's AST, so text that only looks like TOML
// (here a ”' in a comment, which a line scanner took for the start of a multi-line string)
// moves no line number, and AddUser edits such a file instead of refusing it.
func TestLayoutFollowsTheParser(t *testing.T) {
	content := "[[users]]\nname = \"alice\" # not '''quoted\npassword = \"" + vectorBcrypt + "\"\n\n" +
		"# bob\n[[users]]\nname = \"bob\"\npassword = \"plain-pw\"\n"
	_, err := parseUsers("users.toml", []byte(content))
	if err == nil || !strings.HasPrefix(err.Error(), `users.toml:8: user "bob": password: not a hash`) {
		t.Errorf("bob's password: %v, want it named at line 8", err)
	}

	content = strings.Replace(content, "plain-pw", vectorBcrypt, 1)
	p := writeFile(t, content)
	if err := AddUser(p, "carol", "carol-password", nil); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(p)
	if !strings.HasPrefix(string(got), content+"\n[[users]]\nname = \"carol\"\n") {
		t.Errorf("append:\n%s", got)
	}
	if err := AddUser(p, "bob", "bob-new-password", []string{"staff"}); err != nil {
		t.Fatal(err)
	}
	got, _ = os.ReadFile(p)
	bob := strings.Index(content, "name = \"bob\"")
	if !strings.HasPrefix(string(got), content[:bob]+"name = \"bob\"\npassword = \"$argon2id$") ||
		!strings.Contains(string(got), "\ngroups = [\"staff\"]\n\n[[users]]\nname = \"carol\"\n") {
		t.Errorf("replace:\n%s", got)
	}
	u := mustLoad(t, p)
	if !slices.Equal(u.order, []string{"alice", "bob", "carol"}) {
		t.Errorf("users %q", u.order)
	}
	if id, ok := u.Authenticate("bob", "bob-new-password"); !ok || !slices.Equal(id.Groups, []string{"staff"}) {
		t.Errorf("bob: %v %+v", ok, id)
	}
}

// TestLayoutSubtableLine: a [users.x] table is key x of the entry above it and is named at its
// own header line.
func TestLayoutSubtableLine(t *testing.T) {
	_, err := parseUsers("users.toml", []byte("[[users]]\nname = \"a\"\npassword = \""+vectorBcrypt+"\"\n\n[users.extra]\nk = 1\n"))
	if err == nil || !strings.Contains(err.Error(), `users.toml:5: user "a": unknown key "extra"`) {
		t.Errorf("%v, want the subtable named at line 5", err)
	}
}

// TestUserBlockBytes: the table AddUser writes, byte for byte (basic strings, as the TOML
// encoder AddUser used before wrote them).
func TestUserBlockBytes(t *testing.T) {
	for _, c := range []struct {
		name, encoded string
		groups        []string
		want          string
	}{
		{"carol", "$2b$10$x", []string{"a", "b"}, "[[users]]\nname = \"carol\"\npassword = \"$2b$10$x\"\ngroups = [\"a\", \"b\"]\n"},
		{"dave", "h", nil, "[[users]]\nname = \"dave\"\npassword = \"h\"\ngroups = []\n"},
		{`o"k\`, "张三", []string{"it's"}, "[[users]]\nname = \"o\\\"k\\\\\"\npassword = \"张三\"\ngroups = [\"it's\"]\n"},
		{"x", "\x00\b\t\n\f\r\x1b\x7f", nil, "[[users]]\nname = \"x\"\npassword = \"\\u0000\\b\\t\\n\\f\\r\\u001b\\u007f\"\ngroups = []\n"},
	} {
		got, err := userBlock(c.name, c.encoded, c.groups)
		if err != nil || got != c.want {
			t.Errorf("%q: %q %v\nwant %q", c.name, got, err, c.want)
		}
	}
	if _, err := userBlock("x", "\xff", nil); err == nil {
		t.Error("invalid UTF-8 written")
	}
}

// FuzzUserBlock: whatever the strings, the table reads back as exactly what was written.
func FuzzUserBlock(f *testing.F) {
	f.Add("alice", cheapArgon2id, "members,staff")
	f.Add(`q"\`, "\x00\x7f\u2028", "")
	f.Add("张三", "'''", "学生")
	f.Fuzz(func(t *testing.T, name, encoded, groups string) {
		var gs []string
		if groups != "" {
			gs = strings.Split(groups, ",")
		}
		block, err := userBlock(name, encoded, gs)
		if !utf8.ValidString(name) || !utf8.ValidString(encoded) || !utf8.ValidString(groups) {
			if err == nil {
				t.Fatalf("invalid UTF-8 written: %q", block)
			}
			return
		}
		var doc struct {
			Users []struct {
				Name, Password string
				Groups         []string
			}
		}
		if err != nil || toml.Unmarshal([]byte(block), &doc) != nil || len(doc.Users) != 1 {
			t.Fatalf("%q: %v", block, err)
		}
		e := doc.Users[0]
		if e.Name != name || e.Password != encoded || !slices.Equal(e.Groups, gs) && len(gs)+len(e.Groups) > 0 {
			t.Fatalf("%q read back as %+v", block, e)
		}
	})
}
