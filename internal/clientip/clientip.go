// Package clientip finds the client address of a request (docs/contract.md §5 "Client IP"). A header is
// believed only when the socket peer is a configured trusted proxy: anyone can send
// CF-Connecting-IP, and a spoofed one would let a client sign links for someone else's IP or
// dodge its subnet's limits.
package clientip

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// Headers that may carry the client address, by canonical name.
var supportedHeaders = map[string]bool{
	"Cf-Connecting-Ip": true, // Cloudflare: one address
	"X-Real-Ip":        true, // nginx realip / Caddy: one address
	"X-Forwarded-For":  true, // a hop list, appended to by each proxy
}

// Prefixes is a parsed CIDR list (TRUSTED_PROXIES, ALLOWED_IPS, BLOCKED_IPS). A bare address
// counts as a single-host prefix.
type Prefixes []netip.Prefix

// ParsePrefixes parses a comma list of CIDRs or addresses.
func ParsePrefixes(s string) (Prefixes, error) {
	var out Prefixes
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if p, err := netip.ParsePrefix(part); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(part)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR or IP address", part)
		}
		a = a.WithZone("")
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// Contains reports whether a is inside any prefix; IPv4-mapped IPv6 matches IPv4 prefixes.
func (ps Prefixes) Contains(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	a = a.WithZone("")
	u := a.Unmap()
	for _, p := range ps {
		if p.Contains(a) || p.Contains(u) {
			return true
		}
	}
	return false
}

// Extractor reads the client address the configured way.
type Extractor struct {
	header  string // canonical header name; "" = socket address
	trusted Prefixes
}

// New validates CLIENT_IP_HEADER and TRUSTED_PROXIES.
func New(header string, trusted Prefixes) (*Extractor, error) {
	e := &Extractor{trusted: trusted}
	if header = strings.TrimSpace(header); header != "" {
		e.header = http.CanonicalHeaderKey(header)
		if !supportedHeaders[e.header] {
			return nil, fmt.Errorf("%q is not supported; accepted: CF-Connecting-IP, X-Forwarded-For, X-Real-IP", header)
		}
	}
	return e, nil
}

// Client is the client address of one request.
type Client struct {
	Text string     // as signed into ipSign: the header value as written, or the socket address; "" when unknown
	Addr netip.Addr // parsed, for subnets and lists; invalid when Text does not parse
}

// IsIPv6 reports a real IPv6 client (an IPv4-mapped address is an IPv4 client).
func (c Client) IsIPv6() bool {
	if c.Addr.IsValid() {
		return c.Addr.Is6() && !c.Addr.Is4In6()
	}
	return strings.Contains(c.Text, ":")
}

// Peer is the socket peer address of r.
func Peer(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		a, _ := netip.ParseAddr(r.RemoteAddr) // unix sockets and tests may omit the port
		return a.Unmap()
	}
	return ap.Addr().Unmap()
}

// Extract returns the client of r.
func (e *Extractor) Extract(r *http.Request) Client {
	peer := Peer(r)
	if e.header == "" || !(e.trusted.Contains(peer) || isUnixPeer(r)) {
		return fromAddr(peer)
	}
	values := r.Header.Values(e.header)
	if len(values) == 0 {
		return Client{} // a trusted proxy that did not say: unknown, as the original behaved
	}
	if e.header != "X-Forwarded-For" {
		text := values[0]
		if i := strings.IndexByte(text, ','); i >= 0 {
			text = text[:i]
		}
		text = strings.TrimSpace(text)
		a, _ := netip.ParseAddr(text)
		return Client{Text: text, Addr: a}
	}
	// X-Forwarded-For: the rightmost address that is not one of our own proxies is the first
	// one nobody we trust could have forged.
	var hops []string
	for _, v := range values {
		hops = append(hops, strings.Split(v, ",")...)
	}
	var last Client
	for i := len(hops) - 1; i >= 0; i-- {
		text := strings.TrimSpace(hops[i])
		if text == "" {
			continue
		}
		a, err := netip.ParseAddr(text)
		if err != nil {
			return Client{Text: text} // garbage before any untrusted hop: take it as written
		}
		last = Client{Text: text, Addr: a}
		if !e.trusted.Contains(a) {
			return last
		}
	}
	return last
}

// isUnixPeer reports a connection over a unix socket (UNIX_SOCKET): only a local process with
// the socket's file permissions can connect, which is the local reverse proxy the socket exists
// for, so it is trusted like an address in TRUSTED_PROXIES.
func isUnixPeer(r *http.Request) bool {
	return r.RemoteAddr == "@" || r.RemoteAddr == ""
}

func fromAddr(a netip.Addr) Client {
	if !a.IsValid() {
		return Client{}
	}
	return Client{Text: a.String(), Addr: a}
}
