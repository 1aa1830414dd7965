package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"math"

	"github.com/alist-edge/alist-edge/pkg/sign"
)

// Identity limits (issue #17): a user-scoped quota gives each signed-in user a counter whose
// cap is a base allowance plus the sum of their groups' per_group amounts; a group-scoped
// quota gives each group one pool its members share. Both need an identity: an anonymous
// request under either gets no allowance and is refused, never served uncapped.

// Name limits of identities are the signed link's (pkg/sign): a name the policy accepts is a
// name a link can carry.
const (
	MaxUserLen  = sign.MaxUserLen
	MaxGroupLen = sign.MaxGroupLen
	MaxGroups   = sign.MaxGroups
)

// ValidName reports whether s can be a user (max MaxUserLen) or group (MaxGroupLen) name.
func ValidName(s string, maxLen int) bool { return sign.ValidName(s, maxLen) }

// Subject is who and what one request is for.
type Subject struct {
	Subnet   string // the client's subnet text (sign.Subnet)
	PathHash string // sha256 hex of the served path
	User     string // "" = anonymous
	Groups   []string
}

// Applied is one counter a limit asks for: its stored key and caps. None: the subject has no
// allowance under this limit (anonymous under a user/group scope, or a user/group-scoped quota
// whose computed cap is 0): the request is refused, never served uncapped. Key is still set
// for a user with no allowance (the admin API reads and sets it).
type Applied struct {
	Key      string
	Bytes    int64
	Requests int64
	None     bool
}

// CounterKey is the stored key of a counter of scope s: the subnet (hashed, as every stored
// subnet), the served path's hash, both, the user or the group (hashed: names stay out of the
// database), or "" for a global limit. name is the user for ScopeUser, the group for
// ScopeGroup.
func CounterKey(s Scope, subnet, pathHash, name string) string {
	switch s {
	case ScopeSubnet:
		return "s:" + hashText(subnet)
	case ScopePath:
		return "p:" + pathHash
	case ScopeSubnetPath:
		return "s:" + hashText(subnet) + "|p:" + pathHash
	case ScopeUser:
		return "u:" + hashText(name)
	case ScopeGroup:
		return "g:" + hashText(name)
	}
	return ""
}

func hashText(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:16])
}

// capsBytes: the limit caps bytes, through bytes or per_group.
func (l *Limit) capsBytes() bool { return l.Bytes > 0 || len(l.PerGroup) > 0 }

// Apply returns the counters l asks for on behalf of s: one for the subnet, path and global
// scopes, one per user, one per pool the user is in for a group scope. A user's byte cap is
// bytes plus per_group of each of their groups (each counted once); a pool's is its per_group
// entry or bytes. A limit that caps bytes gives no allowance (None) where that sum is 0.
func (l *Limit) Apply(s Subject) []Applied {
	switch l.Scope {
	case ScopeUser:
		a := Applied{Key: CounterKey(ScopeUser, "", "", s.User), Bytes: l.Bytes, Requests: l.Requests}
		if s.User == "" {
			return []Applied{{None: true}}
		}
		for i, g := range s.Groups {
			if !seenBefore(s.Groups, i) {
				a.Bytes = addSat(a.Bytes, l.PerGroup[g])
			}
		}
		a.None = l.capsBytes() && a.Bytes <= 0
		return []Applied{a}
	case ScopeGroup:
		if s.User == "" {
			return []Applied{{None: true}}
		}
		var out []Applied
		for i, g := range s.Groups {
			if seenBefore(s.Groups, i) || len(l.Groups) > 0 && !contains(l.Groups, g) {
				continue
			}
			b, ok := l.PerGroup[g]
			if !ok {
				b = l.Bytes
			}
			if l.capsBytes() && b <= 0 {
				continue // no pool for this group
			}
			out = append(out, Applied{Key: CounterKey(ScopeGroup, "", "", g), Bytes: b, Requests: l.Requests})
		}
		if len(out) == 0 {
			return []Applied{{None: true}}
		}
		return out
	}
	return []Applied{{Key: CounterKey(l.Scope, s.Subnet, s.PathHash, ""), Bytes: l.Bytes, Requests: l.Requests}}
}

// seenBefore: list[i] also appears earlier in list.
func seenBefore(list []string, i int) bool {
	for _, x := range list[:i] {
		if x == list[i] {
			return true
		}
	}
	return false
}

func addSat(a, b int64) int64 {
	if b > math.MaxInt64-a {
		return math.MaxInt64
	}
	return a + b
}

// IdentityScope: the limit counts per user or per group, so it needs the signed identity.
func (l *Limit) IdentityScope() bool { return l.Scope == ScopeUser || l.Scope == ScopeGroup }

// UsesIdentity reports whether this service's decisions or counters can depend on who the
// visitor is: a rule that applies here reads a user or group matcher, or a limit counts per
// user or group. The landing then offers a login, and the link must carry the identity.
func (e *Engine) UsesIdentity() bool { return e.usesID }

func (e *Engine) identityNeeded() bool {
	for _, l := range e.limits {
		if l.IdentityScope() {
			return true
		}
	}
	for _, cr := range e.rules {
		if !cr.applies {
			continue
		}
		for _, in := range cr.prog {
			switch in.op {
			case opMatch, opNotMatch, opMatchJF, opNotMatchJF, opMatchJT, opNotMatchJT:
				if int(in.arg) < len(e.matchers) && e.ident[in.arg] {
					return true
				}
			}
		}
	}
	return false
}
