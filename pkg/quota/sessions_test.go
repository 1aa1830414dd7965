package quota

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// sessionsOf is the store's Sessions, as a caller reaches them.
func sessionsOf(t testing.TB, s *store) Sessions {
	t.Helper()
	ss, ok := SessionsOf(s)
	if !ok {
		t.Fatal("SessionsOf: the store has no sessions")
	}
	return ss
}

func wantActive(t *testing.T, ss Sessions, id string, now time.Time, want bool) {
	t.Helper()
	got, err := ss.SessionActive(context.Background(), id, now)
	if err != nil || got != want {
		t.Fatalf("SessionActive(%q) at %s = %v %v, want %v", id, now.Format(time.RFC3339Nano), got, err, want)
	}
}

func listIDs(t *testing.T, ss Sessions, now time.Time, user string) []string {
	t.Helper()
	l, err := ss.ListSessions(context.Background(), now, user)
	if err != nil {
		t.Fatalf("ListSessions(%q): %v", user, err)
	}
	var ids []string
	for _, s := range l {
		ids = append(ids, s.ID)
	}
	return ids
}

func wantEnded(t *testing.T, ss Sessions, id, user string, now time.Time, want int) {
	t.Helper()
	n, err := ss.EndSessions(context.Background(), id, user, now)
	if err != nil || n != want {
		t.Fatalf("EndSessions(%q, %q) = %d %v, want %d", id, user, n, err, want)
	}
}

// TestSessions: create, active, list (all and by user), end by id and by user, expiry; an
// ended session is never active again, not even when its id is created a second time.
func TestSessions(t *testing.T) {
	eachBackend(t, func(t *testing.T, bc backendCase) {
		ctx := context.Background()
		clk := newClock()
		s := openStore(t, bc.fresh(t), Config{Clock: clk.Now})
		ss := sessionsOf(t, s)
		now := clk.Now()
		a1 := Session{ID: "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1", User: "alice", Groups: []string{"members", "staff"}, Source: "users-file",
			Subnet: "203.0.113.0/24", Created: now, Expires: now.Add(24 * time.Hour)}
		a2 := Session{ID: "a2", User: "alice", Source: "alist", Created: now.Add(time.Second), Expires: now.Add(24 * time.Hour)}
		b1 := Session{ID: "b1", User: "bob", Groups: []string{"guests"}, Source: "forward-auth", Created: now.Add(2 * time.Second), Expires: now.Add(time.Hour)}
		for _, x := range []Session{a1, a2, b1} {
			if err := ss.CreateSession(ctx, x); err != nil {
				t.Fatalf("CreateSession(%s): %v", x.ID, err)
			}
		}
		for _, id := range []string{a1.ID, a2.ID, b1.ID} {
			wantActive(t, ss, id, now, true)
		}
		wantActive(t, ss, "unknown", now, false)
		wantActive(t, ss, "", now, false)

		// The listing holds what was created, the subnet hashed, oldest first.
		l, err := ss.ListSessions(ctx, now, "")
		if err != nil || len(l) != 3 {
			t.Fatalf("ListSessions: %+v %v", l, err)
		}
		got := l[0]
		want := a1
		want.Subnet = hashHex(a1.Subnet)
		if got.ID != want.ID || got.User != want.User || !reflect.DeepEqual(got.Groups, want.Groups) || got.Source != want.Source ||
			got.Subnet != want.Subnet || !got.Created.Equal(now.Truncate(time.Millisecond)) || !got.Expires.Equal(want.Expires.Truncate(time.Millisecond)) ||
			!got.Ended.IsZero() {
			t.Fatalf("listed %+v, want %+v", got, want)
		}
		if l[1].Groups != nil || l[1].Subnet != "" {
			t.Fatalf("no groups and no subnet listed as %+v", l[1])
		}
		if ids := listIDs(t, ss, now, ""); !reflect.DeepEqual(ids, []string{"a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1", "a2", "b1"}) {
			t.Fatalf("order %q", ids)
		}
		if ids := listIDs(t, ss, now, "alice"); !reflect.DeepEqual(ids, []string{a1.ID, "a2"}) {
			t.Fatalf("alice's sessions %q", ids)
		}
		if ids := listIDs(t, ss, now, "carol"); ids != nil {
			t.Fatalf("carol's sessions %q", ids)
		}

		// Creating an id twice is refused and changes nothing.
		dup := a2
		dup.User, dup.Expires = "mallory", now.Add(48*time.Hour)
		if err := ss.CreateSession(ctx, dup); err == nil {
			t.Fatal("a second session with the same id was accepted")
		}
		if ids := listIDs(t, ss, now, "mallory"); ids != nil {
			t.Fatalf("the duplicate was recorded: %q", ids)
		}

		// End by id: once, then nothing more to end; never active again, not even recreated.
		later := now.Add(time.Minute)
		wantEnded(t, ss, a1.ID, "", later, 1)
		wantEnded(t, ss, a1.ID, "", later, 0)
		wantActive(t, ss, a1.ID, later, false)
		wantActive(t, ss, a1.ID, now, false) // ended is not a time: a clock behind does not revive it
		if err := ss.CreateSession(ctx, Session{ID: a1.ID, User: "alice", Created: later, Expires: later.Add(time.Hour)}); err == nil {
			t.Fatal("an ended session's id was created again")
		}
		wantActive(t, ss, a1.ID, later, false)
		if ids := listIDs(t, ss, later, "alice"); !reflect.DeepEqual(ids, []string{"a2"}) {
			t.Fatalf("after ending a1: %q", ids)
		}

		// End by user: alice's remaining session only; bob's runs on.
		wantEnded(t, ss, "", "alice", later, 1)
		wantEnded(t, ss, "", "alice", later, 0)
		wantEnded(t, ss, "", "carol", later, 0)
		wantActive(t, ss, "a2", later, false)
		wantActive(t, ss, "b1", later, true)

		// Expiry: active until the last millisecond before Expires; an expired one is not listed
		// and there is nothing to end.
		wantActive(t, ss, "b1", b1.Expires.Add(-time.Millisecond), true)
		wantActive(t, ss, "b1", b1.Expires, false)
		if ids := listIDs(t, ss, b1.Expires, ""); ids != nil {
			t.Fatalf("listed at b1's expiry: %q", ids)
		}
		wantEnded(t, ss, "b1", "", b1.Expires, 0)
		if ids := listIDs(t, ss, later, ""); !reflect.DeepEqual(ids, []string{"b1"}) {
			t.Fatalf("before b1's expiry: %q", ids)
		}
	})
}

// TestSessionsJanitor: the janitor keeps running sessions and removes the ended and expired
// ones a day after they ended or expired.
func TestSessionsJanitor(t *testing.T) {
	eachBackend(t, func(t *testing.T, bc backendCase) {
		ctx := context.Background()
		clk := newClock()
		s := openStore(t, bc.fresh(t), Config{Clock: clk.Now})
		ss := sessionsOf(t, s)
		now := clk.Now()
		for id, d := range map[string]time.Duration{"live": 72 * time.Hour, "ended": 72 * time.Hour, "expired": time.Hour} {
			if err := ss.CreateSession(ctx, Session{ID: id, User: "u", Created: now, Expires: now.Add(d)}); err != nil {
				t.Fatal(err)
			}
		}
		wantEnded(t, ss, "ended", "", now, 1)
		count := func() int64 { return queryInt(t, s, `SELECT COUNT(*) FROM sessions`) }
		for _, step := range []struct {
			at   time.Duration
			want int64
		}{{time.Hour, 3}, {24*time.Hour - time.Millisecond, 3}, {24 * time.Hour, 2}, {25*time.Hour - time.Millisecond, 2}, {25 * time.Hour, 1}} {
			if err := s.be.janitor(ctx, now.Add(step.at).UnixMilli()); err != nil {
				t.Fatal(err)
			}
			if n := count(); n != step.want {
				t.Fatalf("%d sessions after the janitor at +%s, want %d", n, step.at, step.want)
			}
		}
		wantActive(t, ss, "live", now.Add(25*time.Hour), true)
	})
}

// TestSessionsBadInput: every refusal is ErrBadSession and writes nothing; a running session
// stays running.
func TestSessionsBadInput(t *testing.T) {
	eachBackend(t, func(t *testing.T, bc backendCase) {
		ctx := context.Background()
		clk := newClock()
		s := openStore(t, bc.fresh(t), Config{Clock: clk.Now})
		ss := sessionsOf(t, s)
		now := clk.Now()
		ok := Session{ID: "0123456789abcdef0123456789abcdef", User: "alice", Groups: []string{"g"}, Created: now, Expires: now.Add(time.Hour)}
		if err := ss.CreateSession(ctx, ok); err != nil {
			t.Fatal(err)
		}
		long := strings.Repeat("x", 65)
		many := make([]string, 33)
		for i := range many {
			many[i] = fmt.Sprint("g", i)
		}
		for name, mod := range map[string]func(*Session){
			"empty id":        func(s *Session) { s.ID = "" },
			"long id":         func(s *Session) { s.ID = long },
			"id with a space": func(s *Session) { s.ID = "ab cd" },
			"id with a slash": func(s *Session) { s.ID = "ab/cd" },
			"empty user":      func(s *Session) { s.User = "" },
			"long user":       func(s *Session) { s.User = long },
			"user with \\n":   func(s *Session) { s.User = "a\nb" },
			"user not UTF-8":  func(s *Session) { s.User = "a\xffb" },
			"empty group":     func(s *Session) { s.Groups = []string{""} },
			"long group":      func(s *Session) { s.Groups = []string{long} },
			"33 groups":       func(s *Session) { s.Groups = many },
			"long source":     func(s *Session) { s.Source = long },
			"no created":      func(s *Session) { s.Created = time.Time{} },
			"no expires":      func(s *Session) { s.Expires = time.Time{} },
			"expires=created": func(s *Session) { s.Expires = s.Created },
			"already ended":   func(s *Session) { s.Ended = s.Created },
		} {
			x := ok
			x.ID = "fresh"
			mod(&x)
			if err := ss.CreateSession(ctx, x); !errors.Is(err, ErrBadSession) {
				t.Errorf("CreateSession(%s): %v, want ErrBadSession", name, err)
			}
		}
		for _, c := range []struct{ id, user string }{{"", ""}, {ok.ID, "alice"}, {long, ""}, {"", long}, {"a b", ""}, {"", "a\x00"}} {
			if n, err := ss.EndSessions(ctx, c.id, c.user, now); !errors.Is(err, ErrBadSession) || n != 0 {
				t.Errorf("EndSessions(%q, %q) = %d %v, want ErrBadSession", c.id, c.user, n, err)
			}
		}
		if _, err := ss.ListSessions(ctx, now, long); !errors.Is(err, ErrBadSession) {
			t.Errorf("ListSessions(long user): %v", err)
		}
		wantActive(t, ss, long, now, false)
		if n := queryInt(t, s, `SELECT COUNT(*) FROM sessions`); n != 1 {
			t.Fatalf("%d sessions after bad input, want 1", n)
		}
		if n := queryInt(t, s, `SELECT COUNT(*) FROM sessions WHERE ended = 0`); n != 1 {
			t.Fatal("bad input ended the running session")
		}
		wantActive(t, ss, ok.ID, now, true)
	})
}

// BenchmarkSessionActive: the check a signed-in page view adds, among 1000 sessions.
func BenchmarkSessionActive(b *testing.B) {
	for _, bc := range backends {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			s := openStore(b, bc.fresh(b), Config{})
			ss := sessionsOf(b, s)
			now := time.Now()
			const n = 1000
			ids := make([]string, n)
			for i := range n {
				ids[i] = fmt.Sprintf("%032x", i)
				if err := ss.CreateSession(ctx, Session{ID: ids[i], User: fmt.Sprint("u", i%50),
					Created: now, Expires: now.Add(time.Hour)}); err != nil {
					b.Fatal(err)
				}
			}
			for i := 0; b.Loop(); i++ {
				if ok, err := ss.SessionActive(ctx, ids[i%n], now); !ok || err != nil {
					b.Fatalf("SessionActive: %v %v", ok, err)
				}
			}
		})
	}
}

// TestSessionsIndexed: SessionActive reads one row by primary key, and a user's sessions are
// found through sessions_user, never a scan of the table (SQLite's plan; Postgres plans by
// table size, so a tiny test table says nothing there).
func TestSessionsIndexed(t *testing.T) {
	s := openStore(t, backends[0].fresh(t), Config{})
	db := inner(s).(*sqliteBackend).db
	for q, want := range map[string]string{
		sessionActiveSQL:    "USING PRIMARY KEY (id=?)",
		sessionEndByIDSQL:   "USING PRIMARY KEY (id=?)",
		sessionEndByUserSQL: "USING INDEX sessions_user (user_name=?)",
		sessionListUserSQL:  "USING INDEX sessions_user (user_name=?)",
	} {
		rows, err := db.Query(`EXPLAIN QUERY PLAN `+strings.ReplaceAll(q, "$", "?"), "x", 1)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		if all := strings.Join(plan, "; "); !strings.Contains(all, want) || strings.Contains(all, "SCAN") {
			t.Errorf("plan of %s: %q, want %s and no scan", q, plan, want)
		}
	}
}
