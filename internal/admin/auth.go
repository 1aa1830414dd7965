package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// tokenEqual compares two SHA-256 sums in constant time. Comparing sums rather than the
// tokens themselves keeps the length of the configured token from leaking through timing
// (subtle.ConstantTimeCompare returns at once on a length mismatch). A variable so a test can
// see that it is what decides.
var tokenEqual = func(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }

// authenticate wraps next with the admin API's access rule:
//   - Token set: every request needs "Authorization: Bearer <token>", loopback or not.
//   - Token empty and the listener loopback (or a unix socket): no token, but the Host must be
//     a loopback name, so a web page cannot reach the API through DNS rebinding.
//   - Token empty otherwise: 403 on every route.
func authenticate(o *Options, next http.Handler) http.Handler {
	if o.Token == "" {
		if !o.Loopback {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				writeError(w, http.StatusForbidden, "admin API disabled: set ADMIN_TOKEN, or listen on a loopback address or unix socket")
			})
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !loopbackHost(r.Host) {
				writeError(w, http.StatusForbidden, "without ADMIN_TOKEN the admin API answers only Host localhost or a loopback address")
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	want := sha256.Sum256([]byte(o.Token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := bearer(r.Header.Get("Authorization"))
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="alist-edge admin"`)
			writeError(w, http.StatusUnauthorized, "missing bearer token (Authorization: Bearer $ADMIN_TOKEN)")
			return
		}
		got := sha256.Sum256([]byte(tok))
		if !tokenEqual(got[:], want[:]) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="alist-edge admin", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "wrong bearer token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// bearer returns the token of an "Authorization: Bearer <token>" header (scheme case-insensitive).
func bearer(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// IsLoopback reports whether an admin listen address only accepts connections from this host:
// "unix:PATH", "localhost", 127.0.0.0/8 or ::1, with or without a port. An empty or
// unspecified host (":9090", "0.0.0.0:9090") listens on every interface and is not loopback.
func IsLoopback(addr string) bool {
	if strings.HasPrefix(addr, "unix:") {
		return true
	}
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	return loopbackName(host)
}

// loopbackHost reports whether a request's Host names this machine.
func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	return loopbackName(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
}

func loopbackName(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Zone() == "" && a.Unmap().IsLoopback()
}
