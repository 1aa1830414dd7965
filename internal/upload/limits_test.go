package upload

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alist-edge/alist-edge/internal/logx"
)

// TestAutoBan: repeated bad MACs ban the subnet through the shared RecordFailure (written
// behind, so the ban shows within a moment); then even a good MAC is refused, and the access
// line names each refusal for fail2ban.
func TestAutoBan(t *testing.T) {
	e := newEnv(t, envOpt{vars: map[string]string{"BAN_AFTER_FAILS": "3", "BAN_WINDOW": "10m", "BAN_TIME": "1h"}})
	bad := e.srv.URL + "/upload/b/x.txt?v=" + strings.Repeat("0", 64)
	for range 3 {
		if r := e.put(bad, []byte("abc")); r.StatusCode != 403 {
			t.Fatalf("bad MAC: %d", r.StatusCode)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; ; i++ {
		r := e.put(e.v1URL("b/ok"+itoaT(i)+".txt", 3), []byte("abc"))
		if r.StatusCode == 403 && strings.Contains(readAll(r), "access denied") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never banned (last %d)", r.StatusCode)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A bad token counts as well, and its 401 line is one fail2ban reads (logx.WrongSignature).
	// Credentials are checked before the ban (the shared check also counts the rate and
	// reserves the quota, which only a verified upload should spend).
	logs := e.log.String()
	if !strings.Contains(logs, `"status":403`) || !strings.Contains(logs, `"reason":"upload MAC mismatch"`) || !strings.Contains(logs, `"reason":"banned"`) {
		t.Fatalf("access lines:\n%s", logs)
	}
	e2 := newEnv(t, envOpt{})
	e2.put(e2.srv.URL+"/upload/s/a.png", []byte("abc"), "Authorization", "Bearer not.a.token")
	if !strings.Contains(e2.log.String(), `"status":401,"bytes":`) || !strings.Contains(e2.log.String(), `"reason":"upload token invalid"`) || !logx.WrongSignature("upload token invalid") {
		t.Fatalf("bad token access line:\n%s", e2.log.String())
	}
}

// TestRateAndQuota: the per-subnet request limit and upload byte quota, decided by the one
// check that reserves Content-Length; a refused or cut upload does not spend the quota.
func TestRateAndQuota(t *testing.T) {
	t.Run("rate", func(t *testing.T) {
		e := newEnv(t, envOpt{vars: map[string]string{"IPSUBNET_WINDOWTIME_LIMIT": "2", "WINDOW_TIME": "1h"}})
		for i, want := range []int{201, 201, 429} {
			if r := e.put(e.v1URL("r/"+itoaT(i)+".txt", 3), []byte("abc")); r.StatusCode != want {
				t.Fatalf("PUT %d: %d, want %d", i, r.StatusCode, want)
			}
		}
		if n := testutilCounter(t, e, "upload_refusals_total", "rate_limit"); n != 1 {
			t.Fatalf("rate_limit refusals %v", n)
		}
	})
	t.Run("bytes", func(t *testing.T) {
		e := newEnv(t, envOpt{vars: map[string]string{"UPLOAD_QUOTA": "10KB", "UPLOAD_QUOTA_WINDOW": "1h"}})
		if r := e.put(e.v1URL("q/a.bin", 6<<10), body(6<<10)); r.StatusCode != 201 {
			t.Fatalf("first: %d", r.StatusCode)
		}
		// A refused PUT (409) gives its reservation back.
		if r := e.put(e.v1URL("q/a.bin", 3<<10), body(3<<10)); r.StatusCode != 409 {
			t.Fatalf("exists: %d", r.StatusCode)
		}
		if r := e.put(e.v1URL("q/b.bin", 3<<10), body(3<<10)); r.StatusCode != 201 {
			t.Fatalf("fits: %d", r.StatusCode)
		}
		r := e.put(e.v1URL("q/c.bin", 2<<10), body(2<<10))
		if r.StatusCode != 429 || !strings.Contains(readAll(r), "exceeds the bandwidth quota of 10KB in 1h") {
			t.Fatalf("over quota: %d", r.StatusCode)
		}
	})
}

func itoaT(i int) string { return string(rune('a'+i/26)) + string(rune('a'+i%26)) }

func readAll(r *http.Response) string {
	b, _ := io.ReadAll(r.Body)
	return string(bytes.TrimSpace(b))
}
