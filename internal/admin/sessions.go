package admin

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"
)

// Sign-in sessions (issue #17): list them and end them. A session id is not a credential (the
// cookie is signed with a key the API never sees), so listings show it whole: it is what an
// operator passes back to end one session.

// SessionStore is what the sessions routes need of pkg/quota's Sessions (same methods, this
// package's Session); the service adapts one to the other. Both calls are synchronous: an
// ended session is refused on every replica from the next request on.
type SessionStore interface {
	// ListSessions lists the sessions active at now (user "": everyone's), oldest first.
	ListSessions(ctx context.Context, now time.Time, user string) ([]Session, error)
	// EndSessions ends the session id or every session of user (exactly one is given) and
	// returns how many active sessions it ended.
	EndSessions(ctx context.Context, id, user string, now time.Time) (int, error)
}

// Session is one active sign-in as the API lists it.
type Session struct {
	ID      string    `json:"id"`
	User    string    `json:"user"`
	Groups  []string  `json:"groups"`
	Source  string    `json:"source"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
}

// The store's bounds (pkg/quota MaxSessionIDLen, MaxSessionNameLen; internal/identity
// MaxNameLen), checked here so that a refusal never reaches the store.
const (
	maxSessionID   = 64
	maxSessionUser = 64
)

// parseSessionID accepts 1 to maxSessionID letters, digits, '-' or '_' (ids are random hex).
func parseSessionID(id string) (string, error) {
	if id == "" || len(id) > maxSessionID || strings.ContainsFunc(id, func(c rune) bool {
		return !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_')
	}) {
		return "", badParam{"id", fmt.Sprintf("not a session id (1 to %d letters, digits, - or _)", maxSessionID)}
	}
	return id, nil
}

// parseSessionUser accepts a user name as the identity sources make them: 1 to
// maxSessionUser bytes of UTF-8 without control characters.
func parseSessionUser(u string) (string, error) {
	if len(u) > maxSessionUser || !utf8.ValidString(u) || hasControl(u) || strings.ContainsFunc(u, func(c rune) bool { return c >= 0x80 && c < 0xa0 }) {
		return "", badParam{"user", fmt.Sprintf("not a user name (1 to %d bytes of UTF-8, no control characters)", maxSessionUser)}
	}
	return u, nil
}

func (a *api) sessions(w http.ResponseWriter, r *http.Request) {
	q, err := query(r.URL, nil, "user")
	user := ""
	if err == nil && q.Get("user") != "" {
		user, err = parseSessionUser(q.Get("user"))
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if a.o.Sessions == nil {
		writeError(w, http.StatusNotImplemented, "no session store configured")
		return
	}
	ss, err := a.o.Sessions.ListSessions(r.Context(), a.o.Now(), user)
	if err != nil {
		a.fail(w, r, "sessions", err)
		return
	}
	if ss == nil {
		ss = []Session{}
	}
	for i := range ss {
		if ss[i].Groups == nil {
			ss[i].Groups = []string{}
		}
		ss[i].Created, ss[i].Expires = ss[i].Created.UTC(), ss[i].Expires.UTC()
	}
	writeJSON(w, http.StatusOK, struct {
		Sessions []Session `json:"sessions"`
	}{ss})
}

func (a *api) endSessions(w http.ResponseWriter, r *http.Request) {
	q, err := query(r.URL, nil, "id", "user")
	id, user := "", ""
	switch {
	case err != nil:
	case (q.Get("id") == "") == (q.Get("user") == ""):
		err = errors.New(`give one of the parameters "id" (a session) or "user" (every session of a user)`)
	case q.Get("id") != "":
		id, err = parseSessionID(q.Get("id"))
	default:
		user, err = parseSessionUser(q.Get("user"))
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if a.o.Sessions == nil {
		writeError(w, http.StatusNotImplemented, "no session store configured")
		return
	}
	n, err := a.o.Sessions.EndSessions(r.Context(), id, user, a.o.Now())
	if err != nil {
		a.fail(w, r, "end sessions", err)
		return
	}
	if n == 0 {
		what := "no active session " + strconv.Quote(id)
		if user != "" {
			what = "no active session of user " + strconv.Quote(user)
		}
		writeError(w, http.StatusNotFound, what)
		return
	}
	if id != "" {
		a.changed(r, "end-session", "id", id, "ended", n)
	} else {
		a.changed(r, "end-session", "user", user, "ended", n)
	}
	writeJSON(w, http.StatusOK, struct {
		Ended int `json:"ended"`
	}{n})
}

// The CLI's commands (listed in cli.go's commands).

func sessionsCmd(fs *flag.FlagSet) func() (request, error) {
	user := fs.String("user", "", "only this user's sessions")
	return func() (request, error) {
		var v url.Values
		if *user != "" {
			v = url.Values{"user": {*user}}
		}
		return request{"GET", "/sessions", v, nil}, nil
	}
}

func endSessionCmd(fs *flag.FlagSet) func() (request, error) {
	id := fs.String("id", "", "the session's id (from `admin sessions`)")
	user := fs.String("user", "", "end every session of this user")
	return func() (request, error) {
		if (*id == "") == (*user == "") {
			return request{}, errors.New("give one of -id or -user")
		}
		v := url.Values{"id": {*id}}
		if *user != "" {
			v = url.Values{"user": {*user}}
		}
		return request{"DELETE", "/sessions", v, nil}, nil
	}
}

func printSessions(w io.Writer, body []byte) error {
	var a struct{ Sessions []Session }
	if err := json.Unmarshal(body, &a); err != nil {
		return err
	}
	if len(a.Sessions) == 0 {
		_, err := fmt.Fprintln(w, "no active sessions")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSER\tGROUPS\tSOURCE\tCREATED\tEXPIRES")
	for _, s := range a.Sessions {
		groups := make([]string, len(s.Groups))
		for i, g := range s.Groups {
			groups[i] = printable(g)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", printable(s.ID), printable(s.User), orNone(strings.Join(groups, ","), "-"),
			printable(orNone(s.Source, "-")), s.Created.UTC().Format(time.RFC3339), s.Expires.UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}

func printEnded(w io.Writer, body []byte) error {
	var a struct{ Ended int }
	if err := json.Unmarshal(body, &a); err != nil {
		return err
	}
	plural := "s"
	if a.Ended == 1 {
		plural = ""
	}
	_, err := fmt.Fprintf(w, "ended %d session%s\n", a.Ended, plural)
	return err
}
