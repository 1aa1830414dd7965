// Command landing is the alist-edge landing service: paste its public URL into an AList
// storage's "download proxy URL" and every link AList hands out goes through it.
//
//	landing [-check-config] [-env-file FILE]   serve; SIGHUP reloads signing keys and path policy
//	landing [-env-file FILE] migrate           apply database migrations and exit
//	landing [-env-file FILE] sign [-base URL] [-expire T] /path   print a signed landing URL
//
// Settings come from the environment, with the KEY=VALUE lines of -env-file (default
// $ENV_FILE) over it, the same rules as cmd/proxy. SIGHUP re-reads both and swaps the signing
// keys and the path policy; an invalid new configuration is logged and the running one kept.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/alist-edge/alist-edge/internal/config"
	"github.com/alist-edge/alist-edge/internal/landing"
	"github.com/alist-edge/alist-edge/internal/logx"
	"github.com/alist-edge/alist-edge/internal/metrics"
	"github.com/alist-edge/alist-edge/internal/server"
	"github.com/alist-edge/alist-edge/pkg/quota"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("landing", flag.ContinueOnError)
	fs.SetOutput(stderr)
	checkConfig := fs.Bool("check-config", false, "validate the configuration and exit")
	envFile := fs.String("env-file", os.Getenv("ENV_FILE"), "KEY=VALUE file read over the environment (again on SIGHUP)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	environ := func() (map[string]string, error) { return config.LoadEnviron(*envFile) }
	if fs.NArg() > 0 && fs.Arg(0) == "sign" {
		return signCmd(fs.Args()[1:], environ, stdout, stderr)
	}
	env, err := environ()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	cfg, err := config.LoadLanding(env)
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
		fmt.Fprintf(stderr, "unknown command %q; accepted: sign, migrate (or none to serve)\n", fs.Arg(0))
		return 2
	case *checkConfig:
		for _, w := range cfg.D.Warnings {
			fmt.Fprintln(stderr, "warning:", w)
		}
		fmt.Fprintln(stdout, "configuration ok")
		return 0
	}
	if err := serve(ctx, cfg, environ, stderr); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}

// serve runs the service until SIGINT/SIGTERM; SIGHUP swaps keys and policy, keeping the
// running ones when the new configuration does not validate.
func serve(ctx context.Context, cfg *config.Landing, environ func() (map[string]string, error), stderr io.Writer) error {
	log := logx.New(stderr, cfg.LogLevel, cfg.LogFormat)
	config.LogWarnings(log, cfg.D.Warnings)
	m := metrics.New("landing")
	store, err := quota.Open(ctx, cfg.QuotaDB(), cfg.QuotaConfig(), log)
	if err != nil {
		return fmt.Errorf("database: %w", err)
	}
	svc, err := landing.New(landing.Options{Config: cfg, Logger: log, Metrics: m, Store: store})
	if err != nil {
		_ = store.Close(context.Background())
		return err
	}
	defer svc.Close()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			env, err := environ()
			if err == nil {
				err = svc.Reload(env)
			}
			if err != nil {
				log.Error("reload refused; keeping the running keys and policy", "err", err)
				continue
			}
			log.Info("reloaded signing keys and path policy")
		}
	}()
	return server.Run(ctx, server.Options{
		Public: svc, ListenAddr: cfg.ListenAddr, AdminAddr: cfg.AdminAddr, Registry: m.Registry,
		Ready: svc.Ready, ShutdownTimeout: cfg.ShutdownTimeout, Logger: log, Cleanup: store.Close,
		TLSCertFile: cfg.TLSCertFile, TLSKeyFile: cfg.TLSKeyFile, UnixSocket: cfg.UnixSocket,
	})
}
