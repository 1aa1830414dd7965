package quota

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"
)

// Sign-in sessions (issue #17). The session cookie is signed and self-contained, so any replica
// verifies it without the database; what it cannot say by itself is whether someone ended it
// (logout, an admin). These rows say that, on the shared database, so ending a session holds on
// every replica at once. Each operation is synchronous (never the write queue) and one
// statement, so "ended" is in the database when EndSessions returns.

// Session is one sign-in.
type Session struct {
	ID     string // chosen by the caller: random, 128 bits in hex (internal/identity)
	User   string
	Groups []string
	Source string // where the identity came from ("users-file", "forward-auth", "alist")
	// Subnet is the client's subnet in text form when creating; stored (and listed) as its
	// sha256 hex, like every subnet in the store, so the table holds no addresses.
	Subnet           string
	Created, Expires time.Time
	Ended            time.Time // zero while the session runs
}

// Sessions is implemented by the stores Open returns (see SessionsOf).
type Sessions interface {
	// CreateSession records a new session. An id already recorded (even ended) is an error: a
	// session that was ended can never run again.
	CreateSession(ctx context.Context, s Session) error
	// SessionActive: false when the session ended, expired (at now) or is unknown. One indexed read.
	SessionActive(ctx context.Context, id string, now time.Time) (bool, error)
	// ListSessions lists the sessions active at now (user "": everyone's), oldest first.
	ListSessions(ctx context.Context, now time.Time, user string) ([]Session, error)
	// EndSessions ends the session id, or every session of user: exactly one of them is given.
	// It returns how many active sessions it ended (0: none was active).
	EndSessions(ctx context.Context, id, user string, now time.Time) (int, error)
}

// SessionsOf returns the sessions of s, when s has them (stores from Open do).
func SessionsOf(s Store) (Sessions, bool) {
	ss, ok := s.(Sessions)
	return ss, ok
}

// Bounds on what a session row holds, so a bad caller cannot fill the table with huge rows.
// Names match internal/identity's limits (MaxNameLen, MaxGroups).
const (
	MaxSessionIDLen   = 64
	MaxSessionNameLen = 64 // the user and each group
	MaxSessionGroups  = 32
	maxSessionSource  = 32
)

// ErrBadSession wraps every refusal of bad input; nothing was written.
var ErrBadSession = errors.New("quota: bad session")

// sessionKeepMs is how long an ended or expired session stays in the table before the janitor
// removes it (an operator can still read it there for a day).
const sessionKeepMs = "86400000" // 24h in ms, in the janitor's SQL

func badSession(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrBadSession}, args...)...)
}

// checkSessionID accepts 1 to MaxSessionIDLen letters, digits, '-' or '_': ids are random
// tokens, and nothing else can then reach a log line or a terminal through one.
func checkSessionID(id string) error {
	if id == "" || len(id) > MaxSessionIDLen {
		return badSession("id must be 1 to %d characters", MaxSessionIDLen)
	}
	for _, c := range []byte(id) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_') {
			return badSession("id holds %q: letters, digits, - and _ only", c)
		}
	}
	return nil
}

// checkSessionName accepts a user or group: 1 to max bytes of UTF-8 without control characters.
func checkSessionName(what, s string, max int) error {
	if s == "" || len(s) > max {
		return badSession("%s must be 1 to %d bytes", what, max)
	}
	if !utf8.ValidString(s) {
		return badSession("%s is not valid UTF-8", what)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return badSession("%s holds the control character %U", what, r)
		}
	}
	return nil
}

func (s Session) check() error {
	if err := checkSessionID(s.ID); err != nil {
		return err
	}
	if err := checkSessionName("user", s.User, MaxSessionNameLen); err != nil {
		return err
	}
	if len(s.Groups) > MaxSessionGroups {
		return badSession("%d groups: at most %d", len(s.Groups), MaxSessionGroups)
	}
	for _, g := range s.Groups {
		if err := checkSessionName("group", g, MaxSessionNameLen); err != nil {
			return err
		}
	}
	if s.Source != "" {
		if err := checkSessionName("source", s.Source, maxSessionSource); err != nil {
			return err
		}
	}
	switch {
	case s.Created.IsZero() || s.Expires.IsZero():
		return badSession("created and expires are required")
	case s.Expires.UnixMilli() <= s.Created.UnixMilli():
		return badSession("expires must be after created")
	case !s.Ended.IsZero():
		return badSession("a new session cannot be ended")
	}
	return nil
}

func (s *store) CreateSession(ctx context.Context, ss Session) error {
	if err := ss.check(); err != nil {
		return err
	}
	groups := ss.Groups
	if groups == nil {
		groups = []string{}
	}
	gj, err := json.Marshal(groups)
	if err != nil {
		return err
	}
	subnet := ""
	if ss.Subnet != "" {
		subnet = hashHex(ss.Subnet)
	}
	_, err = s.be.adminExecCount(ctx, adminStmt{`INSERT INTO sessions (id, user_name, groups, source, subnet, created, expires, ended)
		VALUES ($1, $2, $3, $4, $5, $6, $7, 0)`,
		[]any{ss.ID, ss.User, string(gj), ss.Source, subnet, ss.Created.UnixMilli(), ss.Expires.UnixMilli()}})
	return err
}

// The statements of the sessions (TestSessionsIndexed checks they use an index). Active means
// not ended and not expired at now.
const (
	sessionActiveSQL    = `SELECT 1 FROM sessions WHERE id = $1 AND ended = 0 AND expires > $2`
	sessionEndByIDSQL   = `UPDATE sessions SET ended = $2 WHERE id = $1 AND ended = 0 AND expires > $2`
	sessionEndByUserSQL = `UPDATE sessions SET ended = $2 WHERE user_name = $1 AND ended = 0 AND expires > $2`
	sessionColumns      = `SELECT id, user_name, groups, source, subnet, created, expires FROM sessions `
	sessionListSQL      = sessionColumns + `WHERE ended = 0 AND expires > $1 ORDER BY created, id`
	sessionListUserSQL  = sessionColumns + `WHERE user_name = $1 AND ended = 0 AND expires > $2 ORDER BY created, id`
)

func (s *store) SessionActive(ctx context.Context, id string, now time.Time) (bool, error) {
	if checkSessionID(id) != nil {
		return false, nil // no such id can have been created
	}
	return s.be.sessionActive(ctx, id, now.UnixMilli())
}

func (s *store) ListSessions(ctx context.Context, now time.Time, user string) ([]Session, error) {
	if user != "" {
		if err := checkSessionName("user", user, MaxSessionNameLen); err != nil {
			return nil, err
		}
	}
	q, args := sessionListSQL, []any{now.UnixMilli()}
	if user != "" {
		q, args = sessionListUserSQL, []any{user, now.UnixMilli()}
	}
	var out []Session
	err := s.be.adminQuery(ctx, q, args, func(scan func(...any) error) error {
		var ss Session
		var groups string
		var created, expires int64
		if err := scan(&ss.ID, &ss.User, &groups, &ss.Source, &ss.Subnet, &created, &expires); err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(groups), &ss.Groups); err != nil {
			return fmt.Errorf("quota: session %s: groups: %w", ss.ID, err)
		}
		if len(ss.Groups) == 0 {
			ss.Groups = nil
		}
		ss.Created, ss.Expires = time.UnixMilli(created), time.UnixMilli(expires)
		out = append(out, ss)
		return nil
	})
	return out, err
}

func (s *store) EndSessions(ctx context.Context, id, user string, now time.Time) (int, error) {
	var st adminStmt
	switch {
	case (id == "") == (user == ""):
		return 0, badSession("give a session id or a user, not both")
	case id != "":
		if err := checkSessionID(id); err != nil {
			return 0, err
		}
		st = adminStmt{sessionEndByIDSQL, []any{id, now.UnixMilli()}}
	default:
		if err := checkSessionName("user", user, MaxSessionNameLen); err != nil {
			return 0, err
		}
		st = adminStmt{sessionEndByUserSQL, []any{user, now.UnixMilli()}}
	}
	n, err := s.be.adminExecCount(ctx, st)
	return int(n), err
}
