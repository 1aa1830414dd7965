// Package server runs a service's public and admin listeners and stops them gracefully: on
// cancellation it stops accepting, lets in-flight downloads finish up to the shutdown timeout,
// then aborts them, and only then runs the service's own cleanup (flushing usage, closing the
// database), so nothing a finished download recorded is lost.
package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Options describe one service process.
type Options struct {
	Public     http.Handler
	ListenAddr string
	AdminAddr  string // "" disables the admin listener
	Registry   *prometheus.Registry
	// Ready answers /readyz: nil error means ready (database reachable, AList answering).
	Ready           func(ctx context.Context) error
	ShutdownTimeout time.Duration
	Logger          *slog.Logger
	// Cleanup runs after the listeners stopped (drain queues, close the database).
	Cleanup func(ctx context.Context) error
	// Listening, when set, is told the bound addresses (tests listen on :0).
	Listening func(public, admin net.Addr)
}

// AdminHandler serves /metrics, /healthz (alive, no I/O) and /readyz.
func AdminHandler(reg *prometheus.Registry, ready func(context.Context) error) http.Handler {
	mux := http.NewServeMux()
	if reg != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
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
	return mux
}

// Run serves until ctx is cancelled, then shuts down gracefully.
func Run(ctx context.Context, o Options) error {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	pubLn, err := net.Listen("tcp", o.ListenAddr)
	if err != nil {
		return err
	}
	pub := &http.Server{Handler: o.Public, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second,
		MaxHeaderBytes: 64 << 10, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	servers := []*http.Server{pub}
	errc := make(chan error, 2)
	go func() { errc <- pub.Serve(pubLn) }()
	var adminAddr net.Addr
	if o.AdminAddr != "" {
		admLn, err := net.Listen("tcp", o.AdminAddr)
		if err != nil {
			pubLn.Close()
			return err
		}
		adminAddr = admLn.Addr()
		adm := &http.Server{Handler: AdminHandler(o.Registry, o.Ready), ReadHeaderTimeout: 5 * time.Second}
		servers = append(servers, adm)
		go func() { errc <- adm.Serve(admLn) }()
	}
	log.Info("listening", "public", pubLn.Addr().String(), "admin", o.AdminAddr)
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
