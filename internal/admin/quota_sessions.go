package admin

import (
	"context"
	"time"

	"github.com/alist-edge/alist-edge/pkg/quota"
)

// QuotaSessions serves the sessions routes from the shared database (pkg/quota), where the
// landing records the sessions it opens; every service's admin API can list and end them.
func QuotaSessions(s quota.Sessions) SessionStore { return quotaSessions{s} }

type quotaSessions struct{ s quota.Sessions }

func (q quotaSessions) ListSessions(ctx context.Context, now time.Time, user string) ([]Session, error) {
	ss, err := q.s.ListSessions(ctx, now, user)
	out := make([]Session, 0, len(ss))
	for _, s := range ss {
		out = append(out, Session{ID: s.ID, User: s.User, Groups: s.Groups, Source: s.Source, Created: s.Created, Expires: s.Expires})
	}
	return out, err
}

func (q quotaSessions) EndSessions(ctx context.Context, id, user string, now time.Time) (int, error) {
	return q.s.EndSessions(ctx, id, user, now)
}
