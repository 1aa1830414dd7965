package server

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type running struct {
	pub, adm net.Addr
	cancel   context.CancelFunc
	done     chan error
}

// start runs o on loopback ports (unless o says otherwise) and waits until it listens.
func start(t *testing.T, o Options) *running {
	t.Helper()
	if o.ListenAddr == "" {
		o.ListenAddr = "127.0.0.1:0"
	}
	if o.Logger == nil {
		o.Logger = quiet
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1)}
	ready := make(chan struct{})
	o.Listening = func(pub, adm net.Addr) { r.pub, r.adm = pub, adm; close(ready) }
	go func() { r.done <- Run(ctx, o) }()
	select {
	case <-ready:
	case err := <-r.done:
		cancel()
		t.Fatalf("Run: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("Run did not start listening")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(15 * time.Second):
			t.Error("Run did not return")
		}
	})
	return r
}

func (r *running) stop(t *testing.T, within time.Duration) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err // for Cleanup
		return err
	case <-time.After(within):
		t.Fatalf("Run did not return within %v", within)
	}
	return nil
}

func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestAdminEndpoints(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "alist_edge_test_total", Help: "test"})
	reg.MustRegister(c)
	c.Inc()
	var notReady atomic.Bool
	r := start(t, Options{Public: http.NotFoundHandler(), AdminAddr: "127.0.0.1:0", Registry: reg,
		Ready: func(ctx context.Context) error {
			if notReady.Load() {
				return errors.New("database unreachable")
			}
			return nil
		}})
	base := "http://" + r.adm.String()
	if code, body := get(t, http.DefaultClient, base+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, body := get(t, http.DefaultClient, base+"/readyz"); code != 200 || body != "ready\n" {
		t.Errorf("/readyz: %d %q", code, body)
	}
	notReady.Store(true)
	if code, body := get(t, http.DefaultClient, base+"/readyz"); code != 503 || !strings.Contains(body, "database unreachable") {
		t.Errorf("/readyz not ready: %d %q", code, body)
	}
	if code, body := get(t, http.DefaultClient, base+"/metrics"); code != 200 || !strings.Contains(body, "alist_edge_test_total 1") {
		t.Errorf("/metrics: %d %q", code, body)
	}
	if code, body := get(t, http.DefaultClient, base+"/debug/pprof/cmdline"); code != 200 || body == "" {
		t.Errorf("/debug/pprof/cmdline: %d %q", code, body)
	}
	resp, err := http.Post(base+"/healthz", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /healthz: %d", resp.StatusCode)
	}
	// never on the public listener
	if code, _ := get(t, http.DefaultClient, "http://"+r.pub.String()+"/metrics"); code != 404 {
		t.Errorf("public /metrics: %d", code)
	}
}

func TestReadyzTimeout(t *testing.T) {
	h := AdminHandler(nil, func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }, nil)
	srv := &http.Server{Handler: h}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	t0 := time.Now()
	if code, _ := get(t, http.DefaultClient, "http://"+ln.Addr().String()+"/readyz"); code != 503 {
		t.Errorf("hanging ready func: %d", code)
	}
	if d := time.Since(t0); d > 10*time.Second {
		t.Errorf("readyz took %v", d)
	}
}

// writeCert writes a self-signed certificate for 127.0.0.1 and returns its pool.
func writeCert(t *testing.T, dir, cn string, mod time.Time) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{certFile, keyFile} {
		if err := os.Chtimes(f, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func tlsClient(pool *x509.CertPool) *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
}

func protoHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, r.Proto) })
}

func TestTLSNegotiatesHTTP2(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := writeCert(t, dir, "one", time.Now())
	r := start(t, Options{Public: protoHandler(), TLSCertFile: certFile, TLSKeyFile: keyFile})
	url := "https://" + r.pub.String() + "/"
	resp, err := tlsClient(pool).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 || string(body) != "HTTP/2.0" || resp.TLS == nil || resp.TLS.NegotiatedProtocol != "h2" {
		t.Fatalf("proto %s, body %q, tls %+v", resp.Proto, body, resp.TLS)
	}
	// HTTP/1.1 clients still work
	h1 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}}
	if code, body := get(t, h1, url); code != 200 || body != "HTTP/1.1" {
		t.Fatalf("http/1.1: %d %q", code, body)
	}
	// plain HTTP on the TLS port is refused
	resp, err = http.Get("http://" + r.pub.String() + "/")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatal("plain HTTP served on the TLS listener")
		}
	}
}

func TestTLSCertReload(t *testing.T) {
	old := certCheckInterval
	certCheckInterval = 0
	t.Cleanup(func() { certCheckInterval = old })
	dir := t.TempDir()
	certFile, keyFile, pool1 := writeCert(t, dir, "one", time.Now().Add(-time.Hour))
	r := start(t, Options{Public: protoHandler(), TLSCertFile: certFile, TLSKeyFile: keyFile})
	url := "https://" + r.pub.String() + "/"
	if code, _ := get(t, tlsClient(pool1), url); code != 200 {
		t.Fatalf("first cert: %d", code)
	}
	// a broken renewal keeps the old certificate
	if err := os.WriteFile(keyFile, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _ := get(t, tlsClient(pool1), url); code != 200 {
		t.Fatalf("after a broken renewal: %d", code)
	}
	_, _, pool2 := writeCert(t, dir, "two", time.Now())
	resp, err := tlsClient(pool2).Get(url)
	if err != nil {
		t.Fatalf("renewed certificate not served: %v", err)
	}
	resp.Body.Close()
	if cn := resp.TLS.PeerCertificates[0].Subject.CommonName; cn != "two" {
		t.Fatalf("served %q", cn)
	}
}

func TestTLSBadFiles(t *testing.T) {
	dir := t.TempDir()
	err := Run(context.Background(), Options{Public: protoHandler(), ListenAddr: "127.0.0.1:0", Logger: quiet,
		TLSCertFile: filepath.Join(dir, "missing.pem"), TLSKeyFile: filepath.Join(dir, "missing.key")})
	if err == nil || !strings.Contains(err.Error(), "TLS_CERT_FILE") {
		t.Fatalf("missing files: %v", err)
	}
	err = Run(context.Background(), Options{Public: protoHandler(), ListenAddr: "127.0.0.1:0", Logger: quiet, TLSCertFile: "x"})
	if err == nil || !strings.Contains(err.Error(), "together") {
		t.Fatalf("cert without key: %v", err)
	}
}

func unixClient(path string) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}}
}

// shortDir is a temp dir with a path short enough for a unix socket.
func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ae")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func TestUnixSocket(t *testing.T) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) { testUnixSocket(t, srv.builtin) })
	}
}

func testUnixSocket(t *testing.T, builtin bool) {
	sock := filepath.Join(shortDir(t), "proxy.sock")
	// a stale socket left by a crashed process
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	if _, err := os.Lstat(sock); err != nil {
		t.Fatalf("stale socket not left: %v", err)
	}
	r := start(t, Options{Public: protoHandler(), ListenAddr: "127.0.0.1:1", UnixSocket: sock, AdminAddr: "127.0.0.1:0"})
	if r.pub.Network() != "unix" {
		t.Fatalf("public listener on %s", r.pub.Network())
	}
	fi, err := os.Lstat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&fs.ModeSocket == 0 || fi.Mode().Perm() != 0o660 {
		t.Fatalf("socket mode %v", fi.Mode())
	}
	if code, body := get(t, unixClient(sock), "http://alist-edge/x"); code != 200 || body != "HTTP/1.1" {
		t.Fatalf("unix: %d %q", code, body)
	}
	// a second instance must not steal a live socket
	err = Run(context.Background(), Options{Public: protoHandler(), UnixSocket: sock, Logger: quiet})
	if err == nil || !strings.Contains(err.Error(), "another process") {
		t.Fatalf("second instance: %v", err)
	}
	if err := r.stop(t, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(sock); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("socket left after shutdown: %v", err)
	}
}

func TestUnixSocketNotASocket(t *testing.T) {
	path := filepath.Join(shortDir(t), "data.db")
	if err := os.WriteFile(path, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := Run(context.Background(), Options{Public: protoHandler(), UnixSocket: path, Logger: quiet})
	if err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("regular file: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "precious" {
		t.Fatal("regular file was touched")
	}
}

func TestUnixSocketTLS(t *testing.T) {
	dir := shortDir(t)
	certFile, keyFile, pool := writeCert(t, dir, "one", time.Now())
	sock := filepath.Join(dir, "s.sock")
	start(t, Options{Public: protoHandler(), UnixSocket: sock, TLSCertFile: certFile, TLSKeyFile: keyFile})
	c := tlsClient(pool)
	c.Transport.(*http.Transport).DialContext = unixClient(sock).Transport.(*http.Transport).DialContext
	if code, body := get(t, c, "https://127.0.0.1/"); code != 200 || body != "HTTP/2.0" {
		t.Fatalf("TLS over unix: %d %q", code, body)
	}
}

func TestAdminListenFailureReleasesPublic(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	sock := filepath.Join(shortDir(t), "p.sock")
	err = Run(context.Background(), Options{Public: protoHandler(), UnixSocket: sock, AdminAddr: busy.Addr().String(), Logger: quiet})
	if err == nil {
		t.Fatal("admin address in use accepted")
	}
	if _, err := os.Lstat(sock); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("public socket left behind: %v", err)
	}
}

// slowServer runs a public handler that sends its headers, tells started, then finishes after
// hold (or when its connection is aborted).
func slowServer(t *testing.T, builtin bool, hold, shutdownTimeout time.Duration, cleanup *atomic.Int32) (*running, chan struct{}, *atomic.Bool) {
	started := make(chan struct{}, 1)
	var finished atomic.Bool
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "head;")
		w.(http.Flusher).Flush()
		started <- struct{}{}
		select {
		case <-time.After(hold):
			_, _ = io.WriteString(w, "tail")
			finished.Store(true)
		case <-r.Context().Done():
		}
	})
	r := start(t, Options{Public: h, ShutdownTimeout: shutdownTimeout, Cleanup: func(context.Context) error {
		if !finished.Load() && hold < shutdownTimeout {
			t.Error("cleanup ran before the in-flight response finished")
		}
		cleanup.Add(1)
		return nil
	}})
	return r, started, &finished
}

// servers are the plain public listener's two servers (HTTP_SERVER).
var servers = []struct {
	name    string
	builtin bool
}{{"net/http", false}}

func TestGracefulShutdownLetsInFlightFinish(t *testing.T) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) { testGracefulShutdownLetsInFlightFinish(t, srv.builtin) })
	}
}

func testGracefulShutdownLetsInFlightFinish(t *testing.T, builtin bool) {
	var cleanups atomic.Int32
	r, started, finished := slowServer(t, builtin, 500*time.Millisecond, 10*time.Second, &cleanups)
	type result struct {
		body string
		err  error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + r.pub.String() + "/slow")
		if err != nil {
			res <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		res <- result{string(b), err}
	}()
	<-started
	t0 := time.Now()
	if err := r.stop(t, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d < 300*time.Millisecond {
		t.Errorf("Run returned after %v, before the response finished", d)
	}
	got := <-res
	if got.err != nil || got.body != "head;tail" || !finished.Load() {
		t.Fatalf("in-flight response: %q %v", got.body, got.err)
	}
	if cleanups.Load() != 1 {
		t.Fatalf("cleanup ran %d times", cleanups.Load())
	}
	// new connections are refused once shutting down
	if _, err := net.DialTimeout("tcp", r.pub.String(), time.Second); err == nil {
		t.Error("still accepting after shutdown")
	}
}

func TestGracefulShutdownAbortsAfterTimeout(t *testing.T) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) { testGracefulShutdownAbortsAfterTimeout(t, srv.builtin) })
	}
}

func testGracefulShutdownAbortsAfterTimeout(t *testing.T, builtin bool) {
	var cleanups atomic.Int32
	r, started, finished := slowServer(t, builtin, time.Minute, 300*time.Millisecond, &cleanups)
	res := make(chan error, 1)
	go func() {
		resp, err := http.Get("http://" + r.pub.String() + "/slow")
		if err != nil {
			res <- err
			return
		}
		defer resp.Body.Close()
		_, err = io.ReadAll(resp.Body)
		res <- err
	}()
	<-started
	t0 := time.Now()
	if err := r.stop(t, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d < 250*time.Millisecond || d > 5*time.Second {
		t.Errorf("Run returned after %v; want about the 300ms shutdown timeout", d)
	}
	select {
	case err := <-res:
		if err == nil {
			t.Fatal("aborted stream read as complete")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("client still reading after the abort")
	}
	if finished.Load() {
		t.Fatal("handler finished normally")
	}
	if cleanups.Load() != 1 {
		t.Fatalf("cleanup ran %d times", cleanups.Load())
	}
}

// TestPipeliningWithoutReadingIsBounded: a client that pipelines thousands of requests and
// never reads gets at most MaxRequestsPerConn of them answered, and its connection is closed
// within the answer timeout instead of being held forever.
func TestPipeliningWithoutReadingIsBounded(t *testing.T) {
	var served atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		http.Error(w, `{"code":401,"message":"sign missing"}`, http.StatusUnauthorized)
	})
	r := start(t, Options{Public: h, AnswerTimeout: 500 * time.Millisecond, MaxRequestsPerConn: 100})
	c, err := net.Dial("tcp", r.pub.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A small receive buffer, never read: the answers pile up in the kernel.
	_ = c.(*net.TCPConn).SetReadBuffer(4 << 10)
	req := []byte("GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
	start := time.Now()
	_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	for i := 0; i < 5000; i++ {
		if _, err := c.Write(req); err != nil {
			break // the server closed the connection: expected
		}
	}
	time.Sleep(200 * time.Millisecond)
	if n := served.Load(); n > 100 {
		t.Fatalf("%d pipelined requests answered on one connection, want <= 100", n)
	}
	// The connection ends (EOF or reset) within the answer timeout.
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64<<10)
	for {
		if _, err := c.Read(buf); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("connection still open %v after the first request", time.Since(start))
			}
			break
		}
	}
}

// TestStalledReaderDropped: an answer written in one go to a client that reads nothing fails
// at the answer timeout, so the connection is not held forever.
func TestStalledReaderDropped(t *testing.T) {
	done := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "67108864")
		_, err := w.Write(make([]byte, 64<<20))
		done <- err
	})
	r := start(t, Options{Public: h, AnswerTimeout: 300 * time.Millisecond})
	c, err := net.Dial("tcp", r.pub.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.(*net.TCPConn).SetReadBuffer(4 << 10)
	if _, err := c.Write([]byte("GET /big HTTP/1.1\r\nHost: a\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a 64 MiB answer was written to a client that reads nothing")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the answer's write is still blocked after 10 s")
	}
}

// TestConnectionCap: past MaxConnections a new connection waits (in the kernel's accept queue)
// until an open one closes; then it is served.
func TestConnectionCap(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	r := start(t, Options{Public: h, MaxConnections: 2})
	dial := func() net.Conn {
		c, err := net.Dial("tcp", r.pub.String())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	idle1, idle2 := dial(), dial()
	defer idle2.Close()
	time.Sleep(100 * time.Millisecond) // both accepted: the cap is full
	third := dial()
	defer third.Close()
	if _, err := io.WriteString(third, "GET / HTTP/1.1\r\nHost: a\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = third.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, err := third.Read(make([]byte, 1)); n > 0 || err == nil {
		t.Fatal("a connection past the cap was served while the cap was full")
	}
	idle1.Close() // frees a slot
	_ = third.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(third), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("after a slot freed: %v %v", resp, err)
	}
}

// TestAdminAPIOnUnixSocket: ADMIN_ADDR=unix:/path serves the admin listener on a socket, and
// paths other than /metrics, /healthz and /readyz go to the service's admin API.
func TestAdminAPIOnUnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "admin.sock")
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "api "+r.Method+" "+r.URL.Path) })
	r := start(t, Options{Public: http.NotFoundHandler(), AdminAddr: "unix:" + sock, AdminAPI: api, Registry: prometheus.NewRegistry()})
	if r.adm.Network() != "unix" {
		t.Fatalf("admin listener on %s", r.adm.Network())
	}
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	for path, want := range map[string]string{"/healthz": "ok\n", "/policy/explain": "api GET /policy/explain", "/blocks": "api GET /blocks"} {
		if code, body := get(t, c, "http://localhost"+path); code != 200 || body != want {
			t.Errorf("%s: %d %q, want %q", path, code, body, want)
		}
	}
	req, _ := http.NewRequest(http.MethodDelete, "http://localhost/blocks", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "api DELETE /blocks" {
		t.Errorf("DELETE /blocks: %q", b)
	}
}
