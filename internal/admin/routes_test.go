package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

type routeCase struct {
	name   string
	method string
	target string
	body   string
	status int
	want   string   // a substring of the answer
	calls  []string // store calls, in order; nil: none
}

func runRoutes(t *testing.T, tests []routeCase, setup func(*fakeStore)) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newFakeStore()
			if setup != nil {
				setup(store)
			}
			var logs bytes.Buffer
			h := Handler(testOptions(t, store, &explainCall{}, &logs))
			rec := do(t, h, tt.method, tt.target, tt.body)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("answer is not JSON: %s", rec.Body)
			}
			if !strings.Contains(rec.Body.String(), tt.want) {
				t.Errorf("answer %s, want it to contain %s", rec.Body, tt.want)
			}
			if tt.status >= 400 {
				var e errorBody
				_ = json.Unmarshal(rec.Body.Bytes(), &e)
				if e.Status != tt.status || e.Error == "" {
					t.Errorf("error body %s", rec.Body)
				}
			}
			if got := store.Calls(); !reflect.DeepEqual(got, tt.calls) {
				t.Errorf("store calls %q, want %q", got, tt.calls)
			}
			changed := strings.Count(logs.String(), "admin change")
			if mutating := tt.method != "GET" && tt.status < 300; changed != map[bool]int{true: 1}[mutating] {
				t.Errorf("%d change lines for a %s answered %d: %s", changed, tt.method, tt.status, logs.String())
			}
		})
	}
}

func TestExplain(t *testing.T) {
	tests := []struct {
		target string
		status int
		want   string
		q      *ExplainQuery
	}{
		{"/policy/explain?path=/a/b.iso&ip=1.2.3.4&at=2026-01-01T22:00:00Z", 200, `"office-private"`,
			&ExplainQuery{Path: "/a/b.iso", Addr: netip.MustParseAddr("1.2.3.4"), At: time.Date(2026, 1, 1, 22, 0, 0, 0, time.UTC), Size: -1, Method: "GET"}},
		{"/policy/explain?path=/a&ip=::ffff:10.0.0.1&size=1024&method=head&host=Files.Example:8443&user=ann&group=staff&group=ops", 200, `"path":"/a"`,
			&ExplainQuery{Path: "/a", Addr: netip.MustParseAddr("10.0.0.1"), At: testNow, Size: 1024, Method: "HEAD", Host: "files.example", User: "ann", Groups: []string{"staff", "ops"}}},
		{"/policy/explain?path=/a&ip=2001:db8::1&at=2026-03-29T01:30:00%2B01:00&size=0", 200, `"decided"`,
			&ExplainQuery{Path: "/a", Addr: netip.MustParseAddr("2001:db8::1"), At: time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC), Size: 0, Method: "GET"}},
		{"/policy/explain?ip=1.2.3.4", 400, `parameter \"path\": required`, nil},
		{"/policy/explain?path=a/b&ip=1.2.3.4", 400, `parameter \"path\": must start with /`, nil},
		{"/policy/explain?path=/a%00b&ip=1.2.3.4", 400, `parameter \"path\": contains control`, nil},
		{"/policy/explain?path=/a", 400, `parameter \"ip\": required`, nil},
		{"/policy/explain?path=/a&ip=1.2.3", 400, `parameter \"ip\": not an IP`, nil},
		{"/policy/explain?path=/a&ip=fe80::1%25eth0", 400, `parameter \"ip\"`, nil},
		{"/policy/explain?path=/a&ip=1.2.3.4&at=2026-01-01", 400, `parameter \"at\": not an RFC 3339`, nil},
		{"/policy/explain?path=/a&ip=1.2.3.4&size=-1", 400, `parameter \"size\"`, nil},
		{"/policy/explain?path=/a&ip=1.2.3.4&size=1GB", 400, `parameter \"size\"`, nil},
		{"/policy/explain?path=/a&ip=1.2.3.4&method=G%20T", 400, `parameter \"method\"`, nil},
		{"/policy/explain?path=/a&ip=1.2.3.4&host=a/b", 400, `parameter \"host\"`, nil},
		{"/policy/explain?path=/a&ip=1.2.3.4&group=", 400, `parameter \"group\": empty`, nil},
		{"/policy/explain?path=/a&ip=1.2.3.4&user=a%0Ab", 400, `parameter \"user\": contains control`, nil},
		{"/policy/explain?path=/a&ip=1.2.3.4&group=%1B[31m", 400, `parameter \"group\"`, nil},
		{"/policy/explain?path=/a&ip=1.2.3.4&sise=10", 400, `parameter \"sise\": unknown`, nil},
		{"/policy/explain?path=/a&path=/b&ip=1.2.3.4", 400, `parameter \"path\": given more than once`, nil},
		{"/policy/explain?path=/boom&ip=1.2.3.4", 500, `explain failed (details in the service log)`, &ExplainQuery{Path: "/boom", Addr: netip.MustParseAddr("1.2.3.4"), At: testNow, Size: -1, Method: "GET"}},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			ex := &explainCall{}
			var logs bytes.Buffer
			rec := do(t, Handler(testOptions(t, newFakeStore(), ex, &logs)), "GET", tt.target, "")
			if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.want) {
				t.Fatalf("%d %s, want %d and %s", rec.Code, rec.Body, tt.status, tt.want)
			}
			if tt.q == nil {
				if len(ex.qs) != 0 {
					t.Fatalf("bad input reached Explain: %+v", ex.qs)
				}
				return
			}
			if len(ex.qs) != 1 || !ex.qs[0].At.Equal(tt.q.At) {
				t.Fatalf("Explain got %+v, want %+v", ex.qs, *tt.q)
			}
			got, want := ex.qs[0], *tt.q
			got.At, want.At = time.Time{}, time.Time{}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("Explain got %+v, want %+v", ex.qs, *tt.q)
			}
			if strings.Contains(rec.Body.String(), "hunter2") {
				t.Fatalf("internal error details in the answer: %s", rec.Body)
			}
			if tt.status == 500 && !strings.Contains(logs.String(), "hunter2") {
				t.Fatalf("internal error not logged: %s", logs.String())
			}
		})
	}
}

func TestNotConfigured(t *testing.T) {
	h := Handler(Options{Token: "s3cret-token"})
	for _, target := range []string{"/policy/explain?path=/a&ip=1.2.3.4", "/blocks", "/revocations"} {
		if rec := do(t, h, "GET", target, ""); rec.Code != 501 {
			t.Errorf("%s: %d %s, want 501", target, rec.Code, rec.Body)
		}
	}
	if rec := do(t, h, "GET", "/usage?quota=daily&key=k", ""); rec.Code != 404 || !strings.Contains(rec.Body.String(), "known: )") {
		t.Errorf("usage without limits: %d %s", rec.Code, rec.Body)
	}
}

func TestBlocks(t *testing.T) {
	until := testNow.Add(time.Hour)
	runRoutes(t, []routeCase{
		{"list", "GET", "/blocks", "", 200, `{"blocks":[{"kind":"ban","scope":"proxy","subnet":"ab12","until":"2026-01-02T16:04:05Z"}]}`, []string{"Blocks 2026-01-02T15:04:05Z"}},
		{"list, unknown parameter", "GET", "/blocks?subnet=1.2.3.4", "", 400, `parameter \"subnet\": unknown`, nil},
		{"unblock address, default scope", "DELETE", "/blocks?subnet=1.2.3.4", "", 200, `{"scope":"proxy","subnet":"1.2.3.4"}`, []string{"Unblock proxy 1.2.3.4"}},
		{"unblock prefix, canonical", "DELETE", "/blocks?subnet=10.1.2.3/24&scope=landing", "", 200, `"subnet":"10.1.2.0/24"`, []string{"Unblock landing 10.1.2.0/24"}},
		{"unblock mapped v6", "DELETE", "/blocks?subnet=::ffff:10.1.2.3/120", "", 200, `"subnet":"10.1.2.0/24"`, []string{"Unblock proxy 10.1.2.0/24"}},
		{"unblock v6 prefix", "DELETE", "/blocks?subnet=2001:db8:1:2::5/64", "", 200, `"subnet":"2001:db8:1:2::/64"`, []string{"Unblock proxy 2001:db8:1:2::/64"}},
		{"unblock, no subnet", "DELETE", "/blocks", "", 400, `parameter \"subnet\": required`, nil},
		{"unblock, bad subnet", "DELETE", "/blocks?subnet=10.1.2/24", "", 400, `parameter \"subnet\": not an address`, nil},
		{"unblock, bad scope", "DELETE", "/blocks?subnet=1.2.3.4&scope=all", "", 400, `parameter \"scope\": one of proxy, landing, upload`, nil},
		{"POST not allowed", "POST", "/blocks", `{}`, 405, `POST not allowed`, nil},
	}, func(s *fakeStore) {
		s.blocks = []Block{{Kind: "ban", Scope: "proxy", Subnet: "ab12", Until: until}}
	})
}

func TestStoreErrors(t *testing.T) {
	for _, tt := range []struct {
		err    error
		status int
		want   string
	}{
		{fmt.Errorf("pg: conn refused to postgres://u:pw@db"), 500, "unblock failed (details in the service log)"},
		{fmt.Errorf("q: %w", errors.Join(errors.New("x"), contextDeadline())), 504, "did not answer in time"},
		{&Error{Status: 409, Message: "busy"}, 409, "busy"},
	} {
		store := newFakeStore()
		store.err = tt.err
		rec := do(t, Handler(testOptions(t, store, &explainCall{}, nil)), "DELETE", "/blocks?subnet=1.2.3.4", "")
		if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.want) || strings.Contains(rec.Body.String(), "pw@") {
			t.Errorf("%v: %d %s, want %d %q", tt.err, rec.Code, rec.Body, tt.status, tt.want)
		}
	}
}
