package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alist-edge/alist-edge/internal/identity"
)

// TestUserAdd: `landing user add` writes a hash into USERS_FILE (from the environment) that
// the landing then accepts; without a file it is a usage error.
func TestUserAdd(t *testing.T) {
	users := filepath.Join(t.TempDir(), "users.toml")
	t.Setenv("USERS_FILE", users)
	userStdin = strings.NewReader("a long enough password\n")
	t.Cleanup(func() { userStdin = nil })
	var out, errb bytes.Buffer
	if code := run([]string{"user", "add", "alice", "--group", "members", "--group", "staff"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), `user "alice" added to `+users+" (groups: members, staff)") {
		t.Fatalf("%q", out.String())
	}
	u, err := identity.LoadUsers(users)
	must(t, err)
	if id, ok := u.Authenticate("alice", "a long enough password"); !ok || strings.Join(id.Groups, ",") != "members,staff" {
		t.Fatalf("%+v %v", id, ok)
	}
	t.Setenv("USERS_FILE", "")
	if code := run([]string{"user", "add", "bob"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "set USERS_FILE or pass --file") {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
}
