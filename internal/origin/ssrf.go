package origin

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"

	"github.com/alist-edge/alist-edge/internal/httpx"
)

// SSRF guard. Upstream URLs come from AList's answer (data.url) and from the redirects the
// upstream sends; a compromised or misconfigured storage could point the proxy at the cloud
// metadata service and have the answer streamed to the client. The guard runs as the dialer's
// Control function, i.e. on the IP address actually being connected to, after DNS resolution,
// so a name that resolves (or re-resolves: DNS rebinding) to a refused address is caught too.
// Loopback and private ranges stay allowed: AList often runs on the same host or LAN.

// ErrAddressRefused is the client's answer when the upstream address is refused.
var ErrAddressRefused = &httpx.Error{Status: http.StatusBadGateway, Reason: "upstream_refused", Message: "upstream address refused"}

// metadataAddrs are cloud metadata endpoints outside the link-local ranges.
var metadataAddrs = [...]netip.Addr{
	netip.MustParseAddr("fd00:ec2::254"),   // AWS IMDS over IPv6
	netip.MustParseAddr("100.100.100.200"), // Alibaba Cloud metadata
}

// nat64 is the well-known NAT64 prefix: 64:ff9b::a9fe:a9fe reaches 169.254.169.254.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// RefusedAddr reports whether the proxy must not connect to a: link-local unicast and
// multicast (169.254.0.0/16, fe80::/10, where every cloud puts its metadata service), the
// metadata addresses above, and their IPv4-mapped and NAT64 spellings.
func RefusedAddr(a netip.Addr) bool {
	a = a.WithZone("").Unmap()
	if nat64.Contains(a) {
		b := a.As16()
		a = netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
	}
	if !a.IsValid() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() {
		return true
	}
	for _, m := range metadataAddrs {
		if a == m {
			return true
		}
	}
	return false
}

// AddrRefusedError is the dial error for a refused address.
type AddrRefusedError struct{ Addr string }

func (e *AddrRefusedError) Error() string { return "upstream address refused: " + e.Addr }

// SafeControl is a net.Dialer Control function that refuses RefusedAddr destinations before
// the connect system call, so not even a SYN reaches them.
func SafeControl(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		host = address
	}
	a, err := netip.ParseAddr(host)
	if err != nil || RefusedAddr(a) {
		return &AddrRefusedError{Addr: address}
	}
	return nil
}

// isAddrRefused reports whether err came from SafeControl (never retried).
func isAddrRefused(err error) bool {
	var e *AddrRefusedError
	return errors.As(err, &e)
}

// guardProxy wraps the outbound-proxy choice: with an outbound proxy the dialer only sees the
// proxy's address, so a URL whose host is a refused IP literal is refused here instead. (A
// host name is resolved by the outbound proxy and cannot be checked from here.)
func guardProxy(p func(*http.Request) (*url.URL, error)) func(*http.Request) (*url.URL, error) {
	if p == nil {
		return nil
	}
	return func(r *http.Request) (*url.URL, error) {
		if a, err := netip.ParseAddr(strings.Trim(r.URL.Hostname(), "[]")); err == nil && RefusedAddr(a) {
			return nil, &AddrRefusedError{Addr: r.URL.Host}
		}
		return p(r)
	}
}
