// Package logx builds the services' slog logger from LOG_LEVEL and LOG_FORMAT, and writes the
// one access line per request in the stable form that deploy/fail2ban/filter.d/alist-edge.conf
// matches.
package logx

import (
	"context"
	"io"
	"log/slog"
	"math"
	"strings"
	"time"
)

// New returns a JSON (or text) logger at level ("debug", "info", "warn", "error").
func New(w io.Writer, level, format string) *slog.Logger {
	var l slog.Level
	switch strings.ToLower(level) {
	case "debug":
		l = slog.LevelDebug
	case "warn", "warning":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	default:
		l = slog.LevelInfo
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
	}
	return slog.New(newJSONHandler(w, l))
}

// AccessMsg is the msg of every access line.
const AccessMsg = "access"

// AccessRecord is what the access line of one request says.
type AccessRecord struct {
	RequestID string
	// ClientIP is the client address as the service determined it (CLIENT_IP_HEADER rules).
	ClientIP string
	// Subnet is ClientIP masked to IPV4_SUFFIX / IPV6_SUFFIX ("" when unknown).
	Subnet string
	Method string
	Status int
	// Bytes is the body bytes written to the client.
	Bytes    int64
	Duration time.Duration
	// Reason is why the request was refused ("sign mismatch", "rate_limit", ...); "" when served.
	Reason string
}

// Denied reports whether the record is a refusal that fail2ban counts: status 401, 403 or 429
// with a reason.
func (a AccessRecord) Denied() bool {
	switch a.Status {
	case 403, 429:
		return a.Reason != ""
	case 401:
		return WrongSignature(a.Reason)
	}
	return false
}

// WrongSignature tells a 401 for a signature the client presented and that is wrong (the
// reasons sign.Forged calls forged: "... mismatch", "... invalid", "... failed") from one for a
// signature that is missing or expired, which a normal visitor hits (a browser's /favicon.ico,
// an old link) and which must never get anyone banned.
func WrongSignature(reason string) bool {
	return strings.HasSuffix(reason, " mismatch") || strings.HasSuffix(reason, " invalid") || strings.HasSuffix(reason, " failed")
}

// Access writes the one access line of a request at level INFO with msg "access" and the
// attributes in this fixed order: request_id, client_ip, subnet, method, status, bytes,
// duration_ms, reason. With the JSON handler (LOG_FORMAT=json, the default) a line reads
//
//	{"time":"…","level":"INFO","msg":"access","request_id":"…","client_ip":"203.0.113.7","subnet":"203.0.113.7/32","method":"GET","status":401,"bytes":0,"duration_ms":0.412,"reason":"sign mismatch"}
//
// Attributes the logger carries from With come between msg and request_id; the fail2ban filter
// allows scalar ones there. Never add a group (WithGroup) to the access logger: it would nest the
// fields and the filter would no longer match.
//
// Access runs once per request, so on a JSON logger from New without With attributes it renders
// the line itself, byte for byte what slog would write (a differential test and a fuzz test hold
// it to that), at a fraction of slog's cost and without allocating; any other logger gets the
// line through slog.
func Access(l *slog.Logger, a AccessRecord) {
	if l == nil {
		l = slog.Default()
	}
	if h, ok := l.Handler().(*jsonHandler); ok {
		if slog.LevelInfo < h.level {
			return
		}
		if h.accessFast(a) {
			return
		}
	}
	ctx := context.Background()
	if !l.Enabled(ctx, slog.LevelInfo) {
		return
	}
	l.LogAttrs(ctx, slog.LevelInfo, AccessMsg, a.attrs()...)
}

// attrs is the access line's attributes in their fixed order (the slog path; the fast path in
// accessline.go writes the same fields by hand and is tested against this).
func (a AccessRecord) attrs() []slog.Attr {
	return []slog.Attr{
		slog.String("request_id", a.RequestID),
		slog.String("client_ip", a.ClientIP),
		slog.String("subnet", a.Subnet),
		slog.String("method", a.Method),
		slog.Int("status", a.Status),
		slog.Int64("bytes", a.Bytes),
		slog.Float64("duration_ms", durationMS(a.Duration)),
		slog.String("reason", a.Reason),
	}
}

// durationMS is d in milliseconds rounded to the microsecond.
func durationMS(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1000
}
