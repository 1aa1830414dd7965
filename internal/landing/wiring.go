package landing

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/alist-edge/alist-edge/pkg/policy"
	"github.com/alist-edge/alist-edge/pkg/quota"
	"github.com/alist-edge/alist-edge/pkg/sign"
)

// IdentityDeps are the parts of issue #17 that other packages provide: server-side sessions
// (pkg/quota), the policy's identity matchers and user/group limits (pkg/policy) and the
// identity in signed links (pkg/sign). Each nil field falls back to defaultIdentityDeps.
type IdentityDeps struct {
	// Sessions returns the store's server-side sessions; false when it has none, and then the
	// landing refuses to start with a login source (USERS_FILE, ALIST_LOGIN).
	Sessions func(quota.Store) (SessionStore, bool)
	// Usage reads a policy counter's use in its current window.
	Usage func(quota.Store) (UsageReader, bool)
	// UsesIdentity reports a policy with user or group matchers or limits.
	UsesIdentity func(*policy.Engine) bool
	// Apply is the counters a limit asks for, for one subject (policy.Limit.Apply).
	Apply func(l *policy.Limit, subnet, pathHash, user string, groups []string) []AppliedLimit
	// WithIdentity puts a user and groups into a link's signed additionalInfo.
	WithIdentity func(info *sign.AdditionalInfo, user string, groups []string)
}

// Session is a login as the database keeps it: field for field quota.Session, so one converts
// into the other.
type Session struct {
	ID, User         string
	Groups           []string
	Source, Subnet   string
	Created, Expires time.Time
	Ended            time.Time
}

// SessionStore is what the landing needs of the database's sessions.
type SessionStore interface {
	CreateSession(ctx context.Context, s Session) error
	// SessionActive is false when the session ended, expired or is unknown.
	SessionActive(ctx context.Context, id string, now time.Time) (bool, error)
	EndSession(ctx context.Context, id string, now time.Time) error
}

// UsageReader reads a policy counter (quota.Admin.Usage).
type UsageReader interface {
	Usage(ctx context.Context, name, key string) (quota.CounterUsage, error)
}

// AppliedLimit is one counter a limit asks for: field for field policy.Applied. None: the
// subject has no allowance under the limit.
type AppliedLimit struct {
	Key             string
	Bytes, Requests int64
	None            bool
}

// defaultIdentityDeps is what works on main before pkg/quota has sessions and pkg/policy and
// pkg/sign carry identities. Once they do, each line becomes:
//
//	Sessions:     func(st quota.Store) (SessionStore, bool) { q, ok := quota.SessionsOf(st); return quotaSessions{q}, ok },
//	UsesIdentity: (*policy.Engine).UsesIdentity,
//	Apply:        applyWithPolicy, // for _, a := range l.Apply(policy.Subject{...}) { out = append(out, AppliedLimit(a)) }
//	WithIdentity: func(info *sign.AdditionalInfo, u string, g []string) { info.User, info.Groups = u, g },
//
// with quotaSessions the three-method adapter of quota.Sessions (CreateSession converts with
// quota.Session(s); EndSession calls EndSessions(ctx, id, "", now)).
func defaultIdentityDeps() IdentityDeps {
	return IdentityDeps{
		Sessions: func(quota.Store) (SessionStore, bool) { return nil, false },
		Usage: func(st quota.Store) (UsageReader, bool) {
			a, ok := quota.AdminOf(st)
			return a, ok
		},
		UsesIdentity: nil, // the policy document is read instead (docUsesIdentity)
		Apply:        applyByScope,
		WithIdentity: func(*sign.AdditionalInfo, string, []string) {},
	}
}

// resolve fills d's nil fields with the defaults.
func (d IdentityDeps) resolve() IdentityDeps {
	def := defaultIdentityDeps()
	if d.Sessions == nil {
		d.Sessions = def.Sessions
	}
	if d.Usage == nil {
		d.Usage = def.Usage
	}
	if d.Apply == nil {
		d.Apply = def.Apply
	}
	if d.WithIdentity == nil {
		d.WithIdentity = def.WithIdentity
	}
	return d
}

// docUsesIdentity reads a policy document for a user or group matcher or a user- or
// group-scoped limit.
func docUsesIdentity(doc *policy.Document) bool {
	if doc == nil {
		return false
	}
	for _, m := range doc.Matchers {
		if m.Kind == "user" || m.Kind == "group" {
			return true
		}
	}
	for _, l := range doc.Limits {
		if l.Scope == policy.ScopeUser || l.Scope == policy.ScopeGroup {
			return true
		}
	}
	return false
}

// applyByScope is Limit.Apply as the contract of issue #17 keys the counters, without its
// per-group caps: subnet "s:"+h(subnet), path "p:"+pathHash, both, global "", user
// "u:"+h(user), each group "g:"+h(group). Anonymous under a user or group scope has no
// allowance.
func applyByScope(l *policy.Limit, subnet, pathHash, user string, groups []string) []AppliedLimit {
	one := func(key string) []AppliedLimit {
		return []AppliedLimit{{Key: key, Bytes: l.Bytes, Requests: l.Requests}}
	}
	switch l.Scope {
	case policy.ScopeSubnet:
		return one("s:" + hashKey(subnet))
	case policy.ScopePath:
		return one("p:" + pathHash)
	case policy.ScopeSubnetPath:
		return one("s:" + hashKey(subnet) + "|p:" + pathHash)
	case policy.ScopeUser:
		if user == "" {
			return []AppliedLimit{{None: true}}
		}
		return one("u:" + hashKey(user))
	case policy.ScopeGroup:
		if len(groups) == 0 {
			return []AppliedLimit{{None: true}}
		}
		out := make([]AppliedLimit, 0, len(groups))
		for _, g := range groups {
			out = append(out, AppliedLimit{Key: "g:" + hashKey(g), Bytes: l.Bytes, Requests: l.Requests})
		}
		return out
	}
	return one("")
}

// hashKey is the first 16 bytes of sha256, hex: how stored counter keys name a subnet, user or
// group.
func hashKey(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:16])
}
