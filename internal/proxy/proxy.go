// Package proxy is the download proxy (docs/contract.md §5–§9): every GET/HEAD path is a file, checked in
// a fixed order (IPv4-only, preflight, method, path, IP lists, path policy, signature chain,
// the one database round trip) and then streamed from AList's upstream link or a local folder.
// A refused request costs no database write and no upstream call.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"sync/atomic"
	"time"

	"github.com/alist-edge/alist-edge/internal/alist"
	"github.com/alist-edge/alist-edge/internal/clientip"
	"github.com/alist-edge/alist-edge/internal/config"
	"github.com/alist-edge/alist-edge/internal/metrics"
	"github.com/alist-edge/alist-edge/internal/origin"
	"github.com/alist-edge/alist-edge/internal/pipeline"
	"github.com/alist-edge/alist-edge/pkg/quota"
	"github.com/alist-edge/alist-edge/pkg/sign"
	"github.com/prometheus/client_golang/prometheus"
)

// Options wire a Handler.
type Options struct {
	Config  *config.Proxy
	Store   quota.Store
	Logger  *slog.Logger
	Metrics *metrics.Metrics
	// Now is the clock of the signature and quota checks (tests fix it); default time.Now.
	Now func() time.Time
	// Transport reaches AList and the upstream links; default origin.NewUpstream from the
	// configuration's UPSTREAM_* timeouts and Environ's proxy variables.
	Transport http.RoundTripper
	// Environ supplies HTTPS_PROXY/HTTP_PROXY/ALL_PROXY/NO_PROXY for the default transport.
	Environ map[string]string
}

// Handler is the proxy's public http.Handler.
type Handler struct {
	store     quota.Store
	log       *slog.Logger
	m         *metrics.Metrics
	now       func() time.Time
	transport http.RoundTripper
	local     *origin.Local
	state     atomic.Pointer[state]
	pipe      *pipeline.Pipeline

	// Metric children of the hot path, resolved once.
	linkHit, linkMiss prometheus.Counter
}

// state is everything a reload may replace; requests load it once and keep their copy, so a
// reload never changes the rules in the middle of a request or drops a stream.
type state struct {
	cfg     *config.Proxy
	policy  *metrics.PolicyCounters // the decision counters of cfg's policy
	self    string                  // origin of WORKER_ADDRESS; "" when unset
	alist   *alist.Client
	fetcher *origin.Fetcher
}

// New builds the handler. The Store is owned by the caller (it outlives the handler on
// shutdown: usage is flushed after the last stream).
func New(o Options) (*Handler, error) {
	if o.Config == nil || o.Store == nil {
		return nil, errors.New("proxy: Config and Store are required")
	}
	h := &Handler{store: o.Store, log: o.Logger, m: o.Metrics, now: o.Now, transport: o.Transport}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.m == nil {
		h.m = metrics.New("proxy")
	}
	if h.now == nil {
		h.now = time.Now
	}
	h.linkHit, h.linkMiss = h.m.LinkCache.WithLabelValues("hit"), h.m.LinkCache.WithLabelValues("miss")
	cfg := o.Config
	if h.transport == nil {
		pf, err := origin.ProxyFromEnviron(o.Environ)
		if err != nil {
			return nil, err
		}
		h.transport = origin.NewUpstream(origin.Options{ConnectTimeout: cfg.UpstreamConnectTimeout,
			TLSTimeout: cfg.UpstreamTLSTimeout, HeaderTimeout: cfg.UpstreamHeaderTimeout, Proxy: pf})
	}
	if cfg.Parsed.LocalRoot != "" {
		l, err := origin.OpenLocal(cfg.Parsed.LocalRoot)
		if err != nil {
			return nil, fmt.Errorf("ADDRESS=%q: %w", cfg.Address, err)
		}
		h.local = l
	}
	st, err := h.newState(cfg)
	if err != nil {
		if h.local != nil {
			h.local.Close()
		}
		return nil, err
	}
	h.state.Store(st)
	h.pipe = (&pipeline.Pipeline{Log: h.log, Metrics: h.m, Handle: h.handle,
		Client: func(r *http.Request) (clientip.Client, int, int) {
			cfg := h.state.Load().cfg
			return cfg.Parsed.ClientIP.Extract(r), cfg.IPv4Suffix, cfg.IPv6Suffix
		}}).Init()
	return h, nil
}

func (h *Handler) newState(cfg *config.Proxy) (*state, error) {
	st := &state{cfg: cfg, policy: h.m.PolicyCounters(cfg.Parsed.Policy)}
	if cfg.Parsed.WorkerAddr != "" {
		o, err := sign.Origin(cfg.Parsed.WorkerAddr)
		if err != nil {
			return nil, fmt.Errorf("WORKER_ADDRESS=%q: %v", cfg.WorkerAddress, err)
		}
		st.self = o
	}
	if cfg.Parsed.AlistURL != "" {
		st.alist = &alist.Client{BaseURL: cfg.Parsed.AlistURL, Token: cfg.Token, VerifyHeaders: cfg.Parsed.VerifyHeaders,
			HTTP: &http.Client{Transport: h.transport, CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			}},
			Observe: func(endpoint string, d time.Duration) {
				h.m.AlistDuration.WithLabelValues(endpoint).Observe(d.Seconds())
			}}
	}
	st.fetcher = &origin.Fetcher{Transport: h.transport, Retries: cfg.UpstreamRetries, RetryDelay: cfg.UpstreamRetryDelay,
		IdleTimeout: cfg.UpstreamIdleTimeout, MaxRedirects: cfg.MaxRedirects, Report: h.store.ReportUpstream,
		OnRetry: h.m.UpstreamRetries.Inc, OnTTFB: func(d time.Duration) { h.m.UpstreamTTFB.Observe(d.Seconds()) }}
	return st, nil
}

// restartOnly are the settings a reload cannot change (listeners, database, limits held by the
// open store, the transport's timeouts, the origin).
var restartOnly = []struct {
	name string
	get  func(c *config.Proxy) any
}{
	{"ADDRESS (origin kind or folder)", func(c *config.Proxy) any { return [2]any{c.Parsed.LocalRoot, c.Parsed.AlistURL == ""} }},
	{"LISTEN_ADDR", func(c *config.Proxy) any { return c.ListenAddr }},
	{"ADMIN_ADDR", func(c *config.Proxy) any { return c.AdminAddr }},
	{"ADMIN_TOKEN", func(c *config.Proxy) any { return c.AdminToken }},
	{"DB_MODE/SQLITE_PATH/DATABASE_URL", func(c *config.Proxy) any { return c.QuotaDB() }},
	{"rate, quota, link cache, throttle and ban limits", func(c *config.Proxy) any { return fmt.Sprintf("%+v", c.QuotaConfig()) }},
	{"UPSTREAM_CONNECT_TIMEOUT/UPSTREAM_TLS_TIMEOUT/UPSTREAM_HEADER_TIMEOUT", func(c *config.Proxy) any {
		return [3]time.Duration{c.UpstreamConnectTimeout, c.UpstreamTLSTimeout, c.UpstreamHeaderTimeout}
	}},
	{"LOG_LEVEL/LOG_FORMAT", func(c *config.Proxy) any { return [2]string{c.LogLevel, c.LogFormat} }},
	{"TLS_CERT_FILE/TLS_KEY_FILE/UNIX_SOCKET", func(c *config.Proxy) any { return [3]string{c.TLSCertFile, c.TLSKeyFile, c.UnixSocket} }},
}

// Reload re-reads the configuration from environ and swaps in the new keys, policy, checks,
// client-IP rules, IP lists, AList address/token and upstream retry settings atomically;
// requests in flight finish with the rules they started with. An invalid configuration is
// returned and the running one stays. Settings that need a restart keep their running values
// and are returned by name (the runner logs them).
func (h *Handler) Reload(environ map[string]string) (needRestart []string, err error) {
	cfg, err := config.LoadProxy(environ)
	if err != nil {
		return nil, err
	}
	old := h.state.Load().cfg
	if (cfg.Parsed.LocalRoot == "") != (old.Parsed.LocalRoot == "") || cfg.Parsed.LocalRoot != old.Parsed.LocalRoot {
		return nil, errors.New("ADDRESS changed between AList and a local folder (or to another folder); restart to apply")
	}
	for _, ro := range restartOnly {
		if !reflect.DeepEqual(ro.get(cfg), ro.get(old)) {
			needRestart = append(needRestart, ro.name)
		}
	}
	st, err := h.newState(cfg)
	if err != nil {
		return nil, err
	}
	h.state.Store(st)
	return needRestart, nil
}

// Ready is the /readyz check: the database can commit (quota.Store.Ping).
func (h *Handler) Ready(ctx context.Context) error { return h.store.Ping(ctx) }

// Close releases the local folder and idle upstream connections (not the Store).
func (h *Handler) Close() error {
	if t, ok := h.transport.(interface{ CloseIdleConnections() }); ok {
		t.CloseIdleConnections()
	}
	if h.local != nil {
		return h.local.Close()
	}
	return nil
}

// ServeHTTP serves through the pipeline both services share (internal/pipeline): request ID,
// client IP, errors as JSON or the page, one access line and the metrics.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.pipe.ServeHTTP(w, r) }

// handle is one download: the checks, then the origin. The configuration is loaded once and
// kept for the whole request (a self-redirect included), so a reload never changes the rules in
// the middle of one.
func (h *Handler) handle(x *pipeline.Exchange, r *http.Request) error {
	st := h.state.Load()
	rq := &request{Exchange: x, redirects: st.cfg.MaxRedirects,
		w: &meterWriter{ResponseWriter: x.W, base: x.W, bytesMetric: h.m.BytesStreamed, ctx: r.Context()}}
	err := h.serve(rq, r, st)
	if errors.Is(err, errQuotaReached) {
		return &pipeline.Abort{Reason: reasonQuotaReached, Err: err}
	}
	return err
}
