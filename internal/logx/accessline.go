package logx

import (
	"context"
	"io"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// jsonHandler is the handler New returns for LOG_FORMAT=json. It is slog's JSONHandler with
// the writer and level kept at hand, so that Access can render its line itself instead of
// paying for a Record, the attr copies and the generic encoder on every request. Everything
// it handles goes to the JSONHandler unchanged.
type jsonHandler struct {
	h     *slog.JSONHandler
	w     io.Writer // the writer h writes to; every write is one whole line
	level slog.Level
}

func newJSONHandler(w io.Writer, level slog.Level) *jsonHandler {
	// slog serialises its writes with a mutex of its own that Access cannot take, so both
	// share one lock on the writer instead; BufferedWriter already holds one per Write.
	if _, ok := w.(*BufferedWriter); !ok {
		w = &lockedWriter{w: w}
	}
	return &jsonHandler{h: slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}), w: w, level: level}
}

func (h *jsonHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.h.Enabled(ctx, l) }

func (h *jsonHandler) Handle(ctx context.Context, r slog.Record) error { return h.h.Handle(ctx, r) }

// WithAttrs hands back slog's own handler: Access renders only a logger without attributes
// by hand, and the rest is slog's business (it renders them between msg and request_id).
func (h *jsonHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	return h.h.WithAttrs(attrs)
}

func (h *jsonHandler) WithGroup(name string) slog.Handler { return h.h.WithGroup(name) }

// lockedWriter makes the writes of slog and of Access to a writer not safe for concurrent use
// one line at a time.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// now is the clock of the hand-rendered access line; a test stops it to compare with slog.
var now = time.Now

// lineBufs recycles the line buffers so that an access line allocates nothing.
var lineBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// maxPooledLine keeps a rare huge line (a client sent a megabyte of request id) from pinning its
// buffer in the pool; slog draws the same line.
const maxPooledLine = 16 << 10

// accessFast writes the access line of a to h the way slog's JSONHandler would, in one Write.
// It reports false, having written nothing, when the time is one slog renders with an error
// (a year outside 0..9999) so that the caller leaves that to slog.
func (h *jsonHandler) accessFast(a AccessRecord) bool {
	t := now()
	if y := t.Year(); y < 0 || y >= 10000 {
		return false
	}
	bp := lineBufs.Get().(*[]byte)
	b := appendAccess((*bp)[:0], t, a)
	_, _ = h.w.Write(b) // slog drops write errors of a log line too
	if cap(b) <= maxPooledLine {
		*bp = b
		lineBufs.Put(bp)
	}
	return true
}

// appendAccess appends the JSON access line of a logged at t, newline included, byte for byte
// as slog's JSONHandler (no ReplaceAttr, no AddSource, no With) renders
// LogAttrs(INFO, AccessMsg, the attrs of Access): see appendJSONTime, appendJSONValue and
// appendEscapedJSONString in log/slog/json_handler.go.
func appendAccess(b []byte, t time.Time, a AccessRecord) []byte {
	b = append(b, `{"time":"`...)
	b = t.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":"INFO","msg":"`+AccessMsg+`","request_id":"`...)
	b = appendJSONString(b, a.RequestID)
	b = append(b, `","client_ip":"`...)
	b = appendJSONString(b, a.ClientIP)
	b = append(b, `","subnet":"`...)
	b = appendJSONString(b, a.Subnet)
	b = append(b, `","method":"`...)
	b = appendJSONString(b, a.Method)
	b = append(b, `","status":`...)
	b = strconv.AppendInt(b, int64(a.Status), 10)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, a.Bytes, 10)
	b = append(b, `,"duration_ms":`...)
	b = appendJSONFloat(b, durationMS(a.Duration))
	b = append(b, `,"reason":"`...)
	b = appendJSONString(b, a.Reason)
	return append(b, "\"}\n"...)
}

// appendJSONFloat formats f as encoding/json does for a float64 (slog hands floats to
// json.Marshal): ES6 number formatting, shortest 'f' except exponents for tiny and huge values,
// exponents not padded. f is finite: durationMS never yields NaN or ±Inf, which slog would
// render as an error.
func appendJSONFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 → e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendJSONString is slog's appendEscapedJSONString (encoding/json without HTML escaping):
// <, > and & stay, control characters, " and \ are escaped, invalid UTF-8 becomes \ufffd and
// U+2028/U+2029 are escaped. A client controls most of these strings, and the fail2ban filter
// relies on none of them being able to close its quotes.
func appendJSONString(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
}

const hexDigits = "0123456789abcdef"

// jsonSafe holds the ASCII bytes that go into a JSON string as they are: all but the control
// characters, " and \ (DEL and the HTML characters included, as in slog).
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for c := byte(' '); c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()
