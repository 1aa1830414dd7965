package proxy

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/alist-edge/alist-edge/internal/alisttest"
	"github.com/alist-edge/alist-edge/internal/config"
	"github.com/alist-edge/alist-edge/internal/metrics"
	"github.com/alist-edge/alist-edge/internal/server"
	"github.com/alist-edge/alist-edge/internal/tcpacct"
	"github.com/alist-edge/alist-edge/internal/testutil"
	"github.com/alist-edge/alist-edge/pkg/quota"
	"github.com/alist-edge/alist-edge/pkg/sign"
)

const (
	testToken  = "alist-token-0123456789abcdef"
	testWorker = "https://dl1.example.com"
	testIP     = "203.0.113.7"
	testNow    = 1761800060
)

// countingStore decorates the real store: it counts Checks (a refused request must cause
// none), can fail them, and records metered usage.
type countingStore struct {
	quota.Store
	checks      atomic.Int64
	invalidated atomic.Int64
	saved       atomic.Int64
	usage       testutil.Meters // bytes counted by the meters handed out
	failures    atomic.Int64    // RecordFailure calls (auto-ban)
	fail        atomic.Pointer[error]
	decision    atomic.Pointer[quota.Decision] // forced answer
}

// Unwrap gives the admin API the real store's admin operations.
func (c *countingStore) Unwrap() quota.Store { return c.Store }

func (c *countingStore) Check(ctx context.Context, req quota.CheckRequest) (quota.Decision, error) {
	c.checks.Add(1)
	if e := c.fail.Load(); e != nil {
		return quota.Decision{}, *e
	}
	if d := c.decision.Load(); d != nil {
		return *d, nil
	}
	return c.Store.Check(ctx, req)
}

func (c *countingStore) RecordFailure(scope quota.Scope, subnet string) {
	c.failures.Add(1)
	c.Store.RecordFailure(scope, subnet)
}

func (c *countingStore) InvalidateLink(ph string) {
	c.invalidated.Add(1)
	c.Store.InvalidateLink(ph)
}

func (c *countingStore) SaveLink(ph string, l quota.Link) {
	c.saved.Add(1)
	c.Store.SaveLink(ph, l)
}

func (c *countingStore) Meter(req quota.CheckRequest, d quota.Decision) *quota.Meter {
	return c.usage.Track(c.Store.Meter(req, d))
}

// syncBuffer is a log sink shared by servers and the test.
type syncBuffer = testutil.SyncBuffer

type testEnv struct {
	t        testing.TB
	alist    *alisttest.Server
	local    string // served folder when ADDRESS=file://
	store    *countingStore
	h        *Handler
	srv      *testServer
	cfg      *config.Proxy
	environ  map[string]string
	kr       *sign.Keyring
	now      atomic.Int64
	finished atomic.Int64
	logs     *syncBuffer
	m        *metrics.Metrics
	client   *http.Client
}

type envOpts struct {
	env      map[string]string // overrides; "" removes the variable
	local    bool              // ADDRESS=file:// a temporary folder
	now      int64             // default testNow
	alistTok string            // fake AList's token; default TOKEN
	quietLog bool              // benchmarks: JSON access log to io.Discard
}

func newEnv(t testing.TB, o envOpts) *testEnv {
	t.Helper()
	e := &testEnv{t: t, logs: &syncBuffer{}}
	if o.now == 0 {
		o.now = testNow
	}
	e.now.Store(o.now)
	environ := map[string]string{
		"TOKEN":                testToken,
		"WORKER_ADDRESS":       testWorker,
		"CLIENT_IP_HEADER":     "CF-Connecting-IP",
		"TRUSTED_PROXIES":      "127.0.0.1/32,::1/128",
		"DB_MODE":              "sqlite",
		"SQLITE_PATH":          filepath.Join(t.TempDir(), "quota.db"),
		"UPSTREAM_RETRY_DELAY": "5ms",
		"LOG_LEVEL":            "debug",
	}
	if o.local {
		e.local = t.TempDir()
		environ["ADDRESS"] = "file://" + e.local
	}
	for k, v := range o.env {
		if v == "" {
			delete(environ, k)
		} else {
			environ[k] = v
		}
	}
	if !o.local {
		tok := o.alistTok
		if tok == "" {
			tok = environ["TOKEN"]
		}
		e.alist = alisttest.New(tok)
		t.Cleanup(e.alist.Close)
		if _, ok := o.env["ADDRESS"]; !ok {
			environ["ADDRESS"] = e.alist.URL
		}
	}
	e.environ = environ
	cfg, err := config.LoadProxy(environ)
	if err != nil {
		t.Fatal(err)
	}
	e.cfg = cfg
	e.kr = cfg.Parsed.Keyring
	qc := cfg.QuotaConfig()
	qc.Clock = e.clock
	qc.UsageFlushBytes = 1
	raw, err := quota.Open(context.Background(), cfg.QuotaDB(), qc, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = raw.Close(context.Background()) })
	e.store = &countingStore{Store: raw}
	e.m = metrics.New("proxy")
	logger := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if o.quietLog {
		logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	h, err := New(Options{Config: cfg, Store: e.store, Metrics: e.m, Now: e.clock, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	e.h = h
	e.srv = startPublic(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer e.finished.Add(1)
		h.ServeHTTP(w, r)
	}), nil)
	e.client = &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 16},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	t.Cleanup(e.client.CloseIdleConnections)
	return e
}

func (e *testEnv) clock() time.Time { return time.Unix(e.now.Load(), 0) }

// put stores a file in the origin under the decoded path p.
func (e *testEnv) put(p string, data []byte) {
	e.t.Helper()
	if e.local != "" {
		full := filepath.Join(e.local, filepath.FromSlash(strings.TrimPrefix(p, "/")))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			e.t.Fatal(err)
		}
		if err := os.WriteFile(full, data, 0o644); err != nil {
			e.t.Fatal(err)
		}
		mt := time.Unix(1700000000, 0)
		_ = os.Chtimes(full, mt, mt)
		return
	}
	e.alist.Put(p, &alisttest.File{Data: data, ModTime: time.Unix(1700000000, 0)})
}

// params signs decoded path p for ip the way the landing does.
func (e *testEnv) params(p, ip string, size int64) sign.Params {
	info := &sign.AdditionalInfo{PathHash: sign.PathHash(p), FileSize: size, ExpireTime: e.now.Load() + 3600}
	return e.kr.BuildParams(p, e.cfg.Parsed.WorkerAddr, ip, 0, info)
}

// uri is the request target (path + query) of a signed link for p.
func (e *testEnv) uri(p, ip string) string {
	return uriOf(p, e.params(p, ip, 1024))
}

func uriOf(p string, params sign.Params) string {
	return sign.DownloadURL("", (&url.URL{Path: p}).EscapedPath(), params)
}

type result struct {
	status int
	header http.Header
	body   []byte
	err    error // body read error
}

// do sends method to the proxy with the exact request target; ip goes in CF-Connecting-IP.
func (e *testEnv) do(method, target, ip string, hdr ...string) result {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+"/", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	path, query, _ := strings.Cut(target, "?")
	req.URL.Opaque = path // sent exactly as written
	req.URL.RawQuery = query
	if ip != "" {
		req.Header.Set("CF-Connecting-IP", ip)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, rerr := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, header: resp.Header, body: body, err: rerr}
}

func (e *testEnv) get(target string, hdr ...string) result {
	e.t.Helper()
	return e.do(http.MethodGet, target, testIP, hdr...)
}

// waitFinished waits until n requests have left the handler.
func (e *testEnv) waitFinished(n int64) {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for e.finished.Load() < n {
		if time.Now().After(deadline) {
			e.t.Fatalf("handler did not finish %d requests (finished %d)", n, e.finished.Load())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// waitCached waits until the link of p is in the cache (writes are asynchronous).
func (e *testEnv) waitCached(p string) {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		d, err := e.store.Store.Check(context.Background(), quota.CheckRequest{Scope: quota.ScopeLanding, Subnet: "probe",
			PathHash: sign.PathHash(p), WantLink: true, Now: e.clock()})
		if err == nil && d.Link != nil {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("link of %s never cached (err %v)", p, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func wantJSONError(t testing.TB, r result, status int, message string) {
	t.Helper()
	want := `{"code":` + strconv.Itoa(status) + `,"message":` + string(sign.AppendJSString(nil, message)) + `}`
	if r.status != status || string(r.body) != want {
		t.Fatalf("got %d %q, want %d %q", r.status, r.body, status, want)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json;charset=UTF-8" {
		t.Fatalf("content-type %q", ct)
	}
	if r.header.Get("Access-Control-Allow-Origin") == "" || r.header.Get("Vary") != "Origin" {
		t.Fatalf("CORS headers missing: %v", r.header)
	}
}

func writeFile(p, s string) error { return os.WriteFile(p, []byte(s), 0o644) }

func symlink(target, link string) error { return os.Symlink(target, link) }

func requestPathForTest(raw string) (string, string, error) { return sign.RequestPath(raw) }

// uriOfRaw keeps raw (an already encoded path) exactly as written.
func uriOfRaw(raw string, p sign.Params) string { return sign.DownloadURL("", raw, p) }

func counterValue(t testing.TB, c prometheus.Collector) float64 {
	t.Helper()
	ch := make(chan prometheus.Metric, 64)
	c.Collect(ch)
	close(ch)
	var sum float64
	for m := range ch {
		var d dto.Metric
		if err := m.Write(&d); err != nil {
			t.Fatal(err)
		}
		switch {
		case d.Counter != nil:
			sum += d.Counter.GetValue()
		case d.Gauge != nil:
			sum += d.Gauge.GetValue()
		}
	}
	return sum
}

func newTestCounter() prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{Name: "test_bytes"})
}

func quotaMeter(sink func(int64)) *quota.Meter { return quota.NewMeter(sink, 1, time.Hour) }

// testServer is the proxy's public listener in a test.
type testServer struct{ URL string }

// startPublic serves h on 127.0.0.1 with the production public server (server.PublicServer), the listener wrapped by wrap
// when set, until the test ends.
func startPublic(t testing.TB, h http.Handler, wrap func(net.Listener) net.Listener) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln = tcpacct.Listener(ln)
	if wrap != nil {
		ln = wrap(ln)
	}
	s := server.PublicServer(h, 0, 0, slog.New(slog.DiscardHandler))
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.Close(); <-done })
	return &testServer{URL: url}
}
