package identity

import (
	"bytes"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestRunUserCLI(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "users.toml")
	for _, c := range []struct {
		name   string
		args   []string
		stdin  string
		env    string
		code   int
		stdout string
		stderr string
	}{
		{"add", []string{"add", "alice", "--group", "members", "--group", "staff,ops"}, "alice-password\n", file, 0,
			`user "alice" added to ` + file + ` (groups: members, staff, ops)`, ""},
		{"flags first, CRLF", []string{"add", "--group=guests", "bob"}, "bob-password\r\n", file, 0, `user "bob" added to`, ""},
		{"replace, --file", []string{"add", "--file", file, "alice"}, "alice-second", "", 0, `user "alice" replaced in ` + file + ` (groups: none)`, ""},
		{"no subcommand", nil, "", file, 2, "", "usage: landing user add NAME"},
		{"unknown subcommand", []string{"del", "alice"}, "", file, 2, "", "usage:"},
		{"no name", []string{"add", "--group", "x"}, "pw-long-enough", file, 2, "", "want one NAME, got 0"},
		{"two names", []string{"add", "a", "b"}, "pw-long-enough", file, 2, "", "want one NAME, got 2"},
		{"bad flag", []string{"add", "a", "--admin"}, "pw-long-enough", file, 2, "", "flag provided but not defined"},
		{"no file", []string{"add", "a"}, "pw-long-enough", "", 2, "", "set USERS_FILE or pass --file"},
		{"bad name", []string{"add", " a"}, "pw-long-enough", file, 2, "", "starts or ends with a space"},
		{"empty stdin", []string{"add", "carol"}, "", file, 1, "", "no password on standard input"},
		{"short password", []string{"add", "carol"}, "short\n", file, 1, "", "password shorter than 8"},
	} {
		var out, errOut bytes.Buffer
		code := RunUserCLI(c.args, strings.NewReader(c.stdin), &out, &errOut, c.env)
		if code != c.code || !strings.Contains(out.String(), c.stdout) || !strings.Contains(errOut.String(), c.stderr) {
			t.Errorf("%s: exit %d\nstdout %s\nstderr %s", c.name, code, out.String(), errOut.String())
		}
	}
	u := mustLoad(t, file)
	if id, ok := u.Authenticate("alice", "alice-second"); !ok || id.Groups != nil {
		t.Errorf("alice: %v %+v", ok, id)
	}
	if id, ok := u.Authenticate("bob", "bob-password"); !ok || !slices.Equal(id.Groups, []string{"guests"}) {
		t.Errorf("bob: %v %+v", ok, id)
	}
	if u.Len() != 2 {
		t.Errorf("Len %d", u.Len())
	}
}
