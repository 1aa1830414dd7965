package httpx_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/alist-edge/alist-edge/internal/httpx"
)

func TestWriteError(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		origin string
		status int
		body   string
		retry  string
		acao   string
	}{
		{"sign", &httpx.Error{Status: 401, Message: "sign mismatch"}, "", 401, `{"code":401,"message":"sign mismatch"}`, "", "*"},
		{"429", &httpx.Error{Status: 429, Message: "1.2.3.4/32 exceeds the limit of 5 requests in 1m", RetryAfter: 30}, "https://a.example", 429,
			`{"code":429,"message":"1.2.3.4/32 exceeds the limit of 5 requests in 1m","retry-after":30}`, "30", "https://a.example"},
		{"opaque", errors.New("db: password=secret"), "", 500, `{"code":500,"message":"internal error"}`, "", "*"},
		{"relay", &httpx.Error{Status: 404, Body: []byte(`{"code":404,"message":"object not found"}`)}, "", 404, `{"code":404,"message":"object not found"}`, "", "*"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/x", nil)
			if tc.origin != "" {
				r.Header.Set("Origin", tc.origin)
			}
			w := httptest.NewRecorder()
			httpx.WriteError(w, r, tc.err)
			if w.Code != tc.status || w.Body.String() != tc.body {
				t.Fatalf("got %d %s", w.Code, w.Body)
			}
			h := w.Header()
			if h.Get("Content-Type") != "application/json;charset=UTF-8" || h.Get("Retry-After") != tc.retry ||
				h.Get("Access-Control-Allow-Origin") != tc.acao || h.Get("Vary") != "Origin" {
				t.Fatalf("headers %v", h)
			}
		})
	}
}

func TestPreflight(t *testing.T) {
	r := httptest.NewRequest("OPTIONS", "/f", nil)
	r.Header.Set("Origin", "https://x")
	r.Header.Set("Access-Control-Request-Headers", "range, x-y")
	w := httptest.NewRecorder()
	httpx.Preflight(w, r)
	h := w.Header()
	if w.Code != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != "https://x" || h.Get("Access-Control-Allow-Methods") != "GET,HEAD,POST,OPTIONS" ||
		h.Get("Access-Control-Max-Age") != "86400" || h.Get("Access-Control-Allow-Headers") != "range, x-y" {
		t.Fatalf("%d %v", w.Code, h)
	}
}
