package httpx_test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/alist-edge/alist-edge/internal/httpx"
	"github.com/alist-edge/alist-edge/pkg/quota"
)

// TestQuotaRefusal: every kind of refusal as the client reads it, including the fallbacks for
// a limit configured without its text.
func TestQuotaRefusal(t *testing.T) {
	const sub = "203.0.113.0/24"
	for _, tc := range []struct {
		name   string
		d      quota.Decision
		status int
		msg    string
		retry  int
	}{
		{"rate", quota.Decision{Reason: quota.ReasonRate, RetryAfter: 30, Subnet: sub,
			Limit: quota.Limit{Requests: 5, Window: time.Minute, WindowText: "1m"}},
			429, sub + " exceeds the limit of 5 requests in 1m", 30},
		{"rate, no window text", quota.Decision{Reason: quota.ReasonRate, RetryAfter: 30, Subnet: sub,
			Limit: quota.Limit{Requests: 2, Window: time.Minute}},
			429, sub + " exceeds the limit of 2 requests in 1m0s", 30},
		{"total", quota.Decision{Reason: quota.ReasonBandwidth, RetryAfter: 600, Subnet: sub,
			Limit: quota.Limit{Bytes: quota.Size{Bytes: 500 << 30}, Text: "500GB", Window: 24 * time.Hour, WindowText: "1d"}},
			429, sub + " exceeds the bandwidth quota of 500GB in 1d", 600},
		{"total, no texts", quota.Decision{Reason: quota.ReasonBandwidth, RetryAfter: 1, Subnet: sub,
			Limit: quota.Limit{Bytes: quota.Size{Bytes: 3 << 20}, Window: time.Hour}},
			429, sub + " exceeds the bandwidth quota of 3MB in 1h0m0s", 1},
		{"total, odd size", quota.Decision{Reason: quota.ReasonBandwidth, RetryAfter: 1, Subnet: sub,
			Limit: quota.Limit{Bytes: quota.Size{Bytes: 1000}, Window: time.Hour, WindowText: "1h"}},
			429, sub + " exceeds the bandwidth quota of 1000B in 1h", 1},
		{"per file", quota.Decision{Reason: quota.ReasonFileBandwidth, RetryAfter: 60, Subnet: sub, Path: "/dir/a b.bin",
			Limit: quota.Limit{Bytes: quota.Size{Multiple: 2}, Text: "2x", Window: time.Hour, WindowText: "1h"}},
			429, sub + " /dir/a b.bin exceeds the bandwidth quota of 2x in 1h", 60},
		{"per file, multiple without text", quota.Decision{Reason: quota.ReasonFileBandwidth, RetryAfter: 60, Subnet: sub, Path: "h",
			Limit: quota.Limit{Bytes: quota.Size{Multiple: 2.5}, Window: 30 * time.Minute}},
			429, sub + " h exceeds the bandwidth quota of 2.5x in 30m0s", 60},
		{"throttled", quota.Decision{Reason: quota.ReasonThrottled, RetryAfter: 42, UpstreamStatus: 429},
			429, "upstream host is throttled", 42},
		{"throttled, 500", quota.Decision{Reason: quota.ReasonThrottled, RetryAfter: 42, UpstreamStatus: 500},
			500, "upstream host is throttled", 42},
		{"throttled, not an error status", quota.Decision{Reason: quota.ReasonThrottled, RetryAfter: 1, UpstreamStatus: 302},
			503, "upstream host is throttled", 1},
		{"throttled, no status", quota.Decision{Reason: quota.ReasonThrottled, RetryAfter: 1},
			503, "upstream host is throttled", 1},
		{"banned: no Retry-After", quota.Decision{Reason: quota.ReasonBanned, RetryAfter: 3600, Subnet: sub},
			403, "access denied", 0},
		{"unknown reason", quota.Decision{Reason: "new", RetryAfter: 5}, 403, "access denied", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := httpx.QuotaRefusal(tc.d)
			if e.Status != tc.status || e.Message != tc.msg || e.RetryAfter != tc.retry || e.Reason != string(tc.d.Reason) {
				t.Fatalf("got %d %q retry %d reason %q", e.Status, e.Message, e.RetryAfter, e.Reason)
			}
		})
	}
	if e := httpx.QuotaRefusal(quota.Decision{Allowed: true, Size: -1, Grant: -1}); e != nil {
		t.Fatalf("allowed decision answered %+v", e)
	}
}

// TestQuotaRefusalFromStore: refusals of a real store (SQLite file), written as the client
// gets them, byte for byte (docs/contract.md §8): the facts the store puts in a Decision are
// the ones the answer needs.
func TestQuotaRefusalFromStore(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2025, 3, 4, 12, 0, 7, 0, time.UTC)
	st, err := quota.Open(ctx, quota.DB{SQLitePath: filepath.Join(t.TempDir(), "q.db")}, quota.Config{
		WindowTime: 10 * time.Minute, RequestLimit: 1, WindowText: "10m",
		TotalEnabled: true, TotalLimit: quota.Size{Bytes: 1024}, TotalWindow: time.Hour,
		TotalLimitText: "1KB", TotalWindowText: "1h",
		FileEnabled: true, FileLimit: quota.Size{Multiple: 2}, FileWindow: 24 * time.Hour,
		FileLimitText: "2x", FileWindowText: "1d",
		BanAfterFails: 1, BanWindow: time.Minute, BanTime: time.Hour,
		LinkTTL: time.Hour, ThrottleHosts: []string{"*.example.com"},
		Clock: func() time.Time { return now },
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close(ctx) })
	check := func(req quota.CheckRequest) quota.Decision {
		t.Helper()
		req.Scope, req.Now = quota.ScopeProxy, now
		d, err := st.Check(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	// until re-checks until the refusal is for reason: bans and throttles are written behind.
	// Each attempt comes from another subnet of sub's /24 when vary is set (a throttle refuses
	// every subnet, and an admitted attempt spends the subnet's one request).
	until := func(req quota.CheckRequest, reason quota.Reason, vary bool) quota.Decision {
		t.Helper()
		for i := 10; i < 250; i++ {
			if vary {
				req.Subnet = "198.51.100." + strconv.Itoa(i) + "/32"
			}
			if d := check(req); d.Reason == reason {
				return d
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("never refused for %s", reason)
		return quota.Decision{}
	}
	wantAnswer := func(d quota.Decision, status int, body string, retry int) {
		t.Helper()
		w := httptest.NewRecorder()
		httpx.WriteError(w, httptest.NewRequest("GET", "/f", nil), httpx.QuotaRefusal(d))
		wantRetry := ""
		if retry > 0 {
			wantRetry = strconv.Itoa(retry)
		}
		if w.Code != status || w.Body.String() != body || w.Header().Get("Retry-After") != wantRetry {
			t.Fatalf("got %d %s Retry-After %q, want %d %s", w.Code, w.Body, w.Header().Get("Retry-After"), status, body)
		}
	}

	rate := quota.CheckRequest{Subnet: "192.0.2.1/32"}
	check(rate)
	wantAnswer(check(rate), 429, `{"code":429,"message":"192.0.2.1/32 exceeds the limit of 1 requests in 10m","retry-after":600}`, 600)

	wantAnswer(check(quota.CheckRequest{Subnet: "192.0.2.2/32", PathHash: "p", Reserve: 2048}), 429,
		`{"code":429,"message":"192.0.2.2/32 exceeds the bandwidth quota of 1KB in 1h","retry-after":600}`, 600)

	wantAnswer(check(quota.CheckRequest{Subnet: "192.0.2.3/32", PathHash: "p", Path: `/dir/"a" b.bin`, FileSize: 100, Reserve: 300}), 429,
		`{"code":429,"message":"192.0.2.3/32 /dir/\"a\" b.bin exceeds the bandwidth quota of 2x in 1d","retry-after":600}`, 600)

	st.RecordFailure(quota.ScopeProxy, "192.0.2.4/32")
	wantAnswer(until(quota.CheckRequest{Subnet: "192.0.2.4/32"}, quota.ReasonBanned, false), 403, `{"code":403,"message":"access denied"}`, 0)

	st.SaveLink("t", quota.Link{URL: "https://dl.example.com/t"})
	st.ReportUpstream("dl.example.com", 500)
	wantAnswer(until(quota.CheckRequest{PathHash: "t", WantLink: true}, quota.ReasonThrottled, true), 500,
		`{"code":500,"message":"upstream host is throttled","retry-after":60}`, 60)
}
