package alisttest

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
)

// AList's login answers (server/handles/auth.go and the errors it passes through): HTTP 200
// in every case, the outcome in code.
const (
	msgWrongPassword = "password is incorrect"
	msgUnknownUser   = "failed find user: record not found"
	msgEmptyUsername = "Key: 'LoginReq.Username' Error:Field validation for 'Username' failed on the 'required' tag"
	msgTooMany       = "Too many unsuccessful sign-in attempts have been made using an incorrect username or password, Try again later."
	loginMaxFailures = 5 // AList's defaultTimes, per client IP
)

// AddUser creates or replaces an AList account for POST /api/auth/login.
func (s *Server) AddUser(name, password string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.users == nil {
		s.users = map[string]string{}
	}
	s.users[name] = password
}

// login is AList's POST /api/auth/login (handles.Login): {"username","password","otp_code"}.
// After 5 failures from one client IP every login from it is refused with code 429 until one
// succeeds, as AList does (its 5-minute expiry is not modelled). The hashed variant
// /api/auth/login/hash is not served (it answers 404 like any unknown path here), nor 2FA.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.NotFound(w, r) // gin: the route exists for POST only
		return
	}
	var req struct {
		Username string `json:"username"`
		Password string `json:"password"`
		OtpCode  string `json:"otp_code"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		envelope(w, 400, err.Error(), nil)
		return
	}
	if req.Username == "" {
		envelope(w, 400, msgEmptyUsername, nil)
		return
	}
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.loginFailed == nil {
		s.loginFailed = map[string]int{}
	}
	if s.loginFailed[ip] >= loginMaxFailures {
		envelope(w, 429, msgTooMany, nil)
		return
	}
	password, ok := s.users[req.Username]
	switch {
	case !ok:
		s.loginFailed[ip]++
		envelope(w, 400, msgUnknownUser, nil)
	case password != req.Password:
		s.loginFailed[ip]++
		envelope(w, 400, msgWrongPassword, nil)
	default:
		delete(s.loginFailed, ip)
		s.loginTokenID++
		envelope(w, 200, "success", map[string]any{"token": fmt.Sprintf("fake-jwt-%s-%d", req.Username, s.loginTokenID)})
	}
}
