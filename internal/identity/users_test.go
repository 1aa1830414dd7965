package identity

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "users.toml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// cheapArgon2id keeps the tests fast (m=64 KiB, t=1); the file accepts any cost in bounds.
var cheapArgon2id = encodeArgon2id(vectorPassword, []byte("saltsaltsalt0123"), 64, 1, 1, 32)

var goodFile = `# community users
[[users]]
name = "alice"
password = "` + cheapArgon2id + `"
groups = ["members", "staff"]

[[users]]
name = "bob"
password = "` + vectorBcrypt + `"
`

func TestLoadUsersAuthenticate(t *testing.T) {
	u, err := LoadUsers(writeFile(t, goodFile))
	if err != nil {
		t.Fatal(err)
	}
	if u.Len() != 2 {
		t.Fatalf("Len %d", u.Len())
	}
	for _, c := range []struct {
		name, password string
		ok             bool
		groups         []string
	}{
		{"alice", vectorPassword, true, []string{"members", "staff"}},
		{"bob", vectorPassword, true, nil},
		{"alice", "wrong", false, nil},
		{"Alice", vectorPassword, false, nil},
		{"carol", vectorPassword, false, nil},
		{"alice", "", false, nil},
		{"alice", strings.Repeat("x", MaxPasswordLen+1), false, nil},
	} {
		id, ok := u.Authenticate(c.name, c.password)
		if ok != c.ok {
			t.Errorf("%s/%.10q: ok=%v", c.name, c.password, ok)
			continue
		}
		if ok && (id.User != c.name || id.Source != SourceUsersFile || !slices.Equal(id.Groups, c.groups)) {
			t.Errorf("%s: %+v", c.name, id)
		}
	}
	// The identity handed out is a copy.
	id, _ := u.Lookup("alice")
	id.Groups[0] = "root"
	if again, _ := u.Lookup("alice"); again.Groups[0] != "members" {
		t.Error("Lookup shares the groups slice")
	}
	var nilUsers *Users
	if _, ok := nilUsers.Authenticate("alice", vectorPassword); ok || nilUsers.Len() != 0 {
		t.Error("nil Users")
	}
}

// TestUnknownUserCostsOneCheck: a name that does not exist is checked against a dummy hash with
// the file's usual parameters, so it takes as long as a wrong password for a real name.
func TestUnknownUserCostsOneCheck(t *testing.T) {
	u, err := parseUsers("users.toml", []byte(goodFile+"\n[[users]]\nname = \"carol\"\npassword = \""+cheapArgon2id+"\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	before := verifications.Load()
	if _, ok := u.Authenticate("nobody", vectorPassword); ok {
		t.Fatal("unknown user accepted")
	}
	if n := verifications.Load() - before; n != 1 {
		t.Errorf("unknown user: %d checks, want 1", n)
	}
	if got, want := u.dummy.params(), "argon2id m=64,t=1,p=1,k=32"; got != want {
		t.Errorf("dummy %s, want the common %s", got, want)
	}
}

// TestLoadUsersAllProblems: every problem of a file at once, each with file:line and what is
// accepted, and a plain password is never repeated.
func TestLoadUsersAllProblems(t *testing.T) {
	p := writeFile(t, `title = "x"

[[users]]
name = "alice"
password = "hunter2-plain"
pasword = "typo"

[[users]]
name = "bob"
password = "$2b$10$short"
groups = "staff"

[[users]]
name = "alice"
password = "`+vectorBcrypt+`"

[[users]]
password = "`+vectorBcrypt+`"
groups = ["ok", "bad,comma", "ok"]

[[users]]
name = "bad\tname"
password = 42
`)
	_, err := LoadUsers(p)
	if err == nil {
		t.Fatal("loaded")
	}
	msg := err.Error()
	for _, want := range []string{
		p + `:1: unknown key "title"; accepted: users`,
		p + `:5: user "alice": password: not a hash: plain passwords are refused; accepted: an argon2id PHC string`,
		p + `:6: user "alice": unknown key "pasword"; accepted keys: name, password, groups`,
		p + `:10: user "bob": password: not a well-formed bcrypt hash`,
		p + `:11: user "bob": groups: must be a list of names`,
		p + `:13: user "alice" is defined twice (first at line 3)`,
		p + `:17: users[3]: name is missing`,
		p + `:19: users[3]: groups: "bad,comma": contains a comma`,
		p + `:22: users[4]: name "bad\tname": contains U+0009`,
		p + `:23: users[4]: password must be a string`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q", want)
		}
	}
	if n := len(strings.Split(msg, "\n")); n != 10 {
		t.Errorf("%d problems, want 10:\n%s", n, msg)
	}
	if strings.Contains(msg, "hunter2") {
		t.Error("the plain password is repeated in the error")
	}
}

func TestLoadUsersSyntaxAndShape(t *testing.T) {
	for _, c := range []struct{ content, want string }{
		{"[[users]]\nname = \"a\"\nname = \"b\"\n", "users.toml:3: "},
		{"[[users]\n", "users.toml:1: "},
		{"users = 3\n", "users.toml:1: users must be a list of [[users]] tables"},
		{"users = [1]\n", "users[0]: must be a table"},
		{"[users]\nname = \"a\"\n", "users must be a list"},
	} {
		_, err := parseUsers("users.toml", []byte(c.content))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.content, err, c.want)
		}
	}
	// Inline tables load too (AddUser refuses to edit them).
	u, err := parseUsers("users.toml", []byte(`users = [{name = "a", password = "`+vectorBcrypt+`"}]`))
	if err != nil || u.Len() != 1 {
		t.Errorf("inline: %v", err)
	}
	// An empty file is no users.
	if u, err := parseUsers("users.toml", nil); err != nil || u.Len() != 0 {
		t.Errorf("empty: %v", err)
	}
	if _, err := LoadUsers(filepath.Join(t.TempDir(), "missing.toml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
