package origin

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
)

func TestRefusedAddr(t *testing.T) {
	for s, want := range map[string]bool{
		"169.254.169.254": true, "169.254.0.1": true, "169.254.255.255": true, "fe80::1": true, "fe80::1%eth0": true,
		"febf::1": true, "fd00:ec2::254": true, "100.100.100.200": true, "::ffff:169.254.169.254": true,
		"64:ff9b::a9fe:a9fe": true, "224.0.0.251": true, "ff02::1": true,
		"127.0.0.1": false, "::1": false, "10.0.0.5": false, "192.168.1.2": false, "172.16.0.1": false,
		"fd00:ec2::253": false, "100.100.100.201": false, "203.0.113.7": false, "2001:db8::1": false, "fec0::1": false,
	} {
		if got := RefusedAddr(netip.MustParseAddr(s)); got != want {
			t.Errorf("RefusedAddr(%s) = %v, want %v", s, got, want)
		}
	}
	for _, a := range []string{"169.254.169.254:80", "[fd00:ec2::254]:80", "[fe80::1%lo]:80", "100.100.100.200:80", "not-an-ip:80"} {
		if err := SafeControl("tcp", a, nil); !isAddrRefused(err) {
			t.Errorf("SafeControl(%s) = %v", a, err)
		}
	}
	for _, a := range []string{"127.0.0.1:80", "[::1]:443", "10.1.2.3:5244"} {
		if err := SafeControl("tcp", a, nil); err != nil {
			t.Errorf("SafeControl(%s) = %v", a, err)
		}
	}
}

// TestRedirectToMetadataRefused: an upstream redirect to the metadata service is answered
// with a 502 "upstream address refused" at once, without a retry and without a connection
// (the dialer's Control refuses before connect).
func TestRedirectToMetadataRefused(t *testing.T) {
	for _, loc := range []string{"http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/latest/meta-data/",
		"http://100.100.100.200/latest/meta-data/", "http://[fe80::1%25lo]:8080/"} {
		var hits atomic.Int64
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			http.Redirect(w, r, loc, http.StatusFound)
		}))
		for _, tr := range []interface {
			http.RoundTripper
			CloseIdleConnections()
		}{NewTransport(Options{ConnectTimeout: 5 * time.Second, HeaderTimeout: 5 * time.Second}),
			NewUpstream(Options{ConnectTimeout: 5 * time.Second, HeaderTimeout: 5 * time.Second})} {
			hits.Store(0)
			redirectToRefused(t, tr, up.URL, loc, &hits)
			tr.CloseIdleConnections()
		}
		up.Close()
	}
	// A direct link to a refused address never reaches connect either.
	d := &net.Dialer{Control: SafeControl}
	if _, err := d.Dial("tcp", "169.254.169.254:80"); !isAddrRefused(err) {
		t.Fatalf("dial: %v", err)
	}
	for _, u := range []string{"http://169.254.169.254/latest/meta-data/", "https://[fd00:ec2::254]/"} {
		resp, err := (&http.Client{Transport: NewUpstream(Options{ConnectTimeout: time.Second})}).Get(u)
		if err == nil {
			resp.Body.Close()
		}
		if !isAddrRefused(err) {
			t.Fatalf("%s through the download transport: %v", u, err)
		}
	}
}

func redirectToRefused(t *testing.T, tr http.RoundTripper, upURL, loc string, hits *atomic.Int64) {
	{
		var retries atomic.Int64
		f := &Fetcher{Transport: tr, Retries: 3, RetryDelay: 50 * time.Millisecond, MaxRedirects: 3,
			OnRetry: func() { retries.Add(1) }}
		start := time.Now()
		resp, err := f.Fetch(context.Background(), &Request{URL: upURL + "/file", Method: http.MethodGet, Redirects: 3, Buf: make([]byte, 1024)})
		took := time.Since(start)
		resp.Close()
		if !errors.Is(err, ErrAddressRefused) {
			t.Errorf("%s: err %v, want ErrAddressRefused (hits %d)", loc, err, hits.Load())
		}
		if retries.Load() != 0 || hits.Load() != 1 || took > time.Second {
			t.Errorf("%s: %d retries, %d upstream hits, took %v", loc, retries.Load(), hits.Load(), took)
		}
	}
}

// TestOutboundProxyGuard: with HTTP_PROXY set the dialer only sees the proxy, so a metadata
// IP literal in the URL is refused before the outbound proxy is asked.
func TestOutboundProxyGuard(t *testing.T) {
	var hits atomic.Int64
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte("via proxy"))
	}))
	defer fake.Close()
	pf, err := ProxyFromEnviron(map[string]string{"HTTP_PROXY": fake.URL})
	if err != nil {
		t.Fatal(err)
	}
	tr := NewTransport(Options{ConnectTimeout: time.Second, HeaderTimeout: time.Second, Proxy: pf})
	defer tr.CloseIdleConnections()
	f := &Fetcher{Transport: tr, Retries: 2, RetryDelay: 10 * time.Millisecond}
	for _, u := range []string{"http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/", "http://[::ffff:169.254.169.254]/"} {
		_, err := f.Fetch(context.Background(), &Request{URL: u, Method: http.MethodGet, Buf: make([]byte, 64)})
		if !errors.Is(err, ErrAddressRefused) {
			t.Errorf("%s: %v", u, err)
		}
	}
	// The download transport hands proxied requests to the same guarded http.Transport.
	up := NewUpstream(Options{ConnectTimeout: time.Second, HeaderTimeout: time.Second, Proxy: pf})
	defer up.CloseIdleConnections()
	uf := &Fetcher{Transport: up}
	if _, err := uf.Fetch(context.Background(), &Request{URL: "http://169.254.169.254/x", Method: http.MethodGet, Buf: make([]byte, 64)}); !errors.Is(err, ErrAddressRefused) {
		t.Errorf("download transport: %v", err)
	}
	if hits.Load() != 0 {
		t.Fatalf("the outbound proxy was asked %d times", hits.Load())
	}
	resp, err := uf.Fetch(context.Background(), &Request{URL: "http://upstream.invalid/file", Method: http.MethodGet, Buf: make([]byte, 64)})
	if err != nil || string(resp.Head) != "via proxy" {
		t.Fatalf("download transport, allowed host: %v", err)
	}
	resp.Close()
	resp, err = f.Fetch(context.Background(), &Request{URL: "http://upstream.invalid/file", Method: http.MethodGet, Buf: make([]byte, 64)})
	if err != nil || string(resp.Head) != "via proxy" {
		t.Fatalf("allowed host: %v", err)
	}
	resp.Close()
}
