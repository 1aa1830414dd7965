package origin

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestProxyFromEnviron(t *testing.T) {
	env := map[string]string{
		"HTTPS_PROXY": "http://secure.proxy:3128",
		"http_proxy":  "plain.proxy:8080", // no scheme: http://
		"ALL_PROXY":   "socks5h://socks.proxy:1080",
		"NO_PROXY":    "internal.example, .corp.example,10.0.0.0/8,192.0.2.1,api.example:8443",
	}
	pf, err := ProxyFromEnviron(env)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ url, want string }{
		{"https://cdn.example/f", "http://secure.proxy:3128"},
		{"http://cdn.example/f", "http://plain.proxy:8080"},
		{"https://internal.example/f", ""},
		{"https://sub.internal.example/f", ""},
		{"https://corp.example/f", "http://secure.proxy:3128"}, // ".corp.example" is subdomains only
		{"https://a.corp.example/f", ""},
		{"http://10.1.2.3/f", ""},
		{"http://192.0.2.1/f", ""},
		{"https://api.example:8443/f", ""},
		{"https://api.example/f", "http://secure.proxy:3128"},
		{"http://127.0.0.1:5244/d/x", ""},
		{"http://localhost/x", ""},
		{"http://[::1]/x", ""},
	} {
		u, _ := url.Parse(c.url)
		got, err := pf(&http.Request{URL: u})
		if err != nil {
			t.Fatal(err)
		}
		gs := ""
		if got != nil {
			gs = got.String()
		}
		if gs != c.want {
			t.Errorf("%s: proxy %q, want %q", c.url, gs, c.want)
		}
	}

	// ALL_PROXY alone covers both schemes, socks5 included.
	pf, err = ProxyFromEnviron(map[string]string{"all_proxy": "socks5://127.0.0.9:1080", "NO_PROXY": "*"})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse("https://x.example/")
	if got, _ := pf(&http.Request{URL: u}); got != nil {
		t.Fatalf("NO_PROXY=* still proxied: %v", got)
	}
	pf, _ = ProxyFromEnviron(map[string]string{"ALL_PROXY": "socks5://127.0.0.9:1080"})
	if got, _ := pf(&http.Request{URL: u}); got == nil || got.Scheme != "socks5" {
		t.Fatalf("ALL_PROXY not used: %v", got)
	}
	if pf, err := ProxyFromEnviron(nil); pf != nil || err != nil {
		t.Fatal("no variables must mean no proxy function")
	}
	if _, err := ProxyFromEnviron(map[string]string{"HTTPS_PROXY": "ftp://x:1"}); err == nil || !strings.Contains(err.Error(), "HTTPS_PROXY") {
		t.Fatalf("bad scheme accepted: %v", err)
	}
}

// TestOutboundProxyUsed: a request through the transport really goes to the configured proxy.
func TestOutboundProxyUsed(t *testing.T) {
	var hit atomic.Bool
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hit.Store(true)
		_, _ = io.WriteString(w, "via proxy")
	}))
	defer fake.Close()
	pf, err := ProxyFromEnviron(map[string]string{"HTTP_PROXY": fake.URL})
	if err != nil {
		t.Fatal(err)
	}
	tr := NewTransport(Options{ConnectTimeout: time.Second, TLSTimeout: time.Second, HeaderTimeout: time.Second, Proxy: pf})
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodGet, "http://upstream.invalid/file", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !hit.Load() || string(b) != "via proxy" {
		t.Fatalf("proxy not used: %q", b)
	}
}

func TestLocal(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "a"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "a", "f.txt"), []byte("f"), 0o644))
	must(t, os.WriteFile(filepath.Join(outside, "secret"), []byte("s"), 0o644))
	must(t, os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "a", "out")))
	must(t, os.Symlink("f.txt", filepath.Join(dir, "a", "in")))
	must(t, os.Symlink("../..", filepath.Join(dir, "a", "up")))
	l, err := OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, c := range []struct {
		p    string
		want error
	}{
		{"/a/f.txt", nil},
		{"/a/in", nil},
		{"//a//f.txt", nil},
		{"/a/out", ErrForbidden},
		{"/a/up/etc/passwd", ErrForbidden},
		{"/a/../../etc/passwd", ErrForbidden},
		{"/../" + filepath.Base(outside) + "/secret", ErrForbidden},
		{"/a", ErrNotFound},
		{"/", ErrNotFound},
		{"/a/", ErrNotFound},
		{"/a/missing", ErrNotFound},
		{"/a/f.txt/x", ErrNotFound},
		{"/a/f\x00.txt", ErrNotFound},
	} {
		f, _, err := l.Open(c.p)
		if f != nil {
			f.Close()
		}
		if !errors.Is(err, c.want) && !(c.want == nil && err == nil) {
			t.Errorf("%q: err %v, want %v", c.p, err, c.want)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestOriginOf(t *testing.T) {
	for in, want := range map[string]string{
		"HTTPS://DL.Example.com:443/x": "https://dl.example.com",
		"http://a.example:80":          "http://a.example",
		"http://a.example:8080/p?q":    "http://a.example:8080",
		"http://[::1]:9/":              "http://[::1]:9",
	} {
		u, _ := url.Parse(in)
		if got := originOf(u); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
}

func TestBackoff(t *testing.T) {
	d := 100 * time.Millisecond
	for try, want := range map[int]time.Duration{1: d, 2: 2 * d, 3: 4 * d, 10: 5 * time.Second} {
		if got := backoff(d, try); got != want {
			t.Errorf("try %d: %v, want %v", try, got, want)
		}
	}
}

// TestFetchForwardsAndStrips: the client's Range and validators go upstream, its other headers
// do not; data.header goes to the link's host only.
func TestFetchForwardsAndStrips(t *testing.T) {
	var got atomic.Pointer[http.Header]
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Clone()
		got.Store(&h)
		_, _ = io.WriteString(w, "done")
	}))
	defer other.Close()
	link := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer storage" || r.Header.Get("Range") != "bytes=1-2" {
			w.WriteHeader(400)
			return
		}
		http.Redirect(w, r, other.URL+"/next", http.StatusFound)
	}))
	defer link.Close()
	f := &Fetcher{Transport: NewTransport(Options{ConnectTimeout: time.Second, TLSTimeout: time.Second, HeaderTimeout: time.Second}), MaxRedirects: 2}
	client := http.Header{"Range": {"bytes=1-2"}, "If-Range": {`"e"`}, "Cookie": {"c=1"}, "X-Forwarded-For": {"1.2.3.4"}, "User-Agent": {"dm/1"}}
	resp, err := f.Fetch(context.Background(), &Request{URL: link.URL + "/f", Method: http.MethodGet,
		Header: http.Header{"Authorization": {"Bearer storage"}, "X-Extra": {"1"}}, Client: client, Redirects: 2, Buf: make([]byte, 1024)})
	if err != nil {
		t.Fatal(err)
	}
	resp.Close()
	h := *got.Load()
	if h.Get("Range") != "bytes=1-2" || h.Get("If-Range") != `"e"` || h.Get("User-Agent") != "dm/1" || h.Get("X-Extra") != "1" {
		t.Fatalf("forwarded: %v", h)
	}
	for _, k := range []string{"Cookie", "X-Forwarded-For", "Authorization", "Accept-Encoding"} {
		if h.Get(k) != "" {
			t.Errorf("%s sent upstream: %q", k, h.Get(k))
		}
	}
	if string(resp.Head) != "done" || resp.HeadErr != io.EOF {
		t.Fatalf("head %q %v", resp.Head, resp.HeadErr)
	}
}
