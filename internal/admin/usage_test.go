package admin

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestUsage(t *testing.T) {
	live := testNow.Add(2 * time.Hour) // 2026-01-02T17:04:05Z
	runRoutes(t, []routeCase{
		{"get by key", "GET", "/usage?quota=daily&key=k1", "", 200,
			`{"quota":"daily","kind":"quota","scope":"subnet","period":"day","key":"k1","bytes":500,"requests":3,"window_end":"2026-01-02T17:04:05Z","limit_bytes":53687091200,"limit_requests":0}`,
			[]string{"Usage daily k1"}},
		{"get by subnet, canonical", "GET", "/usage?quota=daily&subnet=10.1.2.3/24", "", 200, `"key":"s:10.1.2.0/24","bytes":0,"requests":0,"window_end":null`,
			[]string{"Usage daily s:10.1.2.0/24"}},
		{"get by subnet and path", "GET", "/usage?quota=burst&subnet=10.1.2.3&path=/a/b", "", 200, `"key":"sp:10.1.2.3/a/b"`,
			[]string{"Usage burst sp:10.1.2.3/a/b"}},
		{"get, window over", "GET", "/usage?quota=daily&key=old", "", 200, `"bytes":0,"requests":0,"window_end":null`, []string{"Usage daily old"}},
		{"get, global scope", "GET", "/usage?quota=nokey", "", 200, `"key":"","bytes":0`, []string{"Usage nokey "}},
		{"get, unknown quota", "GET", "/usage?quota=dialy&key=k1", "", 404, `no quota or rate named \"dialy\" (known: burst, daily, members, nokey)`, nil},
		{"get, no quota", "GET", "/usage?key=k1", "", 400, `parameter \"quota\": required`, nil},
		{"get, key and subnet", "GET", "/usage?quota=daily&key=k1&subnet=1.2.3.4", "", 400, `parameter \"key\": give the key or`, nil},
		{"get, scope part missing", "GET", "/usage?quota=daily", "", 400, `daily: scope subnet needs subnet`, nil},
		{"get, bad subnet", "GET", "/usage?quota=daily&subnet=1.2.3.4.5", "", 400, `parameter \"subnet\"`, nil},
		{"get, bad path", "GET", "/usage?quota=burst&subnet=1.2.3.4&path=a", "", 400, `parameter \"path\": must start with /`, nil},
		{"get, unknown parameter", "GET", "/usage?quota=daily&key=k&ip=1.2.3.4", "", 400, `parameter \"ip\": unknown`, nil},

		{"set, new window from the period", "PUT", "/usage", `{"quota":"daily","subnet":"10.1.2.3","bytes":1000}`, 200,
			`"bytes":1000,"requests":0,"window_end":"2026-01-03T00:00:00Z"`,
			[]string{"Usage daily s:10.1.2.3", "SetUsage daily s:10.1.2.3 1000 0 2026-01-03T00:00:00Z"}},
		{"set requests only keeps bytes and window", "PUT", "/usage", `{"quota":"daily","key":"k1","requests":7}`, 200,
			`"bytes":500,"requests":7,"window_end":"2026-01-02T17:04:05Z"`,
			[]string{"Usage daily k1", "SetUsage daily k1 500 7 2026-01-02T17:04:05Z"}},
		{"set on an ended window starts afresh", "PUT", "/usage", `{"quota":"daily","key":"old","requests":1}`, 200,
			`"bytes":0,"requests":1,"window_end":"2026-01-03T00:00:00Z"`,
			[]string{"Usage daily old", "SetUsage daily old 0 1 2026-01-03T00:00:00Z"}},
		{"set window_end", "PUT", "/usage", `{"quota":"daily","key":"k1","window_end":"2026-01-02T20:00:00Z"}`, 200,
			`"window_end":"2026-01-02T20:00:00Z"`, []string{"Usage daily k1", "SetUsage daily k1 500 3 2026-01-02T20:00:00Z"}},
		{"set, no period, no window_end", "PUT", "/usage", `{"quota":"nokey","requests":1}`, 400, `window_end: required`, []string{"Usage nokey "}},
		{"set, negative bytes", "PUT", "/usage", `{"quota":"daily","key":"k1","bytes":-1}`, 400, `parameter \"bytes\": must be ≥ 0`, nil},
		{"set, negative requests", "PUT", "/usage", `{"quota":"daily","key":"k1","requests":-1}`, 400, `parameter \"requests\"`, nil},
		{"set, nothing to set", "PUT", "/usage", `{"quota":"daily","key":"k1"}`, 400, `give bytes, requests or window_end`, nil},
		{"set, window_end past", "PUT", "/usage", `{"quota":"daily","key":"k1","window_end":"2026-01-01T00:00:00Z"}`, 400, `parameter \"window_end\"`, nil},
		{"set, unknown field", "PUT", "/usage", `{"quota":"daily","key":"k1","byte":5}`, 400, `unknown field \"byte\"`, nil},
		{"set, bytes as text", "PUT", "/usage", `{"quota":"daily","key":"k1","bytes":"5GB"}`, 400, `body:`, nil},
		{"set, two values", "PUT", "/usage", `{"quota":"daily","key":"k1","bytes":5} {}`, 400, `more than one JSON value`, nil},
		{"set, unknown quota", "PUT", "/usage", `{"quota":"x","key":"k1","bytes":5}`, 404, `known: burst, daily, members, nokey`, nil},
		{"set, scope part missing", "PUT", "/usage", `{"quota":"burst","subnet":"1.2.3.4","bytes":5}`, 400, `needs subnet and path`, nil},

		{"reset by subnet", "DELETE", "/usage?quota=daily&subnet=10.1.2.3", "", 200, `"bytes":0,"requests":0,"window_end":null`,
			[]string{"SetUsage daily s:10.1.2.3 0 0 0001-01-01T00:00:00Z"}},
		{"reset, unknown quota", "DELETE", "/usage?quota=nope&key=k", "", 404, `no quota or rate named \"nope\"`, nil},
		{"reset, bad subnet", "DELETE", "/usage?quota=daily&subnet=x", "", 400, `parameter \"subnet\"`, nil},
	}, func(s *fakeStore) {
		s.usage["daily|k1"] = Usage{Bytes: 500, Requests: 3, WindowEnd: live}
		s.usage["daily|old"] = Usage{Bytes: 900, Requests: 9, WindowEnd: testNow.Add(-time.Second)}
	})
}

// TestBodyNeedsJSONType: a body of another type is refused before anything is read, which
// is also what keeps a cross-site form from posting one.
func TestBodyNeedsJSONType(t *testing.T) {
	store := newFakeStore()
	h := Handler(testOptions(t, store, &explainCall{}, nil))
	for _, target := range []string{"/usage", "/revocations"} {
		method := map[string]string{"/usage": "PUT", "/revocations": "POST"}[target]
		req := httptest.NewRequest(method, target, strings.NewReader(`{"quota":"daily","key":"k","bytes":1,"path":"/a","ttl":"1h"}`))
		req.Header.Set("Authorization", "Bearer s3cret-token")
		req.Header.Set("Content-Type", "text/plain")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 400 || !strings.Contains(rec.Body.String(), "Content-Type: application/json") {
			t.Errorf("%s %s: %d %s", method, target, rec.Code, rec.Body)
		}
	}
	if c := store.Calls(); len(c) != 0 {
		t.Fatalf("store called: %v", c)
	}
}
