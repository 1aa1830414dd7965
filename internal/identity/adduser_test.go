package identity

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func mode(t *testing.T, p string) os.FileMode {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

func mustLoad(t *testing.T, p string) *Users {
	t.Helper()
	u, err := LoadUsers(p)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestAddUserKeepsOthers: adding and replacing users leaves every other user, comment and
// blank line exactly as written, and the file 0600.
func TestAddUserKeepsOthers(t *testing.T) {
	start := "# community users\n\n[[users]]\nname = \"alice\"   # the founder\npassword = \"" + cheapArgon2id +
		"\"\ngroups = [\"members\", \"staff\"]\n\n# bob moderates\n[[users]]\nname = \"bob\"\npassword = \"" + vectorBcrypt + "\"\n"
	p := writeFile(t, start)
	_ = os.Chmod(p, 0o644)

	if err := AddUser(p, "carol", "carol-password", []string{"guests"}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(p)
	if !strings.HasPrefix(string(got), start+"\n[[users]]\nname = \"carol\"\n") {
		t.Errorf("append changed the rest:\n%s", got)
	}
	if m := mode(t, p); m != 0o600 {
		t.Errorf("mode %o", m)
	}
	u := mustLoad(t, p)
	if id, ok := u.Authenticate("carol", "carol-password"); !ok || !slices.Equal(id.Groups, []string{"guests"}) {
		t.Errorf("carol: %v %+v", ok, id)
	}

	// Replace alice (first entry): her comment line moves with her table; bob's comment stays.
	if err := AddUser(p, "alice", "new-alice-pw", nil); err != nil {
		t.Fatal(err)
	}
	got, _ = os.ReadFile(p)
	text := string(got)
	if !strings.HasPrefix(text, "# community users\n\n[[users]]\nname = \"alice\"\n") ||
		!strings.Contains(text, "\n\n# bob moderates\n[[users]]\nname = \"bob\"\npassword = \""+vectorBcrypt+"\"\n") ||
		strings.Contains(text, cheapArgon2id) {
		t.Errorf("replace:\n%s", text)
	}
	u = mustLoad(t, p)
	if u.Len() != 3 {
		t.Errorf("Len %d", u.Len())
	}
	if _, ok := u.Authenticate("alice", vectorPassword); ok {
		t.Error("alice's old password still works")
	}
	if id, ok := u.Authenticate("alice", "new-alice-pw"); !ok || len(id.Groups) != 0 {
		t.Errorf("alice: %v %+v", ok, id)
	}
	if _, ok := u.Authenticate("bob", vectorPassword); !ok {
		t.Error("bob lost")
	}
	// Replace the last entry.
	if err := AddUser(p, "carol", "carol-second", []string{"members"}); err != nil {
		t.Fatal(err)
	}
	if id, ok := mustLoad(t, p).Authenticate("carol", "carol-second"); !ok || id.Groups[0] != "members" {
		t.Errorf("carol replaced: %v %+v", ok, id)
	}
}

func TestAddUserCreatesFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "users.toml")
	if err := AddUser(p, "dave", "dave-password", []string{"a", "b"}); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, p); m != 0o600 {
		t.Errorf("mode %o", m)
	}
	if id, ok := mustLoad(t, p).Authenticate("dave", "dave-password"); !ok || !slices.Equal(id.Groups, []string{"a", "b"}) {
		t.Errorf("%v %+v", ok, id)
	}
}

func TestAddUserRefusals(t *testing.T) {
	broken := "[[users]]\nname = \"x\"\npassword = \"plain\"\n"
	inline := `users = [{name = "a", password = "` + vectorBcrypt + `"}]` + "\n"
	for _, c := range []struct {
		content, name, password string
		groups                  []string
		want                    string
	}{
		{goodFile, "bad\nname", "long-enough", nil, "user name"},
		{goodFile, "eve", "short", nil, "password shorter than 8"},
		{goodFile, "eve", "long-enough", []string{"a,b"}, "contains a comma"},
		{goodFile, "eve", "long-enough", []string{"a", "a"}, "listed twice"},
		{broken, "eve", "long-enough", nil, "fix them first"},
		{inline, "eve", "long-enough", nil, "write users as [[users]] tables"},
	} {
		p := writeFile(t, c.content)
		err := AddUser(p, c.name, c.password, c.groups)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.name, err, c.want)
		}
		if got, _ := os.ReadFile(p); string(got) != c.content {
			t.Errorf("%q: the file changed", c.name)
		}
	}
}

// TestAddUserAtomic: whichever step of the write fails (half the bytes written, fsync, rename),
// the old file stays byte for byte and no temporary file is left behind.
func TestAddUserAtomic(t *testing.T) {
	boom := errors.New("disk full")
	restore := func() {
		writeHook = func(f *os.File, data []byte) (int, error) { return f.Write(data) }
		syncHook = func(f *os.File) error { return f.Sync() }
		renameHook = os.Rename
	}
	defer restore()
	for _, c := range []struct {
		name    string
		breakIt func()
	}{
		{"write", func() {
			writeHook = func(f *os.File, data []byte) (int, error) {
				n, _ := f.Write(data[:len(data)/2])
				return n, boom
			}
		}},
		{"fsync", func() { syncHook = func(*os.File) error { return boom } }},
		{"rename", func() { renameHook = func(string, string) error { return boom } }},
	} {
		p := writeFile(t, goodFile)
		c.breakIt()
		err := AddUser(p, "alice", "replaced-password", nil)
		restore()
		if !errors.Is(err, boom) {
			t.Errorf("%s: %v", c.name, err)
		}
		if got, _ := os.ReadFile(p); string(got) != goodFile {
			t.Errorf("%s: the file changed:\n%s", c.name, got)
		}
		entries, _ := os.ReadDir(filepath.Dir(p))
		if len(entries) != 1 {
			t.Errorf("%s: %d files left in the directory", c.name, len(entries))
		}
	}
}

// TestAddUserReadOnlyDir: a directory the process may not write to leaves the file as it was.
// Root writes anywhere, so as root the hooks above stand in for it.
func TestAddUserReadOnlyDir(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores directory permissions; TestAddUserAtomic covers the failed write")
	}
	p := writeFile(t, goodFile)
	dir := filepath.Dir(p)
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o700)
	if err := AddUser(p, "eve", "eve-password", nil); err == nil {
		t.Fatal("wrote into a read-only directory")
	}
	if got, _ := os.ReadFile(p); string(got) != goodFile {
		t.Error("the file changed")
	}
}

// TestAddUserConcurrent: parallel adds to one file all land (the directory lock serialises the
// read-modify-write).
func TestAddUserConcurrent(t *testing.T) {
	p := writeFile(t, goodFile)
	// A slow fsync widens the read-modify-write window, so without the lock updates get lost.
	defer func() { syncHook = func(f *os.File) error { return f.Sync() } }()
	syncHook = func(f *os.File) error { time.Sleep(50 * time.Millisecond); return f.Sync() }
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := AddUser(p, fmt.Sprintf("user%d", i), "password-long", nil); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := mustLoad(t, p).Len(); n != 6 {
		t.Errorf("%d users, want 6", n)
	}
}
