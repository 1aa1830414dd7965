// Package alist is the client of the two AList API calls the gateway makes (docs/contract.md §7). AList
// answers errors with HTTP 200 and a {"code","message"} envelope, so the envelope's code, not
// the HTTP status, decides; and AList builds link hosts from X-Forwarded-* headers, so the
// client's are never forwarded.
package alist

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/alist-edge/alist-edge/internal/httpx"
	"github.com/alist-edge/alist-edge/pkg/sign"
)

// Client calls AList's API.
type Client struct {
	BaseURL       string // no trailing slash
	Token         string // sent bare in Authorization, as AList expects
	VerifyHeaders [][2]string
	HTTP          *http.Client
	// Observe, when set, is told each call's endpoint and duration (metrics).
	Observe func(endpoint string, d time.Duration)
}

// Link is data of /api/fs/link.
type Link struct {
	URL    string      `json:"url"`
	Header http.Header `json:"header"`
}

// envelope is AList's answer shape for every endpoint.
type envelope[T any] struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    *T     `json:"data"`
}

type getData struct {
	Name  string `json:"name"`
	Size  int64  `json:"size"`
	IsDir bool   `json:"is_dir"`
}

// File is what the landing needs from /api/fs/get.
type File struct {
	Name  string
	Size  int64
	IsDir bool
}

// maxBody bounds an API answer; a link or a file entry is a few KiB.
const maxBody = 4 << 20

// Link asks /api/fs/link for the upstream URL of path (needs an admin token).
func (c *Client) Link(ctx context.Context, path, clientIP string) (Link, error) {
	d, err := call[Link](ctx, c, "/api/fs/link", "fs_link", path, clientIP)
	if err != nil {
		return Link{}, err
	}
	if d.URL == "" {
		return Link{}, &httpx.Error{Status: http.StatusBadGateway, Reason: "alist", Message: "AList returned no download URL"}
	}
	return *d, nil
}

// Get asks /api/fs/get for path's size.
func (c *Client) Get(ctx context.Context, path, clientIP string) (File, error) {
	d, err := call[getData](ctx, c, "/api/fs/get", "fs_get", path, clientIP)
	if err != nil {
		return File{}, err
	}
	return File{Name: d.Name, Size: d.Size, IsDir: d.IsDir}, nil
}

func call[T any](ctx context.Context, c *Client, endpoint, metric, path, clientIP string) (*T, error) {
	body := append(append([]byte(`{"path":`), sign.AppendJSString(nil, path)...), '}')
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BaseURL+endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", c.Token)
	req.Header.Set("Content-Type", "application/json;charset=UTF-8")
	for _, h := range c.VerifyHeaders {
		req.Header.Set(h[0], h[1])
	}
	if clientIP != "" {
		req.Header.Set("CF-Connecting-IP-WORKERS", clientIP)
	}
	start := time.Now()
	resp, err := c.HTTP.Do(req)
	if c.Observe != nil {
		defer func() { c.Observe(metric, time.Since(start)) }()
	}
	if err != nil {
		return nil, transportError(ctx, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, transportError(ctx, err)
	}
	var env envelope[T]
	if err := json.Unmarshal(raw, &env); err != nil || env.Code == 0 {
		// Not AList's JSON (a proxy's HTML error page, a gateway timeout): relay the status.
		status := resp.StatusCode
		if status < 400 {
			status = http.StatusBadGateway
		}
		return nil, &httpx.Error{Status: status, Reason: "alist", Message: fmt.Sprintf("Request failed with status: %d", resp.StatusCode)}
	}
	if env.Code != http.StatusOK {
		return nil, EnvelopeError(env.Code, raw)
	}
	if env.Data == nil {
		return nil, &httpx.Error{Status: http.StatusBadGateway, Reason: "alist", Message: "AList answered without data"}
	}
	return env.Data, nil
}

// EnvelopeError relays an AList error envelope: its code as the HTTP status, its body as is
// (codes outside 400–599 become 502 so a client never takes an error for success).
//
// AList reports a missing file as code 500 ("failed get obj: object not found", "failed link:
// object not found"); relayed as is, download managers retry a 500 for ever. So a message
// naming AList's errs.ObjectNotFound is answered 404 "object not found" whatever its code,
// the same answer a local-folder origin gives.
func EnvelopeError(code int, raw []byte) *httpx.Error {
	var msg struct {
		Message string `json:"message"`
	}
	_ = json.Unmarshal(raw, &msg)
	if IsNotFound(msg.Message) {
		return &httpx.Error{Status: http.StatusNotFound, Reason: "alist", Message: NotFoundMessage}
	}
	status := code
	if status < 400 || status > 599 {
		status = http.StatusBadGateway
	}
	return &httpx.Error{Status: status, Reason: "alist", Message: msg.Message, Body: bytes.TrimSpace(raw)}
}

// NotFoundMessage is the message of every 404 for a missing file or a directory.
const NotFoundMessage = "object not found"

// IsNotFound reports whether an AList error message is its "object not found" (AList wraps it:
// "failed get obj: object not found").
func IsNotFound(message string) bool {
	return strings.Contains(strings.ToLower(message), NotFoundMessage)
}

// transportError maps a failed call: a deadline is 504, anything else 502.
func transportError(ctx context.Context, err error) error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &httpx.Error{Status: http.StatusGatewayTimeout, Reason: "alist_timeout", Message: "AList did not answer in time"}
	}
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) && ne.Timeout() {
		return &httpx.Error{Status: http.StatusGatewayTimeout, Reason: "alist_timeout", Message: "AList did not answer in time"}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return &httpx.Error{Status: http.StatusBadGateway, Reason: "alist_unreachable", Message: "AList is unreachable"}
}
