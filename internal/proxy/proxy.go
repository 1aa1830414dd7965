// Package proxy is the download proxy (docs/contract.md §5–§9): every GET/HEAD path is a file, checked in
// a fixed order (IPv4-only, preflight, method, path, IP lists, path policy, signature chain,
// the one database round trip) and then streamed from AList's upstream link or a local folder.
// A refused request costs no database write and no upstream call.
package proxy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/alist-edge/alist-edge/internal/alist"
	"github.com/alist-edge/alist-edge/internal/clientip"
	"github.com/alist-edge/alist-edge/internal/config"
	"github.com/alist-edge/alist-edge/internal/httpx"
	"github.com/alist-edge/alist-edge/internal/logx"
	"github.com/alist-edge/alist-edge/internal/metrics"
	"github.com/alist-edge/alist-edge/internal/origin"
	"github.com/alist-edge/alist-edge/internal/webpage"
	"github.com/alist-edge/alist-edge/pkg/policy"
	"github.com/alist-edge/alist-edge/pkg/quota"
	"github.com/alist-edge/alist-edge/pkg/sign"
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

	idPrefix string
	seq      atomic.Uint64

	// Metric children of the hot path, resolved once.
	served            prometheus.Counter
	classes           [6]prometheus.Counter // by status / 100
	linkHit, linkMiss prometheus.Counter
}

// state is everything a reload may replace; requests load it once and keep their copy, so a
// reload never changes the rules in the middle of a request or drops a stream.
type state struct {
	cfg     *config.Proxy
	self    string // origin of WORKER_ADDRESS; "" when unset
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
	h.served = h.m.Requests.WithLabelValues("served", "")
	for i := 1; i < len(h.classes); i++ {
		h.classes[i] = h.m.Responses.WithLabelValues(metrics.StatusClass(i * 100))
	}
	h.linkHit, h.linkMiss = h.m.LinkCache.WithLabelValues("hit"), h.m.LinkCache.WithLabelValues("miss")
	var rb [4]byte
	_, _ = rand.Read(rb[:])
	h.idPrefix = hex.EncodeToString(rb[:]) + "-"
	cfg := o.Config
	if h.transport == nil {
		pf, err := origin.ProxyFromEnviron(o.Environ)
		if err != nil {
			return nil, err
		}
		h.transport = origin.NewUpstream(origin.Options{ConnectTimeout: cfg.UpstreamConnectTimeout,
			TLSTimeout: cfg.UpstreamTLSTimeout, HeaderTimeout: cfg.UpstreamHeaderTimeout, Proxy: pf})
	}
	if cfg.D.LocalRoot != "" {
		l, err := origin.OpenLocal(cfg.D.LocalRoot)
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
	return h, nil
}

func (h *Handler) newState(cfg *config.Proxy) (*state, error) {
	st := &state{cfg: cfg}
	if cfg.D.WorkerAddr != "" {
		o, err := sign.Origin(cfg.D.WorkerAddr)
		if err != nil {
			return nil, fmt.Errorf("WORKER_ADDRESS=%q: %v", cfg.WorkerAddress, err)
		}
		st.self = o
	}
	if cfg.D.AlistURL != "" {
		st.alist = &alist.Client{BaseURL: cfg.D.AlistURL, Token: cfg.Token, VerifyHeaders: cfg.D.VerifyHeaders,
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
	{"ADDRESS (origin kind or folder)", func(c *config.Proxy) any { return [2]any{c.D.LocalRoot, c.D.AlistURL == ""} }},
	{"LISTEN_ADDR", func(c *config.Proxy) any { return c.ListenAddr }},
	{"ADMIN_ADDR", func(c *config.Proxy) any { return c.AdminAddr }},
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
// logged and returned and the running one stays. Settings that need a restart keep their
// running values and are named in a warning.
func (h *Handler) Reload(environ map[string]string) error {
	cfg, err := config.LoadProxy(environ)
	if err != nil {
		h.log.Error("reload: invalid configuration; keeping the running one", "err", err)
		return err
	}
	old := h.state.Load().cfg
	if (cfg.D.LocalRoot == "") != (old.D.LocalRoot == "") || cfg.D.LocalRoot != old.D.LocalRoot {
		err := errors.New("reload: ADDRESS changed between AList and a local folder (or to another folder); restart to apply")
		h.log.Error("reload refused; keeping the running configuration", "err", err)
		return err
	}
	var ignored []string
	for _, ro := range restartOnly {
		if !reflect.DeepEqual(ro.get(cfg), ro.get(old)) {
			ignored = append(ignored, ro.name)
		}
	}
	st, err := h.newState(cfg)
	if err != nil {
		h.log.Error("reload: invalid configuration; keeping the running one", "err", err)
		return err
	}
	h.state.Store(st)
	if len(ignored) > 0 {
		h.log.Warn("reload: these settings changed but need a restart; running values kept", "settings", strings.Join(ignored, "; "))
	}
	h.log.Info("configuration reloaded", "keys", cfg.D.Keyring.Len())
	return nil
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

// Refusals of the checks (docs/contract.md §5), as answered.
var (
	errIPv6       = &httpx.Error{Status: http.StatusForbidden, Reason: "ipv6", Message: "ipv6 access is prohibited"}
	errMethod     = &httpx.Error{Status: http.StatusMethodNotAllowed, Reason: "method", Message: "method not allowed"}
	errPath       = &httpx.Error{Status: http.StatusBadRequest, Reason: "path", Message: sign.ErrPathEncoding.Message}
	errIPList     = &httpx.Error{Status: http.StatusForbidden, Reason: "ip_list", Message: "access denied"}
	errPolicy     = &httpx.Error{Status: http.StatusForbidden, Reason: "policy", Message: "access denied"}
	errDB         = &httpx.Error{Status: http.StatusInternalServerError, Reason: "db_error", Message: "database unavailable"}
	errNotFound   = &httpx.Error{Status: http.StatusNotFound, Reason: "not_found", Message: "object not found"}
	errForbidden  = &httpx.Error{Status: http.StatusForbidden, Reason: "forbidden", Message: "access denied"}
	errClientGone = errors.New("client went away")
	// errAborted: the upstream failed after the answer's headers went out.
	errAborted = errors.New("upstream failed mid-stream")
)

// Outcomes of a request that did not end as planned, as the access line and the metrics name
// them. One rule decides between them (see outcomeOf): a client that left (its context ended or
// a write to it failed) is never an upstream error, whatever the upstream did meanwhile.
const (
	reasonClientGone      = "client_gone"      // logged with status 499 (nginx's "client closed request")
	reasonUpstreamAborted = "upstream_aborted" // the upstream failed after the headers went out
	reasonQuotaReached    = "quota_reached"    // a stream of unknown length was cut at its subnet's quota
	statusClientGone      = 499
)

// request is the per-request bookkeeping, kept in one allocation with the counting writer.
type request struct {
	countingWriter
	id        string
	client    clientip.Client
	subnet    string
	reason    string // stable reason code (metrics)
	message   string // the answer's message
	denied    bool
	err       error
	redirects int // budget left for upstream and self redirects
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	st := h.state.Load()
	rq := &request{countingWriter: countingWriter{ResponseWriter: w, bytesMetric: h.m.BytesStreamed}}
	rq.id = h.newID()
	rq.client = st.cfg.D.ClientIP.Extract(r)
	rq.subnet = subnetOf(rq.client, st.cfg)
	rq.redirects = st.cfg.MaxRedirects
	defer h.finish(rq, r, start)

	err := h.serve(rq, r, st)
	if rq.clientGone(r, err) {
		// Routine: downloads get cancelled all the time. Not an error and not a denial.
		rq.err, rq.status, rq.reason = nil, statusClientGone, reasonClientGone
		return
	}
	if err == nil {
		return
	}
	rq.err = err
	if rq.wroteHeader {
		// Headers (and maybe bytes) are out: never let a truncated answer look complete.
		rq.Flush()
		rq.reason = reasonUpstreamAborted
		if errors.Is(err, errQuotaReached) {
			rq.reason, rq.denied, rq.err = reasonQuotaReached, true, nil
		}
		panic(http.ErrAbortHandler)
	}
	var e *httpx.Error
	if !errors.As(err, &e) {
		e = &httpx.Error{Status: http.StatusInternalServerError, Message: "internal error", Reason: "internal"}
	}
	webpage.Answer(&rq.countingWriter, r, e, webpage.WantsPage(r))
	rq.reason, rq.message = e.Reason, e.Message
}

// clientGone is the one rule for "the client left": a write to the client failed (a reset, a
// broken pipe, a write deadline), the handler said so, or the request failed while its context
// had ended (net/http cancels it when the connection closes). Whatever the upstream did
// meanwhile, such a request is logged as client_gone, never as an upstream failure or a served
// 200. A request that completed is served even if the client hung up right after.
func (rq *request) clientGone(r *http.Request, err error) bool {
	return rq.writeErr != nil || errors.Is(err, errClientGone) || (err != nil && r.Context().Err() != nil)
}

func (h *Handler) newID() string {
	b := make([]byte, 0, 24)
	b = append(b, h.idPrefix...)
	b = strconv.AppendUint(b, h.seq.Add(1), 36)
	return string(b)
}

func subnetOf(c clientip.Client, cfg *config.Proxy) string {
	if c.Addr.IsValid() {
		return sign.Subnet(c.Addr, cfg.IPv4Suffix, cfg.IPv6Suffix)
	}
	return c.Text
}

// deny records a refusal of the checks.
func (rq *request) deny(e *httpx.Error) error {
	rq.denied = true
	return e
}

// serve runs the checks in the order of docs/contract.md §5 and then the origin. It is re-entered for an
// upstream redirect to the proxy's own address, so that request passes every check as well.
func (h *Handler) serve(rq *request, r *http.Request, st *state) error {
	cfg := st.cfg
	if cfg.IPv4Only && rq.client.IsIPv6() {
		return rq.deny(errIPv6)
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		httpx.Preflight(&rq.countingWriter, r)
		return nil
	default:
		rq.Header().Set("Allow", "GET, HEAD, OPTIONS")
		return rq.deny(errMethod)
	}
	if browserExtra(rq, r) {
		return nil
	}
	raw := r.RequestURI
	if raw == "" {
		raw = r.URL.EscapedPath()
	}
	// path is what the signatures cover; served is what the origin will serve for it (AList
	// cleans `\`, "//"): the policy, the origin and the cache/quota key use served (docs/contract.md §3).
	_, path, err := sign.RequestPath(sign.RawPath(raw))
	if err != nil {
		return rq.deny(errPath)
	}
	served, err := sign.ServedPath(path, h.originKind())
	if err != nil {
		return rq.deny(errPath)
	}
	if len(cfg.D.AllowedIPs) > 0 && !cfg.D.AllowedIPs.Contains(rq.client.Addr) {
		return rq.deny(errIPList)
	}
	if cfg.D.BlockedIPs.Contains(rq.client.Addr) {
		return rq.deny(errIPList)
	}
	checks := cfg.D.Checks
	if act := cfg.D.Policy.Match(served); act != 0 {
		if act.Has(policy.Block) {
			return rq.deny(errPolicy)
		}
		checks.Sign = checks.Sign && !act.Has(policy.SkipSign)
		checks.Hash = checks.Hash && !act.Has(policy.SkipHash)
		checks.Worker = checks.Worker && !act.Has(policy.SkipWorker)
		checks.IP = checks.IP && !act.Has(policy.SkipIP)
		checks.Addition = checks.Addition && !act.Has(policy.SkipAddition)
	}
	now := h.now()
	chain := sign.ChainRequest{Path: path, Params: parseParams(r.URL.RawQuery), ClientIP: rq.client.Text,
		WorkerAddr: cfg.D.WorkerAddr, Now: now.Unix()}
	info, infoOK, err := cfg.D.Keyring.VerifyChain(&chain, checks)
	if err != nil {
		if rq.subnet != "" && sign.Forged(err) {
			h.store.RecordFailure(quota.ScopeProxy, rq.subnet)
		}
		return rq.deny(&httpx.Error{Status: http.StatusUnauthorized, Reason: "signature", Message: err.Error()})
	}

	// Keyed by the served path: its link and per-file quota are the served file's, whatever
	// the spelling ("/a//b" and "/a/b" share). additionalInfo.pathHash stays the decoded path's.
	pathHash := sign.PathHash(served)
	creq := quota.CheckRequest{Scope: quota.ScopeProxy, Subnet: rq.subnet, PathHash: pathHash, WantLink: h.local == nil,
		Now: now, Path: served}
	if infoOK {
		creq.FileSize = info.FileSize
	}
	creq.Reserve = reserveFor(r.Method, r.Header.Get("Range"), creq.FileSize)
	t0 := time.Now()
	d, err := h.store.Check(r.Context(), creq)
	h.m.DBRoundTrip.Observe(time.Since(t0).Seconds())
	if err != nil {
		if r.Context().Err() != nil {
			return errClientGone
		}
		h.log.Warn("quota check failed", "id", rq.id, "err", err)
		return errDB
	}
	if d.FailOpen {
		h.m.FailOpen.Inc()
	}
	if !d.Allowed {
		if d.Reason == quota.ReasonThrottled {
			h.m.ThrottleProtections.Inc()
		}
		return rq.deny(httpx.QuotaRefusal(d))
	}
	// The meter settles what the check reserved on every path, served or not.
	meter := h.store.Meter(creq, d)
	defer meter.Close()
	if h.local != nil {
		return h.serveLocal(rq, r, served, meter, cfg.ClientIdleTimeout)
	}
	return h.serveUpstream(rq, r, st, served, pathHash, d.Link, meter)
}

// originKind says how the origin cleans paths (sign.ServedPath).
func (h *Handler) originKind() sign.OriginKind {
	if h.local != nil {
		return sign.OriginLocal
	}
	return sign.OriginAList
}

// parseParams reads the six parameters from a raw query the way URLSearchParams.get does: the
// first occurrence wins, values are form-decoded, a malformed escape leaves the value as
// written (it then fails its MAC).
func parseParams(q string) sign.Params {
	var p sign.Params
	var seen uint8
	for q != "" {
		var kv string
		kv, q, _ = strings.Cut(q, "&")
		k, v, _ := strings.Cut(kv, "=")
		if strings.ContainsAny(k, "%+") {
			k = formDecode(k)
		}
		var dst *string
		var bit uint8
		switch k {
		case "sign":
			dst, bit = &p.Sign, 1
		case "hashSign":
			dst, bit = &p.HashSign, 2
		case "workerSign":
			dst, bit = &p.WorkerSign, 4
		case "ipSign":
			dst, bit = &p.IPSign, 8
		case "additionalInfo":
			dst, bit = &p.AdditionalInfo, 16
		case "additionalInfoSign":
			dst, bit = &p.AdditionalInfoSign, 32
		default:
			continue
		}
		if seen&bit != 0 {
			continue
		}
		seen |= bit
		*dst = formDecode(v)
	}
	return p
}

func formDecode(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	if d, err := url.QueryUnescape(s); err == nil {
		return d
	}
	return s
}

// finish writes the access line (logx.Access, the form the fail2ban filter reads) and the
// request metrics; it runs on panics too. Only the proxy's own refusals carry a reason in the
// access line: a status relayed from the upstream must never get a client banned.
func (h *Handler) finish(rq *request, r *http.Request, start time.Time) {
	status := rq.status
	if status == 0 {
		status = http.StatusOK
	}
	outcome, label := "served", ""
	switch {
	case rq.denied:
		outcome, label = "denied", rq.reason
		h.m.Denials.WithLabelValues(rq.reason).Inc()
	case rq.reason == reasonClientGone:
		outcome, label = reasonClientGone, ""
	case rq.reason == reasonUpstreamAborted || status >= 500:
		outcome, label = "error", rq.reason
		if label == "" {
			label = "upstream"
		}
	case status >= 400:
		outcome, label = "denied", "upstream"
	}
	if outcome == "served" {
		h.served.Inc()
	} else {
		h.m.Requests.WithLabelValues(outcome, label).Inc()
	}
	if c := status / 100; c >= 1 && c < len(h.classes) {
		h.classes[c].Inc()
	} else {
		h.m.Responses.WithLabelValues(metrics.StatusClass(status)).Inc()
	}
	logReason := ""
	switch {
	case rq.denied:
		logReason = rq.reason
		if rq.reason == "signature" {
			logReason = rq.message // "sign mismatch", "ipSign missing", ...
		}
	case outcome == "error", outcome == reasonClientGone:
		logReason = rq.reason
		if logReason == "" {
			logReason = label
		}
	}
	if rq.err != nil && !rq.denied {
		h.log.Warn("request failed", "request_id", rq.id, "status", status, "err", rq.err.Error())
	}
	logx.Access(h.log, logx.AccessRecord{RequestID: rq.id, ClientIP: rq.client.Text, Subnet: rq.subnet, Method: r.Method,
		Status: status, Bytes: rq.written, Duration: time.Since(start), Reason: logReason})
}
