package proxy

import (
	"bytes"
	"crypto/sha256"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/alist-edge/alist-edge/internal/vectors"
)

// requestTarget is the path and query of a vector's URL, exactly as written.
func requestTarget(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(raw, u.Host) + len(u.Host)
	return raw[i:]
}

// TestPositiveVectors: every link the original landing made downloads through this proxy, byte
// for byte, with the clock, WORKER_ADDRESS, settings and client IP of the case.
func TestPositiveVectors(t *testing.T) {
	for _, c := range vectors.Load(t).Positive {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"TOKEN": c.AlistToken(), "WORKER_ADDRESS": c.ProxyCheck.WorkerAddress}
			if c.EnvSignSecret != "" {
				env["SIGN_SECRET"] = c.EnvSignSecret
			}
			for k, v := range c.ProxyCheck.Env {
				env[k] = v
			}
			e := newEnv(t, envOpts{env: env, now: c.ProxyCheck.Now})
			sum := sha256.Sum256([]byte(c.Name))
			data := bytes.Repeat(sum[:], 37)
			e.put(c.Path, data)

			r := e.do(http.MethodGet, requestTarget(t, c.DownloadURL), c.IP)
			if c.ProxyCheck.Status != http.StatusOK {
				wantJSONError(t, r, c.ProxyCheck.Status, c.ProxyCheck.Message)
				if e.alist.TotalCalls() != 0 || e.store.checks.Load() != 0 {
					t.Fatalf("refused request reached AList (%d) or the database (%d)", e.alist.TotalCalls(), e.store.checks.Load())
				}
				return
			}
			if r.status != http.StatusOK || !bytes.Equal(r.body, data) {
				t.Fatalf("got %d %q", r.status, r.body)
			}
			if got := e.alist.Calls("/api/fs/link"); got != 1 {
				t.Fatalf("fs/link calls = %d", got)
			}
			if h := e.alist.LastHeaders(); h.Get("Authorization") != c.AlistToken() || h.Get("CF-Connecting-IP-WORKERS") != c.IP {
				t.Fatalf("AList call headers: %v", h)
			}
		})
	}
}

// TestNegativeVectors: every refusal of the original proxy, with its status and message (or
// our deliberate difference, docs/contract.md §11), and neither AList nor the database saw the request.
func TestNegativeVectors(t *testing.T) {
	for _, c := range vectors.Load(t).Negative {
		if !c.IsProxy() {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{env: map[string]string{"TOKEN": c.Token, "WORKER_ADDRESS": c.ProxyWorkerAddress}, now: c.Now})
			e.put("/file.txt", []byte("file body"))
			ip := c.IP
			if c.CFConnectingIPHeader != "" {
				ip = c.CFConnectingIPHeader
			}
			r := e.do(http.MethodGet, requestTarget(t, c.URL), ip)
			status, msg := c.Expected()
			if status == http.StatusOK {
				if r.status != http.StatusOK || string(r.body) != "file body" {
					t.Fatalf("got %d %q, want 200", r.status, r.body)
				}
				return
			}
			wantJSONError(t, r, status, msg)
			if e.alist.TotalCalls() != 0 || e.store.checks.Load() != 0 {
				t.Fatalf("refused request reached AList (%d calls) or the database (%d checks)", e.alist.TotalCalls(), e.store.checks.Load())
			}
		})
	}
}
