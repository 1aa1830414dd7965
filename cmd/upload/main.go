// Command upload is the alist-edge XMPP HTTP Upload backend (docs/upload.md): Prosody's
// mod_http_upload_external (v1, v2), Metronome, ejabberd's mod_http_upload external_secret and
// Prosody 0.12's mod_http_file_share JWT slots, stored in UPLOAD_DIR.
//
//	upload [-check-config] [-env-file FILE]    serve; SIGHUP reloads the secrets and limits
//	upload [-env-file FILE] migrate            apply database migrations and exit
package main

import (
	"io"
	"os"

	"github.com/alist-edge/alist-edge/internal/config"
	"github.com/alist-edge/alist-edge/internal/runner"
	"github.com/alist-edge/alist-edge/internal/upload"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

var command = runner.Command[*config.Upload]{
	Name: "upload",
	Load: config.LoadUpload,
	New: func(cfg *config.Upload, d runner.Deps) (runner.Service, error) {
		return upload.New(upload.Options{Config: cfg, Store: d.Store, Logger: d.Logger, Metrics: d.Metrics})
	},
}

func run(args []string, stdout, stderr io.Writer) int { return command.Main(args, stdout, stderr) }
