package landing

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/alist-edge/alist-edge/internal/clientip"
	"github.com/alist-edge/alist-edge/internal/config"
	"github.com/alist-edge/alist-edge/internal/httpx"
	"github.com/alist-edge/alist-edge/internal/identity"
	"github.com/alist-edge/alist-edge/internal/webpage"
	"github.com/alist-edge/alist-edge/pkg/policy"
	"github.com/alist-edge/alist-edge/pkg/quota"
	"github.com/alist-edge/alist-edge/pkg/sign"
)

// Refusals of the login routes.
var (
	// errOrigin: a form posted from another site (or without saying where from). Not counted
	// for bans: any site can make a visitor's browser send one.
	errOrigin = &httpx.Error{Status: http.StatusForbidden, Message: "cross-origin form refused", Reason: "origin"}
	errForm   = &httpx.Error{Status: http.StatusBadRequest, Message: "invalid form", Reason: "form"}
	errBack   = &httpx.Error{Status: http.StatusBadRequest, Message: "back must be a path on this site", Reason: "form"}
)

// loginCounter names the password-attempt counters in the store (scope "policy:landing:login";
// a policy's own names cannot hold a colon, so they never meet).
const loginCounter = "landing:login"

// loginWindow is the window of LOGIN_ATTEMPTS: it opens at the first attempt.
type loginWindow struct{}

func (loginWindow) WindowEnd(now time.Time) time.Time { return now.Add(config.LoginWindow) }

// login serves POST /login (name, password, back): a session cookie and 303 back on success,
// the form again otherwise. Attempts are counted per subnet and per name in the store's one
// check before any password is looked at; a wrong password also counts towards the subnet's
// ban and writes the access line fail2ban matches ("password mismatch").
func (s *Service) login(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	st := s.sec.Load().id
	if !s.sameOrigin(r) {
		return errOrigin
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		return errForm
	}
	name, password := strings.TrimSpace(r.PostForm.Get("name")), r.PostForm.Get("password")
	back, ok := safeBack(r.PostForm.Get("back"))
	if !ok {
		return errBack
	}
	now := s.now()
	counters := []quota.Counter{{Name: loginCounter, Key: policy.CounterKey(policy.ScopeSubnet, rc.Subnet, "", ""), Requests: int64(st.attempts), Period: loginWindow{}}}
	if identity.CheckName(name) == nil {
		counters = append(counters, quota.Counter{Name: loginCounter, Key: policy.CounterKey(policy.ScopeUser, "", "", name), Requests: int64(st.attempts), Period: loginWindow{}})
	}
	d, err := s.store.Check(r.Context(), quota.CheckRequest{Scope: quota.ScopeLanding, Subnet: rc.Subnet, Now: now, Counters: counters})
	if err != nil {
		return err
	}
	if !d.Allowed {
		if d.Reason != quota.ReasonCounter {
			return httpx.QuotaRefusal(d) // the subnet's own rate limit, or a ban
		}
		rc.Denied, rc.Reason = true, "login_rate"
		w.Header().Set("Retry-After", strconv.Itoa(max(d.RetryAfter, 1)))
		return s.renderLogin(w, r, "", back, name, "login_rate:"+strconv.Itoa(max(d.RetryAfter, 1)), http.StatusTooManyRequests)
	}
	id, err := st.authenticate(r.Context(), name, password)
	switch {
	case errors.Is(err, identity.ErrUnavailable):
		rc.Reason, rc.Err = "login_unavailable", err
		return s.renderLogin(w, r, "", back, name, "login_unavailable", http.StatusServiceUnavailable)
	case err != nil:
		s.store.RecordFailure(quota.ScopeLanding, rc.Subnet)
		rc.Denied, rc.Reason, rc.LogReason = true, "password", "password mismatch"
		return s.renderLogin(w, r, "", back, name, "login_wrong", http.StatusUnauthorized)
	}
	value, sid := st.sessions.Issue(id, now)
	if value == "" {
		return errors.New("landing: could not issue a session")
	}
	if err := s.sessStore.CreateSession(r.Context(), quota.Session{ID: sid, User: id.User, Groups: id.Groups, Source: id.Source,
		Subnet: rc.Subnet, Created: now, Expires: now.Add(st.ttl)}); err != nil {
		return err
	}
	s.log.Info("login", "request_id", rc.ID, "user", id.User, "source", id.Source, "subnet", rc.Subnet)
	http.SetCookie(w, identity.Cookie(value, s.secureRequest(r), st.ttl))
	return seeOther(w, back)
}

// authenticate checks the users file first, then AList's accounts (ALIST_LOGIN). A name the
// users file has is decided there alone: the same name on AList is another person, who must
// not sign in as the file's user (the link carries the name, not where it came from).
func (st *identityState) authenticate(ctx context.Context, name, password string) (identity.Identity, error) {
	if st.users != nil {
		if id, ok := st.users.Authenticate(name, password); ok {
			return id, nil
		}
		if _, known := st.users.Lookup(name); known {
			return identity.Identity{}, identity.ErrWrongPassword
		}
	}
	if st.alist != nil {
		return st.alist.Authenticate(ctx, name, password)
	}
	return identity.Identity{}, identity.ErrWrongPassword
}

// logout serves POST /logout (back): the session ends in the database, so a copy of the cookie
// is refused too, and the browser's cookie is cleared.
func (s *Service) logout(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	st := s.sec.Load().id
	if !s.sameOrigin(r) {
		return errOrigin
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		return errForm
	}
	if c, err := r.Cookie(identity.CookieName); err == nil {
		if id, sid, err := st.sessions.Verify(c.Value, s.now()); err == nil {
			if _, err := s.sessStore.EndSessions(r.Context(), sid, "", s.now()); err != nil {
				return err
			}
			s.active.forget(sid)
			s.log.Info("logout", "request_id", rc.ID, "user", id.User, "source", id.Source)
		}
	}
	http.SetCookie(w, identity.ClearCookie(s.secureRequest(r)))
	if back, ok := safeBack(r.PostForm.Get("back")); ok {
		return seeOther(w, back)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func seeOther(w http.ResponseWriter, to string) error {
	h := w.Header()
	h.Set("Location", to)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusSeeOther)
	return nil
}

// sameOrigin reports a form posted from the landing's own pages: Origin (or, when a browser
// sends none or "null", Referer) names this host. The host is the request's Host, or
// X-Forwarded-Host from a trusted proxy.
func (s *Service) sameOrigin(r *http.Request) bool {
	src := r.Header.Get("Origin")
	if src == "" || src == "null" {
		src = r.Header.Get("Referer")
	}
	u, err := url.Parse(src)
	if src == "" || err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	fh := r.Header.Get("X-Forwarded-Host")
	return fh != "" && s.trustedPeer(r) && strings.EqualFold(u.Host, strings.TrimSpace(strings.Split(fh, ",")[0]))
}

// secureRequest reports a request that reached the landing over TLS, directly or through a
// trusted proxy that says so: the session cookie is then Secure.
func (s *Service) secureRequest(r *http.Request) bool {
	return r.TLS != nil || (strings.EqualFold(strings.TrimSpace(r.Header.Get("X-Forwarded-Proto")), "https") && s.trustedPeer(r))
}

func (s *Service) trustedPeer(r *http.Request) bool {
	return r.RemoteAddr == "@" || r.RemoteAddr == "" || s.cfg.Parsed.Trusted.Contains(clientip.Peer(r))
}

// safeBack accepts a path on this site to go back to: one leading slash (never "//host" or
// "/\host", which browsers read as another site), no control characters.
func safeBack(b string) (string, bool) {
	if len(b) == 0 || len(b) > 8<<10 || b[0] != '/' || (len(b) > 1 && (b[1] == '/' || b[1] == '\\')) {
		return "", false
	}
	for i := 0; i < len(b); i++ {
		if c := b[i]; c < 0x21 || c == 0x7f || c == '\\' {
			return "", false
		}
	}
	return b, true
}

// renderLogin writes the sign-in form for the file at decoded (or the file back points to),
// with the message of msgKey ("key" or "key:seconds").
func (s *Service) renderLogin(w http.ResponseWriter, r *http.Request, decoded, back, name, msgKey string, status int) error {
	if decoded == "" {
		if _, dec, err := sign.RequestPath(sign.RawPath(back)); err == nil {
			decoded = dec
		}
	}
	lang := webpage.PickLang(r.Header.Get("Accept-Language"))
	tx := webpage.Texts[lang]
	p := &loginPage{Data: webpage.Data{Lang: webpage.LangTags[lang], T: tx, Name: baseName(decoded), Path: decoded,
		State: "login", CSS: webpage.CSS, Login: &webpage.Login{Back: back, Name: name}}}
	if i := strings.LastIndexByte(strings.TrimRight(decoded, "/"), '/'); i > 0 {
		p.Dir = decoded[:i+1]
	}
	if msgKey != "" {
		key, secs, _ := strings.Cut(msgKey, ":")
		p.Login.Error = strings.ReplaceAll(tx[key], "{s}", secs)
	}
	return webpage.Write(w, &p.Data, p, status, false)
}

// loginPage is the page in its sign-in state: no script, no checks.
type loginPage struct {
	webpage.Data
	Checks, TurnstileScript bool
	Config                  struct{}
}
