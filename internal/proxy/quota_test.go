package proxy

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite"

	"github.com/alist-edge/alist-edge/internal/alisttest"
	"github.com/alist-edge/alist-edge/internal/testpg"
	"github.com/alist-edge/alist-edge/pkg/quota"
	"github.com/alist-edge/alist-edge/pkg/sign"
)

// Bandwidth quotas are caps (docs/contract.md §8, issue #13 item 5): whatever the number of parallel
// connections, the bytes delivered to a subnet never pass its limit.

// quotaDBs are the databases the end-to-end quota tests run on.
var quotaDBs = []struct {
	name string
	env  func(t *testing.T) map[string]string
}{
	{"sqlite", func(*testing.T) map[string]string { return map[string]string{} }},
	{"postgres", func(t *testing.T) map[string]string {
		return map[string]string{"DB_MODE": "postgres", "DATABASE_URL": testpg.URL(t), "SQLITE_PATH": ""}
	}},
}

type fetched struct {
	status int
	n      int64 // body bytes the client received
	err    error // body read error (a stream cut mid-way)
	body   string
}

// fetchAll runs n GETs of target at once (same client IP) and returns what each client got.
func (e *testEnv) fetchAll(n int, target string, hdr ...string) []fetched {
	e.t.Helper()
	out := make([]fetched, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out[i] = e.fetch(target, hdr...)
		}()
	}
	close(start)
	wg.Wait()
	return out
}

func (e *testEnv) fetch(target string, hdr ...string) fetched {
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+target, nil)
	if err != nil {
		return fetched{err: err}
	}
	req.Header.Set("CF-Connecting-IP", testIP)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return fetched{err: err}
	}
	defer resp.Body.Close()
	var sb strings.Builder
	n, err := io.Copy(&sb, resp.Body)
	f := fetched{status: resp.StatusCode, n: n, err: err}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusPartialContent {
		f.body = sb.String()
	}
	return f
}

// waitUsage waits (the usage writer is asynchronous) until the database records want bytes
// for the test IP's subnet and pathHash ("" is the subnet total) and returns what it records.
func (e *testEnv) waitUsage(t *testing.T, pathHash string, want int64) int64 {
	t.Helper()
	ctx := context.Background()
	db := e.cfg.QuotaDB()
	sum := sha256.Sum256([]byte(testIP + "/32"))
	subnet := hex.EncodeToString(sum[:])
	read := func() (n int64, err error) {
		q := `SELECT COALESCE(SUM(bytes), 0) FROM bw_usage WHERE scope = 'proxy' AND subnet = $1 AND path_hash = $2`
		if db.Mode == quota.ModePostgres {
			c, err := pgx.Connect(ctx, db.DatabaseURL)
			if err != nil {
				return 0, err
			}
			defer c.Close(ctx)
			err = c.QueryRow(ctx, q, subnet, pathHash).Scan(&n)
			return n, err
		}
		d, err := sql.Open("sqlite", db.SQLitePath)
		if err != nil {
			return 0, err
		}
		defer d.Close()
		err = d.QueryRowContext(ctx, strings.ReplaceAll(q, "$", "?"), subnet, pathHash).Scan(&n)
		return n, err
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := read()
		if err != nil {
			t.Fatal(err)
		}
		if n == want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestQuotaParallelDownloadsAreCapped(t *testing.T) {
	const size = 1 << 20
	data := []byte(strings.Repeat("0123456789abcdef", size/16))
	for _, db := range quotaDBs {
		for _, tc := range []struct {
			name       string
			env        map[string]string
			wantServed int
			msg        string
		}{
			{"total 2MB and 1x per file", map[string]string{
				"QUOTA_LIMIT_TOTAL_ENABLED": "true", "IPSUBNET_BANDWIDTH_LIMIT": "2MB",
				"QUOTA_LIMIT_FILEPATH_ENABLED": "true", "IPSUBNET_FILEPATH_BANDWIDTH_LIMIT": "1x"}, 1,
				testIP + "/32 /big.bin exceeds the bandwidth quota of 1x in 1d"},
			{"total 3MB", map[string]string{"QUOTA_LIMIT_TOTAL_ENABLED": "true", "IPSUBNET_BANDWIDTH_LIMIT": "3MB"}, 3,
				testIP + "/32 exceeds the bandwidth quota of 3MB in 1d"},
		} {
			t.Run(db.name+"/"+tc.name, func(t *testing.T) {
				for _, local := range []bool{false, true} {
					env := db.env(t) // a database of its own
					for k, v := range tc.env {
						env[k] = v
					}
					e := newEnv(t, envOpts{env: env, local: local})
					e.put("/big.bin", data)
					target := uriOf("/big.bin", e.params("/big.bin", testIP, size))
					var served int
					var delivered int64
					for _, f := range e.fetchAll(20, target) {
						switch f.status {
						case http.StatusOK:
							delivered += f.n
							if f.n != size || f.err != nil {
								t.Fatalf("local=%v: a served download got %d bytes (%v)", local, f.n, f.err)
							}
							served++
						case http.StatusTooManyRequests:
							if !strings.Contains(f.body, tc.msg) {
								t.Fatalf("local=%v: 429 body %q, want %q", local, f.body, tc.msg)
							}
						default:
							t.Fatalf("local=%v: status %d %q", local, f.status, f.body)
						}
					}
					t.Logf("local=%v: 20 parallel downloads: %d served, %d bytes delivered", local, served, delivered)
					if served != tc.wantServed || delivered != int64(tc.wantServed)*size {
						t.Fatalf("local=%v: %d served, %d bytes delivered; want %d and %d", local, served, delivered,
							tc.wantServed, tc.wantServed*size)
					}
					e.waitFinished(20)
					if u := e.waitUsage(t, "", delivered); u != delivered {
						t.Fatalf("local=%v: recorded usage %d, delivered %d", local, u, delivered)
					}
				}
			})
		}
	}
}

// TestQuotaRangesReserveTheirLength: Range requests (a download manager's segments) each
// reserve only their range, so all of a file's segments fit a 1x quota, while a whole-file
// request that would pass it is refused up front.
func TestQuotaRangesReserveTheirLength(t *testing.T) {
	const size = 1 << 20
	data := []byte(strings.Repeat("x", size))
	for _, local := range []bool{false, true} {
		e := newEnv(t, envOpts{local: local, env: map[string]string{"BANDWIDTH_BLOCK_TIME": "1s",
			"QUOTA_LIMIT_FILEPATH_ENABLED": "true", "IPSUBNET_FILEPATH_BANDWIDTH_LIMIT": "1x"}})
		e.put("/f.bin", data)
		target := uriOf("/f.bin", e.params("/f.bin", testIP, size))
		segments := func(from int) {
			t.Helper()
			var wg sync.WaitGroup
			res := make([]fetched, 4)
			for i := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					a := (from + i) * size / 8
					res[i] = e.fetch(target, "Range", "bytes="+strconv.Itoa(a)+"-"+strconv.Itoa(a+size/8-1))
				}()
			}
			wg.Wait()
			for i, f := range res {
				if f.status != http.StatusPartialContent || f.n != size/8 {
					t.Fatalf("local=%v: segment %d: %d, %d bytes %q", local, from+i, f.status, f.n, f.body)
				}
			}
		}
		segments(0)
		if f := e.fetch(target); f.status != http.StatusTooManyRequests {
			t.Fatalf("local=%v: whole file with half the quota used: %d (%d bytes), want 429", local, f.status, f.n)
		}
		e.now.Add(2) // the bandwidth block of that refusal ends
		segments(4)
		if f := e.fetch(target, "Range", "bytes=0-0"); f.status != http.StatusTooManyRequests {
			t.Fatalf("local=%v: one byte past the quota: %d, want 429", local, f.status)
		}
		e.waitFinished(10)
		if u := e.waitUsage(t, sign.PathHash("/f.bin"), size); u != size {
			t.Fatalf("local=%v: recorded %d, want %d", local, u, size)
		}
	}
}

// TestQuotaUnknownLengthStopsAtTheLimit: an upstream answer of unknown length (chunked, and
// no signed size) is cut exactly at the quota: the client gets the limit and an aborted
// transfer, never a complete-looking answer.
func TestQuotaUnknownLengthStopsAtTheLimit(t *testing.T) {
	const limit = 1 << 20
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("y", 32<<10))
		n := 3 * limit
		if strings.HasPrefix(r.URL.Path, "/exact") {
			n = limit
		}
		for range n / len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			w.(http.Flusher).Flush() // no Content-Length: chunked
		}
		time.Sleep(50 * time.Millisecond) // the end of the body arrives in a read of its own
	}))
	defer up.Close()
	e := newEnv(t, envOpts{env: map[string]string{"QUOTA_LIMIT_TOTAL_ENABLED": "true", "IPSUBNET_BANDWIDTH_LIMIT": "1MB"}})
	e.alist.Put("/live.bin", &alisttest.File{LinkURL: up.URL + "/live.bin"})
	target := uriOf("/live.bin", e.params("/live.bin", testIP, 0))
	f := e.fetch(target)
	if f.status != http.StatusOK || f.err == nil || f.n != limit {
		t.Fatalf("got %d, %d bytes, err %v; want 200 cut at exactly %d bytes", f.status, f.n, f.err, limit)
	}
	e.waitFinished(1)
	if u := e.waitUsage(t, "", limit); u != limit {
		t.Fatalf("recorded %d, want %d", u, limit)
	}
	if f := e.fetch(target); f.status != http.StatusTooManyRequests {
		t.Fatalf("after the limit: %d, want 429", f.status)
	}
	if !strings.Contains(e.logs.String(), `"reason":"quota_reached"`) {
		t.Fatalf("the cut is not logged as the quota: %s", e.logs.String())
	}

	// An answer that ends exactly at the limit ends cleanly.
	e = newEnv(t, envOpts{env: map[string]string{"QUOTA_LIMIT_TOTAL_ENABLED": "true", "IPSUBNET_BANDWIDTH_LIMIT": "1MB"}})
	e.alist.Put("/exact.bin", &alisttest.File{LinkURL: up.URL + "/exact.bin"})
	if f := e.fetch(uriOf("/exact.bin", e.params("/exact.bin", testIP, 0))); f.status != http.StatusOK || f.err != nil || f.n != limit {
		t.Fatalf("exactly the limit: %d, %d bytes, err %v; want a complete 200", f.status, f.n, f.err)
	}
}

// TestQuotaAnswerLongerThanSigned: a local file that grew after its link was signed (and a
// multi-range answer) is measured before the headers go out: what the quota cannot cover is
// refused with 429, never streamed past the limit.
func TestQuotaAnswerLongerThanSigned(t *testing.T) {
	e := newEnv(t, envOpts{local: true, env: map[string]string{
		"QUOTA_LIMIT_FILEPATH_ENABLED": "true", "IPSUBNET_FILEPATH_BANDWIDTH_LIMIT": "1500B"}})
	e.put("/grew.bin", []byte(strings.Repeat("z", 2000)))
	r := e.get(uriOf("/grew.bin", e.params("/grew.bin", testIP, 1000)))
	want := `{"code":429,"message":"` + testIP + `/32 /grew.bin exceeds the bandwidth quota of 1500B in 1d","retry-after":600}`
	if r.status != http.StatusTooManyRequests || string(r.body) != want || r.header.Get("Retry-After") != "600" {
		t.Fatalf("got %d %s (Retry-After %q), want 429 %s", r.status, r.body, r.header.Get("Retry-After"), want)
	}
	if r.header.Get("Content-Range") != "" || r.header.Get("Etag") != "" {
		t.Fatalf("file headers left on the refusal: %v", r.header)
	}
	// Within the quota the same answer is served whole (the grant is extended to 1200 bytes).
	e.put("/ok.bin", []byte(strings.Repeat("z", 1200)))
	if r := e.get(uriOf("/ok.bin", e.params("/ok.bin", testIP, 1000))); r.status != 200 || len(r.body) != 1200 {
		t.Fatalf("grown file within the quota: %d, %d bytes", r.status, len(r.body))
	}
	e.waitFinished(2)
	if u := e.waitUsage(t, sign.PathHash("/ok.bin"), 1200); u != 1200 {
		t.Fatalf("recorded %d, want 1200", u)
	}
}
