// Package origin is where the download proxy gets bytes from: an upstream HTTP server reached
// through a tuned, pooled transport (the link AList hands out), or a local folder served
// straight from disk (ADDRESS=file:///dir).
package origin

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// Options are the upstream settings (UPSTREAM_* in the configuration).
type Options struct {
	ConnectTimeout time.Duration // TCP connect (UPSTREAM_CONNECT_TIMEOUT)
	TLSTimeout     time.Duration // TLS handshake (UPSTREAM_TLS_TIMEOUT)
	HeaderTimeout  time.Duration // request sent → response headers (UPSTREAM_HEADER_TIMEOUT)
	// Proxy picks an outbound proxy per request (ProxyFromEnviron); nil connects directly.
	Proxy func(*http.Request) (*url.URL, error)
}

// NewTransport returns the pooled upstream transport. HTTP/1.1 on purpose: parallel large
// downloads from one host each get their own TCP connection instead of sharing one HTTP/2
// connection's congestion and flow-control windows. Compression is off so that bytes,
// Content-Length and Range stay exactly the upstream's.
func NewTransport(o Options) *http.Transport {
	d := &net.Dialer{Timeout: o.ConnectTimeout, KeepAlive: 30 * time.Second, Control: SafeControl} // ssrf.go
	return &http.Transport{
		Proxy:                 guardProxy(o.Proxy), // ssrf.go
		DialContext:           d.DialContext,
		TLSHandshakeTimeout:   o.TLSTimeout,
		ResponseHeaderTimeout: o.HeaderTimeout,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		DisableCompression:    true,
		// 16 KiB = the proxy's small stream buffer, so its reads bypass this buffer (larger
		// reads always do); a thousand slow streams then hold 16 MiB here, not 64.
		ReadBufferSize:         16 << 10,
		WriteBufferSize:        8 << 10,
		MaxResponseHeaderBytes: 256 << 10,
	}
}

// NewUpstream returns the proxy's upstream client (AList's API and the downloads): net/http's
// Transport, tuned by NewTransport. It checks a pooled connection before reusing it, so an
// answer an upstream sends unprompted on an idle connection never reaches another request.
func NewUpstream(o Options) *http.Transport { return NewTransport(o) }

// ProxyFromEnviron builds the outbound proxy choice from HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and
// NO_PROXY (upper or lower case; upper wins). ALL_PROXY is the fallback for both schemes and
// may be socks5:// or socks5h://, which net/http speaks natively. Like net/http, requests to
// localhost and loopback addresses never use a proxy. A malformed proxy URL is an error, so a
// typo fails at startup instead of silently connecting directly.
func ProxyFromEnviron(environ map[string]string) (func(*http.Request) (*url.URL, error), error) {
	get := func(name string) string {
		if v := strings.TrimSpace(environ[name]); v != "" {
			return v
		}
		return strings.TrimSpace(environ[strings.ToLower(name)])
	}
	var errs []error
	parse := func(name string) *url.URL {
		v := get(name)
		if v == "" {
			return nil
		}
		u, err := parseProxyURL(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %v", name, v, err))
		}
		return u
	}
	httpP, httpsP, allP := parse("HTTP_PROXY"), parse("HTTPS_PROXY"), parse("ALL_PROXY")
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if httpP == nil && httpsP == nil && allP == nil {
		return nil, nil
	}
	np := parseNoProxy(get("NO_PROXY"))
	return func(r *http.Request) (*url.URL, error) {
		p := allP
		switch r.URL.Scheme {
		case "https":
			if httpsP != nil {
				p = httpsP
			}
		case "http":
			if httpP != nil {
				p = httpP
			}
		}
		if p == nil || !np.useProxy(r.URL) {
			return nil, nil
		}
		return p, nil
	}, nil
}

func parseProxyURL(v string) (*url.URL, error) {
	if !strings.Contains(v, "://") {
		v = "http://" + v
	}
	u, err := url.Parse(v)
	if err != nil {
		return nil, errors.New("not a URL")
	}
	switch u.Scheme {
	case "http", "https", "socks5", "socks5h":
	default:
		return nil, fmt.Errorf("scheme %q; accepted: http, https, socks5, socks5h", u.Scheme)
	}
	if u.Host == "" {
		return nil, errors.New("no host")
	}
	return u, nil
}

// noProxy is a parsed NO_PROXY: "*", IPs, CIDRs, host names (matching the name and its
// subdomains), ".domain" (subdomains only), each optionally with ":port".
type noProxy struct {
	all      bool
	prefixes []netip.Prefix
	hosts    []hostMatch
}

type hostMatch struct {
	name    string // lower case, no leading dot
	subOnly bool
	port    string
	isIP    bool
}

func parseNoProxy(s string) noProxy {
	var np noProxy
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		f = strings.ToLower(strings.TrimSpace(f))
		if f == "" {
			continue
		}
		if f == "*" {
			np.all = true
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			np.prefixes = append(np.prefixes, p.Masked())
			continue
		}
		host, port := f, ""
		if h, p, err := net.SplitHostPort(f); err == nil {
			host, port = h, p
		}
		host = strings.Trim(host, "[]")
		if a, err := netip.ParseAddr(host); err == nil {
			if port == "" {
				np.prefixes = append(np.prefixes, netip.PrefixFrom(a, a.BitLen()))
			} else {
				np.hosts = append(np.hosts, hostMatch{name: a.String(), port: port, isIP: true})
			}
			continue
		}
		m := hostMatch{name: strings.TrimPrefix(host, "."), port: port}
		m.subOnly = strings.HasPrefix(host, ".")
		np.hosts = append(np.hosts, m)
	}
	return np
}

func (np noProxy) useProxy(u *url.URL) bool {
	host := strings.ToLower(u.Hostname())
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return false
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if a.IsLoopback() {
			return false
		}
		a = a.Unmap()
		for _, p := range np.prefixes {
			if p.Contains(a) {
				return false
			}
		}
		host = a.String()
	}
	if np.all {
		return false
	}
	for _, m := range np.hosts {
		if m.port != "" && m.port != port {
			continue
		}
		switch {
		case host == m.name && !m.subOnly:
			return false
		case !m.isIP && strings.HasSuffix(host, "."+m.name):
			return false
		}
	}
	return true
}
