package identity

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alist-edge/alist-edge/internal/alisttest"
)

func TestAListSource(t *testing.T) {
	fake := alisttest.New("tok")
	defer fake.Close()
	fake.AddUser("alice", "alice-pw")
	fake.AddUser("bob", "bob-pw")
	src := &AListSource{BaseURL: fake.URL + "/", Groups: map[string][]string{"alice": {"members", "members", "bad,group", "staff"}}}
	ctx := context.Background()

	id, err := src.Authenticate(ctx, "alice", "alice-pw")
	if err != nil || id.User != "alice" || id.Source != SourceAList || !slices.Equal(id.Groups, []string{"members", "staff"}) {
		t.Fatalf("alice: %+v %v", id, err)
	}
	if id, err := src.Authenticate(ctx, "bob", "bob-pw"); err != nil || id.Groups != nil {
		t.Errorf("bob: %+v %v", id, err)
	}
	// AList answers a wrong password and an unknown user as HTTP 200 with code 400.
	for _, c := range [][2]string{{"alice", "bob-pw"}, {"carol", "alice-pw"}} {
		_, err := src.Authenticate(ctx, c[0], c[1])
		if !errors.Is(err, ErrWrongPassword) || errors.Is(err, ErrUnavailable) {
			t.Errorf("%s: %v", c[0], err)
		}
	}
	// Refused without asking AList.
	before := fake.Calls("/api/auth/login")
	for _, c := range [][2]string{{"", "x"}, {"al\nice", "x"}, {"alice", ""}, {"alice", strings.Repeat("x", MaxPasswordLen+1)}} {
		if _, err := src.Authenticate(ctx, c[0], c[1]); !errors.Is(err, ErrWrongPassword) {
			t.Errorf("%q: %v", c[0], err)
		}
	}
	if n := fake.Calls("/api/auth/login") - before; n != 0 {
		t.Errorf("%d calls for refused input", n)
	}
	// After 5 failures AList locks the landing's address out (code 429): not a wrong password.
	for range 3 {
		_, _ = src.Authenticate(ctx, "alice", "nope")
	}
	if _, err := src.Authenticate(ctx, "alice", "alice-pw"); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "429") {
		t.Errorf("locked out: %v", err)
	}
	if n := fake.Calls("/api/auth/login"); n != 8 {
		t.Errorf("%d login calls, want 8", n)
	}
}

// TestAListSourceUnavailable: anything that is not AList's envelope is ErrUnavailable, never a
// wrong password and never a login.
func TestAListSourceUnavailable(t *testing.T) {
	for _, c := range []struct {
		name string
		hook func(w http.ResponseWriter, r *http.Request) bool
	}{
		{"HTTP 502", func(w http.ResponseWriter, r *http.Request) bool {
			http.Error(w, "bad gateway", http.StatusBadGateway)
			return true
		}},
		{"HTML", func(w http.ResponseWriter, r *http.Request) bool { w.Write([]byte("<html>login</html>")); return true }},
		{"JSON without code", func(w http.ResponseWriter, r *http.Request) bool { w.Write([]byte(`{"token":"x"}`)); return true }},
		{"code 200 without token", func(w http.ResponseWriter, r *http.Request) bool {
			w.Write([]byte(`{"code":200,"message":"success","data":null}`))
			return true
		}},
		{"slow", func(w http.ResponseWriter, r *http.Request) bool { time.Sleep(300 * time.Millisecond); return false }},
	} {
		fake := alisttest.New("tok") // one per case: Hook is set before any request
		fake.AddUser("alice", "alice-pw")
		fake.Hook = c.hook
		src := &AListSource{BaseURL: fake.URL, HTTP: &http.Client{Timeout: 100 * time.Millisecond}}
		id, err := src.Authenticate(context.Background(), "alice", "alice-pw")
		if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrWrongPassword) || id.User != "" {
			t.Errorf("%s: %+v %v", c.name, id, err)
		}
		fake.Close()
	}
	fake := alisttest.New("tok")
	fake.AddUser("alice", "alice-pw")
	fake.Close()
	src := &AListSource{BaseURL: fake.URL}
	if _, err := src.Authenticate(context.Background(), "alice", "alice-pw"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("AList down: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (&AListSource{BaseURL: "http://127.0.0.1:1"}).Authenticate(ctx, "alice", "alice-pw"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("cancelled: %v", err)
	}
}
