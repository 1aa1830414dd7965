package admin

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestAuth(t *testing.T) {
	tests := []struct {
		name     string
		token    string
		loopback bool
		host     string
		method   string
		path     string
		header   map[string]string
		status   int
		errPart  string // in the error message
		www      string // WWW-Authenticate
	}{
		{name: "no token, loopback", loopback: true, host: "127.0.0.1:9090", status: 200},
		{name: "no token, loopback, localhost", loopback: true, host: "localhost:9090", status: 200},
		{name: "no token, loopback, ::1", loopback: true, host: "[::1]:9090", status: 200},
		{name: "no token, loopback, foreign Host (DNS rebinding)", loopback: true, host: "evil.example:9090", status: 403, errPart: "loopback"},
		{name: "no token, not loopback", host: "10.0.0.5:9090", status: 403, errPart: "set ADMIN_TOKEN"},
		{name: "no token, not loopback, even with a bearer", host: "10.0.0.5:9090",
			header: map[string]string{"Authorization": "Bearer x"}, status: 403, errPart: "set ADMIN_TOKEN"},
		{name: "token, none given", token: "s3cret-token", status: 401, errPart: "missing bearer", www: `Bearer realm="alist-edge admin"`},
		{name: "token, none given on loopback", token: "s3cret-token", loopback: true, host: "127.0.0.1", status: 401, errPart: "missing bearer"},
		{name: "token, wrong", token: "s3cret-token", header: map[string]string{"Authorization": "Bearer s3cret-tokex"},
			status: 401, errPart: "wrong", www: `Bearer realm="alist-edge admin", error="invalid_token"`},
		{name: "token, wrong length", token: "s3cret-token", header: map[string]string{"Authorization": "Bearer s"}, status: 401, errPart: "wrong"},
		{name: "token, basic scheme", token: "s3cret-token", header: map[string]string{"Authorization": "Basic czNjcmV0LXRva2Vu"}, status: 401},
		{name: "token, empty bearer", token: "s3cret-token", header: map[string]string{"Authorization": "Bearer "}, status: 401},
		{name: "token, right", token: "s3cret-token", header: map[string]string{"Authorization": "Bearer s3cret-token"}, status: 200},
		{name: "token, right, scheme lower case", token: "s3cret-token", header: map[string]string{"Authorization": "bearer s3cret-token"}, status: 200},
		{name: "token, right, any Host", token: "s3cret-token", host: "admin.internal:9090", header: map[string]string{"Authorization": "Bearer s3cret-token"}, status: 200},
		{name: "unknown route still needs the token", token: "s3cret-token", path: "/nope", status: 401},
		{name: "unknown route with token", token: "s3cret-token", path: "/nope", header: map[string]string{"Authorization": "Bearer s3cret-token"}, status: 404, errPart: "no such admin route"},
		{name: "cross-site browser POST on tokenless loopback", loopback: true, host: "127.0.0.1:9090", method: "POST", path: "/revocations",
			header: map[string]string{"Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"}, status: 403, errPart: "cross-origin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newFakeStore()
			o := testOptions(t, store, &explainCall{}, nil)
			o.Token, o.Loopback = tt.token, tt.loopback
			method, path := tt.method, tt.path
			if method == "" {
				method = "GET"
			}
			if path == "" {
				path = "/blocks"
			}
			var body *strings.Reader
			if method == "POST" {
				body = strings.NewReader(`{"path":"/a","ttl":"1h"}`)
			} else {
				body = strings.NewReader("")
			}
			req := httptest.NewRequest(method, path, body)
			if tt.host != "" {
				req.Host = tt.host
			}
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			Handler(o).ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var e errorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
				t.Fatalf("not JSON: %s", rec.Body)
			}
			if tt.status >= 400 {
				if e.Status != tt.status || !strings.Contains(e.Error, tt.errPart) {
					t.Errorf("body %s, want status %d and %q", rec.Body, tt.status, tt.errPart)
				}
				if len(store.Calls()) != 0 {
					t.Errorf("refused request reached the store: %v", store.Calls())
				}
			}
			if www := rec.Header().Get("WWW-Authenticate"); tt.status == 401 && !strings.HasPrefix(www, "Bearer") || tt.www != "" && www != tt.www {
				t.Errorf("WWW-Authenticate %q, want %q", www, tt.www)
			}
		})
	}
}

// TestAuthConstantTime: whatever token is presented, the decision is one constant-time
// comparison of two 32-byte sums, so neither the content nor the length of ADMIN_TOKEN leaks
// through timing.
func TestAuthConstantTime(t *testing.T) {
	var lens [][2]int
	orig := tokenEqual
	t.Cleanup(func() { tokenEqual = orig })
	tokenEqual = func(a, b []byte) bool {
		lens = append(lens, [2]int{len(a), len(b)})
		return subtle.ConstantTimeCompare(a, b) == 1
	}
	h := Handler(testOptions(t, newFakeStore(), &explainCall{}, nil))
	for _, tok := range []string{"s", "s3cret-token", "s3cret-token-but-much-longer-than-the-real-one"} {
		req := httptest.NewRequest("GET", "/blocks", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		want := http.StatusUnauthorized
		if tok == "s3cret-token" {
			want = http.StatusOK
		}
		if rec.Code != want {
			t.Errorf("token %q: status %d, want %d", tok, rec.Code, want)
		}
	}
	if len(lens) != 3 {
		t.Fatalf("tokenEqual called %d times, want 3", len(lens))
	}
	for _, l := range lens {
		if l != [2]int{32, 32} {
			t.Errorf("compared %v bytes, want two 32-byte sums", l)
		}
	}
}

// TestTokenNeverLogged: a change and a failing call log their line, without the token.
func TestTokenNeverLogged(t *testing.T) {
	var logs bytes.Buffer
	store := newFakeStore()
	h := Handler(testOptions(t, store, &explainCall{}, &logs))
	if rec := do(t, h, "DELETE", "/blocks?subnet=10.0.0.0/24", ""); rec.Code != 200 {
		t.Fatalf("unblock: %d %s", rec.Code, rec.Body)
	}
	req := httptest.NewRequest("GET", "/blocks", nil)
	req.Header.Set("Authorization", "Bearer wrong-one")
	h.ServeHTTP(httptest.NewRecorder(), req)
	if !strings.Contains(logs.String(), "op=unblock") {
		t.Fatalf("no change line: %s", logs.String())
	}
	if strings.Contains(logs.String(), "s3cret") || strings.Contains(logs.String(), "wrong-one") {
		t.Fatalf("a token is in the log: %s", logs.String())
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:9090": true, "127.3.4.5:1": true, "[::1]:9090": true, "::1": true,
		"localhost:9090": true, "LOCALHOST": true, "unix:/run/alist-edge/admin.sock": true,
		"[::ffff:127.0.0.1]:9090": true, "127.0.0.1": true,
		":9090": false, "0.0.0.0:9090": false, "[::]:9090": false, "10.0.0.1:9090": false,
		"admin.example:9090": false, "": false, "localhost.evil.example:9090": false, "[fe80::1%lo]:9090": false,
		"128.0.0.1:9090": false,
	} {
		if got := IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}
