// Package server runs a service's public and admin listeners and stops them gracefully: on
// cancellation it stops accepting, lets in-flight downloads finish up to the shutdown timeout,
// then aborts them, and only then runs the service's own cleanup (flushing usage, closing the
// database), so nothing a finished download recorded is lost.
//
// The public listener is TCP (ListenAddr) or, when UnixSocket is set, a unix socket instead of
// TCP; either speaks TLS with HTTP/2 when TLSCertFile and TLSKeyFile are set. The admin listener
// is always plain HTTP on TCP.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/alist-edge/alist-edge/internal/tcpacct"
	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Options describe one service process.
type Options struct {
	Public     http.Handler
	ListenAddr string
	AdminAddr  string // "" disables the admin listener; "unix:/path" listens on a unix socket
	// AdminAPI serves the admin listener's paths other than /metrics, /healthz and /readyz.
	AdminAPI http.Handler
	Registry *prometheus.Registry
	// Ready answers /readyz: nil error means ready (database reachable, AList answering).
	Ready           func(ctx context.Context) error
	ShutdownTimeout time.Duration
	Logger          *slog.Logger
	// Cleanup runs after the listeners stopped (drain queues, close the database).
	Cleanup func(ctx context.Context) error
	// Listening, when set, is told the bound addresses (tests listen on :0).
	Listening func(public, admin net.Addr)

	// TLSCertFile and TLSKeyFile (PEM; both or neither) make the public listener speak TLS 1.2+
	// with HTTP/2 and HTTP/1.1 offered by ALPN. The files are read at start (an unreadable pair is
	// an error) and read again when their modification time changes, checked at most once a
	// minute during a handshake, so a renewed certificate is picked up without a restart. A
	// renewal that cannot be loaded is logged and the previous certificate kept.
	TLSCertFile string
	TLSKeyFile  string
	// UnixSocket, when set, is the path of a unix socket that the public listener uses INSTEAD
	// of ListenAddr (ListenAddr is then ignored). A stale socket file left by a crashed process
	// is removed first; a path that is not a socket, or a socket something still answers on, is
	// an error. The socket is made mode 0660 (owner and group may connect) and removed at
	// shutdown.
	UnixSocket string
	// AnswerTimeout is the write deadline every public answer starts with (0: the default,
	// DefaultAnswerTimeout; < 0: none); MaxRequestsPerConn closes a connection after that many
	// requests (0: DefaultMaxRequestsPerConn; < 0: no cap). See limitAnswers.
	AnswerTimeout      time.Duration
	MaxRequestsPerConn int
	// MaxConnections caps the public listener's open connections (0: no cap); see limitConns.
	MaxConnections int
}

// listenAdmin listens on ADMIN_ADDR: host:port, or unix:/path (a socket only local users with
// the file's permissions reach; a stale socket file is replaced).
func listenAdmin(addr string) (net.Listener, error) {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
			_ = os.Remove(path)
		}
		return net.Listen("unix", path)
	}
	return net.Listen("tcp", addr)
}

// AdminHandler serves /metrics, /healthz (alive, no I/O) and /readyz, and hands every other
// path to api (the service's admin API; nil: 404).
func AdminHandler(reg *prometheus.Registry, ready func(context.Context) error, api http.Handler) http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.Recoverer)
	if api != nil {
		r.NotFound(api.ServeHTTP)
		r.MethodNotAllowed(api.ServeHTTP)
	}
	if reg != nil {
		r.Method(http.MethodGet, "/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	}
	r.Get("/healthz", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	r.Get("/readyz", func(w http.ResponseWriter, r *http.Request) {
		if ready != nil {
			ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
			defer cancel()
			if err := ready(ctx); err != nil {
				http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	// Profiles are how a slow or bloated gateway gets diagnosed in production; the admin
	// listener is loopback by default, so they are not exposed to the public.
	r.Mount("/debug", middleware.Profiler())
	return r
}

// Run serves until ctx is cancelled, then shuts down gracefully.
func Run(ctx context.Context, o Options) error {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	if (o.TLSCertFile == "") != (o.TLSKeyFile == "") {
		return errors.New("TLS_CERT_FILE and TLS_KEY_FILE must be set together")
	}
	var certs *certReloader
	if o.TLSCertFile != "" {
		var err error
		if certs, err = newCertReloader(o.TLSCertFile, o.TLSKeyFile, log); err != nil {
			return err
		}
	}
	pubLn, err := listenPublic(o)
	if err != nil {
		return err
	}
	pubLn = tcpacct.Listener(pubLn) // what a client that left had acknowledged, read as net/http closes
	var admLn net.Listener
	if o.AdminAddr != "" {
		if admLn, err = listenAdmin(o.AdminAddr); err != nil {
			_ = pubLn.Close()
			return err
		}
	}
	pub := PublicServer(o.Public, o.AnswerTimeout, o.MaxRequestsPerConn, log)
	if o.MaxConnections > 0 {
		cc := &connCap{Listener: pubLn, slots: make(chan struct{}, o.MaxConnections)}
		pubLn, pub.ConnState = cc, cc.connState
	}
	servers := []*http.Server{pub}
	errc := make(chan error, 2)
	switch {
	case certs != nil:
		// ServeTLS adds "h2" to NextProtos and configures HTTP/2 on pub.
		pub.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certs.get}
		go func() { errc <- pub.ServeTLS(pubLn, "", "") }()
	default:
		go func() { errc <- pub.Serve(pubLn) }()
	}
	var adminAddr net.Addr
	if admLn != nil {
		adminAddr = admLn.Addr()
		adm := &http.Server{Handler: AdminHandler(o.Registry, o.Ready, o.AdminAPI), ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second}
		servers = append(servers, adm)
		go func() { errc <- adm.Serve(admLn) }()
	}
	log.Info("listening", "public", pubLn.Addr().String(), "network", pubLn.Addr().Network(), "tls", certs != nil,
		"admin", o.AdminAddr)
	if o.Listening != nil {
		o.Listening(pubLn.Addr(), adminAddr)
	}
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	timeout := o.ShutdownTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	log.Info("shutting down", "timeout", timeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	// The public server first: the admin listener (metrics, health) stays up while it drains.
	for _, s := range servers {
		if err := s.Shutdown(sctx); err != nil {
			// The timeout passed with downloads still running: abort them.
			log.Warn("shutdown timeout reached, aborting streams", "err", err)
			_ = s.Close()
		}
	}
	cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer ccancel()
	var cleanupErr error
	if o.Cleanup != nil {
		cleanupErr = o.Cleanup(cctx)
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return errors.Join(serveErr, cleanupErr)
	}
	return cleanupErr
}

// PublicServer is net/http's Server as the public listeners use it: 10 s to read a request head
// (slowloris), 64 KiB of head at most, 120 s idle keep-alive, and no ReadTimeout or
// WriteTimeout, which would cut long downloads: limitAnswers bounds every answer instead.
func PublicServer(h http.Handler, answerTimeout time.Duration, maxRequests int, log *slog.Logger) *http.Server {
	if answerTimeout == 0 {
		answerTimeout = DefaultAnswerTimeout
	}
	if maxRequests == 0 {
		maxRequests = DefaultMaxRequestsPerConn
	}
	return &http.Server{Handler: limitAnswers(h, answerTimeout, int64(maxRequests)),
		ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10,
		ConnContext: connContext, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
}

// listenPublic opens the public listener: the unix socket when set, else TCP ListenAddr.
func listenPublic(o Options) (net.Listener, error) {
	if o.UnixSocket == "" {
		return net.Listen("tcp", o.ListenAddr)
	}
	return ListenUnix(o.UnixSocket)
}

// ListenUnix listens on the unix socket path with mode 0660, removing a stale socket file first.
func ListenUnix(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&fs.ModeSocket == 0 {
			return nil, fmt.Errorf("UNIX_SOCKET=%q exists and is not a socket; not removing it", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			_ = c.Close()
			return nil, fmt.Errorf("UNIX_SOCKET=%q: another process is listening on it", path)
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("UNIX_SOCKET=%q: removing the stale socket: %w", path, err)
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("UNIX_SOCKET=%q: %w", path, err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("UNIX_SOCKET=%q: %w", path, err)
	}
	return ln, nil
}

// certCheckInterval is how often a handshake may look at the certificate files' mtimes.
var certCheckInterval = time.Minute

// certReloader serves a certificate pair and reloads it when the files change.
type certReloader struct {
	certFile, keyFile string
	log               *slog.Logger

	mu              sync.Mutex
	cert            *tls.Certificate
	certMod, keyMod time.Time
	lastCheck       time.Time
}

func newCertReloader(certFile, keyFile string, log *slog.Logger) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, log: log}
	if err := r.load(); err != nil {
		return nil, fmt.Errorf("TLS_CERT_FILE=%q / TLS_KEY_FILE=%q: %w", certFile, keyFile, err)
	}
	r.lastCheck = time.Now()
	return r, nil
}

// load reads both files; on success it replaces the served certificate.
func (r *certReloader) load() error {
	cm, km, err := r.mtimes()
	if err != nil {
		return err
	}
	c, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return err
	}
	r.cert, r.certMod, r.keyMod = &c, cm, km
	return nil
}

func (r *certReloader) mtimes() (cert, key time.Time, err error) {
	ci, err := os.Stat(r.certFile)
	if err != nil {
		return cert, key, err
	}
	ki, err := os.Stat(r.keyFile)
	if err != nil {
		return cert, key, err
	}
	return ci.ModTime(), ki.ModTime(), nil
}

func (r *certReloader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := time.Now(); now.Sub(r.lastCheck) >= certCheckInterval {
		r.lastCheck = now
		cm, km, err := r.mtimes()
		if err == nil && (!cm.Equal(r.certMod) || !km.Equal(r.keyMod)) {
			err = r.load()
			if err == nil {
				r.log.Info("TLS certificate reloaded", "cert", r.certFile)
			}
		}
		if err != nil {
			r.log.Warn("TLS certificate reload failed; serving the previous one", "cert", r.certFile, "err", err)
		}
	}
	return r.cert, nil
}
