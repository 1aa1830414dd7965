package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client talks to the admin API; it is what `proxy admin ...` uses.
type Client struct {
	base  string // scheme://host, no trailing slash
	token string
	hc    *http.Client
}

// APIError is an answer other than 2xx: the API's {"error", "status"}, or the start of the
// body when the answer is not the API's (a proxy in between, the wrong port).
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string { return fmt.Sprintf("%s (HTTP %d)", e.Message, e.Status) }

// NewClient returns a client for addr, in ADMIN_ADDR's forms: "host:port" (an unspecified host,
// ":9090" or "0.0.0.0:9090", is reached on loopback), "unix:PATH", or a URL
// "http(s)://host:port" (an admin listener behind a TLS proxy). token "" sends none.
func NewClient(addr, token string) (*Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // an HTTP(S)_PROXY must never see the admin token
	c := &Client{token: token, hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
	switch {
	case strings.HasPrefix(addr, "unix:"):
		sock := strings.TrimPrefix(addr, "unix:")
		if sock == "" {
			return nil, errors.New("ADMIN_ADDR unix: needs a socket path")
		}
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}
		// localhost: the Host a tokenless admin API accepts.
		c.base = "http://localhost"
	case strings.HasPrefix(addr, "http://") || strings.HasPrefix(addr, "https://"):
		u, err := url.Parse(addr)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("ADMIN_ADDR %q: not a URL", addr)
		}
		c.base = strings.TrimSuffix(u.Scheme+"://"+u.Host+u.Path, "/")
	default:
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, fmt.Errorf("ADMIN_ADDR %q: want host:port, unix:PATH or a URL", addr)
		}
		switch host {
		case "", "0.0.0.0":
			host = "127.0.0.1"
		case "::":
			host = "::1"
		}
		c.base = "http://" + net.JoinHostPort(host, port)
	}
	return c, nil
}

// Do sends one request and returns the body of a 2xx answer. body, when not nil, is sent as
// JSON. Any other answer is an *APIError.
func (c *Client) Do(ctx context.Context, method, path string, q url.Values, body any) ([]byte, error) {
	target := c.base + path
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 == 2 {
		return b, nil
	}
	var e errorBody
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		return nil, &APIError{Status: resp.StatusCode, Message: e.Error}
	}
	msg := strings.TrimSpace(string(b))
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	return nil, &APIError{Status: resp.StatusCode, Message: msg}
}
