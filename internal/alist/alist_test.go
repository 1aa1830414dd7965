package alist_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/alist-edge/alist-edge/internal/alist"
	"github.com/alist-edge/alist-edge/internal/alisttest"
	"github.com/alist-edge/alist-edge/internal/httpx"
)

// TestErrorStatus: how each AList answer of /api/fs/get and /api/fs/link becomes the status a
// client sees. AList's "object not found" is 404 whatever the envelope's code (docs/contract.md §7), so a
// download manager stops retrying; every other envelope keeps its code and AList's body.
func TestErrorStatus(t *testing.T) {
	const token = "alist-token"
	fake := alisttest.New(token)
	t.Cleanup(fake.Close)
	fake.Put("/there.bin", &alisttest.File{Data: []byte("x")})
	var answer string // the raw body the hook sends, "" lets the fake answer
	fake.Hook = func(w http.ResponseWriter, r *http.Request) bool {
		if answer == "" {
			return false
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = io.WriteString(w, answer)
		return true
	}
	c := &alist.Client{BaseURL: fake.URL, Token: token, HTTP: fake.Client()}
	for _, tc := range []struct {
		name    string
		answer  string
		status  int // 0: success
		message string
		relayed bool // the body is AList's own
	}{
		{"fake's missing file (code 500)", "", 404, "object not found", false},
		{"code 404", `{"code":404,"message":"object not found","data":null}`, 404, "object not found", false},
		{"bare code 500", `{"code":500,"message":"object not found","data":null}`, 404, "object not found", false},
		{"wrapped, other case", `{"code":500,"message":"failed link: Object Not Found","data":null}`, 404, "object not found", false},
		{"storage missing stays 500", `{"code":500,"message":"failed get storage: storage not found; please add a storage first","data":null}`, 500,
			"failed get storage: storage not found; please add a storage first", true},
		{"token", `{"code":401,"message":"token is invalidated","data":null}`, 401, "token is invalidated", true},
		{"code outside 4xx/5xx", `{"code":302,"message":"odd","data":null}`, 502, "odd", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			answer = tc.answer
			for _, call := range []struct {
				endpoint string
				do       func() error
			}{
				{"get", func() error { _, err := c.Get(context.Background(), "/missing.bin", ""); return err }},
				{"link", func() error { _, err := c.Link(context.Background(), "/missing.bin", ""); return err }},
			} {
				if tc.answer == "" && call.endpoint == "link" {
					continue // the fake's /api/fs/link succeeds for a missing file, as AList's does
				}
				err := call.do()
				var e *httpx.Error
				if !errors.As(err, &e) {
					t.Fatalf("%s: %v is not an *httpx.Error", call.endpoint, err)
				}
				if e.Status != tc.status || e.Message != tc.message || (e.Body != nil) != tc.relayed {
					t.Fatalf("%s: got %d %q body=%q, want %d %q relayed=%v", call.endpoint, e.Status, e.Message, e.Body, tc.status, tc.message, tc.relayed)
				}
			}
		})
	}
	answer = ""
	if f, err := c.Get(context.Background(), "/there.bin", ""); err != nil || f.Size != 1 || f.IsDir {
		t.Fatalf("existing file: %+v %v", f, err)
	}
}

// TestEnvelopeErrorOnFetch: the envelope a local storage answers when data.url is fetched for a
// missing file is a 404 too (the proxy recognises it in the download and calls EnvelopeError).
func TestEnvelopeErrorOnFetch(t *testing.T) {
	e := alist.EnvelopeError(500, []byte(`{"code":500,"message":"failed link: object not found","data":null}`))
	if e.Status != 404 || e.Message != "object not found" || e.Body != nil || e.Reason != "alist" {
		t.Fatalf("%+v", e)
	}
}
