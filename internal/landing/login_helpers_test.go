package landing

import (
	"context"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alist-edge/alist-edge/internal/alisttest"
	"github.com/alist-edge/alist-edge/internal/identity"
	"github.com/alist-edge/alist-edge/pkg/quota"
	"github.com/alist-edge/alist-edge/pkg/sign"
)

// memSessions is the test double of the database's sessions (pkg/quota's come with issue
// #17's store part): a map under a mutex.
type memSessions struct {
	mu    sync.Mutex
	byID  map[string]Session
	asked int // SessionActive calls
}

func newMemSessions() *memSessions { return &memSessions{byID: map[string]Session{}} }

func (m *memSessions) CreateSession(_ context.Context, s Session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.byID[s.ID] = s
	return nil
}

func (m *memSessions) SessionActive(_ context.Context, id string, now time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.asked++
	s, ok := m.byID[id]
	return ok && s.Ended.IsZero() && now.Before(s.Expires), nil
}

func (m *memSessions) EndSession(_ context.Context, id string, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.byID[id]; ok {
		s.Ended = now
		m.byID[id] = s
	}
	return nil
}

func (m *memSessions) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.byID)
}

func (m *memSessions) get(id string) (Session, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.byID[id]
	return s, ok
}

// linkCall is one WithIdentity call: what the link's additionalInfo would carry.
type linkCall struct {
	user   string
	groups []string
}

// identityWiring is the test's IdentityDeps: the memory sessions and a recorder of the
// identities put into links.
type identityWiring struct {
	sessions *memSessions
	mu       sync.Mutex
	links    []linkCall
}

func newWiring() *identityWiring { return &identityWiring{sessions: newMemSessions()} }

func (w *identityWiring) deps() IdentityDeps {
	return IdentityDeps{
		Sessions: func(quota.Store) (SessionStore, bool) { return w.sessions, true },
		WithIdentity: func(_ *sign.AdditionalInfo, user string, groups []string) {
			w.mu.Lock()
			w.links = append(w.links, linkCall{user, slices.Clone(groups)})
			w.mu.Unlock()
		},
	}
}

func (w *identityWiring) lastLink() (linkCall, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.links) == 0 {
		return linkCall{}, 0
	}
	return w.links[len(w.links)-1], len(w.links)
}

const (
	alicePassword = "correct horse battery"
	bobPassword   = "bob's long password"
	privateFile   = "/members/report 2025.pdf"
	publicFile    = "/public/readme.txt"
)

// membersPolicy: /members/ is for the group members, with a daily per-user quota; the rest is
// open.
const membersPolicy = `default = "allow"

[matchers.members]
kind = "group"
groups = ["members"]

[matchers.private]
kind = "path"
prefixes = ["/members/"]

[[rules]]
id = "members"
when = "private and members"
action = "allow"
quota = "daily"

[[rules]]
id = "members-only"
when = "private"
action = "deny"

[quotas.daily]
scope = "user"
bytes = "10GB"
period = "day"
`

// identityVars writes a users file (alice in members, bob in guests) and the members policy,
// and returns the landing's identity settings plus extra.
func identityVars(t *testing.T, extra map[string]string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	users := filepath.Join(dir, "users.toml")
	must(t, identity.AddUser(users, "alice", alicePassword, []string{"members"}))
	must(t, identity.AddUser(users, "bob", bobPassword, []string{"guests"}))
	pol := filepath.Join(dir, "policy.toml")
	must(t, os.WriteFile(pol, []byte(membersPolicy), 0o644))
	vars := map[string]string{"USERS_FILE": users, "POLICY_FILE": pol}
	maps.Copy(vars, extra)
	return vars
}

// newLoginEnv is a landing with the users file, the members policy and the test wiring; the
// fake AList serves both files.
func newLoginEnv(t *testing.T, extra map[string]string) (*tenv, *identityWiring) {
	t.Helper()
	w := newWiring()
	e := newEnv(t, identityVars(t, extra), envOpt{ident: w.deps()})
	e.alist.Put(privateFile, &alisttest.File{Data: []byte(strings.Repeat("report ", 600))})
	e.alist.Put(publicFile, &alisttest.File{Data: []byte("public\n")})
	return e, w
}

// serve sends r to the service directly (a chosen peer address, TLS), without a listener.
func (e *tenv) serve(r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	e.svc.ServeHTTP(rec, r)
	return rec
}

// loginForm is a POST /login from the landing's own page (Origin = the landing).
func (e *tenv) loginForm(name, password, back, ip string, hdr http.Header) resp {
	e.t.Helper()
	form := url.Values{"name": {name}, "password": {password}, "back": {back}}
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Origin": {e.srv.URL}, "Accept": {acceptChromium}}
	for k, v := range hdr {
		h[k] = v
	}
	return e.req("POST", "/login", ip, h, strings.NewReader(form.Encode()))
}

// sessionCookie is the session cookie an answer set ("" when none).
func (r resp) sessionCookie() *http.Cookie {
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == identity.CookieName {
			return c
		}
	}
	return nil
}

// withCookie is a browser's navigation carrying the session cookie.
func (e *tenv) browseWith(pathAndQuery string, c *http.Cookie) resp {
	e.t.Helper()
	return e.req("GET", pathAndQuery, testIP, http.Header{"Accept": {acceptChromium}, "Cookie": {c.Name + "=" + c.Value}}, nil)
}

// httptestRequest is a browser's form POST for e.serve.
func httptestRequest(method, target, body string) *http.Request {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Accept", acceptChromium)
	return r
}
