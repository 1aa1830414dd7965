package quota

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// Admin operations (issue #16): synchronous reads and writes of the limits' state for the
// admin API. Each is one transaction on the store's database; none goes through the write
// queue, so an answer reflects the database.

// Admin is implemented by the stores Open returns (see AdminOf).
type Admin interface {
	// Usage is a policy counter's use in its current window (zero when the window ended).
	Usage(ctx context.Context, name, key string) (CounterUsage, error)
	// SetUsage sets a counter's use; the zero CounterUsage resets it (a new window starts with
	// the next request). A non-zero one needs a WindowEnd in the future.
	SetUsage(ctx context.Context, name, key string, u CounterUsage) error
	// Blocks lists the rate and bandwidth blocks and the bans in force at now.
	Blocks(ctx context.Context, now time.Time) ([]Block, error)
	// Unblock lifts the blocks and the ban of subnet (text form, e.g. "203.0.113.0/24"; hashed
	// here) in scope ("" = every scope): its request window starts again, its bandwidth usage
	// stays (SetUsage resets quotas), its failure count is forgotten.
	Unblock(ctx context.Context, scope, subnet string) error
	// Revoke refuses the links of a path (or every path under a prefix) until r.Until (zero:
	// until Unrevoke). Revoking the same path and kind again replaces the time.
	Revoke(ctx context.Context, r Revocation) error
	// Revocations lists the revocations in force at now, by path.
	Revocations(ctx context.Context, now time.Time) ([]Revocation, error)
	Unrevoke(ctx context.Context, path string, prefix bool) error
}

// AdminOf returns the admin operations of s, when s has them (stores from Open do).
func AdminOf(s Store) (Admin, bool) {
	a, ok := s.(Admin)
	return a, ok
}

// CounterUsage is a policy counter's state.
type CounterUsage struct {
	Bytes, Requests int64
	WindowEnd       time.Time // zero when no window is running
}

// Block is a block or ban in force.
type Block struct {
	Kind   string // "rate", "bandwidth" or "ban"
	Scope  string
	Subnet string // sha256 hex of the subnet, as stored
	Path   string // bandwidth: the path hash of a per-file block ("" for the subnet total)
	Until  time.Time
}

// Revocation refuses a path's links (Prefix: every path starting with Path).
type Revocation struct {
	Path   string
	Prefix bool
	Until  time.Time // zero: until revoked no more
}

var errAdmin = errors.New("quota admin")

// adminStmt is one statement of an admin transaction ($N placeholders on both backends).
type adminStmt struct {
	q    string
	args []any
}

func (s *store) Usage(ctx context.Context, name, key string) (CounterUsage, error) {
	now := s.now()
	var u CounterUsage
	var end int64
	err := s.be.adminQuery(ctx, `SELECT 'b', window_end, bytes FROM bw_usage WHERE scope = $1 AND subnet = $2 AND path_hash = ''
		UNION ALL SELECT 'r', window_end, count FROM rate_windows WHERE scope = $1 AND subnet = $2`,
		[]any{CounterScope(name), key}, func(scan func(...any) error) error {
			var kind string
			var e, n int64
			if err := scan(&kind, &e, &n); err != nil {
				return err
			}
			if e <= now || n <= 0 {
				return nil
			}
			if kind == "b" {
				u.Bytes = n
			} else {
				u.Requests = n
			}
			end = max(end, e)
			return nil
		})
	if end > 0 {
		u.WindowEnd = time.UnixMilli(end)
	}
	return u, err
}

func (s *store) SetUsage(ctx context.Context, name, key string, u CounterUsage) error {
	sc := CounterScope(name)
	if u == (CounterUsage{}) {
		return s.be.adminExec(ctx, []adminStmt{
			{`DELETE FROM bw_usage WHERE scope = $1 AND subnet = $2 AND path_hash = ''`, []any{sc, key}},
			{`DELETE FROM rate_windows WHERE scope = $1 AND subnet = $2`, []any{sc, key}},
		})
	}
	end := u.WindowEnd.UnixMilli()
	if u.WindowEnd.IsZero() || end <= s.now() || u.Bytes < 0 || u.Requests < 0 || u.Requests > maxCount {
		return fmt.Errorf("%w: usage needs a window end in the future and counts from 0 to their limits", errAdmin)
	}
	return s.be.adminExec(ctx, []adminStmt{
		{`INSERT INTO bw_usage (scope, subnet, path_hash, window_end, bytes, blocked_until) VALUES ($1, $2, '', $3, $4, 0)
			ON CONFLICT (scope, subnet, path_hash) DO UPDATE SET window_end = excluded.window_end, bytes = excluded.bytes,
			blocked_until = 0`, []any{sc, key, end, u.Bytes}},
		{`INSERT INTO rate_windows (scope, subnet, window_end, count, blocked_until) VALUES ($1, $2, $3, $4, 0)
			ON CONFLICT (scope, subnet) DO UPDATE SET window_end = excluded.window_end, count = excluded.count,
			blocked_until = 0`, []any{sc, key, end, int32(u.Requests)}},
	})
}

func (s *store) Blocks(ctx context.Context, now time.Time) ([]Block, error) {
	var out []Block
	err := s.be.adminQuery(ctx, `SELECT 'rate', scope, subnet, '', blocked_until FROM rate_windows WHERE blocked_until > $1
		UNION ALL SELECT 'bandwidth', scope, subnet, path_hash, blocked_until FROM bw_usage WHERE blocked_until > $1
		UNION ALL SELECT 'ban', scope, subnet, '', until FROM bans WHERE until > $1`,
		[]any{now.UnixMilli()}, func(scan func(...any) error) error {
			var b Block
			var until int64
			if err := scan(&b.Kind, &b.Scope, &b.Subnet, &b.Path, &until); err != nil {
				return err
			}
			b.Until = time.UnixMilli(until)
			out = append(out, b)
			return nil
		})
	slices.SortFunc(out, func(a, b Block) int {
		return cmp.Or(cmp.Compare(a.Scope, b.Scope), cmp.Compare(a.Subnet, b.Subnet), cmp.Compare(a.Kind, b.Kind),
			cmp.Compare(a.Path, b.Path))
	})
	return out, err
}

func (s *store) Unblock(ctx context.Context, scope, subnet string) error {
	if subnet == "" {
		return fmt.Errorf("%w: subnet missing", errAdmin)
	}
	args := []any{scope, hashHex(subnet)}
	const where = `($1 = '' OR scope = $1) AND subnet = $2`
	return s.be.adminExec(ctx, []adminStmt{
		{`DELETE FROM rate_windows WHERE ` + where + ` AND blocked_until > 0`, args},
		{`UPDATE bw_usage SET blocked_until = 0 WHERE ` + where + ` AND blocked_until > 0`, args},
		{`DELETE FROM bans WHERE ` + where, args},
		{`DELETE FROM failures WHERE ` + where, args},
	})
}

// foreverMs stores a revocation without an end.
const foreverMs = math.MaxInt64

func (s *store) Revoke(ctx context.Context, r Revocation) error {
	if r.Path == "" {
		return fmt.Errorf("%w: path missing", errAdmin)
	}
	until := int64(foreverMs)
	if !r.Until.IsZero() {
		until = r.Until.UnixMilli()
	}
	return s.be.adminExec(ctx, []adminStmt{{`INSERT INTO revocations (path, prefix, until) VALUES ($1, $2, $3)
		ON CONFLICT (path, prefix) DO UPDATE SET until = excluded.until`, []any{r.Path, r.Prefix, until}}})
}

func (s *store) Revocations(ctx context.Context, now time.Time) ([]Revocation, error) {
	var out []Revocation
	err := s.be.adminQuery(ctx, `SELECT path, prefix, until FROM revocations WHERE until > $1`,
		[]any{now.UnixMilli()}, func(scan func(...any) error) error {
			var r Revocation
			var until int64
			if err := scan(&r.Path, &r.Prefix, &until); err != nil {
				return err
			}
			if until != foreverMs {
				r.Until = time.UnixMilli(until)
			}
			out = append(out, r)
			return nil
		})
	slices.SortFunc(out, func(a, b Revocation) int {
		return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(btoi(a.Prefix), btoi(b.Prefix)))
	})
	return out, err
}

// ErrNotFound: Unrevoke found no revocation of that path and kind.
var ErrNotFound = errors.New("quota: no such revocation")

func (s *store) Unrevoke(ctx context.Context, path string, prefix bool) error {
	n, err := s.be.adminExecCount(ctx, adminStmt{`DELETE FROM revocations WHERE path = $1 AND prefix = $2`, []any{path, prefix}})
	if err == nil && n == 0 {
		return ErrNotFound
	}
	return err
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
