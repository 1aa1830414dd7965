// Package landing is the landing service: the URL AList hands out as a storage's "download
// proxy URL". It checks AList's sign, optionally makes the browser prove it is not a bot
// (ALTCHA proof-of-work, Cloudflare Turnstile), and sends the user on to one of the download
// proxies with the full signature set of docs/contract.md §3–§4, either with a 302 or from a small page.
//
// Every GET path is a file path, so the service owns no other path than /info (as the original
// did): the page's script and style are inline with a per-response CSP nonce, and the
// proof-of-work Web Worker is built from a Blob of that same script.
package landing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/alist-edge/alist-edge/internal/alist"
	"github.com/alist-edge/alist-edge/internal/clientip"
	"github.com/alist-edge/alist-edge/internal/config"
	"github.com/alist-edge/alist-edge/internal/httpx"
	"github.com/alist-edge/alist-edge/internal/metrics"
	"github.com/alist-edge/alist-edge/internal/origin"
	"github.com/alist-edge/alist-edge/internal/pipeline"
	"github.com/alist-edge/alist-edge/pkg/policy"
	"github.com/alist-edge/alist-edge/pkg/quota"
	"github.com/alist-edge/alist-edge/pkg/sign"
)

// Options wires a Service. Only Config is required.
type Options struct {
	Config  *config.Landing
	Logger  *slog.Logger
	Metrics *metrics.Metrics // nil: a private registry
	// Store is the shared database: subnet rate limit, file-size cache, auto-ban counts and the
	// single-use proof-of-work nonces. nil runs without any of them (tests, or a deliberate
	// stateless setup); a replayed proof-of-work is then accepted until it expires.
	Store quota.Store
	// Now is the clock (tests fix it at a vector's now). Default time.Now.
	Now func() time.Time
	// Random returns a number in [0,1) that picks the proxy from WORKER_ADDRESS_DOWNLOAD, as
	// the original's Math.random() did (vectors inject it). Default math/rand/v2.
	Random func() float64
	// HTTPClient makes the AList and Turnstile calls. Default: the proxy's tuned transport
	// (origin.NewTransport: the same outbound-proxy variables, read the same way, and the same
	// guard against internal addresses), bounded by ALIST_TIMEOUT.
	HTTPClient *http.Client
	// Environ supplies HTTPS_PROXY/HTTP_PROXY/ALL_PROXY/NO_PROXY for the default client, as for
	// the proxy: from the environment and the env file.
	Environ map[string]string
}

// secrets is everything SIGHUP may replace; swapped as one pointer so a request never sees a
// new keyring with an old policy.
type secrets struct {
	kr      *sign.Keyring
	pol     *policy.Engine
	counts  *metrics.PolicyCounters // pol's decision counters
	pageKey []byte                  // HMAC key of the proof-of-work challenges
	id      *identityState
}

type worker struct {
	addr   string // as signed into workerSign (normalised, may carry a path)
	origin string // what goes into the URL
}

// Service is the landing's http.Handler.
type Service struct {
	cfg       *config.Landing
	log       *slog.Logger
	m         *metrics.Metrics
	store     quota.Store
	now       func() time.Time
	random    func() float64
	sizer     sizer
	turnstile *turnstileVerifier
	workers   []worker
	sec       atomic.Pointer[secrets]
	pipe      *pipeline.Pipeline
	hc        *http.Client

	sessStore quota.Sessions // nil: the store has no sessions (no login source may be set)
	usage     quota.Admin    // reads the policy's counters for the usage lines; nil: none
	active    activeCache
}

// New builds the service from a validated configuration.
func New(o Options) (*Service, error) {
	if o.Config == nil {
		return nil, errors.New("landing: no configuration")
	}
	cfg := o.Config
	s := &Service{cfg: cfg, log: o.Logger, m: o.Metrics, store: o.Store, now: o.Now, random: o.Random}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.m == nil {
		s.m = metrics.New("landing")
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.random == nil {
		s.random = mrand.Float64
	}
	hc := o.HTTPClient
	if hc == nil {
		pf, err := origin.ProxyFromEnviron(o.Environ)
		if err != nil {
			return nil, err
		}
		hc = &http.Client{Timeout: cfg.AlistTimeout + 5*time.Second, Transport: origin.NewTransport(origin.Options{
			ConnectTimeout: 10 * time.Second, TLSTimeout: 10 * time.Second, HeaderTimeout: cfg.AlistTimeout, Proxy: pf})}
	}
	for _, w := range cfg.Parsed.Workers {
		wo, err := sign.Origin(w)
		if err != nil {
			return nil, fmt.Errorf("landing: WORKER_ADDRESS_DOWNLOAD: %w", err)
		}
		s.workers = append(s.workers, worker{addr: w, origin: wo})
	}
	if len(s.workers) == 0 {
		return nil, errors.New("landing: WORKER_ADDRESS_DOWNLOAD is empty")
	}
	if cfg.Parsed.LocalRoot != "" {
		root, err := os.OpenRoot(cfg.Parsed.LocalRoot)
		if err != nil {
			return nil, fmt.Errorf("landing: ADDRESS=file://%s: %w", cfg.Parsed.LocalRoot, err)
		}
		s.sizer = localSizer{root: root}
	} else {
		s.sizer = &alistSizer{timeout: cfg.AlistTimeout, c: &alist.Client{
			BaseURL: cfg.Parsed.AlistURL, Token: cfg.Token, VerifyHeaders: cfg.Parsed.VerifyHeaders, HTTP: hc,
			Observe: func(ep string, d time.Duration) { s.m.AlistDuration.WithLabelValues(ep).Observe(d.Seconds()) },
		}}
	}
	if cfg.TurnstileSiteKey != "" && cfg.TurnstileSecretKey != "" {
		s.turnstile = &turnstileVerifier{url: cfg.TurnstileVerifyURL, secret: cfg.TurnstileSecretKey, client: hc}
	}
	s.hc = hc
	if s.store != nil {
		s.sessStore, _ = quota.SessionsOf(s.store)
		s.usage, _ = quota.AdminOf(s.store)
	}
	if err := s.checkLogin(cfg); err != nil {
		return nil, err
	}
	s.sec.Store(s.newSecrets(cfg))
	s.pipe = (&pipeline.Pipeline{Log: s.log, Metrics: s.m, Handle: s.handle,
		Client: func(r *http.Request) (clientip.Client, int, int) {
			return cfg.Parsed.ClientIP.Extract(r), cfg.IPv4Suffix, cfg.IPv6Suffix
		}}).Init()
	if s.store == nil && (cfg.AltchaEnabled || cfg.RequestLimit > 0) {
		s.log.Warn("landing runs without a database: no rate limit, no size cache, proof-of-work replays are not refused")
	}
	return s, nil
}

// pageSecretLabel derives the proof-of-work key from the signing keyring when PAGE_SECRET is
// empty. AList-signed data always starts with "/" and the other signed strings are base64 or
// JSON, so no signature this service hands out can ever equal the derived key.
const pageSecretLabel = "alist-edge:page-secret"

func (s *Service) newSecrets(cfg *config.Landing) *secrets {
	sec := &secrets{kr: cfg.Parsed.Keyring, pol: cfg.Parsed.Policy, counts: s.m.PolicyCounters(cfg.Parsed.Policy)}
	if cfg.PageSecret != "" {
		sec.pageKey = []byte(cfg.PageSecret)
	} else {
		sec.pageKey = []byte(cfg.Parsed.Keyring.Sign(pageSecretLabel, 0))
	}
	sec.id = newIdentityState(cfg, sec.pageKey, sec.pol.UsesIdentity(), s.hc)
	return sec
}

// checkLogin refuses a login source without server-side sessions (no database): a session
// could then never be ended (logout, an admin's "end session").
func (s *Service) checkLogin(cfg *config.Landing) error {
	if cfg.LoginConfigured() && s.sessStore == nil {
		return errors.New("landing: USERS_FILE or ALIST_LOGIN needs server-side sessions: a database (SQLite or Postgres) that keeps them")
	}
	return nil
}

// liveVars are the settings a reload applies: the signing keys, the path policy, the page
// key and the identity settings (the users file is re-read). Any other change is returned by
// Reload as needing a restart.
var liveVars = map[string]bool{"SIGN_SECRET": true, "PAGE_SECRET": true,
	"BLACKLIST_PREFIX": true, "BLACKLIST_ACTION": true, "WHITELIST_PREFIX": true, "WHITELIST_ACTION": true,
	"EXCEPT_PREFIX": true, "EXCEPT_ACTION": true, "POLICY_FILE": true,
	"USERS_FILE": true, "AUTH_HEADER": true, "ALIST_LOGIN": true, "ALIST_GROUPS": true, "SESSION_TTL": true, "LOGIN_ATTEMPTS": true}

// Reload re-reads the configuration from environ and swaps the signing keys, the path policy
// and the page key atomically (SIGHUP). A configuration that does not validate is refused and
// the running one is kept. The other changed settings are returned: they need a restart.
func (s *Service) Reload(environ map[string]string) (needRestart []string, err error) {
	cfg, err := config.LoadLanding(environ)
	if err != nil {
		return nil, err
	}
	if err := s.checkLogin(cfg); err != nil {
		return nil, err
	}
	s.sec.Store(s.newSecrets(cfg))
	for _, name := range config.ChangedVars(s.cfg, cfg) {
		if !liveVars[name] {
			needRestart = append(needRestart, name)
		}
	}
	return needRestart, nil
}

// Ready answers /readyz: the database (when there is one) and a local origin must answer.
func (s *Service) Ready(ctx context.Context) error {
	if s.store != nil {
		if err := s.store.Ping(ctx); err != nil {
			return err
		}
	}
	if l, ok := s.sizer.(localSizer); ok {
		if _, err := l.root.Stat("."); err != nil {
			return err
		}
	}
	return nil
}

// Close releases the local origin; the Store belongs to the caller.
func (s *Service) Close() error {
	if l, ok := s.sizer.(localSizer); ok {
		return l.root.Close()
	}
	return nil
}

// reqCtx is one request as the landing handles it: the shared pipeline's record.
type reqCtx = pipeline.Exchange

// ServeHTTP serves through the shared pipeline (request ID, client IP, access line, metrics,
// errors as JSON or the page). Dispatch is by hand: every path but /info is a file path, and
// http.ServeMux would clean (and redirect) the dot segments that the signature is computed over.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.pipe.ServeHTTP(w, r) }

func (s *Service) handle(rc *reqCtx, r *http.Request) error {
	h := rc.W.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	err := s.route(rc.W, r, rc)
	var e *httpx.Error
	switch {
	case errors.As(err, &e):
		// The landing's own refusals are denials; AList's answers (relayed) and a missing file
		// are not, so nobody is banned for them.
		// A cross-origin form is not the visitor's doing either: any site can make a browser send one.
		if e.Status < 500 && !strings.HasPrefix(e.Reason, "alist") && e.Reason != "not_found" && e.Reason != "origin" {
			rc.Denied = true
		}
		if e.Reason == "signature" {
			rc.LogReason = e.Message // the exact message: fail2ban counts only wrong signatures
		}
	case errors.Is(err, quota.ErrUnavailable):
		rc.Reason = "database"
	}
	return err
}

func (s *Service) route(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	if r.Method == http.MethodOptions {
		httpx.Preflight(w, r)
		return nil
	}
	p := sign.RemoveDotSegments(sign.RawPath(r.RequestURI))
	if h, ok := s.identityRoute(r, p); ok {
		return h(w, r, rc)
	}
	if p == "/info" {
		rc.JSONOnly = true // an API: errors are JSON, never the page
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodPost:
			return s.info(w, r, rc)
		}
		w.Header().Set("Allow", "GET, HEAD, POST, OPTIONS")
		return errMethod
	}
	// The answer (page, 302, JSON or HTML error) depends on Accept.
	w.Header().Add("Vary", "Accept")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return s.file(w, r, rc)
	}
	w.Header().Set("Allow", "GET, HEAD, OPTIONS")
	return errMethod
}

// identityRoute picks the login routes: POST /login and /logout when a login source is set,
// GET /me without a sign when any identity source is. A file may still be called /me: its link
// carries a sign, and no file is ever POSTed.
func (s *Service) identityRoute(r *http.Request, p string) (func(http.ResponseWriter, *http.Request, *reqCtx) error, bool) {
	st := s.sec.Load().id
	switch {
	case r.Method == http.MethodPost && p == "/login" && st.loginEnabled():
		return s.login, true
	case r.Method == http.MethodPost && p == "/logout" && st.loginEnabled():
		return s.logout, true
	case (r.Method == http.MethodGet || r.Method == http.MethodHead) && p == "/me" && !r.URL.Query().Has("sign") &&
		(st.loginEnabled() || st.forward != nil):
		return s.me, true
	}
	return nil, false
}

// pickWorker is floor(random × n), clamped, as the original indexed its list.
func (s *Service) pickWorker() worker {
	n := len(s.workers)
	i := int(math.Floor(s.random() * float64(n)))
	i = min(max(i, 0), n-1)
	return s.workers[i]
}

var errMethod = httpx.ErrMethod
