package landing

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/alist-edge/alist-edge/internal/httpx"
)

// turnstileAction names the widget's action; siteverify echoes it back.
const turnstileAction = "download"

// turnstileCData is the widget's cData: the path hash (64 hex characters, inside Turnstile's
// 255-character [A-Za-z0-9_-] limit). siteverify echoes it, which binds a token to one file:
// a token solved on one landing page cannot be spent on another file's /info.
func turnstileCData(pathHash string) string { return pathHash }

type turnstileConfig struct {
	SiteKey string `json:"siteKey"`
	Action  string `json:"action"`
	CData   string `json:"cdata"`
}

// turnstileVerifier calls siteverify (TURNSTILE_VERIFY_URL).
type turnstileVerifier struct {
	url, secret string
	client      *http.Client
}

var (
	errTurnMissing = &httpx.Error{Status: http.StatusForbidden, Message: "turnstile token required", Reason: "turnstile"}
	errTurnFailed  = &httpx.Error{Status: http.StatusForbidden, Message: "turnstile verification failed", Reason: "turnstile"}
	errTurnDown    = &httpx.Error{Status: http.StatusBadGateway, Message: "turnstile verification unavailable", Reason: "turnstile_unavailable"}
)

// verify sends the token with the client's IP (remoteip) and requires success, our action and
// the path's cData. Tokens are single-use at Cloudflare, so a replay fails there.
func (v *turnstileVerifier) verify(ctx context.Context, token, remoteIP, pathHash string) error {
	if v == nil {
		return errTurnDown
	}
	if token == "" {
		return errTurnMissing
	}
	if len(token) > 4096 {
		return errTurnFailed
	}
	form := url.Values{"secret": {v.secret}, "response": {token}}
	if remoteIP != "" {
		form.Set("remoteip", remoteIP)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, v.url, strings.NewReader(form.Encode()))
	if err != nil {
		return errTurnDown
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := v.client.Do(req)
	if err != nil {
		if ctx.Err() != nil && ctx.Err() != context.DeadlineExceeded {
			return ctx.Err()
		}
		return errTurnDown
	}
	defer resp.Body.Close()
	var out struct {
		Success bool     `json:"success"`
		Action  string   `json:"action"`
		CData   string   `json:"cdata"`
		Errors  []string `json:"error-codes"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&out) != nil {
		return errTurnDown
	}
	if !out.Success || out.Action != turnstileAction || out.CData != turnstileCData(pathHash) {
		return errTurnFailed
	}
	return nil
}
