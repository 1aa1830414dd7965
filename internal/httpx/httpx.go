// Package httpx holds the HTTP conventions both services share: one error type that handlers
// return, one place that turns it into the JSON answer of docs/contract.md §5 with CORS headers, and the
// CORS preflight.
package httpx

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/alist-edge/alist-edge/pkg/sign"
)

// Error is a refusal with its documented status and message.
type Error struct {
	Status     int
	Message    string
	RetryAfter int    // seconds; > 0 adds Retry-After and "retry-after" to the body
	Reason     string // a stable denial reason for logs and metrics ("sign", "rate_limit", ...)
	// Body, when set, is sent as is instead of the standard JSON (AList's own error envelope).
	Body []byte
}

func (e *Error) Error() string { return e.Message }

// ContentTypeJSON is the content type of every JSON answer (the original's exact spelling).
const ContentTypeJSON = "application/json;charset=UTF-8"

// SetCORS adds the CORS answer headers: the request's Origin (or *) and Vary: Origin.
func SetCORS(h http.Header, r *http.Request) {
	origin := r.Header.Get("Origin")
	if origin == "" {
		origin = "*"
	}
	h.Set("Access-Control-Allow-Origin", origin)
	h.Add("Vary", "Origin")
}

// Preflight answers an OPTIONS request (docs/contract.md §5 step 2).
func Preflight(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	SetCORS(h, r)
	h.Set("Access-Control-Allow-Methods", "GET,HEAD,POST,OPTIONS")
	h.Set("Access-Control-Max-Age", "86400")
	if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
		h.Set("Access-Control-Allow-Headers", req)
	}
	w.WriteHeader(http.StatusNoContent)
}

// AppendJSONError appends {"code":N,"message":"..."[,"retry-after":S]}.
func AppendJSONError(b []byte, status int, message string, retryAfter int) []byte {
	b = append(b, `{"code":`...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, `,"message":`...)
	b = sign.AppendJSString(b, message)
	if retryAfter > 0 {
		b = append(b, `,"retry-after":`...)
		b = strconv.AppendInt(b, int64(retryAfter), 10)
	}
	return append(b, '}')
}

// WriteError answers err: an *Error with its status and JSON, anything else as 500 (the
// details belong in the log, not in the answer). It returns the *Error that was written.
func WriteError(w http.ResponseWriter, r *http.Request, err error) *Error {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Status: http.StatusInternalServerError, Message: "internal error", Reason: "internal"}
	}
	h := w.Header()
	SetCORS(h, r)
	h.Set("Content-Type", ContentTypeJSON)
	h.Set("Cache-Control", "no-store")
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	body := e.Body
	if body == nil {
		body = AppendJSONError(make([]byte, 0, 64+len(e.Message)), e.Status, e.Message, e.RetryAfter)
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.Status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
	return e
}
