package proxy

import (
	"github.com/alist-edge/alist-edge/internal/admin"
	"github.com/alist-edge/alist-edge/pkg/quota"
)

// sessionsOf gives the admin API the landing's sessions, which live in the shared database.
func sessionsOf(s quota.Store) admin.SessionStore {
	for s != nil {
		if ss, ok := quota.SessionsOf(s); ok {
			return admin.QuotaSessions(ss)
		}
		u, ok := s.(interface{ Unwrap() quota.Store })
		if !ok {
			break
		}
		s = u.Unwrap()
	}
	return nil
}
