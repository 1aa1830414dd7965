package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/alist-edge/alist-edge/internal/config"
	"github.com/alist-edge/alist-edge/internal/landing"
	"github.com/alist-edge/alist-edge/pkg/sign"
)

// signCmd prints the landing URL AList would hand out for a path: handy to test a deployment
// without AList, or to share one file. It needs only SIGN_SECRET or TOKEN.
func signCmd(args []string, environ func() (map[string]string, error), stdout, stderr io.Writer) int {
	env, err := environ()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	base := env["LANDING_URL"]
	if base == "" {
		base = "http://127.0.0.1:8081"
	}
	fs := flag.NewFlagSet("landing sign", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&base, "base", base, "the landing's public URL (default $LANDING_URL)")
	expireFlag := fs.String("expire", "0", "0 (never), a Unix time, or a duration from now such as 24h or 7d")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: landing sign [-base URL] [-expire T] /path/to/file")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 || !strings.HasPrefix(fs.Arg(0), "/") {
		fs.Usage()
		return 2
	}
	expire, err := parseExpire(*expireFlag, time.Now())
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	kr, err := sign.NewKeyring(env["SIGN_SECRET"], env["TOKEN"])
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	fmt.Fprintln(stdout, landing.SignedURL(base, kr, fs.Arg(0), expire))
	return 0
}

func parseExpire(s string, now time.Time) (int64, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 {
		return n, nil
	}
	d, err := config.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("-expire=%q: want 0, a Unix time or a duration such as 24h", s)
	}
	return now.Add(d).Unix(), nil
}
