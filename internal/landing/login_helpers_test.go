package landing

import (
	"context"
	"html"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alist-edge/alist-edge/internal/alisttest"
	"github.com/alist-edge/alist-edge/internal/identity"
	"github.com/alist-edge/alist-edge/pkg/quota"
	"github.com/alist-edge/alist-edge/pkg/sign"
)

// sessions are the landing's sessions in its database (the real store of newEnv).
func (e *tenv) sessions() quota.Sessions {
	e.t.Helper()
	ss, ok := quota.SessionsOf(e.store)
	if !ok {
		e.t.Fatal("the store has no sessions")
	}
	return ss
}

// activeSessions are the sessions the database holds as active now.
func (e *tenv) activeSessions() []quota.Session {
	e.t.Helper()
	ss, err := e.sessions().ListSessions(context.Background(), e.clock.Now(), "")
	must(e.t, err)
	return ss
}

// sessionID is the id of the session a cookie carries.
func (e *tenv) sessionID(c *http.Cookie) string {
	e.t.Helper()
	_, sid, err := e.svc.sec.Load().id.sessions.Verify(c.Value, e.clock.Now())
	must(e.t, err)
	return sid
}

// countingSessions counts the database reads of "is this session still active".
type countingSessions struct {
	quota.Sessions
	asked atomic.Int64
}

func (c *countingSessions) SessionActive(ctx context.Context, id string, now time.Time) (bool, error) {
	c.asked.Add(1)
	return c.Sessions.SessionActive(ctx, id, now)
}

// pageLink is the download link in a page (the plain <a id="dl">); "" when there is none.
func pageLink(body string) string {
	m := hrefRe.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// proxyVerified checks a download link for the decoded path p on a proxy's keyring (the same
// SIGN_SECRET or TOKEN) with every check on, the additionalInfo's included, as the proxy does
// for a client at ip, and returns the verified additionalInfo.
func (e *tenv) proxyVerified(raw, p, ip string) sign.AdditionalInfo {
	e.t.Helper()
	u, err := url.Parse(raw)
	must(e.t, err)
	q := u.Query()
	kr, err := sign.NewKeyring(e.env["SIGN_SECRET"], e.env["TOKEN"])
	must(e.t, err)
	info, ok, err := kr.VerifyChain(&sign.ChainRequest{Path: p, ClientIP: ip, WorkerAddr: sign.WorkerAddr(e.env["WORKER_ADDRESS_DOWNLOAD"]),
		Now: e.clock.Now().Unix(), Params: sign.Params{Sign: q.Get("sign"), HashSign: q.Get("hashSign"), WorkerSign: q.Get("workerSign"),
			IPSign: q.Get("ipSign"), AdditionalInfo: q.Get("additionalInfo"), AdditionalInfoSign: q.Get("additionalInfoSign")}}, sign.AllChecks)
	if err != nil || !ok {
		e.t.Fatalf("the proxy refuses %s: %v (additionalInfo checked: %v)", raw, err, ok)
	}
	if decoded := decodeAdditional(e.t, raw); decoded.User != info.User || !slices.Equal(decoded.Groups, info.Groups) {
		e.t.Fatalf("decoded %+v, verified %+v", decoded, info)
	}
	return info
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

// newLoginEnv is a landing with the users file and the members policy on a real SQLite file;
// the fake AList serves both files.
func newLoginEnv(t *testing.T, extra map[string]string) *tenv {
	t.Helper()
	return newLoginEnvOpt(t, extra, envOpt{})
}

func newLoginEnvOpt(t *testing.T, extra map[string]string, o envOpt) *tenv {
	t.Helper()
	e := newEnv(t, identityVars(t, extra), o)
	e.alist.Put(privateFile, &alisttest.File{Data: []byte(strings.Repeat("report ", 600))})
	e.alist.Put(publicFile, &alisttest.File{Data: []byte("public\n")})
	return e
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
