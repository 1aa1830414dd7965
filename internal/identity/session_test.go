package identity

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

var (
	testKey = []byte("0123456789abcdef0123456789abcdef")
	t0      = time.Unix(1_750_000_000, 0)
)

func fullIdentity() Identity {
	groups := make([]string, MaxGroups)
	for i := range groups {
		groups[i] = strings.Repeat(string(rune('a'+i%26)), MaxNameLen)
	}
	return Identity{User: strings.Repeat("u", MaxNameLen), Groups: groups, Source: SourceForwardAuth}
}

func TestSessionRoundTrip(t *testing.T) {
	s := NewSessions(testKey, time.Hour)
	for _, id := range []Identity{
		{User: "alice", Groups: []string{"members", "staff"}, Source: SourceUsersFile},
		{User: "bob@example.org", Source: SourceAList},
		{User: "张三", Groups: []string{"学生 一班"}, Source: SourceForwardAuth},
		fullIdentity(),
	} {
		value, sid := s.Issue(id, t0)
		if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(sid) || !regexp.MustCompile(`^[A-Za-z0-9_-]+$`).MatchString(value) {
			t.Fatalf("%s: value %q sid %q", id.User, value, sid)
		}
		if len(value) > maxValueLen {
			t.Errorf("%s: %d > %d", id.User, len(value), maxValueLen)
		}
		got, gotSid, err := s.Verify(value, t0.Add(59*time.Minute))
		if err != nil || gotSid != sid || !reflect.DeepEqual(got, id) {
			t.Errorf("%s: %+v %q %v", id.User, got, gotSid, err)
		}
	}
	// The largest identity still fits a browser's 4 KiB cookie with its attributes.
	value, _ := s.Issue(fullIdentity(), t0)
	if c := Cookie(value, true, time.Hour).String(); len(c) > 4000 {
		t.Errorf("largest Set-Cookie is %d bytes", len(c))
	}
	// Each session has its own id.
	_, a := s.Issue(Identity{User: "a", Source: SourceAList}, t0)
	_, b := s.Issue(Identity{User: "a", Source: SourceAList}, t0)
	if a == b {
		t.Error("two sessions share an id")
	}
}

func TestSessionRefusals(t *testing.T) {
	s := NewSessions(testKey, time.Hour)
	id := Identity{User: "alice", Groups: []string{"members"}, Source: SourceUsersFile}
	value, _ := s.Issue(id, t0)
	raw, _ := base64.RawURLEncoding.DecodeString(value)
	resign := func(payload []byte) string {
		m := hmac.New(sha256.New, s.key)
		m.Write(payload)
		return base64.RawURLEncoding.EncodeToString(m.Sum(payload))
	}
	payload := raw[:len(raw)-macLen]
	with := func(f func(p []byte) []byte) string {
		return resign(f(append([]byte(nil), payload...)))
	}
	for _, c := range []struct {
		name  string
		value string
		at    time.Time
		s     *Sessions
		want  error
	}{
		{"expired", value, t0.Add(time.Hour), s, ErrSessionExpired},
		{"ttl lowered since", value, t0.Add(31 * time.Minute), NewSessions(testKey, 30*time.Minute), ErrSessionExpired},
		{"issued in the future", value, t0.Add(-2 * time.Minute), s, ErrSessionExpired},
		{"other key", value, t0, NewSessions([]byte("another key of thirty-two bytes!"), time.Hour), ErrSessionForged},
		{"empty", "", t0, s, ErrSessionMalformed},
		{"too long", strings.Repeat("A", maxValueLen+1), t0, s, ErrSessionMalformed},
		{"not base64url", strings.Replace(value, value[10:11], "+", 1), t0, s, ErrSessionMalformed},
		{"padded", value + "==", t0, s, ErrSessionMalformed},
		{"truncated", value[:len(value)-4], t0, s, ErrSessionForged},
		{"mac cut", base64.RawURLEncoding.EncodeToString(raw[:len(raw)-1]), t0, s, ErrSessionForged},
		{"version 2", with(func(p []byte) []byte { p[0] = 2; return p }), t0, s, ErrSessionMalformed},
		{"unknown source", with(func(p []byte) []byte { p[fixedLen-1] = 9; return p }), t0, s, ErrSessionMalformed},
		{"trailing byte", with(func(p []byte) []byte { return append(p, 0) }), t0, s, ErrSessionMalformed},
		{"group cut", with(func(p []byte) []byte { return p[:len(p)-1] }), t0, s, ErrSessionMalformed},
		{"empty user", with(func(p []byte) []byte { return append(p[:fixedLen], 0, 0) }), t0, s, ErrSessionMalformed},
	} {
		got, sid, err := c.s.Verify(c.value, c.at)
		if !errors.Is(err, c.want) || got.User != "" || sid != "" {
			t.Errorf("%s: %+v %q %v, want %v", c.name, got, sid, err, c.want)
		}
	}
	// Every single-character change is refused.
	alphabet := "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range value {
		for _, r := range []byte{alphabet[(strings.IndexByte(alphabet, value[i])+1)%64], alphabet[(strings.IndexByte(alphabet, value[i])+33)%64]} {
			tampered := value[:i] + string(r) + value[i+1:]
			if _, _, err := s.Verify(tampered, t0); err == nil {
				t.Fatalf("tampered at %d accepted", i)
			}
		}
	}
}

func TestIssueRefusesInvalidIdentity(t *testing.T) {
	s := NewSessions(testKey, time.Hour)
	tooMany := fullIdentity()
	tooMany.Groups = append(tooMany.Groups, "one-more")
	for _, id := range []Identity{
		{User: "", Source: SourceAList},
		{User: "alice", Source: "ldap"},
		{User: "alice", Source: SourceAList, Groups: []string{"a,b"}},
		{User: strings.Repeat("x", MaxNameLen+1), Source: SourceAList},
		tooMany,
	} {
		if v, sid := s.Issue(id, t0); v != "" || sid != "" {
			t.Errorf("%+v issued", id)
		}
	}
}

func TestNewSessionsPanicsOnShortKey(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("a 16-byte key was accepted")
		}
	}()
	NewSessions(make([]byte, 16), time.Hour)
}

func TestCookies(t *testing.T) {
	for _, secure := range []bool{false, true} {
		rec := httptest.NewRecorder()
		http.SetCookie(rec, Cookie("v4lue", secure, 12*time.Hour))
		http.SetCookie(rec, ClearCookie(secure))
		lines := rec.Result().Header.Values("Set-Cookie")
		want := []string{"alist_edge_session=v4lue; Path=/; Max-Age=43200; HttpOnly; SameSite=Lax",
			"alist_edge_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"}
		if secure {
			for i := range want {
				want[i] = strings.Replace(want[i], "HttpOnly", "HttpOnly; Secure", 1)
			}
		}
		if !reflect.DeepEqual(lines, want) {
			t.Errorf("secure=%v:\n%q\nwant\n%q", secure, lines, want)
		}
	}
}
