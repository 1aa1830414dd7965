// Command proxy is the alist-edge download proxy (docs/contract.md §5–§9).
//
//	proxy [-check-config] [-env-file FILE]    serve; SIGHUP reloads keys, policy and checks
//	proxy [-env-file FILE] migrate            apply database migrations and exit
//	proxy [-check-config -print-policy]       print the effective policy as TOML
//	proxy [-env-file FILE] admin COMMAND      talk to the admin API (docs/admin.md): explain, usage, unban, revoke, ...
//
// Settings come from the environment, with the KEY=VALUE lines of -env-file (default
// $ENV_FILE) over it. SIGHUP re-reads both and swaps the new configuration in without dropping
// a download; an invalid one is logged and the running one stays, and settings that need a
// restart are named.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/alist-edge/alist-edge/internal/admin"
	"github.com/alist-edge/alist-edge/internal/config"
	"github.com/alist-edge/alist-edge/internal/proxy"
	"github.com/alist-edge/alist-edge/internal/runner"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

var command = runner.Command[*config.Proxy]{
	Name:      "proxy",
	Load:      config.LoadProxy,
	BufferLog: true, // one write per batch of access lines: the log is on the hot path
	New: func(cfg *config.Proxy, d runner.Deps) (runner.Service, error) {
		return proxy.New(proxy.Options{Config: cfg, Store: d.Store, Logger: d.Logger, Metrics: d.Metrics, Environ: d.Environ})
	},
	Subcommands: map[string]func([]string, func() (map[string]string, error), io.Writer, io.Writer) int{
		// admin needs only ADMIN_ADDR and ADMIN_TOKEN of the environment, not a valid configuration.
		"admin": func(args []string, environ func() (map[string]string, error), stdout, stderr io.Writer) int {
			env, err := environ()
			if err != nil {
				fmt.Fprintln(stderr, err)
				return 2
			}
			return admin.RunCLI(args, env, stdout, stderr)
		},
	},
}

func run(args []string, stdout, stderr io.Writer) int { return command.Main(args, stdout, stderr) }
