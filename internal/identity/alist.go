package identity

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Errors of AListSource.Authenticate.
var (
	// ErrWrongPassword: AList refused the name or the password (or wants a 2FA code, which the
	// landing does not ask for).
	ErrWrongPassword = errors.New("wrong user name or password")
	// ErrUnavailable: AList could not be asked, or did not answer like AList, or refuses
	// logins from the landing's address for a while; the visitor's password may be right.
	ErrUnavailable = errors.New("alist is unavailable")
)

// AList's answer codes for a login (HTTP 200 in every case, the outcome in "code").
const (
	alistOK            = 200
	alistTooManyFailed = 429 // 5 failures from one client address: refused for 5 minutes
)

const alistDefaultTimeout = 10 * time.Second

// AListSource checks a name and password against AList's own accounts. Groups maps AList user
// names to groups (from the policy); a user not in it has no groups.
type AListSource struct {
	BaseURL string
	HTTP    *http.Client // nil = a client with a 10 s timeout
	Groups  map[string][]string
}

// Authenticate asks AList (POST {BaseURL}/api/auth/login, {"username","password"}). It uses the
// plain endpoint; AList's /api/auth/login/hash (sha256 of the password and a static salt) gives
// the same answer and protects nothing between two servers of ours. The token AList returns is
// not kept. Invalid names and empty or oversized passwords are refused without asking.
func (a *AListSource) Authenticate(ctx context.Context, name, password string) (Identity, error) {
	if CheckName(name) != nil || password == "" || len(password) > MaxPasswordLen {
		return Identity{}, ErrWrongPassword
	}
	body, _ := json.Marshal(map[string]string{"username": name, "password": password})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(a.BaseURL, "/")+"/api/auth/login", bytes.NewReader(body))
	if err != nil {
		return Identity{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	client := a.HTTP
	if client == nil {
		client = &http.Client{Timeout: alistDefaultTimeout}
	}
	resp, err := client.Do(req)
	if err != nil {
		return Identity{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Identity{}, fmt.Errorf("%w: HTTP %d from /api/auth/login", ErrUnavailable, resp.StatusCode)
	}
	var env struct {
		Code    *int   `json:"code"`
		Message string `json:"message"`
		Data    struct {
			Token string `json:"token"`
		} `json:"data"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&env); err != nil || env.Code == nil {
		return Identity{}, fmt.Errorf("%w: /api/auth/login did not answer AList's JSON", ErrUnavailable)
	}
	switch {
	case *env.Code == alistOK && env.Data.Token != "":
		return Identity{User: name, Groups: a.groupsOf(name), Source: SourceAList}, nil
	case *env.Code == alistOK:
		return Identity{}, fmt.Errorf("%w: /api/auth/login succeeded without a token", ErrUnavailable)
	case *env.Code == alistTooManyFailed:
		// AList counts failures per client address, and every login reaches it from the
		// landing's: this is not about this visitor's password.
		return Identity{}, fmt.Errorf("%w: AList refuses logins for a while after 5 failures (code 429)", ErrUnavailable)
	}
	return Identity{}, fmt.Errorf("%w (AList code %d: %s)", ErrWrongPassword, *env.Code, truncate(env.Message, 200))
}

func (a *AListSource) groupsOf(name string) []string {
	var out []string
	for _, g := range a.Groups[name] {
		if CheckGroup(g) == nil && !slices.Contains(out, g) && len(out) < MaxGroups {
			out = append(out, g)
		}
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
