package httpx

import "net"

// HostOnly is a request's Host without its port (the policy's host matcher compares names).
func HostOnly(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	return host
}
