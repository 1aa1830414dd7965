package admin

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeStore speaks Store and records every call, so a test can tell that bad input reached
// no store operation.
type fakeStore struct {
	mu     sync.Mutex
	calls  []string
	usage  map[string]Usage // name+"|"+key
	blocks []Block
	revs   []Revocation
	sess   []Session
	err    error // returned by every call when set
}

func newFakeStore() *fakeStore { return &fakeStore{usage: map[string]Usage{}} }

func (f *fakeStore) record(format string, args ...any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
	return f.err
}

func (f *fakeStore) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeStore) Usage(ctx context.Context, name, key string) (Usage, error) {
	if err := f.record("Usage %s %s", name, key); err != nil {
		return Usage{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.usage[name+"|"+key], nil
}

func (f *fakeStore) SetUsage(ctx context.Context, name, key string, u Usage) error {
	if err := f.record("SetUsage %s %s %d %d %s", name, key, u.Bytes, u.Requests, u.WindowEnd.Format(time.RFC3339)); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.usage[name+"|"+key] = u
	return nil
}

func (f *fakeStore) Blocks(ctx context.Context, now time.Time) ([]Block, error) {
	if err := f.record("Blocks %s", now.Format(time.RFC3339)); err != nil {
		return nil, err
	}
	return f.blocks, nil
}

func (f *fakeStore) Unblock(ctx context.Context, scope, subnet string) error {
	return f.record("Unblock %s %s", scope, subnet)
}

func (f *fakeStore) Revoke(ctx context.Context, r Revocation) error {
	if err := f.record("Revoke %s %t %s", r.Path, r.Prefix, r.Until.Format(time.RFC3339)); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.revs = append(f.revs, r)
	return nil
}

func (f *fakeStore) Revocations(ctx context.Context, now time.Time) ([]Revocation, error) {
	if err := f.record("Revocations %s", now.Format(time.RFC3339)); err != nil {
		return nil, err
	}
	return f.revs, nil
}

func (f *fakeStore) Unrevoke(ctx context.Context, path string, prefix bool) error {
	if err := f.record("Unrevoke %s %t", path, prefix); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, r := range f.revs {
		if r.Path == path && r.Prefix == prefix {
			f.revs = append(f.revs[:i], f.revs[i+1:]...)
			return nil
		}
	}
	return fmt.Errorf("unrevoke: %w", ErrNotFound)
}

func (f *fakeStore) ListSessions(ctx context.Context, now time.Time, user string) ([]Session, error) {
	if err := f.record("ListSessions %s %q", now.Format(time.RFC3339), user); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Session
	for _, s := range f.sess {
		if user == "" || s.User == user {
			out = append(out, s)
		}
	}
	return out, nil
}

func (f *fakeStore) EndSessions(ctx context.Context, id, user string, now time.Time) (int, error) {
	if err := f.record("EndSessions %q %q %s", id, user, now.Format(time.RFC3339)); err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	kept := f.sess[:0]
	for _, s := range f.sess {
		if id != "" && s.ID != id || user != "" && s.User != user {
			kept = append(kept, s)
		}
	}
	n := len(f.sess) - len(kept)
	f.sess = kept
	return n, nil
}

// testSessions are one of bob's sessions and two of alice's, oldest first (as the store lists).
func testSessions() []Session {
	return []Session{
		{ID: "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0", User: "bob", Groups: []string{"guests"}, Source: "forward-auth",
			Created: testNow.Add(-2 * time.Hour), Expires: testNow.Add(time.Hour)},
		{ID: "0f1e2d3c4b5a69788796a5b4c3d2e1f0", User: "alice", Groups: []string{"members", "staff"}, Source: "users-file",
			Created: testNow.Add(-time.Hour), Expires: testNow.Add(23 * time.Hour)},
		{ID: "a1b2c3d4e5f60718293a4b5c6d7e8f90", User: "alice", Source: "alist", Created: testNow.Add(-time.Minute), Expires: testNow.Add(24 * time.Hour)},
	}
}

// dayPeriod is a calendar day in UTC: what policy.Period does for period = "day".
type dayPeriod struct{}

func (dayPeriod) WindowEnd(now time.Time) time.Time {
	y, m, d := now.UTC().Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC)
}
func (dayPeriod) String() string { return "day" }

var testNow = time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)

var testLimits = []LimitInfo{
	{Name: "daily", Kind: "quota", Scope: "subnet", Bytes: 50 << 30, Period: dayPeriod{}},
	{Name: "burst", Kind: "rate", Scope: "subnet+path", Requests: 100, Period: dayPeriod{}},
	{Name: "nokey", Kind: "quota", Scope: "global", Requests: 5},
	{Name: "members", Kind: "quota", Scope: "user", Bytes: 1 << 30, PerGroup: map[string]int64{"staff": 5 << 30, "members": 50 << 30}, Period: dayPeriod{}},
}

// keyFor is a KeyFor like the proxy's: the subnet scope needs a subnet.
func keyFor(quota, subnet, path, user, group string) (string, error) {
	switch quota {
	case "daily":
		if subnet == "" {
			return "", fmt.Errorf("scope subnet needs subnet")
		}
		return "s:" + subnet, nil
	case "burst":
		if subnet == "" || path == "" {
			return "", fmt.Errorf("scope subnet+path needs subnet and path")
		}
		return "sp:" + subnet + path, nil
	}
	return "", nil
}

// explainCall records what Explain was asked.
type explainCall struct {
	mu sync.Mutex
	qs []ExplainQuery
}

func (e *explainCall) explain(ctx context.Context, q ExplainQuery) (any, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.qs = append(e.qs, q)
	if q.Path == "/boom" {
		return nil, fmt.Errorf("database on fire: password=hunter2")
	}
	return trace{
		Path:    q.Path,
		Decided: traceRule{ID: "office-private", Action: "allow"},
		Matchers: []traceMatcher{
			{Name: "private", Kind: "path", Value: true},
			{Name: "office", Kind: "cidr", Value: false},
		},
		Skipped: []traceSkip{{Rule: "night-free", Why: "night is false"}},
		Quotas:  []any{},
		Shadow:  nil,
	}, nil
}

// testOptions is an authenticated API over fakes; logs go to logBuf.
func testOptions(t *testing.T, store *fakeStore, ex *explainCall, logBuf io.Writer) Options {
	t.Helper()
	if logBuf == nil {
		logBuf = io.Discard
	}
	return Options{
		Token:    "s3cret-token",
		Store:    store,
		Sessions: store,
		Explain:  ex.explain,
		Limits:   func() []LimitInfo { return testLimits },
		KeyFor:   keyFor,
		Log:      slog.New(slog.NewTextHandler(logBuf, nil)),
		Now:      func() time.Time { return testNow },
	}
}

// do sends one request to h with the test token and returns the recorder.
func do(t *testing.T, h http.Handler, method, target, body string) *httptest.ResponseRecorder {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, rd)
	req.Header.Set("Authorization", "Bearer s3cret-token")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func contextDeadline() error { return context.DeadlineExceeded }

// trace is shaped like the policy engine's Trace: fields in a deliberate order, nested
// objects and arrays, an empty list and a null, so the CLI's tree rendering is exercised.
type trace struct {
	Path     string         `json:"path"`
	Decided  traceRule      `json:"decided"`
	Matchers []traceMatcher `json:"matchers"`
	Skipped  []traceSkip    `json:"skipped"`
	Quotas   []any          `json:"quotas"`
	Shadow   *traceRule     `json:"shadow"`
}
type traceRule struct {
	ID     string `json:"id"`
	Action string `json:"action"`
}
type traceMatcher struct {
	Name  string `json:"name"`
	Kind  string `json:"kind"`
	Value bool   `json:"value"`
}
type traceSkip struct {
	Rule string `json:"rule"`
	Why  string `json:"why"`
}
