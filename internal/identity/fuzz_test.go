package identity

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// FuzzSessionVerify: no value makes Verify panic, and none but an issued one passes.
func FuzzSessionVerify(f *testing.F) {
	s := NewSessions(testKey, time.Hour)
	v := fixedSidValue(s, Identity{User: "alice", Groups: []string{"a", "b"}, Source: SourceUsersFile})
	for _, seed := range []string{v, v[:20], "", "AAAA", strings.Repeat("_", 200), v + "A"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		id, sid, err := s.Verify(value, t0)
		if err == nil && value != v {
			t.Fatalf("forged value accepted: %q -> %+v %s", value, id, sid)
		}
	})
}

// fixedSidValue is Issue with an all-zero sid, so every fuzz worker knows the one value that
// must pass.
func fixedSidValue(s *Sessions, id Identity) string {
	v, _ := s.Issue(id, t0)
	raw, _ := base64.RawURLEncoding.DecodeString(v)
	payload := raw[:len(raw)-macLen]
	clear(payload[1 : 1+sidLen])
	m := hmac.New(sha256.New, s.key)
	m.Write(payload)
	return base64.RawURLEncoding.EncodeToString(m.Sum(payload))
}

// FuzzSessionRoundTrip: every valid identity survives Issue and Verify unchanged.
func FuzzSessionRoundTrip(f *testing.F) {
	s := NewSessions(testKey, time.Hour)
	f.Add("alice", "members,staff", byte(1), int64(1_750_000_000))
	f.Add("张三", "学生 一班", byte(3), int64(0))
	f.Add("x", "", byte(2), int64(-5))
	f.Fuzz(func(t *testing.T, user, groups string, source byte, unix int64) {
		id := Identity{User: user, Source: sourceName(source%4 + 1)}
		if groups != "" {
			id.Groups = strings.Split(groups, ",")
		}
		if unix > 1<<40 || unix < -1<<40 {
			unix %= 1 << 40
		}
		now := time.Unix(unix, 0)
		value, sid := s.Issue(id, now)
		if id.Valid() != nil {
			if value != "" {
				t.Fatalf("invalid identity issued: %+v", id)
			}
			return
		}
		got, gotSid, err := s.Verify(value, now.Add(30*time.Minute))
		if err != nil || gotSid != sid || !reflect.DeepEqual(got, id) {
			t.Fatalf("%+v -> %+v %q %v", id, got, gotSid, err)
		}
	})
}

// FuzzUsersFile: no file makes the parser panic; when one loads, AddUser's edit of it either
// refuses or gives a file with every user as before plus the new one.
func FuzzUsersFile(f *testing.F) {
	for _, seed := range []string{goodFile, "", "users = []", "[[users]]\nname = \"a\"\npassword = \"x\"\n",
		"# c\n[[ users ]] # x\n\"name\" = 'a'\npassword = '''" + vectorBcrypt + "'''\ngroups = [\n  \"g\",\n]\n",
		"[[users]]\nname = \"\"\"a\"\"\"\npassword = \"\"\"\n" + vectorBcrypt + "\"\"\"\n"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		before, err := parseUsers("users.toml", data)
		if err != nil {
			return
		}
		out, err := editUsers("users.toml", data, "fuzz-user", cheapArgon2id, []string{"g"})
		if err != nil {
			return
		}
		after, err := parseUsers("users.toml", out)
		if err != nil {
			t.Fatalf("edit gave a broken file: %v\n%s", err, out)
		}
		want := slices.Clone(before.order)
		if !slices.Contains(want, "fuzz-user") {
			want = append(want, "fuzz-user")
		}
		if !slices.Equal(after.order, want) {
			t.Fatalf("users %q, want %q", after.order, want)
		}
		for _, n := range before.order {
			if n != "fuzz-user" && after.byName[n].encoded != before.byName[n].encoded {
				t.Fatalf("user %q changed", n)
			}
		}
	})
}
