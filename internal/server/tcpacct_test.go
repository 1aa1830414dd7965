package server

import (
	"crypto/tls"
	"io"
	"net/http"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/alist-edge/alist-edge/internal/tcpacct"
)

// TestPublicServerExposesDelivery: the public listener gives handlers the client connection's
// acknowledged-bytes counters (the proxy charges usage by them, docs/contract.md §9), for plain HTTP and
// TLS with HTTP/1.1, and they stay readable once net/http closed the connection (the reading
// Listener takes at close). HTTP/2 and unix sockets have none.
func TestPublicServerExposesDelivery(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the counters are Linux-only")
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := tcpacct.FromContext(r.Context())
		switch {
		case c == nil:
			_, _ = io.WriteString(w, "none")
		case c.TLS:
			_, _ = io.WriteString(w, "tls")
		case r.URL.Path == "/close":
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\n")
			_ = conn.Close()
			if _, err := c.Sample(); err != nil {
				t.Errorf("counters unreadable after close: %v", err)
			}
			_, _ = io.WriteString(conn, "closed") // lost: the client reads a short body
		default:
			_, _ = io.WriteString(w, "tcp")
		}
	})
	t.Run("plain", func(t *testing.T) {
		r := start(t, Options{Public: handler})
		if code, body := get(t, http.DefaultClient, "http://"+r.pub.String()+"/"); code != 200 || body != "tcp" {
			t.Fatalf("%d %q", code, body)
		}
		resp, err := http.Get("http://" + r.pub.String() + "/close")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	})
	t.Run("tls", func(t *testing.T) {
		certFile, keyFile, pool := writeCert(t, t.TempDir(), "one", time.Now())
		r := start(t, Options{Public: handler, TLSCertFile: certFile, TLSKeyFile: keyFile})
		url := "https://" + r.pub.String() + "/"
		if code, body := get(t, tlsClient(pool), url); code != 200 || body != "none" {
			t.Fatalf("h2: %d %q", code, body)
		}
		h1 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool},
			TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}}
		if code, body := get(t, h1, url); code != 200 || body != "tls" {
			t.Fatalf("http/1.1: %d %q", code, body)
		}
	})
	t.Run("unix", func(t *testing.T) {
		sock := filepath.Join(shortDir(t), "s")
		start(t, Options{Public: handler, UnixSocket: sock})
		if code, body := get(t, unixClient(sock), "http://unix/"); code != 200 || body != "none" {
			t.Fatalf("%d %q", code, body)
		}
	})
}
