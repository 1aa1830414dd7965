// Package hostile holds the gateway's hostile-input corpus and fault tests (project issue #8):
// raw, often malformed requests sent over a real TCP connection to the real handlers, and the
// failures of the database, AList and the upstream that a public download gateway meets.
package hostile

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alist-edge/alist-edge/internal/alisttest"
	"github.com/alist-edge/alist-edge/internal/config"
	"github.com/alist-edge/alist-edge/internal/landing"
	"github.com/alist-edge/alist-edge/internal/proxy"
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

// countingStore decorates a real quota.Store and counts every call that reads or writes the
// database. RecordFailure is counted apart: docs/contract.md §5 lets refusals be counted in memory for
// auto-ban (flushed in batches), so it is not a per-request database write.
type countingStore struct {
	quota.Store
	checks, saveLink, saveSize, report, invalidate, meters, nonces, failures atomic.Int64
	usage                                                                    testutil.Meters
	fail                                                                     atomic.Pointer[error]
}

func (c *countingStore) Check(ctx context.Context, req quota.CheckRequest) (quota.Decision, error) {
	c.checks.Add(1)
	if e := c.fail.Load(); e != nil {
		return quota.Decision{}, *e
	}
	return c.Store.Check(ctx, req)
}
func (c *countingStore) SaveLink(ph string, l quota.Link) { c.saveLink.Add(1); c.Store.SaveLink(ph, l) }
func (c *countingStore) SaveSize(ph string, n int64)      { c.saveSize.Add(1); c.Store.SaveSize(ph, n) }
func (c *countingStore) ReportUpstream(host string, st int) {
	c.report.Add(1)
	c.Store.ReportUpstream(host, st)
}
func (c *countingStore) InvalidateLink(ph string) { c.invalidate.Add(1); c.Store.InvalidateLink(ph) }
func (c *countingStore) RecordFailure(s quota.Scope, subnet string) {
	c.failures.Add(1)
	c.Store.RecordFailure(s, subnet)
}
func (c *countingStore) UseNonce(ctx context.Context, n string, exp time.Time) (bool, error) {
	c.nonces.Add(1)
	return c.Store.UseNonce(ctx, n, exp)
}
func (c *countingStore) Meter(req quota.CheckRequest, d quota.Decision) *quota.Meter {
	c.meters.Add(1)
	return c.usage.Track(c.Store.Meter(req, d))
}

// touches is every database access except the in-memory failure count.
func (c *countingStore) touches() int64 {
	return c.checks.Load() + c.saveLink.Load() + c.saveSize.Load() + c.report.Load() + c.invalidate.Load() +
		c.meters.Load() + c.nonces.Load()
}

// writes is every call that changes stored state outside the check itself.
func (c *countingStore) writes() int64 {
	return c.saveLink.Load() + c.saveSize.Load() + c.report.Load() + c.invalidate.Load() + c.meters.Load() + c.nonces.Load()
}

// svc is one service under test behind a real listener configured like internal/server's
// public listener (64 KiB header limit).
type svc struct {
	name   string
	url    string
	addr   string
	alist  *alisttest.Server // nil for a local folder
	local  string
	store  *countingStore
	kr     *sign.Keyring
	cfg    *config.Proxy
	ph     *proxy.Handler
	panics atomic.Int64
	errLog *syncBuffer
	client *http.Client // landing's AList client
	now    atomic.Int64 // the services' clock (Unix seconds)
	logs   *syncBuffer  // the proxy's log (JSON, access lines included)
}

func (s *svc) clock() time.Time {
	if n := s.now.Load(); n != 0 {
		return time.Unix(n, 0)
	}
	return time.Unix(testNow, 0)
}

// syncBuffer is a log sink shared by servers and the test.
type syncBuffer = testutil.SyncBuffer

// serve starts h on a loopback listener like the production public server and records every panic other than http.ErrAbortHandler (the
// deliberate abort of a failed stream).
func (s *svc) serve(t testing.TB, h http.Handler) {
	s.errLog = &syncBuffer{}
	recorded := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v != http.ErrAbortHandler {
					s.panics.Add(1)
					fmt.Fprintf(s.errLog, "PANIC %v\n", v)
				}
				panic(v)
			}
		}()
		h.ServeHTTP(w, r)
	})
	srv := httptest.NewUnstartedServer(recorded)
	srv.Config.MaxHeaderBytes = 64 << 10
	srv.Config.ReadHeaderTimeout = 10 * time.Second
	srv.Config.ErrorLog = log.New(s.errLog, "", 0)
	srv.Start()
	s.url = srv.URL
	s.addr = srv.Listener.Addr().String()
	t.Cleanup(srv.Close)
}

func openStore(t testing.TB, db quota.DB, qc quota.Config) *countingStore {
	t.Helper()
	raw, err := quota.Open(context.Background(), db, qc, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = raw.Close(context.Background()) })
	return &countingStore{Store: raw}
}

// newProxy starts a proxy in front of a fresh fake AList (local: a folder) with env overrides
// ("" removes a variable).
func newProxy(t testing.TB, name string, local bool, env map[string]string) *svc {
	t.Helper()
	s := &svc{name: name, logs: &syncBuffer{}}
	environ := map[string]string{
		"TOKEN":                testToken,
		"WORKER_ADDRESS":       testWorker,
		"CLIENT_IP_HEADER":     "CF-Connecting-IP",
		"TRUSTED_PROXIES":      "127.0.0.1/32,::1/128",
		"DB_MODE":              "sqlite",
		"SQLITE_PATH":          filepath.Join(t.TempDir(), "quota.db"),
		"UPSTREAM_RETRY_DELAY": "5ms",
		"LOG_LEVEL":            "error",
	}
	if local {
		s.local = t.TempDir()
		environ["ADDRESS"] = "file://" + s.local
	} else {
		s.alist = alisttest.New(testToken)
		t.Cleanup(s.alist.Close)
		environ["ADDRESS"] = s.alist.URL
	}
	for k, v := range env {
		if v == "" {
			delete(environ, k)
		} else {
			environ[k] = v
		}
	}
	cfg, err := config.LoadProxy(environ)
	if err != nil {
		t.Fatal(err)
	}
	s.cfg, s.kr = cfg, cfg.Parsed.Keyring
	qc := cfg.QuotaConfig()
	qc.Clock = s.clock
	qc.UsageFlushBytes = 1
	s.store = openStore(t, cfg.QuotaDB(), qc)
	logger := slog.New(slog.NewJSONHandler(s.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h, err := proxy.New(proxy.Options{Config: cfg, Store: s.store, Now: s.clock, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	s.ph = h
	s.serve(t, h)
	return s
}

// newLanding starts a landing in front of its own fake AList.
func newLanding(t testing.TB, env map[string]string) *svc {
	t.Helper()
	s := &svc{name: "landing", alist: alisttest.New(testToken), logs: &syncBuffer{}}
	t.Cleanup(s.alist.Close)
	environ := map[string]string{
		"TOKEN":                   testToken,
		"ADDRESS":                 s.alist.URL,
		"WORKER_ADDRESS_DOWNLOAD": testWorker,
		"CLIENT_IP_HEADER":        "CF-Connecting-IP",
		"TRUSTED_PROXIES":         "127.0.0.1/32,::1/128",
		"SQLITE_PATH":             filepath.Join(t.TempDir(), "edge.db"),
		"FAST_REDIRECT":           "true",
		"LOG_LEVEL":               "error",
	}
	for k, v := range env {
		environ[k] = v
	}
	cfg, err := config.LoadLanding(environ)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := sign.NewKeyring(environ["SIGN_SECRET"], testToken)
	if err != nil {
		t.Fatal(err)
	}
	s.kr = kr
	s.store = openStore(t, cfg.QuotaDB(), cfg.QuotaConfig())
	s.client = &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
	logger := slog.New(slog.NewJSONHandler(s.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ls, err := landing.New(landing.Options{Config: cfg, Store: s.store, Now: s.clock, HTTPClient: s.client, Logger: logger,
		Random: func() float64 { return 0 }})
	if err != nil {
		t.Fatal(err)
	}
	s.serve(t, ls)
	return s
}

// put adds a file at decoded path p to the service's origin.
func (s *svc) put(t testing.TB, p string, data []byte) {
	t.Helper()
	if s.local != "" {
		full := filepath.Join(s.local, filepath.FromSlash(strings.TrimPrefix(p, "/")))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	s.alist.Put(p, &alisttest.File{Data: data, ModTime: time.Unix(1700000000, 0)})
}

func (s *svc) upstreamCalls() int64 {
	if s.alist == nil {
		return 0
	}
	return s.alist.TotalCalls()
}

// closeIdle drops pooled connections so goroutine and descriptor counts can be compared.
func (s *svc) closeIdle() {
	if s.ph != nil && s.local == "" {
		_ = s.ph.Close()
	}
	if s.client != nil {
		s.client.CloseIdleConnections()
	}
}

// ---- request expansion -------------------------------------------------------------------

// expand replaces the corpus placeholders (a placeholder ends where its braces balance, so
// JSON objects and nested placeholders may appear inside):
//
//	{{Q}} / {{Q:/p}}            the six valid parameters for decoded path p (default /ok.txt)
//	{{Q4}} / {{Q4:/p}}          sign, hashSign, workerSign, ipSign only
//	{{INFO:json}}               Q4 for /ok.txt + additionalInfo = unpadded base64 of json
//	                            (PH = sha256 of /ok.txt, EXP = now+3600) with a valid MAC
//	{{INFORAW:text}}            Q4 + additionalInfo = text as given (query-escaped) with a valid MAC
//	{{SIG:data|expire}}         a valid signature value of data (query-escaped)
//	{{LSIGN}} / {{LSIGN:/p}}    the landing's valid AList sign for p
//	{{REP:n|text}}              text repeated n times
//	{{HEX:hex}}                 raw bytes
//	{{OUTSIDE}}                 the name of a file beside the local origin's folder
func (s *svc) expand(in string) string {
	var b strings.Builder
	for {
		i := strings.Index(in, "{{")
		if i < 0 {
			b.WriteString(in)
			return b.String()
		}
		b.WriteString(in[:i])
		depth, j := 0, i
	scan:
		for ; j < len(in); j++ {
			switch in[j] {
			case '{':
				depth++
			case '}':
				depth--
				if depth == 0 {
					break scan
				}
			}
		}
		if j >= len(in) {
			panic("unbalanced placeholder in " + in)
		}
		b.WriteString(s.token(in[i+2 : j-1]))
		in = in[j+1:]
	}
}

func (s *svc) token(tok string) string {
	name, arg, _ := strings.Cut(tok, ":")
	m := "{{" + tok + "}}"
	{
		switch name {
		case "Q", "Q4":
			p := arg
			if p == "" {
				p = "/ok.txt"
			}
			var info *sign.AdditionalInfo
			if name == "Q" {
				info = &sign.AdditionalInfo{PathHash: sign.PathHash(p), FileSize: 1024, ExpireTime: testNow + 3600}
			}
			q := sign.DownloadURL("", "", s.kr.BuildParams(p, testWorker, testIP, 0, info))
			return strings.TrimPrefix(q, "?")
		case "INFO", "INFORAW":
			p := "/ok.txt"
			q := strings.TrimPrefix(sign.DownloadURL("", "", s.kr.BuildParams(p, testWorker, testIP, 0, nil)), "?")
			v := arg
			if name == "INFO" {
				v = strings.NewReplacer("PH", sign.PathHash(p), "EXP", strconv.Itoa(testNow+3600)).Replace(v)
				v = base64.RawStdEncoding.EncodeToString([]byte(v))
			} else {
				v = s.expand(v)
			}
			return q + "&additionalInfo=" + url.QueryEscape(v) + "&additionalInfoSign=" + url.QueryEscape(s.kr.Sign(v, 0))
		case "SIG":
			data, exp, _ := strings.Cut(arg, "|")
			e, _ := strconv.ParseInt(exp, 10, 64)
			return url.QueryEscape(s.kr.Sign(data, e))
		case "LSIGN":
			p := arg
			if p == "" {
				p = "/ok.txt"
			}
			return url.QueryEscape(s.kr.Sign(p, 0))
		case "REP":
			n, text, _ := strings.Cut(arg, "|")
			k, _ := strconv.Atoi(n)
			return strings.Repeat(text, k)
		case "OUTSIDE":
			return filepath.Base(s.local) + "-outside.txt"
		case "HEX":
			b, err := hex.DecodeString(arg)
			if err != nil {
				panic("bad HEX token " + arg)
			}
			return string(b)
		}
		panic("unknown token " + m)
	}
}

// ---- raw transport -----------------------------------------------------------------------

type rawResult struct {
	status int
	header http.Header
	body   []byte
	err    error // connection or body error
	plain  bool  // not the JSON error shape
}

// sendRaw writes req to addr as is and reads one response (the request asks for
// Connection: close, so EOF means the server finished with it).
func sendRaw(addr string, req []byte, head bool) rawResult {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return rawResult{err: err}
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(req); err != nil {
		// The server may answer and close before reading a huge request; read what came.
		_ = err
	}
	br := bufio.NewReader(c)
	var hreq *http.Request
	if head {
		hreq = &http.Request{Method: http.MethodHead}
	}
	resp, err := http.ReadResponse(br, hreq)
	if err != nil {
		return rawResult{err: err}
	}
	body, berr := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	resp.Body.Close()
	_, _ = io.Copy(io.Discard, br) // wait for the close: the handler has finished
	return rawResult{status: resp.StatusCode, header: resp.Header, body: body, err: berr,
		plain: !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json")}
}

// ---- leak accounting ---------------------------------------------------------------------

func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// settle waits until the goroutine and descriptor counts are at most the baseline (plus
// slack), returning the last counts seen.
func settle(baseG, baseFD, slack int, d time.Duration, before func()) (int, int) {
	deadline := time.Now().Add(d)
	for {
		if before != nil {
			before()
		}
		runtime.GC()
		g, fd := runtime.NumGoroutine(), openFDs()
		if (g <= baseG+slack && fd <= baseFD+slack) || time.Now().After(deadline) {
			return g, fd
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func stacks() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}
