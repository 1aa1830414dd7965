package identity

import (
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
)

// Header names the common auth proxies set after a successful login.
const (
	HeaderRemoteUser       = "Remote-User"        // Authelia, Authentik (proxy outpost)
	HeaderRemoteGroups     = "Remote-Groups"      // Authelia, Authentik
	HeaderForwardedUser    = "X-Forwarded-User"   // oauth2-proxy (--set-xauthrequest / pass-user-headers)
	HeaderForwardedGroups  = "X-Forwarded-Groups" // oauth2-proxy
	forwardAuthPresetNames = "authelia, authentik, oauth2-proxy"
)

// ForwardAuth believes the user named in a header set by an auth proxy the operator runs in
// front of the landing — but only when the request's TCP peer is that proxy (an address in
// Trusted). Anyone else can send the same header, so from any other peer it is ignored.
type ForwardAuth struct {
	UserHeader   string
	GroupsHeader string // "" = the proxy sends no groups
	Trusted      []netip.Prefix
}

// Preset is the header pair of a known auth proxy: "authelia" and "authentik" (Remote-User,
// Remote-Groups) or "oauth2-proxy" (X-Forwarded-User, X-Forwarded-Groups).
func Preset(name string, trusted []netip.Prefix) (ForwardAuth, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "authelia", "authentik":
		return ForwardAuth{UserHeader: HeaderRemoteUser, GroupsHeader: HeaderRemoteGroups, Trusted: trusted}, nil
	case "oauth2-proxy", "oauth2proxy":
		return ForwardAuth{UserHeader: HeaderForwardedUser, GroupsHeader: HeaderForwardedGroups, Trusted: trusted}, nil
	}
	return ForwardAuth{}, fmt.Errorf("forward-auth preset %q: accepted: %s", name, forwardAuthPresetNames)
}

// Identify reads the identity the auth proxy vouched for. peer is the TCP peer of the
// connection (never an address from a header). It answers false when the peer is not
// trusted, the user header is missing, invalid or sent more than once (a proxy that appends to
// a client's header instead of replacing it), or the groups header is sent more than once.
// Group names that are not valid are dropped (a dropped group can only grant less); at most
// MaxGroups are kept, duplicates once, in the order sent.
func (f ForwardAuth) Identify(r *http.Request, peer netip.Addr) (Identity, bool) {
	if f.UserHeader == "" || !f.trusts(peer) {
		return Identity{}, false
	}
	users := r.Header.Values(f.UserHeader)
	if len(users) != 1 {
		return Identity{}, false
	}
	name := strings.TrimSpace(users[0])
	if CheckName(name) != nil {
		return Identity{}, false
	}
	id := Identity{User: name, Source: SourceForwardAuth}
	if f.GroupsHeader == "" {
		return id, true
	}
	values := r.Header.Values(f.GroupsHeader)
	if len(values) > 1 {
		return Identity{}, false
	}
	if len(values) == 1 {
		id.Groups = splitGroups(values[0])
	}
	return id, true
}

func (f ForwardAuth) trusts(peer netip.Addr) bool {
	if !peer.IsValid() {
		return false
	}
	peer = peer.WithZone("").Unmap()
	for _, p := range f.Trusted {
		if p.Contains(peer) {
			return true
		}
	}
	return false
}

func splitGroups(v string) []string {
	var out []string
	for _, g := range strings.Split(v, ",") {
		g = strings.TrimSpace(g)
		if g == "" || CheckGroup(g) != nil || slices.Contains(out, g) {
			continue
		}
		if len(out) == MaxGroups {
			break
		}
		out = append(out, g)
	}
	return out
}
