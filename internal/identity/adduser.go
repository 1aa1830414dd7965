package identity

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"unicode/utf8"
)

// AddUser adds the user to the users file, or replaces the user of that name, with a fresh
// argon2id hash of password. Every other user, comment and blank line stays as written. The
// file is replaced atomically (a temporary file in the same directory, fsync, rename, fsync of
// the directory) with mode 0600: a crash or a full disk leaves the old file or the new one,
// never half of one. Two concurrent AddUser calls on one file are serialised by a lock on its
// directory. A file that does not load (LoadUsers) is not touched.
func AddUser(path, name, password string, groups []string) error {
	if err := CheckName(name); err != nil {
		return fmt.Errorf("user name %q: %v", name, err)
	}
	anyGroups := make([]any, len(groups))
	for i, g := range groups {
		anyGroups[i] = g
	}
	if _, err := groupList(anyGroups); err != nil {
		return fmt.Errorf("groups: %v", err)
	}
	if len(password) < MinPasswordLen {
		return fmt.Errorf("password shorter than %d characters", MinPasswordLen)
	}
	encoded, err := HashPassword(password)
	if err != nil {
		return err
	}
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer dir.Close()
	if err := syscall.Flock(int(dir.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", dir.Name(), err)
	}
	defer func() { _ = syscall.Flock(int(dir.Fd()), syscall.LOCK_UN) }()

	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	updated, err := editUsers(path, old, name, encoded, groups)
	if err != nil {
		return err
	}
	return writeAtomic(dir, path, updated)
}

// editUsers returns content with the [[users]] table of name replaced by (or, if there is none,
// followed by) a new one. The result is parsed and compared with what was meant: any surprise
// is an error, never a wrong file.
func editUsers(path string, content []byte, name, encoded string, groups []string) ([]byte, error) {
	before, err := parseUsers(path, content)
	if err != nil {
		return nil, fmt.Errorf("the users file has problems; fix them first:\n%w", err)
	}
	block, err := userBlock(name, encoded, groups)
	if err != nil {
		return nil, err
	}
	l := scanLayout(content)
	if len(l.headers) != len(before.order) {
		return nil, fmt.Errorf("%s: write users as [[users]] tables so that `user add` can edit the file", path)
	}
	var out strings.Builder
	if found := before.byName[name]; found != nil {
		i := slices.Index(l.headers, found.line)
		if i < 0 {
			return nil, fmt.Errorf("%s: cannot find user %q's table", path, name)
		}
		start, end := l.headers[i]-1, l.ends[i] // line indexes: [start, end)
		out.WriteString(strings.Join(l.lines[:start], ""))
		out.WriteString(block)
		out.WriteString(strings.Join(l.lines[end:], ""))
	} else {
		out.Write(content)
		if len(content) > 0 {
			if !bytes.HasSuffix(content, []byte("\n")) {
				out.WriteString("\n")
			}
			out.WriteString("\n")
		}
		out.WriteString(block)
	}
	result := []byte(out.String())
	if err := checkEdit(path, before, result, name, encoded, groups); err != nil {
		return nil, err
	}
	return result, nil
}

// userBlock is one [[users]] table, written by hand: go-toml's encoder writes 'literal'
// strings, and a file in "basic" strings reads the same to operators whichever tool wrote it.
// editUsers parses the result back, so a quoting mistake is a refusal, never a wrong file.
func userBlock(name, encoded string, groups []string) (string, error) {
	var b strings.Builder
	b.WriteString("[[users]]\nname = ")
	if err := appendBasic(&b, name); err != nil {
		return "", err
	}
	b.WriteString("\npassword = ")
	if err := appendBasic(&b, encoded); err != nil {
		return "", err
	}
	b.WriteString("\ngroups = [")
	for i, g := range groups {
		if i > 0 {
			b.WriteString(", ")
		}
		if err := appendBasic(&b, g); err != nil {
			return "", err
		}
	}
	b.WriteString("]\n")
	return b.String(), nil
}

// appendBasic writes s as a TOML basic string: quote and backslash escaped, control characters
// as escapes, everything else (UTF-8) as is.
func appendBasic(b *strings.Builder, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%q is not valid UTF-8", s)
	}
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\f':
			b.WriteString(`\f`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(b, `\u%04x`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return nil
}

func checkEdit(path string, before *Users, result []byte, name, encoded string, groups []string) error {
	after, err := parseUsers(path, result)
	fail := func(why string) error {
		return fmt.Errorf("%s: could not edit the file safely (%s); add the user by hand", path, why)
	}
	if err != nil {
		return fail(err.Error())
	}
	want := slices.Clone(before.order)
	if !slices.Contains(want, name) {
		want = append(want, name)
	}
	if !slices.Equal(after.order, want) {
		return fail("the users would change order or disappear")
	}
	for _, n := range after.order {
		a, b := after.byName[n], before.byName[n]
		if n == name {
			if a.encoded != encoded || !slices.Equal(a.id.Groups, groups) {
				return fail("the new entry does not read back")
			}
		} else if a.encoded != b.encoded || !slices.Equal(a.id.Groups, b.id.Groups) {
			return fail("another user would change")
		}
	}
	return nil
}

// Steps of writeAtomic that a test can make fail, to see the old file survive.
var (
	writeHook  = func(f *os.File, data []byte) (int, error) { return f.Write(data) }
	syncHook   = func(f *os.File) error { return f.Sync() }
	renameHook = os.Rename
)

// writeAtomic replaces path with data: a temporary file in the same directory (so the rename
// cannot cross filesystems), written and fsynced, renamed over path, then the directory fsynced
// so the rename itself survives a power cut. On any failure the temporary file is removed and
// path is untouched.
func writeAtomic(dir *os.File, path string, data []byte) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(0o600); err != nil {
		return err
	}
	if _, err = writeHook(tmp, data); err != nil {
		return err
	}
	if err = syncHook(tmp); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = renameHook(tmp.Name(), path); err != nil {
		return err
	}
	return dir.Sync()
}
