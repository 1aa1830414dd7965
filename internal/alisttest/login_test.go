package alisttest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func login(t *testing.T, s *Server, method, path, body string) (status, code int, message, token string) {
	t.Helper()
	req, _ := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return resp.StatusCode, 0, "", ""
	}
	var env struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Data    *struct {
			Token string `json:"token"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		t.Fatal(err)
	}
	if env.Data != nil {
		token = env.Data.Token
	}
	return resp.StatusCode, env.Code, env.Message, token
}

// TestLogin pins the fake to AList's /api/auth/login: HTTP 200 always, the outcome in code,
// AList's messages, and its per-IP lock after 5 failures (which even the right password hits).
func TestLogin(t *testing.T) {
	s := New("tok")
	defer s.Close()
	s.AddUser("alice", "right-pw")
	for _, c := range []struct {
		name, body string
		code       int
		message    string
	}{
		{"ok", `{"username":"alice","password":"right-pw"}`, 200, "success"},
		{"wrong password", `{"username":"alice","password":"nope"}`, 400, msgWrongPassword},
		{"unknown user", `{"username":"bob","password":"right-pw"}`, 400, msgUnknownUser},
		{"no username", `{"password":"right-pw"}`, 400, msgEmptyUsername},
		{"empty password", `{"username":"alice","password":""}`, 400, msgWrongPassword},
		{"ok resets the count", `{"username":"alice","password":"right-pw"}`, 200, "success"},
	} {
		status, code, msg, token := login(t, s, http.MethodPost, "/api/auth/login", c.body)
		if status != 200 || code != c.code || msg != c.message || (code == 200) != (token != "") {
			t.Errorf("%s: HTTP %d code %d %q token %q", c.name, status, code, msg, token)
		}
	}
	for i := 0; i < 5; i++ {
		if _, code, _, _ := login(t, s, http.MethodPost, "/api/auth/login", `{"username":"alice","password":"x"}`); code != 400 {
			t.Fatalf("failure %d: code %d", i+1, code)
		}
	}
	if _, code, msg, _ := login(t, s, http.MethodPost, "/api/auth/login", `{"username":"alice","password":"right-pw"}`); code != 429 || msg != msgTooMany {
		t.Errorf("after 5 failures: code %d %q", code, msg)
	}
	if status, _, _, _ := login(t, s, http.MethodGet, "/api/auth/login", ""); status != 404 {
		t.Errorf("GET: HTTP %d", status)
	}
	if status, _, _, _ := login(t, s, http.MethodPost, "/api/auth/login/hash", `{"username":"alice","password":"x"}`); status != 404 {
		t.Errorf("/login/hash is not served: HTTP %d", status)
	}
	if n := s.Calls("/api/auth/login"); n != 13 {
		t.Errorf("Calls(/api/auth/login) = %d", n)
	}
}
