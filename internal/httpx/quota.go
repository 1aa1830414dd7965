package httpx

import (
	"fmt"
	"net/http"

	"github.com/alist-edge/alist-edge/pkg/quota"
)

// QuotaRefusal is the answer to a refusal of pkg/quota: a Check's Decision, or the Decision of
// a *quota.LimitError from Meter.Extend. It is the one place where a refusal becomes the status
// and the exact message of docs/contract.md §8 (clients and the HTML error pages match on those
// texts), so both services answer a refusal the same way. Retry-After goes with the 429s and
// the throttle answer, not with the 403 of a ban (§5 "Error answers"). nil when d.Allowed.
func QuotaRefusal(d quota.Decision) *Error {
	if d.Allowed {
		return nil
	}
	e := &Error{Status: http.StatusTooManyRequests, Reason: string(d.Reason), RetryAfter: max(d.RetryAfter, 1)}
	switch d.Reason {
	case quota.ReasonRate:
		e.Message = fmt.Sprintf("%s exceeds the limit of %d requests in %s",
			d.Subnet, d.Limit.Requests, windowText(d.Limit))
	case quota.ReasonBandwidth:
		e.Message = fmt.Sprintf("%s exceeds the bandwidth quota of %s in %s",
			d.Subnet, limitText(d.Limit), windowText(d.Limit))
	case quota.ReasonFileBandwidth:
		e.Message = fmt.Sprintf("%s %s exceeds the bandwidth quota of %s in %s",
			d.Subnet, d.Path, limitText(d.Limit), windowText(d.Limit))
	case quota.ReasonThrottled:
		// The status the upstream host answered with, so a client backs off as it would have
		// from the host itself; 503 when that is not an error status.
		e.Status, e.Message = d.UpstreamStatus, "upstream host is throttled"
		if e.Status < 400 || e.Status > 599 {
			e.Status = http.StatusServiceUnavailable
		}
	default: // quota.ReasonBanned, and a reason this code does not know: deny without a hint
		e.Status, e.Message, e.RetryAfter = http.StatusForbidden, "access denied", 0
	}
	return e
}

// windowText is the window as configured (config.FormatDuration's "10m", "1d"), else Go's form.
func windowText(l quota.Limit) string {
	if l.WindowText != "" {
		return l.WindowText
	}
	return l.Window.String()
}

// limitText is the limit as the operator wrote it ("500GB", "2x"), else written from its value.
func limitText(l quota.Limit) string {
	switch {
	case l.Text != "":
		return l.Text
	case l.Bytes.Bytes > 0:
		return FormatBytes(l.Bytes.Bytes)
	case l.Bytes.Multiple > 0:
		return fmt.Sprintf("%gx", l.Bytes.Multiple)
	}
	return "0B"
}

// FormatBytes writes 1024-based sizes the way the limits are configured (500MB, 2GB).
func FormatBytes(n int64) string {
	units := []string{"B", "KB", "MB", "GB", "TB", "PB"}
	i := 0
	for n >= 1024 && n%1024 == 0 && i < len(units)-1 {
		n /= 1024
		i++
	}
	return fmt.Sprintf("%d%s", n, units[i])
}
