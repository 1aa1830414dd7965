package admin

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestSessionsRoutes: listing (all, one user's) and ending (by id, by user), with bad input
// answered 400 before any store call, nothing ended 404, one change line per end.
func TestSessionsRoutes(t *testing.T) {
	long := strings.Repeat("a", 65)
	runRoutes(t, []routeCase{
		{"list", "GET", "/sessions", "", 200,
			`{"sessions":[{"id":"b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0","user":"bob","groups":["guests"],"source":"forward-auth","created":"2026-01-02T13:04:05Z","expires":"2026-01-02T16:04:05Z"},` +
				`{"id":"0f1e2d3c4b5a69788796a5b4c3d2e1f0","user":"alice","groups":["members","staff"],"source":"users-file","created":"2026-01-02T14:04:05Z","expires":"2026-01-03T14:04:05Z"},` +
				`{"id":"a1b2c3d4e5f60718293a4b5c6d7e8f90","user":"alice","groups":[],"source":"alist","created":"2026-01-02T15:03:05Z","expires":"2026-01-03T15:04:05Z"}]}`,
			[]string{`ListSessions 2026-01-02T15:04:05Z ""`}},
		{"list one user", "GET", "/sessions?user=bob", "", 200, `{"sessions":[{"id":"b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0","user":"bob","groups":["guests"],"source":"forward-auth"`,
			[]string{`ListSessions 2026-01-02T15:04:05Z "bob"`}},
		{"list a user without sessions", "GET", "/sessions?user=carol", "", 200, `{"sessions":[]}`, []string{`ListSessions 2026-01-02T15:04:05Z "carol"`}},
		{"list, empty user is everyone", "GET", "/sessions?user=", "", 200, `"user":"bob"`, []string{`ListSessions 2026-01-02T15:04:05Z ""`}},
		{"list, unknown parameter", "GET", "/sessions?id=x", "", 400, `parameter \"id\": unknown`, nil},
		{"list, user twice", "GET", "/sessions?user=a&user=b", "", 400, `parameter \"user\": given more than once`, nil},
		{"list, user with a control character", "GET", "/sessions?user=a%0Ab", "", 400, `parameter \"user\": not a user name`, nil},
		{"list, user too long", "GET", "/sessions?user=" + long, "", 400, `parameter \"user\": not a user name`, nil},

		{"end by id", "DELETE", "/sessions?id=a1b2c3d4e5f60718293a4b5c6d7e8f90", "", 200, `{"ended":1}`,
			[]string{`EndSessions "a1b2c3d4e5f60718293a4b5c6d7e8f90" "" 2026-01-02T15:04:05Z`}},
		{"end by user", "DELETE", "/sessions?user=alice", "", 200, `{"ended":2}`, []string{`EndSessions "" "alice" 2026-01-02T15:04:05Z`}},
		{"end, unknown id", "DELETE", "/sessions?id=ffff", "", 404, `no active session \"ffff\"`, []string{`EndSessions "ffff" "" 2026-01-02T15:04:05Z`}},
		{"end, user without sessions", "DELETE", "/sessions?user=carol", "", 404, `no active session of user \"carol\"`,
			[]string{`EndSessions "" "carol" 2026-01-02T15:04:05Z`}},
		{"end, neither", "DELETE", "/sessions", "", 400, `give one of the parameters`, nil},
		{"end, both", "DELETE", "/sessions?id=ab&user=alice", "", 400, `give one of the parameters`, nil},
		{"end, empty id", "DELETE", "/sessions?id=", "", 400, `give one of the parameters`, nil},
		{"end, id with a slash", "DELETE", "/sessions?id=ab/cd", "", 400, `parameter \"id\": not a session id`, nil},
		{"end, id too long", "DELETE", "/sessions?id=" + long, "", 400, `parameter \"id\": not a session id`, nil},
		{"end, user with a control character", "DELETE", "/sessions?user=a%7Fb", "", 400, `parameter \"user\": not a user name`, nil},
		{"end, user not UTF-8", "DELETE", "/sessions?user=a%FFb", "", 400, `parameter \"user\": not a user name`, nil},
		{"end, unknown parameter", "DELETE", "/sessions?session=ab", "", 400, `parameter \"session\": unknown`, nil},
		{"end, id twice", "DELETE", "/sessions?id=ab&id=cd", "", 400, `parameter \"id\": given more than once`, nil},
		{"POST not allowed", "POST", "/sessions", "", 405, `POST not allowed on /sessions`, nil},
	}, func(s *fakeStore) { s.sess = testSessions() })
}

// TestSessionsRoutesUnconfigured: without a session store both routes answer 501, and the
// change line names what was ended.
func TestSessionsRoutesUnconfigured(t *testing.T) {
	store := newFakeStore()
	store.sess = testSessions()
	o := testOptions(t, store, &explainCall{}, nil)
	o.Sessions = nil
	h := Handler(o)
	for _, m := range []string{"GET /sessions", "DELETE /sessions?user=alice"} {
		method, target, _ := strings.Cut(m, " ")
		if rec := do(t, h, method, target, ""); rec.Code != http.StatusNotImplemented || !strings.Contains(rec.Body.String(), "no session store configured") {
			t.Errorf("%s: %d %s", m, rec.Code, rec.Body)
		}
	}
	if c := store.Calls(); c != nil {
		t.Errorf("store calls %q", c)
	}

	var logs bytes.Buffer
	h = Handler(testOptions(t, store, &explainCall{}, &logs))
	if rec := do(t, h, "DELETE", "/sessions?id=b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0", ""); rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if l := logs.String(); !strings.Contains(l, "op=end-session") || !strings.Contains(l, "id=b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0") || !strings.Contains(l, "ended=1") {
		t.Errorf("change line %q", l)
	}
}

// TestSessionsAuth: the sessions routes are behind the token like every route.
func TestSessionsAuth(t *testing.T) {
	store := newFakeStore()
	h := Handler(testOptions(t, store, &explainCall{}, nil))
	for _, tok := range []string{"", "Bearer wrong"} {
		for _, m := range []string{"GET", "DELETE"} {
			req := httptest.NewRequest(m, "/sessions?user=alice", nil)
			if tok != "" {
				req.Header.Set("Authorization", tok)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusUnauthorized {
				t.Errorf("%s with %q: %d", m, tok, rec.Code)
			}
		}
	}
	if c := store.Calls(); c != nil {
		t.Errorf("store calls %q", c)
	}
}

// TestSessionsTextIsPrintable: names from the store cannot break the CLI's table or reach the
// terminal as an escape sequence.
func TestSessionsTextIsPrintable(t *testing.T) {
	var b bytes.Buffer
	body := `{"sessions":[{"id":"ab","user":"a\u001b[31m","groups":["g\nh",""],"source":"","created":"2026-01-02T13:04:05Z","expires":"2026-01-02T16:04:05Z"}]}`
	if err := printSessions(&b, []byte(body)); err != nil {
		t.Fatal(err)
	}
	if want := `ab  "a\x1b[31m"  "g\nh",""  -       2026-01-02T13:04:05Z  2026-01-02T16:04:05Z`; !strings.Contains(b.String(), want) {
		t.Fatalf("sessions %q, want a line %q", b.String(), want)
	}
}
