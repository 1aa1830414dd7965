package upload

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/alist-edge/alist-edge/internal/config"
	"github.com/alist-edge/alist-edge/internal/metrics"
	"github.com/alist-edge/alist-edge/internal/testpg"
	"github.com/alist-edge/alist-edge/internal/testutil"
	"github.com/alist-edge/alist-edge/pkg/quota"
)

const testSecret = "5f0c7e1d2b9a48c3a6e4d1f09b7c3e21"

// clock is a settable time shared by the service and the store.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is one service under test: a real SQLite file (or Postgres), a real folder, a real listener.
type env struct {
	t     testing.TB
	svc   *Service
	srv   *httptest.Server
	dir   string
	clk   *clock
	m     *metrics.Metrics
	log   *testutil.SyncBuffer
	store quota.Store
}

type envOpt struct {
	vars     map[string]string // environment over the defaults below
	postgres bool
	free     func() (int64, error)
}

func newEnv(t testing.TB, o envOpt) *env {
	t.Helper()
	dir := t.TempDir()
	vars := map[string]string{"UPLOAD_DIR": filepath.Join(dir, "files"), "UPLOAD_SECRET": testSecret,
		"SQLITE_PATH": filepath.Join(dir, "db", "q.db"), "UPLOAD_MIN_FREE": "0"}
	if o.postgres {
		vars["DB_MODE"], vars["DATABASE_URL"] = "postgres", testpg.URL(t)
	}
	for k, v := range o.vars {
		vars[k] = v
	}
	cfg, err := config.LoadUpload(vars)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	qc := cfg.QuotaConfig()
	qc.Clock = clk.Now
	ctx := context.Background()
	st, err := quota.Open(ctx, cfg.QuotaDB(), qc, nil)
	if err != nil {
		t.Fatal(err)
	}
	logBuf := &testutil.SyncBuffer{}
	m := metrics.New("upload")
	svc, err := New(Options{Config: cfg, Store: st, Logger: slog.New(slog.NewJSONHandler(logBuf, nil)), Metrics: m,
		Clock: clk.Now, JanitorInterval: time.Hour, FreeSpace: o.free})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc)
	t.Cleanup(func() {
		srv.Close()
		_ = svc.Close()
		_ = st.Close(ctx)
	})
	return &env{t: t, svc: svc, srv: srv, dir: cfg.Dir, clk: clk, m: m, log: logBuf, store: st}
}

// mac is the lowercase hex HMAC-SHA256 of msg.
func mac(secret, msg string) string {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(msg))
	return hex.EncodeToString(h.Sum(nil))
}

// escapePath percent-encodes each segment the way Prosody builds the URL (http.urlencode).
func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// v1URL, v2URL, tokenURL are the slot URLs each protocol hands a client.
func (e *env) v1URL(p string, size int) string {
	return e.srv.URL + "/upload/" + escapePath(p) + "?v=" + mac(testSecret, p+" "+strconv.Itoa(size))
}

func (e *env) v2URL(param, p string, size int, ct string) string {
	return e.srv.URL + "/upload/" + escapePath(p) + "?" + param + "=" + mac(testSecret, p+"\x00"+strconv.Itoa(size)+"\x00"+ct)
}

// fileShareToken is what mod_http_file_share's get_authz signs.
func fileShareToken(secret, slot, name string, size int, ct string, now time.Time, exp time.Duration) string {
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": "romeo@localhost", "iat": now.Unix(), "exp": now.Add(exp).Unix(),
		"slot": slot, "expires": now.Add(7 * 24 * time.Hour).Unix(),
		"filename": name, "filesize": size, "filetype": ct,
	})
	s, err := tok.SignedString([]byte(secret))
	if err != nil {
		panic(err)
	}
	return s
}

// put sends body to u with the headers given as name, value pairs.
func (e *env) put(u string, body []byte, hdr ...string) *http.Response {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPut, u, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return e.do(req)
}

func (e *env) do(req *http.Request) *http.Response {
	e.t.Helper()
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp
}

func (e *env) get(p string, hdr ...string) (*http.Response, []byte) {
	e.t.Helper()
	return e.request(http.MethodGet, p, hdr...)
}

func (e *env) request(method, p string, hdr ...string) (*http.Response, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+"/upload/"+escapePath(p), nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp := e.do(req)
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// body is n deterministic bytes.
func body(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}
