// Package logx builds the services' slog logger from LOG_LEVEL and LOG_FORMAT.
package logx

import (
	"io"
	"log/slog"
	"strings"
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
	opts := &slog.HandlerOptions{Level: l}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// Redact shortens a signature or token for logs: enough to correlate, never enough to reuse.
func Redact(s string) string {
	if len(s) <= 8 {
		if s == "" {
			return ""
		}
		return "…"
	}
	return s[:6] + "…"
}
