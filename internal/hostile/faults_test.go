package hostile

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alist-edge/alist-edge/internal/alisttest"
	"github.com/alist-edge/alist-edge/internal/testpg"
	"github.com/alist-edge/alist-edge/pkg/quota"
	"github.com/alist-edge/alist-edge/pkg/sign"
)

type answer struct {
	status int
	header http.Header
	body   string
	err    error
	took   time.Duration
}

// get sends a GET for the signed link of decoded path p (client IP testIP) on a fresh
// connection.
func (s *svc) get(t testing.TB, p string, hdr ...string) answer {
	t.Helper()
	target := s.url + (&url.URL{Path: p}).EscapedPath() + "?" + s.expand("{{Q:"+p+"}}")
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("CF-Connecting-IP", testIP)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 30 * time.Second}
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return answer{err: err, took: time.Since(start)}
	}
	defer resp.Body.Close()
	b, rerr := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: string(b), err: rerr, took: time.Since(start)}
}

func wantJSON(t testing.TB, a answer, status int, message string) {
	t.Helper()
	want := `{"code":` + strconv.Itoa(status) + `,"message":` + string(sign.AppendJSString(nil, message)) + `}`
	if a.status != status || a.body != want {
		t.Fatalf("got %d %q (err %v), want %d %q", a.status, a.body, a.err, status, want)
	}
}

// ---- database -----------------------------------------------------------------------------

// TestFaultPostgres: the database is down when we start, goes down mid-run and comes back
// (every backend connection is terminated, as in a restart). Fail-closed answers 500 quickly,
// fail-open serves, and the pool recovers without restarting the proxy.
func TestFaultPostgres(t *testing.T) {
	t.Run("down at startup", func(t *testing.T) {
		dbURL := testpg.URL(t)
		testpg.Disconnect(t, dbURL)
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		start := time.Now()
		st, err := quota.Open(ctx, quota.DB{Mode: quota.ModePostgres, DatabaseURL: dbURL}, quota.Config{WindowTime: time.Minute, RequestLimit: 10}, nil)
		took := time.Since(start)
		if err == nil {
			st.Close(context.Background())
			t.Fatal("Open succeeded against a database that refuses connections")
		}
		if took > 10*time.Second || !strings.Contains(err.Error(), "not currently accepting connections") && !strings.Contains(err.Error(), "connect") {
			t.Fatalf("startup error after %v is not clear: %v", took, err)
		}
		t.Logf("startup error after %v: %v", took.Round(time.Millisecond), err)
		testpg.Reconnect(t, dbURL)
		st, err = quota.Open(context.Background(), quota.DB{Mode: quota.ModePostgres, DatabaseURL: dbURL}, quota.Config{WindowTime: time.Minute, RequestLimit: 10}, nil)
		if err != nil {
			t.Fatalf("Open after the database came back: %v", err)
		}
		st.Close(context.Background())
	})
	for _, mode := range []string{"fail-closed", "fail-open"} {
		t.Run("mid-run "+mode, func(t *testing.T) {
			dbURL := testpg.URL(t)
			s := newProxy(t, "proxy", false, map[string]string{"DB_MODE": "postgres", "DATABASE_URL": dbURL,
				"PG_ERROR_HANDLE": mode, "IPSUBNET_WINDOWTIME_LIMIT": "1000", "LINK_TTL": "0"})
			s.put(t, "/f.txt", []byte("ok"))
			if a := s.get(t, "/f.txt"); a.status != 200 || a.body != "ok" {
				t.Fatalf("before the outage: %d %q", a.status, a.body)
			}
			testpg.Disconnect(t, dbURL)
			up0 := s.alist.TotalCalls()
			for i := range 3 {
				a := s.get(t, "/f.txt")
				if a.took > 6*time.Second {
					t.Fatalf("answer %d during the outage took %v", i, a.took)
				}
				if mode == "fail-closed" {
					wantJSON(t, a, 500, "database unavailable")
				} else if a.status != 200 || a.body != "ok" {
					t.Fatalf("fail-open during the outage: %d %q", a.status, a.body)
				}
			}
			if mode == "fail-closed" && s.alist.TotalCalls() != up0 {
				t.Fatal("fail-closed requests reached AList")
			}
			testpg.Reconnect(t, dbURL)
			deadline := time.Now().Add(15 * time.Second)
			for {
				a := s.get(t, "/f.txt")
				if a.status == 200 && a.body == "ok" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no recovery after the database came back: %d %q", a.status, a.body)
				}
				time.Sleep(100 * time.Millisecond)
			}
			if err := s.ph.Ready(context.Background()); err != nil {
				t.Fatalf("readyz after recovery: %v", err)
			}
		})
	}
}

// ---- AList --------------------------------------------------------------------------------

// TestFaultAlistAnswers: the /api/fs/link answers internal/proxy's TestAlistFailures does not
// cover (garbage JSON, the HTTP-200 envelope with a 5xx code, unusable or hostile data.url),
// each answered as documented within the timeouts.
func TestFaultAlistAnswers(t *testing.T) {
	cases := []struct {
		name   string
		body   string // /api/fs/link answer (application/json, HTTP 200)
		link   string // or: a normal answer with this data.url
		status int
		msg    string // exact message; "" = AList's body relayed (checked by contains)
		relay  string
	}{
		{name: "garbage json", body: `{"code":200,"data":{"url":`, status: 502, msg: "Request failed with status: 200"},
		{name: "not an object", body: `[1,2,3]`, status: 502, msg: "Request failed with status: 200"},
		{name: "envelope 500", body: `{"code":500,"message":"failed get storage: boom","data":null}`, status: 500, relay: "failed get storage: boom"},
		{name: "envelope 403", body: `{"code":403,"message":"permission denied","data":null}`, status: 403, relay: "permission denied"},
		{name: "no url", body: `{"code":200,"message":"success","data":{"url":""}}`, status: 502, msg: "AList returned no download URL"},
		{name: "file url", link: "file:///etc/passwd", status: 502, msg: "invalid upstream URL"},
		{name: "gopher url", link: "gopher://127.0.0.1:70/", status: 502, msg: "invalid upstream URL"},
		{name: "metadata url", link: "http://169.254.169.254/latest/meta-data/iam/", status: 502, msg: "upstream address refused"},
		{name: "metadata v6 url", link: "http://[fd00:ec2::254]/latest/meta-data/", status: 502, msg: "upstream address refused"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newProxy(t, "proxy", false, map[string]string{"ALIST_TIMEOUT": "2s", "UPSTREAM_CONNECT_TIMEOUT": "2s"})
			if c.body != "" {
				s.alist.Hook = func(w http.ResponseWriter, r *http.Request) bool {
					if r.URL.Path != "/api/fs/link" {
						return false
					}
					w.Header().Set("Content-Type", "application/json")
					_, _ = io.WriteString(w, c.body)
					return true
				}
				s.put(t, "/a.txt", []byte("x"))
			} else {
				s.alist.Put("/a.txt", &alisttest.File{Data: []byte("x"), LinkURL: c.link})
			}
			a := s.get(t, "/a.txt")
			if c.relay != "" {
				if a.status != c.status || !strings.Contains(a.body, c.relay) {
					t.Fatalf("got %d %q, want %d relaying %q", a.status, a.body, c.status, c.relay)
				}
			} else {
				wantJSON(t, a, c.status, c.msg)
			}
			if a.took > 3*time.Second {
				t.Fatalf("took %v", a.took)
			}
			if s.store.saveLink.Load() != 0 {
				t.Fatal("a failed link answer was cached")
			}
		})
	}
}

// TestFaultRedirectToMetadata: the upstream (AList's /d/ link) redirects to the metadata
// service; the proxy answers 502 "upstream address refused" without connecting there.
func TestFaultRedirectToMetadata(t *testing.T) {
	s := newProxy(t, "proxy", false, map[string]string{"UPSTREAM_RETRIES": "2"})
	var hits atomic.Int64
	s.alist.Hook = func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasPrefix(r.URL.Path, "/d/") {
			return false
		}
		hits.Add(1)
		http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/iam/security-credentials/", http.StatusFound)
		return true
	}
	s.put(t, "/r.txt", []byte("x"))
	a := s.get(t, "/r.txt")
	wantJSON(t, a, 502, "upstream address refused")
	if hits.Load() != 1 || a.took > time.Second {
		t.Fatalf("%d upstream hits, took %v", hits.Load(), a.took)
	}
}

// ---- streams ------------------------------------------------------------------------------

var accessBytes = regexp.MustCompile(`"msg":"access".*?"status":(\d+),"bytes":(\d+)`)

// TestFaultClientDisconnect: a client that goes away mid-download cancels the upstream
// request; usage equals the bytes the proxy delivered; goroutines and descriptors return to
// the baseline.
func TestFaultClientDisconnect(t *testing.T) {
	s := newProxy(t, "proxy", false, map[string]string{"QUOTA_LIMIT_TOTAL_ENABLED": "true", "IPSUBNET_BANDWIDTH_LIMIT": "1TB"})
	var cancelled, sent atomic.Int64
	started := make(chan struct{}, 1)
	s.alist.Hook = func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/d/big.bin" {
			return false
		}
		w.Header().Set("Content-Length", strconv.Itoa(1<<30))
		w.WriteHeader(200)
		chunk := make([]byte, 32<<10)
		select {
		case started <- struct{}{}:
		default:
		}
		for {
			n, err := w.Write(chunk)
			sent.Add(int64(n))
			if err != nil {
				break
			}
			select {
			case <-r.Context().Done():
				cancelled.Add(1)
				return true
			case <-time.After(time.Millisecond):
			}
		}
		<-r.Context().Done()
		cancelled.Add(1)
		return true
	}
	s.put(t, "/big.bin", []byte("unused"))
	s.put(t, "/small.txt", []byte("small"))
	// Warm-up (pools, the database) and baseline.
	if a := s.get(t, "/small.txt"); a.status != 200 {
		t.Fatal(a.status, a.err)
	}
	baseG, baseFD := settle(0, 0, 0, 300*time.Millisecond, s.closeIdle)

	for round := range 3 {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "GET /big.bin?%s HTTP/1.1\r\nHost: edge.test\r\nCF-Connecting-IP: %s\r\n\r\n", s.expand("{{Q:/big.bin}}"), testIP)
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("round %d: %v %v", round, resp, err)
		}
		<-started
		got, _ := io.CopyN(io.Discard, resp.Body, 512<<10)
		c.Close()
		deadline := time.Now().Add(5 * time.Second)
		for cancelled.Load() < int64(round+1) {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: upstream request not cancelled after the client left", round)
			}
			time.Sleep(5 * time.Millisecond)
		}
		// The access line is written when the handler returns.
		var logged int64
		for {
			m := accessBytes.FindAllStringSubmatch(s.logs.String(), -1)
			n := 0
			for _, x := range m {
				if b, _ := strconv.ParseInt(x[2], 10, 64); x[1] == "499" && b > 100 { // the client left: client_gone, 499
					n++
					logged = b
				}
			}
			if n >= round+1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: no access line: %s", round, s.logs.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
		if logged < got {
			t.Fatalf("round %d: proxy logged %d bytes, client read %d", round, logged, got)
		}
		t.Logf("round %d: client read %d, proxy delivered %d, upstream sent %d, usage %d", round, got, logged, sent.Load(), s.store.usage.Load())
	}
	// usage (metered bytes) equals the sum of the bytes the proxy delivered.
	var total int64
	for _, x := range accessBytes.FindAllStringSubmatch(s.logs.String(), -1) {
		if x[1] == "200" || x[1] == "499" {
			b, _ := strconv.ParseInt(x[2], 10, 64)
			total += b
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.store.usage.Load() != total && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if u := s.store.usage.Load(); u != total {
		t.Fatalf("usage %d, delivered %d\n%s", u, total, s.logs.String())
	}
	g, fd := settle(baseG, baseFD, 0, 5*time.Second, s.closeIdle)
	if g > baseG || fd > baseFD {
		t.Fatalf("leak: goroutines %d → %d, fds %d → %d\n%s", baseG, g, baseFD, fd, stacks())
	}
}

// ---- throttle protection ------------------------------------------------------------------

// TestFaultThrottleClears: a protected upstream host answering 429 is protected for the
// window: the proxy answers with the recorded code and Retry-After without calling it; after
// the window the next request goes through, succeeds and clears the protection.
func TestFaultThrottleClears(t *testing.T) {
	s := newProxy(t, "proxy", false, map[string]string{"THROTTLE_PROTECT_HOSTNAME": "127.0.0.1",
		"THROTTLE_PROTECT_HTTP_CODE": "429,503", "THROTTLE_TIME_WINDOW": "60s", "UPSTREAM_RETRIES": "0",
		"IPSUBNET_WINDOWTIME_LIMIT": "100000"})
	var failing atomic.Bool
	var fetches atomic.Int64
	s.alist.Hook = func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasPrefix(r.URL.Path, "/d/") {
			return false
		}
		fetches.Add(1)
		if failing.Load() {
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(429)
			return true
		}
		return false
	}
	s.put(t, "/t.txt", []byte("ok"))
	if a := s.get(t, "/t.txt"); a.status != 200 {
		t.Fatalf("first: %d %q", a.status, a.body)
	}
	failing.Store(true)
	if a := s.get(t, "/t.txt"); a.status != 429 {
		t.Fatalf("relayed upstream 429 expected, got %d %q", a.status, a.body)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		before := fetches.Load()
		a := s.get(t, "/t.txt")
		if a.status == 429 && strings.Contains(a.body, "throttled") {
			if fetches.Load() != before {
				t.Fatal("a throttled request reached the upstream")
			}
			ra, _ := strconv.Atoi(a.header.Get("Retry-After"))
			if ra < 1 || ra > 60 {
				t.Fatalf("Retry-After %q", a.header.Get("Retry-After"))
			}
			t.Logf("throttled: %d %s Retry-After %s", a.status, a.body, a.header.Get("Retry-After"))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never throttled; last %d %q", a.status, a.body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	failing.Store(false)
	s.now.Store(testNow + 61)
	before := fetches.Load()
	if a := s.get(t, "/t.txt"); a.status != 200 || a.body != "ok" || fetches.Load() != before+1 {
		t.Fatalf("after the window: %d %q (fetches %d → %d)", a.status, a.body, before, fetches.Load())
	}
	// The success cleared the protection: a new failure window starts from scratch.
	for range 3 {
		if a := s.get(t, "/t.txt"); a.status != 200 {
			t.Fatalf("after clearing: %d %q", a.status, a.body)
		}
	}
}
