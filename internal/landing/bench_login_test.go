package landing

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alist-edge/alist-edge/internal/config"
	"github.com/alist-edge/alist-edge/internal/identity"
	"github.com/alist-edge/alist-edge/pkg/quota"
)

// benchLanding is a landing over a local folder (no AList round trip) with a real SQLite file,
// the users file and the members policy, and a session cookie for alice.
func benchLanding(b *testing.B) (*Service, *http.Cookie) {
	b.Helper()
	dir := b.TempDir()
	files := filepath.Join(dir, "files")
	for _, p := range []string{publicFile, privateFile} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(files, p)), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(files, p), []byte("some bytes"), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	users := filepath.Join(dir, "users.toml")
	pol := filepath.Join(dir, "policy.toml")
	if err := identity.AddUser(users, "alice", alicePassword, []string{"members"}); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(pol, []byte(membersPolicy), 0o644); err != nil {
		b.Fatal(err)
	}
	cfg, err := config.LoadLanding(map[string]string{"ADDRESS": "file://" + files, "SIGN_SECRET": "bench-secret",
		"WORKER_ADDRESS_DOWNLOAD": "https://dl.example.com", "SQLITE_PATH": filepath.Join(dir, "edge.db"),
		"USERS_FILE": users, "POLICY_FILE": pol})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Unix(testNow, 0)
	qc := cfg.QuotaConfig()
	qc.Clock = func() time.Time { return now }
	st, err := quota.Open(context.Background(), cfg.QuotaDB(), qc, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close(context.Background()) })
	svc, err := New(Options{Config: cfg, Store: st, Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return now }})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = svc.Close() })
	value, sid := svc.sec.Load().id.sessions.Issue(identity.Identity{User: "alice", Groups: []string{"members"}, Source: identity.SourceUsersFile}, now)
	ss, ok := quota.SessionsOf(st)
	if !ok {
		b.Fatal("the store has no sessions")
	}
	if err := ss.CreateSession(context.Background(), quota.Session{ID: sid, User: "alice", Groups: []string{"members"}, Source: identity.SourceUsersFile,
		Created: now, Expires: now.Add(time.Hour)}); err != nil {
		b.Fatal(err)
	}
	return svc, &http.Cookie{Name: identity.CookieName, Value: value}
}

// benchPage serves the download page of p to a browser b.N times (cookie nil: anonymous).
func benchPage(b *testing.B, svc *Service, p string, c *http.Cookie, want string) {
	link := SignedURL("", svc.sec.Load().kr, p, 0)
	req := httptest.NewRequest("GET", link, nil)
	req.Header.Set("Accept", acceptChromium)
	if c != nil {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	svc.ServeHTTP(rec, req)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), want) {
		b.Fatalf("%d %s", rec.Code, rec.Body)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		rec := httptest.NewRecorder()
		svc.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}

// BenchmarkPageAnonymous and BenchmarkPageWithSession serve the same page (an open path),
// without and with a session: the difference is the cookie's check (HMAC, the ended-session
// cache) and the signed-in line. BenchmarkPageWithSessionUsage adds a quota's usage line (one
// counter read).
func BenchmarkPageAnonymous(b *testing.B) {
	svc, _ := benchLanding(b)
	benchPage(b, svc, publicFile, nil, `id="dl"`)
}

func BenchmarkPageWithSession(b *testing.B) {
	svc, c := benchLanding(b)
	benchPage(b, svc, publicFile, c, "Signed in as alice")
}

func BenchmarkPageWithSessionUsage(b *testing.B) {
	svc, c := benchLanding(b)
	benchPage(b, svc, privateFile, c, "daily: ")
}
