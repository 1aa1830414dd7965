// Package admin is the operator's API on the admin listener (explain a policy decision, read
// and set quota usage, list and lift blocks, revoke links, list and end sign-in sessions) and
// the `proxy admin` CLI that talks to it. It knows nothing of pkg/policy or pkg/quota: it
// declares the small interfaces it needs (Store, SessionStore, Options.Explain, Options.KeyFor,
// Options.Limits) and the service adapts its real types to them, so the API can be tested with
// fakes and stays out of the hot path.
package admin

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"time"
)

// Options configure Handler.
type Options struct {
	// Token is ADMIN_TOKEN. Empty is accepted only when Loopback is true; otherwise every
	// route answers 403 (an open admin API on a routable address is never what anyone meant).
	Token string
	// Loopback says the admin listener is a loopback address or a unix socket (IsLoopback).
	Loopback bool
	// Store holds the counters, blocks and revocations. nil: those routes answer 501.
	Store Store
	// Sessions lists and ends sign-in sessions. nil: /sessions answers 501.
	Sessions SessionStore
	// Explain traces the policy decision for q; the result is answered as JSON. nil: 501.
	Explain func(ctx context.Context, q ExplainQuery) (any, error)
	// Limits lists every quota and rate of the running policy (read per request, so a policy
	// reloaded on SIGHUP shows at once). nil: no limit is known and /usage answers 404.
	Limits func() []LimitInfo
	// KeyFor turns a quota name and the parts of its scope into the stored counter key (the
	// hashed subnet of an address, the path hash, ...). An error is the caller's fault (400):
	// say what the scope needs. nil: callers must give the key itself.
	KeyFor func(quota, subnet, path, user, group string) (key string, err error)
	// Scope is the service's counter scope, the default of DELETE /blocks' scope ("proxy" if
	// empty).
	Scope string
	// Log receives one line per change (never the token). nil: slog.Default().
	Log *slog.Logger
	// Now is the clock (tests). nil: time.Now.
	Now func() time.Time
}

// Store is what the quota store offers the admin API; pkg/quota's store satisfies it through
// a small adapter. Every call is synchronous: when it returns nil the change is in the
// database, so the next request on any replica sees it.
type Store interface {
	// Usage reads the counter of a named limit for key. A counter never used is a zero Usage
	// and no error.
	Usage(ctx context.Context, name, key string) (Usage, error)
	// SetUsage overwrites the counter. A zero Usage is a reset (the row may be deleted).
	SetUsage(ctx context.Context, name, key string, u Usage) error
	// Blocks lists the rate and bandwidth blocks and the bans still in force at now.
	Blocks(ctx context.Context, now time.Time) ([]Block, error)
	// Unblock lifts the blocks and bans of subnet in scope. subnet is as the operator wrote
	// it, validated: an address (the store maps it to its configured subnet) or a CIDR
	// prefix in canonical form. Nothing to lift is not an error.
	Unblock(ctx context.Context, scope, subnet string) error
	// Revoke adds or replaces the revocation of (Path, Prefix).
	Revoke(ctx context.Context, r Revocation) error
	// Revocations lists the revocations still in force at now.
	Revocations(ctx context.Context, now time.Time) ([]Revocation, error)
	// Unrevoke removes the revocation of (path, prefix); none there: ErrNotFound.
	Unrevoke(ctx context.Context, path string, prefix bool) error
}

// Usage is one counter's state in its current window.
type Usage struct {
	Bytes     int64
	Requests  int64
	WindowEnd time.Time // zero: no window running
}

// Block is a block or a ban in force.
type Block struct {
	Kind     string    `json:"kind"`  // "rate", "bandwidth" or "ban"
	Scope    string    `json:"scope"` // "proxy", "landing", "upload"
	Subnet   string    `json:"subnet"`
	PathHash string    `json:"path_hash,omitempty"` // a per-path bandwidth block
	Until    time.Time `json:"until"`
}

// Revocation refuses every link to Path (or under it, with Prefix) until Until with 410.
type Revocation struct {
	Path   string    `json:"path"`
	Prefix bool      `json:"prefix"`
	Until  time.Time `json:"until"`
}

// Period is the part of policy.Period the API shows and uses; policy.Period satisfies it.
type Period interface {
	WindowEnd(now time.Time) time.Time
	String() string
}

// LimitInfo describes one [quotas.NAME] or [rates.NAME] of the running policy.
type LimitInfo struct {
	Name     string
	Kind     string // "quota" or "rate"
	Scope    string // "subnet", "path", "subnet+path", "global", ...
	Bytes    int64  // 0: no byte cap
	Requests int64  // 0: no request cap
	Period   Period // nil: unknown
	// PerGroup: a user-scoped quota's amount per group, added to Bytes for each group the user
	// is in (a group-scoped one's cap per pool); nil when none.
	PerGroup map[string]int64
}

// ExplainQuery is a hypothetical request to explain, validated by the handler.
type ExplainQuery struct {
	// Path as the client asked for it; Explain must decide on the path the origin will serve
	// (sign.ServedPath), as the proxy does.
	Path   string
	Addr   netip.Addr // unmapped, no zone
	At     time.Time
	Size   int64  // < 0: unknown
	Method string // upper case; GET unless given
	Host   string // lower case, without port; "" unless given
	User   string
	Groups []string
}

// Error is a refusal with a status, for Explain, KeyFor and the Store to return when the
// fault is the caller's (a 400 or a 404); its message is answered as is.
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string { return e.Message }

// ErrNotFound is what a Store returns (wrapped or not) when the thing to remove is not there:
// the API answers 404.
var ErrNotFound = errors.New("not found")

// Paths are the routes Handler serves, for a router that mounts it beside /metrics.
var Paths = []string{"/policy/explain", "/usage", "/blocks", "/revocations", "/sessions"}
