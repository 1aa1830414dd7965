package landing

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alist-edge/alist-edge/internal/alisttest"
	"github.com/alist-edge/alist-edge/internal/config"
	"github.com/alist-edge/alist-edge/internal/metrics"
	"github.com/alist-edge/alist-edge/internal/testutil"
	"github.com/alist-edge/alist-edge/pkg/quota"
	"github.com/alist-edge/alist-edge/pkg/sign"
)

const (
	testToken = "alist-token-0123456789abcdef"
	testNow   = 1761800000
	testIP    = "203.0.113.7"
)

// clock is a settable fake time shared by the service and the quota store.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// syncBuffer is a log sink shared by servers and the test.
type syncBuffer = testutil.SyncBuffer

// tenv is one landing on a real listener in front of a fake AList, with a real SQLite file.
type tenv struct {
	t       *testing.T
	srv     *httptest.Server
	svc     *Service
	alist   *alisttest.Server
	store   quota.Store
	clock   *clock
	cfg     *config.Landing
	env     map[string]string
	logs    *syncBuffer
	metrics *metrics.Metrics
}

type envOpt struct {
	noStore bool
	random  func() float64
	alist   *alisttest.Server
	now     int64
	setup   func(*Service) // runs before the listener starts (wrap the service's parts)
}

// baseEnv is the configuration every test starts from: the vectors' token and proxy, the
// client IP from CF-Connecting-IP sent by the test client (127.0.0.1, a trusted proxy).
func baseEnv(t *testing.T) map[string]string {
	return map[string]string{
		"TOKEN":                   testToken,
		"WORKER_ADDRESS_DOWNLOAD": "https://dl1.example.com",
		"CLIENT_IP_HEADER":        "CF-Connecting-IP",
		"TRUSTED_PROXIES":         "127.0.0.1/32,::1/128",
		"SQLITE_PATH":             filepath.Join(t.TempDir(), "edge.db"),
		"LOG_LEVEL":               "debug",
	}
}

func newEnv(t *testing.T, vars map[string]string, o envOpt) *tenv {
	t.Helper()
	e := &tenv{t: t, logs: &syncBuffer{}}
	if o.now == 0 {
		o.now = testNow
	}
	e.clock = &clock{t: time.Unix(o.now, 0)}
	e.alist = o.alist
	if e.alist == nil {
		e.alist = alisttest.New(testToken)
		t.Cleanup(e.alist.Close)
	}
	e.env = baseEnv(t)
	e.env["ADDRESS"] = e.alist.URL
	maps.Copy(e.env, vars)
	cfg, err := config.LoadLanding(e.env)
	if err != nil {
		t.Fatal(err)
	}
	e.cfg = cfg
	if !o.noStore {
		qc := cfg.QuotaConfig()
		qc.Clock = e.clock.Now
		qc.JanitorInterval = time.Hour
		st, err := quota.Open(context.Background(), cfg.QuotaDB(), qc, nil)
		if err != nil {
			t.Fatal(err)
		}
		e.store = st
		t.Cleanup(func() { _ = st.Close(context.Background()) })
	}
	e.metrics = metrics.New("landing")
	svc, err := New(Options{Config: cfg, Logger: slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Metrics: e.metrics, Store: e.store, Now: e.clock.Now, Random: o.random})
	if err != nil {
		t.Fatal(err)
	}
	if o.setup != nil {
		o.setup(svc)
	}
	e.svc = svc
	t.Cleanup(func() { _ = svc.Close() })
	e.srv = httptest.NewServer(svc)
	t.Cleanup(e.srv.Close)
	return e
}

// resp is a read answer.
type resp struct {
	status int
	header http.Header
	body   string
}

// jsonBody decodes an error or /info answer.
func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatalf("not JSON (%d): %q", r.status, r.body)
	}
	return m
}

func (r resp) message(t *testing.T) string {
	m, _ := r.json(t)["message"].(string)
	return m
}

func (r resp) infoURL(t *testing.T) string {
	t.Helper()
	var v struct {
		Code int `json:"code"`
		Data struct {
			Download struct {
				URL string `json:"url"`
			} `json:"download"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(r.body), &v); err != nil || v.Code != 200 {
		t.Fatalf("/info answered %d %s", r.status, r.body)
	}
	return v.Data.Download.URL
}

// req sends pathAndQuery byte for byte (no client-side cleaning or re-encoding) and never
// follows redirects. ip "" sends no CF-Connecting-IP.
func (e *tenv) req(method, pathAndQuery, ip string, hdr http.Header, body io.Reader) resp {
	e.t.Helper()
	return rawReq(e.t, e.srv.URL, method, pathAndQuery, ip, hdr, body)
}

// get is an API client's request (no Accept header): JSON errors, never the page.
func (e *tenv) get(pathAndQuery string) resp { return e.req("GET", pathAndQuery, testIP, nil, nil) }

// browse is a browser's navigation (Chromium's Accept): the page, and errors as pages.
func (e *tenv) browse(pathAndQuery string) resp {
	return e.req("GET", pathAndQuery, testIP, http.Header{"Accept": {acceptChromium}}, nil)
}

func rawReq(t *testing.T, base, method, pathAndQuery, ip string, hdr http.Header, body io.Reader) resp {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	p, q, _ := strings.Cut(pathAndQuery, "?")
	u.Opaque, u.RawQuery = p, q
	r, err := http.NewRequest(method, "http://placeholder/", body)
	if err != nil {
		t.Fatal(err)
	}
	r.URL = u
	r.Host = u.Host
	for k, vs := range hdr {
		r.Header[k] = vs
	}
	if ip != "" {
		r.Header.Set("CF-Connecting-IP", ip)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 20 * time.Second}
	res, err := c.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, header: res.Header, body: string(b)}
}

func (e *tenv) keyring() *sign.Keyring { return e.svc.sec.Load().kr }

// link is the landing path+query AList would hand out for the decoded path p.
func (e *tenv) link(p string) string { return SignedURL("", e.keyring(), p, 0) }

// infoLink is the /info request the page makes for the decoded path p.
func (e *tenv) infoLink(p string) string {
	return "/info?path=" + url.QueryEscape(EncodePath(p)) + "&sign=" + url.QueryEscape(e.keyring().Sign(p, 0))
}

var cfgRe = regexp.MustCompile(`const CFG = (\{.*\});\n`)

// pageConfig extracts the script's configuration from a page.
func pageCfg(t *testing.T, body string) pageConfig {
	t.Helper()
	m := cfgRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CFG in page:\n%s", body)
	}
	var c pageConfig
	if err := json.Unmarshal([]byte(m[1]), &c); err != nil {
		t.Fatalf("CFG: %v\n%s", err, m[1])
	}
	return c
}

// solve brute-forces an ALTCHA challenge like the page's worker and returns the payload.
func solve(t *testing.T, ch *Challenge) string {
	t.Helper()
	if ch == nil {
		t.Fatal("page has no proof-of-work challenge")
	}
	for n := 0; n <= ch.MaxNumber; n++ {
		sum := sha256.Sum256([]byte(ch.Salt + strconv.Itoa(n)))
		if hex.EncodeToString(sum[:]) == ch.Challenge {
			return payload(ch, int64(n))
		}
	}
	t.Fatal("challenge has no solution")
	return ""
}

func payload(ch *Challenge, n int64) string {
	b, _ := json.Marshal(Payload{Algorithm: ch.Algorithm, Challenge: ch.Challenge, Number: n, Salt: ch.Salt, Signature: ch.Signature, Took: 5})
	return base64.StdEncoding.EncodeToString(b)
}

// postInfo submits bot-check answers to /info as the page does.
func (e *tenv) postInfo(p, ip string, form url.Values) resp {
	e.t.Helper()
	return e.req("POST", e.infoLink(p), ip, http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, strings.NewReader(form.Encode()))
}

// decodeAdditional reads additionalInfo out of a download URL.
func decodeAdditional(t *testing.T, raw string) sign.AdditionalInfo {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	info, err := sign.DecodeAdditionalInfo(u.Query().Get("additionalInfo"))
	if err != nil {
		t.Fatalf("additionalInfo of %s: %v", raw, err)
	}
	return info
}
