// Package runner is what every alist-edge command does around its service: flags
// (-check-config, -env-file), the migrate subcommand, the configuration read from the environment
// and an env file, the database, signals (SIGINT/SIGTERM: graceful stop; SIGHUP: reload that
// names the settings needing a restart) and the listeners (internal/server). A cmd/*/main.go
// only says which service to build.
package runner

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/alist-edge/alist-edge/internal/config"
	"github.com/alist-edge/alist-edge/internal/logx"
	"github.com/alist-edge/alist-edge/internal/metrics"
	"github.com/alist-edge/alist-edge/internal/server"
	"github.com/alist-edge/alist-edge/pkg/quota"
)

// Service is a running service: its public handler, readiness, reload and cleanup.
type Service interface {
	http.Handler
	// Ready answers /readyz: nil when the service can serve (its database can commit).
	Ready(ctx context.Context) error
	// Reload applies the configuration read from environ (SIGHUP) and returns the variables
	// that changed but need a restart; an error means nothing was applied.
	Reload(environ map[string]string) (needRestart []string, err error)
	Close() error
}

// Config is what the runner needs of a service's configuration (*config.Proxy, *config.Landing).
type Config interface {
	Base() *config.Infra
	Listen() (public, admin string)
	Warnings() []config.Warning
	QuotaDB() quota.DB
	QuotaConfig() quota.Config
}

// PolicyPrinter is a configuration with a path policy (the proxy's and the landing's):
// -check-config -print-policy prints it.
type PolicyPrinter interface{ PolicyTOML() []byte }

// AdminAPI is a service with routes of its own on the admin listener (the proxy's admin API).
type AdminAPI interface{ AdminAPI() http.Handler }

// Deps are what the runner hands a service it builds.
type Deps struct {
	Store   quota.Store
	Logger  *slog.Logger
	Metrics *metrics.Metrics
	Environ map[string]string
}

// Command describes one service binary.
type Command[C Config] struct {
	Name string // "proxy", "landing": the metrics' service label and the usage lines
	Load func(environ map[string]string) (C, error)
	New  func(cfg C, d Deps) (Service, error)
	// Subcommands other than migrate (the landing's sign), run before the configuration is
	// validated: they may need less of it.
	Subcommands map[string]func(args []string, environ func() (map[string]string, error), stdout, stderr io.Writer) int
	// BufferLog batches log lines into one write per 64 KiB or 100 ms (the proxy's access log is
	// on its hot path).
	BufferLog bool
}

// Main runs the command with args (without the program name) and returns the exit code: 0,
// 1 for a failure while running, 2 for a usage or configuration error.
func (c Command[C]) Main(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(c.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	checkConfig := fs.Bool("check-config", false, "validate the configuration and exit (every problem at once)")
	printPolicy := fs.Bool("print-policy", false, "with -check-config: print the effective policy (env lists and POLICY_FILE) as TOML")
	envFile := fs.String("env-file", os.Getenv("ENV_FILE"), "KEY=VALUE file read over the environment (again on SIGHUP)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	environ := func() (map[string]string, error) { return config.LoadEnviron(*envFile) }
	if sub, ok := c.Subcommands[fs.Arg(0)]; ok && fs.NArg() > 0 {
		return sub(fs.Args()[1:], environ, stdout, stderr)
	}
	env, err := environ()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	cfg, err := c.Load(env)
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
		fmt.Fprintf(stderr, "unknown command %q; accepted: %s (or none to serve)\n", fs.Arg(0), c.commandNames())
		return 2
	case *checkConfig:
		for _, w := range cfg.Warnings() {
			fmt.Fprintln(stderr, "warning:", w)
		}
		if pp, ok := any(cfg).(PolicyPrinter); ok && *printPolicy {
			_, _ = stdout.Write(pp.PolicyTOML())
			return 0
		}
		fmt.Fprintln(stdout, "configuration ok")
		return 0
	case *printPolicy:
		fmt.Fprintln(stderr, "-print-policy goes with -check-config")
		return 2
	}
	if err := c.serve(ctx, cfg, env, environ, stderr); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}

func (c Command[C]) commandNames() string {
	names := []string{"migrate"}
	for n := range c.Subcommands {
		names = append(names, n)
	}
	return strings.Join(names, ", ")
}

func (c Command[C]) serve(ctx context.Context, cfg C, env map[string]string, environ func() (map[string]string, error), stderr io.Writer) error {
	base := cfg.Base()
	listen, admin := cfg.Listen()
	logOut := stderr
	if c.BufferLog {
		bw := logx.NewBufferedWriter(stderr, 64<<10, 100*time.Millisecond)
		defer bw.Close()
		logOut = bw
	}
	log := logx.New(logOut, base.LogLevel, base.LogFormat)
	config.LogWarnings(log, cfg.Warnings())
	m := metrics.New(c.Name)
	store, err := quota.Open(ctx, cfg.QuotaDB(), cfg.QuotaConfig(), log)
	if err != nil {
		return fmt.Errorf("database: %w", err)
	}
	svc, err := c.New(cfg, Deps{Store: store, Logger: log, Metrics: m, Environ: env})
	if err != nil {
		_ = store.Close(context.Background())
		return err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			reload(log, svc, environ)
		}
	}()
	var api http.Handler
	if a, ok := svc.(AdminAPI); ok {
		api = a.AdminAPI()
	}
	return server.Run(ctx, server.Options{
		Public: svc, AdminAPI: api, ListenAddr: listen, AdminAddr: admin, Registry: m.Registry,
		Ready: svc.Ready, ShutdownTimeout: base.ShutdownTimeout, Logger: log,
		TLSCertFile: base.TLSCertFile, TLSKeyFile: base.TLSKeyFile, UnixSocket: base.UnixSocket,
		MaxConnections: base.MaxConnections,
		Cleanup: func(ctx context.Context) error {
			// The service first (idle upstream connections, the local folder), then the store,
			// which flushes the usage the last streams recorded.
			return errors.Join(svc.Close(), store.Close(ctx))
		},
	})
}

// reload is one SIGHUP: the same lines in both services, whatever happened.
func reload(log *slog.Logger, svc Service, environ func() (map[string]string, error)) {
	env, err := environ()
	var restart []string
	if err == nil {
		restart, err = svc.Reload(env)
	}
	if err != nil {
		log.Error("reload refused; keeping the running configuration", "err", err)
		return
	}
	if len(restart) > 0 {
		log.Warn("reload: these settings changed but need a restart; running values kept", "settings", strings.Join(restart, ", "))
	}
	log.Info("configuration reloaded")
}
