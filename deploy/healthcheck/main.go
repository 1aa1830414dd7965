// Command healthcheck is the Docker HEALTHCHECK of the alist-edge image, whose distroless base
// has no shell, curl or wget: it asks the service's admin listener and exits 0 when the answer
// is 200, else 1.
//
//	healthcheck [-path /healthz] [-timeout 3s] [URL]
//
// Without URL it asks http://ADMIN_ADDR/<path> (an unspecified host such as 0.0.0.0 or "" is
// asked on loopback); without ADMIN_ADDR it tries the two default admin ports, 127.0.0.1:9090
// (proxy) and 127.0.0.1:9091 (landing), so one image serves both services.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv("ADMIN_ADDR"), os.Stderr))
}

func run(args []string, adminAddr string, stderr io.Writer) int {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("path", "/healthz", "admin endpoint to ask (/healthz or /readyz)")
	timeout := fs.Duration("timeout", 3*time.Second, "give up after")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var urls []string
	switch {
	case fs.NArg() > 0:
		urls = fs.Args()[:1]
	case adminAddr != "":
		urls = []string{"http://" + loopback(adminAddr) + *path}
	default:
		urls = []string{"http://127.0.0.1:9090" + *path, "http://127.0.0.1:9091" + *path}
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	var last error
	for _, u := range urls {
		if last = check(ctx, u); last == nil {
			return 0
		}
	}
	fmt.Fprintln(stderr, "unhealthy:", last)
	return 1
}

// loopback replaces an unspecified listen host with 127.0.0.1 (or ::1).
func loopback(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}

func check(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}
