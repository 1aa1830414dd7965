package config

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/alist-edge/alist-edge/internal/identity"
)

// LandingIdentity is who may sign in on the landing, and how (docs/identity.md). Every source is
// optional; with none set the landing is anonymous, as before.
type LandingIdentity struct {
	// USERS_FILE: a TOML users file (names, password hashes, groups), re-read on SIGHUP.
	UsersFile string `env:"USERS_FILE"`
	// AUTH_HEADER: an auth proxy's headers naming the user: a preset (authelia, authentik,
	// oauth2-proxy) or "User-Header,Groups-Header"; believed only from TRUSTED_PROXIES.
	AuthHeader string `env:"AUTH_HEADER"`
	// ALIST_LOGIN: names and passwords are checked against AList's own accounts.
	AlistLogin bool `env:"ALIST_LOGIN" envDefault:"false"`
	// ALIST_GROUPS: the groups of AList users, "alice:members+staff,bob:guests".
	AlistGroups string `env:"ALIST_GROUPS"`
	// SESSION_TTL: how long a login lasts.
	SessionTTL time.Duration `env:"SESSION_TTL" envDefault:"24h"`
	// LOGIN_ATTEMPTS: password attempts per subnet and per user name in 15 minutes.
	LoginAttempts int `env:"LOGIN_ATTEMPTS" envDefault:"10"`
}

// IdentityDerived is what the identity settings parse into.
type IdentityDerived struct {
	Users       *identity.Users       // USERS_FILE loaded; nil when unset
	ForwardAuth *identity.ForwardAuth // AUTH_HEADER; nil when unset
	AlistGroups map[string][]string   // ALIST_GROUPS
	AlistLogin  *identity.AListSource // ALIST_LOGIN=true: AList's /api/auth/login (HTTP client set by the landing)
}

// LoginWindow is the window LOGIN_ATTEMPTS counts in.
const LoginWindow = 15 * time.Minute

// Session lifetimes accepted for SESSION_TTL.
const (
	minSessionTTL = time.Minute
	maxSessionTTL = 90 * 24 * time.Hour
)

// LoginConfigured reports a source that takes a password on the landing (USERS_FILE or
// ALIST_LOGIN): it needs the login form, sessions and the session key.
func (c *Landing) LoginConfigured() bool { return c.UsersFile != "" || c.AlistLogin }

// IdentityConfigured reports any identity source (forward auth included).
func (c *Landing) IdentityConfigured() bool { return c.LoginConfigured() || c.AuthHeader != "" }

// validateIdentity checks the identity settings and loads the users file; problems go into p.
func (c *Landing) validateIdentity(p *Problems) IdentityDerived {
	var d IdentityDerived
	if c.UsersFile != "" {
		u, err := identity.LoadUsers(c.UsersFile)
		if err != nil {
			addEach(p, "USERS_FILE", err)
		}
		d.Users = u
	}
	if h := strings.TrimSpace(c.AuthHeader); h != "" {
		fa, err := parseAuthHeader(h)
		if err != nil {
			p.Addf("AUTH_HEADER=%q: %v", c.AuthHeader, err)
		} else {
			fa.Trusted = c.Parsed.Trusted
			d.ForwardAuth = &fa
		}
		if c.TrustedProxies == "" && c.UnixSocket == "" {
			p.Addf("AUTH_HEADER needs TRUSTED_PROXIES (or UNIX_SOCKET): the auth proxy's headers are believed only from those peers, anyone else can send them")
		}
	}
	groups, err := parseAlistGroups(c.AlistGroups)
	if err != nil {
		p.Addf("ALIST_GROUPS=%q: %v; accepted: user:group+group,user:group (e.g. alice:members+staff,bob:guests)", c.AlistGroups, err)
	}
	// The policy file's [alist_groups] and ALIST_GROUPS together: a name in both gets both lists.
	if doc := c.Parsed.PolicyDoc; doc != nil {
		for name, gs := range doc.AlistGroups {
			if groups == nil {
				groups = map[string][]string{}
			}
			for _, g := range gs {
				if !slices.Contains(groups[name], g) {
					groups[name] = append(groups[name], g)
				}
			}
		}
	}
	d.AlistGroups = groups
	if c.AlistLogin {
		if c.Parsed.AlistURL == "" {
			p.Addf("ALIST_LOGIN=true needs an AList ADDRESS (http(s)://…): names and passwords are checked against AList's /api/auth/login")
		} else {
			d.AlistLogin = &identity.AListSource{BaseURL: c.Parsed.AlistURL, Groups: groups}
		}
	}
	if c.SessionTTL < minSessionTTL || c.SessionTTL > maxSessionTTL {
		p.Addf("SESSION_TTL=%s; accepted: 1m to 90d", FormatDuration(c.SessionTTL))
	}
	if c.LoginAttempts < 1 || c.LoginAttempts > 10000 {
		p.Addf("LOGIN_ATTEMPTS=%d; accepted: 1 to 10000 password attempts per subnet and per user name in 15 minutes", c.LoginAttempts)
	}
	if c.IdentityConfigured() && !c.IfAppendAdditional {
		p.Addf("IF_APPEND_ADDITIONAL=false with USERS_FILE, AUTH_HEADER or ALIST_LOGIN: the identity travels to the proxy in the signed additionalInfo; accepted: true")
	}
	if c.LoginConfigured() && c.PageSecret != "" && len(c.PageSecret) < 32 {
		p.Addf("PAGE_SECRET is %d characters: with USERS_FILE or ALIST_LOGIN the session cookies are signed with a key derived from it; accepted: at least 32 random characters (openssl rand -hex 32), or unset (derived from the signing key)", len(c.PageSecret))
	}
	return d
}

// parseAuthHeader reads AUTH_HEADER: a preset name, or "User-Header[,Groups-Header]".
func parseAuthHeader(v string) (identity.ForwardAuth, error) {
	if isPreset(v) || !strings.ContainsAny(v, ",-") {
		fa, err := identity.Preset(v, nil)
		if err != nil {
			return fa, fmt.Errorf("%v, or two header names User-Header,Groups-Header", err)
		}
		return fa, nil
	}
	user, groups, _ := strings.Cut(v, ",")
	user, groups = strings.TrimSpace(user), strings.TrimSpace(groups)
	for _, h := range []string{user, groups} {
		if h != "" && !headerToken(h) {
			return identity.ForwardAuth{}, fmt.Errorf("%q is not a header name; accepted: authelia, authentik, oauth2-proxy, or User-Header,Groups-Header", h)
		}
	}
	if user == "" {
		return identity.ForwardAuth{}, fmt.Errorf("no user header; accepted: authelia, authentik, oauth2-proxy, or User-Header,Groups-Header")
	}
	return identity.ForwardAuth{UserHeader: user, GroupsHeader: groups}, nil
}

func isPreset(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "authelia", "authentik", "oauth2-proxy", "oauth2proxy":
		return true
	}
	return false
}

// headerToken: letters, digits and '-', as header names are written in practice.
func headerToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return s != ""
}

// parseAlistGroups reads "alice:members+staff,bob:guests".
func parseAlistGroups(v string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, entry := range splitList(v) {
		user, list, ok := strings.Cut(entry, ":")
		user = strings.TrimSpace(user)
		if !ok {
			return nil, fmt.Errorf("%q has no ':'", entry)
		}
		if err := identity.CheckName(user); err != nil {
			return nil, fmt.Errorf("user %q: %v", user, err)
		}
		if _, dup := out[user]; dup {
			return nil, fmt.Errorf("user %q is listed twice", user)
		}
		var groups []string
		for _, g := range strings.Split(list, "+") {
			g = strings.TrimSpace(g)
			if err := identity.CheckGroup(g); err != nil {
				return nil, fmt.Errorf("user %q: group %q: %v", user, g, err)
			}
			groups = append(groups, g)
		}
		if len(groups) > identity.MaxGroups {
			return nil, fmt.Errorf("user %q: %d groups, at most %d", user, len(groups), identity.MaxGroups)
		}
		out[user] = groups
	}
	return out, nil
}
