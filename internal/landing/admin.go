package landing

import (
	"context"
	"net/http"
	"time"

	"github.com/alist-edge/alist-edge/internal/admin"
	"github.com/alist-edge/alist-edge/pkg/quota"
)

// AdminAPI serves the admin API's sessions routes on ADMIN_ADDR (runner.AdminAPI), so the
// sessions of a landing with a database of its own can be listed and ended, behind
// ADMIN_TOKEN (without one, only on a loopback or unix-socket ADMIN_ADDR: 403 otherwise).
// Counters, blocks and revocations are the proxy's admin API's (501 here). ADMIN_ADDR and
// ADMIN_TOKEN need a restart.
func (s *Service) AdminAPI() http.Handler {
	o := admin.Options{Token: s.cfg.AdminToken, Loopback: admin.IsLoopback(s.cfg.AdminAddr), Scope: string(quota.ScopeLanding),
		Log: s.log, Now: s.now}
	if s.sessStore != nil {
		o.Sessions = admin.QuotaSessions(endingSessions{s.sessStore, &s.active})
	}
	return admin.Handler(o)
}

// endingSessions ends sessions in the database and forgets them in this replica's cache of
// active sessions, so a session an operator ended here is refused at once (on the other
// replicas within activeTTL).
type endingSessions struct {
	quota.Sessions
	active *activeCache
}

func (e endingSessions) EndSessions(ctx context.Context, id, user string, now time.Time) (int, error) {
	n, err := e.Sessions.EndSessions(ctx, id, user, now)
	if id != "" {
		e.active.forget(id)
	} else {
		e.active.forgetAll() // the user's session ids are not at hand; the cache refills in one read each
	}
	return n, err
}
