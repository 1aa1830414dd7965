package identity

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"

	"github.com/alist-edge/alist-edge/internal/tomlpos"
)

// maxConcurrentVerify bounds password checks running at once: an argon2id check holds its
// memory parameter (19 to 256 MiB) for its whole run, so a burst of logins must queue rather
// than take the machine's memory.
const maxConcurrentVerify = 4

// Users is a loaded users file. It never changes; a reload (SIGHUP) loads a new one.
type Users struct {
	byName map[string]*user
	order  []string
	dummy  *pwHash
	slots  chan struct{}
}

type user struct {
	id      Identity
	hash    *pwHash
	encoded string // the hash as written, for AddUser's check of its own edit
	line    int
}

// LoadUsers reads and checks a users file (USERS_FILE). Every problem is reported at once,
// each as "path:line: what is wrong; what is accepted"; a password value is never repeated.
func LoadUsers(path string) (*Users, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseUsers(path, data)
}

// entryKeys are the keys a [[users]] table may have.
var entryKeys = []string{"name", "password", "groups"}

func parseUsers(path string, data []byte) (*Users, error) {
	var doc map[string]any
	if err := tomlpos.Decode(path, data, &doc); err != nil {
		return nil, err
	}
	l := scanLayout(data)
	var problems []error
	add := func(line int, format string, args ...any) {
		at := path
		if line > 0 {
			at = fmt.Sprintf("%s:%d", path, line)
		}
		problems = append(problems, fmt.Errorf("%s: "+format, append([]any{at}, args...)...))
	}
	for _, k := range sortedKeys(doc) {
		if k != "users" {
			add(l.top[k], "unknown key %q; accepted: users (a list of [[users]] tables)", k)
		}
	}
	entries, ok := tables(doc["users"])
	if !ok {
		add(l.top["users"], "users must be a list of [[users]] tables")
	}
	u := &Users{byName: map[string]*user{}, slots: make(chan struct{}, maxConcurrentVerify)}
	for i, e := range entries {
		line := l.entryLine(i)
		where := fmt.Sprintf("users[%d]", i)
		if e == nil {
			add(line, "%s: must be a table with name, password and groups", where)
			continue
		}
		name, okName := e["name"].(string)
		switch {
		case e["name"] == nil:
			add(line, "%s: name is missing", where)
		case !okName:
			add(l.keyLine(i, "name"), "%s: name must be a string", where)
		default:
			if err := CheckName(name); err != nil {
				add(l.keyLine(i, "name"), "%s: name %q: %v", where, name, err)
				okName = false
			} else {
				where = fmt.Sprintf("user %q", name)
			}
		}
		for _, k := range sortedKeys(e) {
			if !slices.Contains(entryKeys, k) {
				add(l.keyLine(i, k), "%s: unknown key %q; accepted keys: name, password, groups", where, k)
			}
		}
		pw, okPw := e["password"].(string)
		var h *pwHash
		switch {
		case e["password"] == nil:
			add(line, "%s: password is missing; accepted: %s", where, acceptedHashes)
		case !okPw:
			add(l.keyLine(i, "password"), "%s: password must be a string; accepted: %s", where, acceptedHashes)
		default:
			var err error
			if h, err = parseHash(pw); err != nil {
				add(l.keyLine(i, "password"), "%s: password: %v; accepted: %s (`landing user add NAME` writes one)", where, err, acceptedHashes)
			}
		}
		groups, err := groupList(e["groups"])
		if err != nil {
			add(l.keyLine(i, "groups"), "%s: groups: %v", where, err)
		}
		if !okName {
			continue
		}
		if first, dup := u.byName[name]; dup {
			add(line, "%s is defined twice (first at line %d)", where, first.line)
			continue
		}
		u.byName[name] = &user{id: Identity{User: name, Groups: groups, Source: SourceUsersFile}, hash: h, encoded: pw, line: line}
		u.order = append(u.order, name)
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	u.dummy = dummyLike(commonHash(u))
	return u, nil
}

// tables reads the users value: [[users]] tables, or an inline array of inline tables (the
// decoder gives both as []any).
func tables(v any) ([]map[string]any, bool) {
	switch t := v.(type) {
	case nil:
		return nil, true
	case []any:
		out := make([]map[string]any, len(t))
		for i, e := range t {
			out[i], _ = e.(map[string]any)
		}
		return out, true
	}
	return nil, false
}

func groupList(v any) ([]string, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, errors.New(`must be a list of names, e.g. ["members", "staff"]`)
	}
	if len(list) > MaxGroups {
		return nil, fmt.Errorf("%d groups: at most %d", len(list), MaxGroups)
	}
	var out []string
	for _, g := range list {
		s, ok := g.(string)
		if !ok {
			return nil, errors.New(`must be a list of names, e.g. ["members", "staff"]`)
		}
		if err := CheckGroup(s); err != nil {
			return nil, fmt.Errorf("%q: %v", s, err)
		}
		if slices.Contains(out, s) {
			return nil, fmt.Errorf("%q is listed twice", s)
		}
		out = append(out, s)
	}
	return out, nil
}

// commonHash is the hash whose parameters most users have, so an unknown name costs what most
// known names do (keep one kind of hash in a file for equal costs everywhere).
func commonHash(u *Users) *pwHash {
	count := map[string]int{}
	var best *pwHash
	for _, name := range u.order {
		h := u.byName[name].hash
		k := h.params()
		count[k]++
		if best == nil || count[k] > count[best.params()] {
			best = h
		}
	}
	if best == nil {
		return &pwHash{}
	}
	return best
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Authenticate checks name and password. It does the same work whether or not name exists
// (an unknown name is checked against a hash with the file's usual parameters), so timing does
// not tell which names exist. Safe for concurrent use.
func (u *Users) Authenticate(name, password string) (Identity, bool) {
	if u == nil || len(password) > MaxPasswordLen {
		return Identity{}, false
	}
	found := u.byName[name]
	h := u.dummy
	if found != nil {
		h = found.hash
	}
	u.slots <- struct{}{}
	ok := h.verify(password)
	<-u.slots
	if found == nil || !ok {
		return Identity{}, false
	}
	return found.id.clone(), true
}

// Lookup is the user's current identity, without a password: for a caller that re-checks a
// session made before a reload (the user may have been removed or changed groups since).
func (u *Users) Lookup(name string) (Identity, bool) {
	if u == nil {
		return Identity{}, false
	}
	found := u.byName[name]
	if found == nil {
		return Identity{}, false
	}
	return found.id.clone(), true
}

// Len is the number of users.
func (u *Users) Len() int {
	if u == nil {
		return 0
	}
	return len(u.order)
}

func (id Identity) clone() Identity {
	id.Groups = slices.Clone(id.Groups)
	return id
}
