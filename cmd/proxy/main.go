// Command proxy is the alist-edge download proxy (docs/contract.md §5–§9).
//
//	proxy [-check-config] [-env-file FILE]    serve; SIGHUP reloads keys, policy and checks
//	proxy [-env-file FILE] migrate            apply database migrations and exit
//
// Settings come from the environment, with the KEY=VALUE lines of -env-file (default
// $ENV_FILE) over it. SIGHUP re-reads both and swaps the new configuration in without dropping
// a download; an invalid one is logged and the running one stays.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/alist-edge/alist-edge/internal/config"
	"github.com/alist-edge/alist-edge/internal/logx"
	"github.com/alist-edge/alist-edge/internal/metrics"
	"github.com/alist-edge/alist-edge/internal/proxy"
	"github.com/alist-edge/alist-edge/internal/server"
	"github.com/alist-edge/alist-edge/pkg/quota"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("proxy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	checkConfig := fs.Bool("check-config", false, "validate the configuration and exit")
	envFile := fs.String("env-file", os.Getenv("ENV_FILE"), "KEY=VALUE file read over the environment (again on SIGHUP)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	environ := func() (map[string]string, error) { return config.LoadEnviron(*envFile) }
	env, err := environ()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	cfg, err := config.LoadProxy(env)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch {
	case fs.NArg() > 0 && fs.Arg(0) == "migrate":
		if err := quota.Migrate(ctx, cfg.QuotaDB()); err != nil {
			fmt.Fprintln(stderr, "migrate:", err)
			return 1
		}
		fmt.Fprintln(stdout, "database schema is up to date")
		return 0
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "unknown command %q; accepted: migrate (or none to serve)\n", fs.Arg(0))
		return 2
	case *checkConfig:
		for _, w := range cfg.D.Warnings {
			fmt.Fprintln(stderr, "warning:", w)
		}
		fmt.Fprintln(stdout, "configuration ok")
		return 0
	}
	if err := serve(ctx, cfg, env, environ, stderr); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}

func serve(ctx context.Context, cfg *config.Proxy, env map[string]string, environ func() (map[string]string, error), stderr io.Writer) error {
	// One write per batch of log lines, not per request (the access log is on the hot path).
	logw := logx.NewBufferedWriter(stderr, 64<<10, 100*time.Millisecond)
	defer logw.Close()
	log := logx.New(logw, cfg.LogLevel, cfg.LogFormat)
	config.LogWarnings(log, cfg.D.Warnings)
	m := metrics.New("proxy")
	store, err := quota.Open(ctx, cfg.QuotaDB(), cfg.QuotaConfig(), log)
	if err != nil {
		return fmt.Errorf("database: %w", err)
	}
	h, err := proxy.New(proxy.Options{Config: cfg, Store: store, Logger: log, Metrics: m, Environ: env})
	if err != nil {
		_ = store.Close(context.Background())
		return err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			env, err := environ()
			if err != nil {
				log.Error("reload refused; keeping the running configuration", "err", err)
				continue
			}
			_ = h.Reload(env) // logs its outcome
		}
	}()
	return server.Run(ctx, server.Options{
		Public: h, ListenAddr: cfg.ListenAddr, AdminAddr: cfg.AdminAddr, Registry: m.Registry,
		Ready: h.Ready, ShutdownTimeout: cfg.ShutdownTimeout, Logger: log,
		TLSCertFile: cfg.TLSCertFile, TLSKeyFile: cfg.TLSKeyFile, UnixSocket: cfg.UnixSocket,
		Cleanup: func(ctx context.Context) error {
			_ = h.Close()
			return store.Close(ctx) // flushes usage recorded by the last streams
		},
	})
}
