package admin

import (
	"testing"
	"time"
)

func TestRevocations(t *testing.T) {
	runRoutes(t, []routeCase{
		{"revoke for a ttl", "POST", "/revocations", `{"path":"/a/b.iso","ttl":"24h"}`, 201,
			`{"path":"/a/b.iso","prefix":false,"until":"2026-01-03T15:04:05Z"}`, []string{"Revoke /a/b.iso false 2026-01-03T15:04:05Z"}},
		{"revoke a prefix until, path cleaned as AList does", "POST", "/revocations", `{"path":"/private\\x/../y/","prefix":true,"until":"2026-02-01T01:00:00+01:00"}`, 201,
			`{"path":"/private/y/","prefix":true,"until":"2026-02-01T00:00:00Z"}`, []string{"Revoke /private/y/ true 2026-02-01T00:00:00Z"}},
		{"revoke a file, trailing slash dropped", "POST", "/revocations", `{"path":"/a/./b/","ttl":"1h"}`, 201, `"path":"/a/b"`, []string{"Revoke /a/b false 2026-01-02T16:04:05Z"}},
		{"revoke, until and ttl", "POST", "/revocations", `{"path":"/a","ttl":"1h","until":"2026-02-01T00:00:00Z"}`, 400, `until or ttl, not both`, nil},
		{"revoke, neither", "POST", "/revocations", `{"path":"/a"}`, 400, `until (RFC 3339) or ttl (24h) required`, nil},
		{"revoke, bad ttl", "POST", "/revocations", `{"path":"/a","ttl":"1d"}`, 400, `parameter \"ttl\"`, nil},
		{"revoke, negative ttl", "POST", "/revocations", `{"path":"/a","ttl":"-1h"}`, 400, `parameter \"ttl\"`, nil},
		{"revoke, until past", "POST", "/revocations", `{"path":"/a","until":"2026-01-02T15:04:05Z"}`, 400, `parameter \"until\": must be in the future`, nil},
		{"revoke, until not RFC 3339", "POST", "/revocations", `{"path":"/a","until":"tomorrow"}`, 400, `body:`, nil},
		{"revoke, relative path", "POST", "/revocations", `{"path":"a","ttl":"1h"}`, 400, `parameter \"path\": must start with /`, nil},
		{"revoke, no path", "POST", "/revocations", `{"ttl":"1h"}`, 400, `parameter \"path\": required`, nil},
		{"revoke, unknown field", "POST", "/revocations", `{"path":"/a","ttl":"1h","recursive":true}`, 400, `unknown field`, nil},
		{"revoke, not JSON", "POST", "/revocations", `path=/a`, 400, `body:`, nil},

		{"list", "GET", "/revocations", "", 200, `{"revocations":[{"path":"/old/","prefix":true,"until":"2026-01-05T00:00:00Z"}]}`, []string{"Revocations 2026-01-02T15:04:05Z"}},
		{"list, unknown parameter", "GET", "/revocations?path=/a", "", 400, `parameter \"path\": unknown`, nil},
		{"unrevoke", "DELETE", "/revocations?path=/old/&prefix=true", "", 200, `{"path":"/old/","prefix":true}`, []string{"Unrevoke /old/ true"}},
		{"unrevoke, not there", "DELETE", "/revocations?path=/old/", "", 404, `no revocation of \"/old\" (prefix false)`, []string{"Unrevoke /old false"}},
		{"unrevoke, bad prefix", "DELETE", "/revocations?path=/old/&prefix=maybe", "", 400, `parameter \"prefix\": true or false`, nil},
		{"unrevoke, no path", "DELETE", "/revocations?prefix=true", "", 400, `parameter \"path\": required`, nil},
	}, func(s *fakeStore) {
		s.revs = []Revocation{{Path: "/old/", Prefix: true, Until: time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)}}
	})
}
