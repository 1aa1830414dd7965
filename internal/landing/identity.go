package landing

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/alist-edge/alist-edge/internal/clientip"
	"github.com/alist-edge/alist-edge/internal/config"
	"github.com/alist-edge/alist-edge/internal/identity"
	"github.com/alist-edge/alist-edge/pkg/quota"
)

// sessionKeyLabel derives the session cookies' key from the page key (PAGE_SECRET, or the one
// derived from the signing key), so no new secret is needed and the two keys never coincide.
const sessionKeyLabel = "alist-edge:session-key"

// identityState is the identity half of secrets: everything SIGHUP may replace (the users
// file above all).
type identityState struct {
	users    *identity.Users
	forward  *identity.ForwardAuth
	unixFwd  *identity.ForwardAuth // the same headers, from the UNIX_SOCKET peer
	alist    *identity.AListSource
	groups   map[string][]string // ALIST_GROUPS
	sessions *identity.Sessions  // nil: no login source, no cookies
	ttl      time.Duration
	attempts int
	usesID   bool // the policy has user or group rules
}

// loginEnabled reports a source that takes a password: the form, /login and cookies exist.
func (st *identityState) loginEnabled() bool { return st.sessions != nil }

func newIdentityState(cfg *config.Landing, pageKey []byte, usesID bool, hc *http.Client) *identityState {
	d := cfg.Parsed.IdentityDerived
	st := &identityState{users: d.Users, forward: d.ForwardAuth, groups: d.AlistGroups,
		ttl: cfg.SessionTTL, attempts: cfg.LoginAttempts, usesID: usesID}
	if st.forward != nil {
		u := *st.forward
		u.Trusted = []netip.Prefix{netip.PrefixFrom(netip.IPv6Loopback(), 128)}
		st.unixFwd = &u
	}
	if d.AlistLogin != nil {
		a := *d.AlistLogin
		a.HTTP = hc
		st.alist = &a
	}
	if cfg.LoginConfigured() {
		m := hmac.New(sha256.New, pageKey)
		m.Write([]byte(sessionKeyLabel))
		st.sessions = identity.NewSessions(m.Sum(nil), cfg.SessionTTL)
	}
	return st
}

// visitor is who a request comes from, when anyone vouched for them.
type visitor struct {
	id      identity.Identity
	sid     string    // the session's id; "" for forward auth
	expires time.Time // the session's end; zero for forward auth
}

// identify finds the visitor of r: the auth proxy's headers when the peer is trusted, then the
// session cookie (signed, not ended, its user still in the users file). nil: anonymous. An
// error is the database failing to say whether the session ended.
func (s *Service) identify(r *http.Request, st *identityState) (*visitor, error) {
	if st.forward != nil {
		var id identity.Identity
		var ok bool
		if r.RemoteAddr == "@" || r.RemoteAddr == "" {
			id, ok = st.unixFwd.Identify(r, netip.IPv6Loopback()) // UNIX_SOCKET: the local proxy
		} else {
			id, ok = st.forward.Identify(r, clientip.Peer(r))
		}
		if ok {
			return &visitor{id: id}, nil
		}
	}
	if st.sessions == nil {
		return nil, nil
	}
	c, err := r.Cookie(identity.CookieName)
	if err != nil || c.Value == "" {
		return nil, nil
	}
	now := s.now()
	id, sid, err := st.sessions.Verify(c.Value, now)
	if err != nil {
		return nil, nil
	}
	active, err := s.active.check(r.Context(), s.sessStore, sid, now)
	if err != nil || !active {
		return nil, err
	}
	id, ok := st.current(id)
	if !ok {
		return nil, nil
	}
	return &visitor{id: id, sid: sid, expires: sessionEnd(c.Value, st.ttl)}, nil
}

// current is id as its source says today: a users-file user must still be in the file (a
// reload may have removed them) and gets the file's groups; an AList user gets ALIST_GROUPS'.
func (st *identityState) current(id identity.Identity) (identity.Identity, bool) {
	switch id.Source {
	case identity.SourceUsersFile:
		return st.users.Lookup(id.User)
	case identity.SourceAList:
		if st.alist == nil {
			return identity.Identity{}, false
		}
		id.Groups = st.groups[id.User]
	}
	return id, true
}

// sessionEnd reads when a verified session value ends: its expiry, or issued+ttl when the
// lifetime was lowered since (identity's layout: version, sid(16), issued(8), expires(8)).
func sessionEnd(value string, ttl time.Duration) time.Time {
	b, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(b) < 33 {
		return time.Time{}
	}
	issued := int64(binary.BigEndian.Uint64(b[17:25]))
	expires := int64(binary.BigEndian.Uint64(b[25:33]))
	return time.Unix(min(expires, issued+int64(ttl/time.Second)), 0)
}

// activeTTL is how long this replica trusts an answer that a session is active: an ended
// session is refused at once on the replica that ended it (forget), within activeTTL on the
// others. It keeps a page with a session as cheap as one without (no database read per view).
const activeTTL = 10 * time.Second

const maxActiveEntries = 10000

// activeCache remembers sessions found active, until activeTTL after the check.
type activeCache struct {
	mu   sync.Mutex
	seen map[string]time.Time // sid → checked at
}

func (c *activeCache) check(ctx context.Context, store quota.Sessions, sid string, now time.Time) (bool, error) {
	c.mu.Lock()
	at, ok := c.seen[sid]
	c.mu.Unlock()
	if ok && now.Sub(at) < activeTTL && !now.Before(at) {
		return true, nil
	}
	if store == nil {
		return false, nil
	}
	active, err := store.SessionActive(ctx, sid, now)
	if err != nil || !active {
		c.forget(sid)
		return false, err
	}
	c.mu.Lock()
	if c.seen == nil || len(c.seen) >= maxActiveEntries {
		c.seen = make(map[string]time.Time)
	}
	c.seen[sid] = now
	c.mu.Unlock()
	return true, nil
}

func (c *activeCache) forget(sid string) {
	c.mu.Lock()
	delete(c.seen, sid)
	c.mu.Unlock()
}

func (c *activeCache) forgetAll() {
	c.mu.Lock()
	c.seen = nil
	c.mu.Unlock()
}
