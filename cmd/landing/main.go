// Command landing is the alist-edge landing service: paste its public URL into an AList
// storage's "download proxy URL" and every link AList hands out goes through it.
//
//	landing [-check-config] [-env-file FILE]   serve; SIGHUP reloads signing keys and path policy
//	landing [-env-file FILE] migrate           apply database migrations and exit
//	landing [-env-file FILE] sign [-base URL] [-expire T] /path   print a signed landing URL
//	landing [-env-file FILE] user add NAME [--group G]...       add a user to USERS_FILE (password on stdin)
//
// Settings come from the environment, with the KEY=VALUE lines of -env-file (default
// $ENV_FILE) over it, the same rules as cmd/proxy. SIGHUP re-reads both and swaps the signing
// keys and the path policy; an invalid new configuration is logged and the running one kept,
// and settings that need a restart are named.
package main

import (
	"io"
	"os"

	"github.com/alist-edge/alist-edge/internal/config"
	"github.com/alist-edge/alist-edge/internal/landing"
	"github.com/alist-edge/alist-edge/internal/runner"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

var command = runner.Command[*config.Landing]{
	Name: "landing",
	Load: config.LoadLanding,
	New: func(cfg *config.Landing, d runner.Deps) (runner.Service, error) {
		return landing.New(landing.Options{Config: cfg, Logger: d.Logger, Metrics: d.Metrics, Store: d.Store, Environ: d.Environ})
	},
	Subcommands: map[string]func([]string, func() (map[string]string, error), io.Writer, io.Writer) int{"sign": signCmd, "user": userCmd},
}

func run(args []string, stdout, stderr io.Writer) int { return command.Main(args, stdout, stderr) }
