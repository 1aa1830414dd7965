// Package upload is cmd/upload: the XMPP HTTP Upload (XEP-0363) backend. An XMPP server hands
// its clients a PUT URL signed with a secret it shares with this service (Prosody's
// mod_http_upload_external v1/v2, Metronome's token, ejabberd's external_secret, Prosody 0.12's
// mod_http_file_share JWT); the client PUTs the file here and its contacts GET it. Files land in
// UPLOAD_DIR, one row per file in the database (its Content-Type and upload time). Every request
// goes through internal/pipeline: handlers return errors, and the pipeline answers them.
package upload

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alist-edge/alist-edge/internal/clientip"
	"github.com/alist-edge/alist-edge/internal/config"
	"github.com/alist-edge/alist-edge/internal/httpx"
	"github.com/alist-edge/alist-edge/internal/metrics"
	"github.com/alist-edge/alist-edge/internal/pipeline"
	"github.com/alist-edge/alist-edge/pkg/quota"
)

// Options build a Service.
type Options struct {
	Config  *config.Upload
	Store   quota.Store // must also be a quota.Uploads (the stores quota.Open returns are)
	Logger  *slog.Logger
	Metrics *metrics.Metrics
	// Clock is the time of MAC, token and TTL checks (default time.Now).
	Clock func() time.Time
	// JanitorInterval is how often FILE_TTL is applied and the gauges refreshed (default 1m).
	JanitorInterval time.Duration
	// FreeSpace reports the bytes available in the folder's filesystem (default statfs).
	FreeSpace func() (int64, error)
}

// settings are what a SIGHUP may change without a restart.
type settings struct {
	secrets [][]byte
	maxSize int64
	exts    []string
	minFree int64
	ttl     time.Duration
}

// live are the variables Reload applies; any other change needs a restart.
var live = []string{"UPLOAD_SECRET", "UPLOAD_MAX_SIZE", "UPLOAD_EXTENSIONS", "UPLOAD_MIN_FREE", "FILE_TTL"}

// Service is the upload service: a runner.Service.
type Service struct {
	cfg     *config.Upload
	store   quota.Store
	uploads quota.Uploads
	log     *slog.Logger
	m       *uploadMetrics
	clock   func() time.Time
	files   *files
	set     atomic.Pointer[settings]
	pipe    *pipeline.Pipeline

	stop, done chan struct{}
	tidyMu     sync.Mutex
	lastSweep  time.Time // the janitor's last sweep of temporary files (under tidyMu)
}

// New opens UPLOAD_DIR and starts the janitor.
func New(o Options) (*Service, error) {
	up, ok := o.Store.(quota.Uploads)
	if !ok {
		return nil, errors.New("upload: the store does not keep upload rows")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.JanitorInterval <= 0 {
		o.JanitorInterval = time.Minute
	}
	cfg := o.Config
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("upload: UPLOAD_DIR: %w", err)
	}
	f, err := openFiles(cfg.Dir)
	if err != nil {
		return nil, err
	}
	if o.FreeSpace != nil {
		f.freeSpace = o.FreeSpace
	}
	s := &Service{cfg: cfg, store: o.Store, uploads: up, log: o.Logger, m: newUploadMetrics(o.Metrics),
		clock: o.Clock, files: f, stop: make(chan struct{}), done: make(chan struct{})}
	s.set.Store(settingsOf(cfg))
	s.pipe = (&pipeline.Pipeline{Log: s.log, Metrics: o.Metrics, Handle: s.handle,
		Client: func(r *http.Request) (clientip.Client, int, int) {
			return cfg.Parsed.ClientIP.Extract(r), cfg.IPv4Suffix, cfg.IPv6Suffix
		}}).Init()
	go s.janitor(o.JanitorInterval)
	return s, nil
}

func settingsOf(c *config.Upload) *settings {
	return &settings{secrets: c.Parsed.Secrets, maxSize: int64(c.MaxSize), exts: c.Parsed.Extensions,
		minFree: int64(c.MinFree), ttl: c.FileTTL}
}

// ServeHTTP implements http.Handler.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.pipe.ServeHTTP(w, r) }

// handle routes one request; every refusal is an *httpx.Error the pipeline answers.
func (s *Service) handle(x *pipeline.Exchange, r *http.Request) error {
	p, perr := slotPath(r.URL.Path, s.cfg.Prefix)
	if perr != nil {
		return s.refuse(x, perr)
	}
	switch r.Method {
	case http.MethodOptions:
		preflight(x.W, r)
		return nil
	case http.MethodPut:
		return s.put(x, r, p)
	case http.MethodGet, http.MethodHead:
		return s.get(x, r, p)
	}
	x.W.Header().Set("Allow", "GET, HEAD, PUT, OPTIONS")
	return s.refuse(x, errMethod)
}

var errMethod = &httpx.Error{Status: http.StatusMethodNotAllowed, Message: "method not allowed", Reason: "method"}

// refuse counts a refusal of this service by its reason and marks it for the access line.
func (s *Service) refuse(x *pipeline.Exchange, e *httpx.Error) error {
	s.m.refusals.WithLabelValues(e.Reason).Inc()
	return x.Deny(e)
}

// preflight answers the CORS preflight of web clients (Converse.js, Movim): a PUT with
// Authorization and Content-Type is not a simple request.
func preflight(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	httpx.SetCORS(h, r)
	h.Set("Access-Control-Allow-Methods", "GET, HEAD, PUT, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
	h.Set("Access-Control-Max-Age", "86400")
	w.WriteHeader(http.StatusNoContent)
}

// Ready answers /readyz: the database commits and the folder is there.
func (s *Service) Ready(ctx context.Context) error {
	if err := s.store.Ping(ctx); err != nil {
		return err
	}
	if _, err := s.files.root.Stat("."); err != nil {
		return fmt.Errorf("upload: UPLOAD_DIR: %w", err)
	}
	return nil
}

// Reload applies the secrets and limits of environ and names the other changed settings.
func (s *Service) Reload(environ map[string]string) ([]string, error) {
	cfg, err := config.LoadUpload(environ)
	if err != nil {
		return nil, err
	}
	var restart []string
	for _, v := range config.ChangedVars(s.cfg, cfg) {
		if !slices.Contains(live, v) {
			restart = append(restart, v)
		}
	}
	s.set.Store(settingsOf(cfg))
	return restart, nil
}

// Close stops the janitor and closes the folder.
func (s *Service) Close() error {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
	return s.files.root.Close()
}
