// Package pipeline is the request pipeline both services share: a request ID, the client's
// address and subnet, a writer that counts the status and the bytes, panic recovery, the one
// place where a handler's returned error becomes an answer (JSON, or the HTML page for a
// browser), and one access line and one set of metrics per request. A handler returns an error;
// it never writes one.
package pipeline

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/alist-edge/alist-edge/internal/clientip"
	"github.com/alist-edge/alist-edge/internal/httpx"
	"github.com/alist-edge/alist-edge/internal/logx"
	"github.com/alist-edge/alist-edge/internal/metrics"
	"github.com/alist-edge/alist-edge/internal/webpage"
	"github.com/alist-edge/alist-edge/pkg/sign"
)

// Exchange is one request as the pipeline records it; the handler fills in what it learns.
type Exchange struct {
	ID     string
	Client clientip.Client
	// Subnet is the rate-limit key (the client address masked); "unknown" when the address is
	// not known (only a trusted proxy that omitted the header can cause that): those clients
	// share one bucket.
	Subnet string
	W      *Writer

	// Denied marks a refusal of the gateway's own checks (policy, signature, limits): it is
	// counted as a denial and its reason goes into the access line, which fail2ban reads. A
	// status relayed from AList or the storage is never Denied, so nobody is banned for it.
	Denied bool
	// Reason is the stable reason code for metrics ("signature", "rate_limit", ...).
	Reason string
	// LogReason, when set, is the access line's reason instead (the exact signature message).
	LogReason string
	// JSONOnly: errors are never the HTML page (API routes such as the landing's /info).
	JSONOnly bool
	// Err is the cause behind an error answer, logged and never shown.
	Err error
}

// Deny marks e as the gateway's own refusal and returns it, for `return x.Deny(errPolicy)`.
func (x *Exchange) Deny(e *httpx.Error) error {
	x.Denied = true
	return e
}

// Abort is returned by a handler whose answer was cut on purpose after its header went out
// (a stream stopped at its quota): the connection is aborted like for a failed upstream, and
// Reason names it in the access line and the metrics instead of upstream_aborted.
type Abort struct {
	Reason string
	Err    error
}

func (a *Abort) Error() string { return a.Reason + ": " + a.Err.Error() }
func (a *Abort) Unwrap() error { return a.Err }

// ErrClientGone is what a handler returns when it saw its client leave.
var ErrClientGone = errors.New("client went away")

// Reasons and the status of the outcomes the pipeline itself decides.
const (
	ReasonClientGone      = "client_gone"      // logged with StatusClientGone
	ReasonUpstreamAborted = "upstream_aborted" // the answer failed after its header went out
	StatusClientGone      = 499                // nginx's "client closed request", for the log only
)

// Pipeline serves one service's requests through Handle.
type Pipeline struct {
	Log     *slog.Logger
	Metrics *metrics.Metrics
	// Client returns the client address of r and the subnet masks in force (reloadable).
	Client func(r *http.Request) (c clientip.Client, v4Suffix, v6Suffix int)
	Handle func(x *Exchange, r *http.Request) error

	idPrefix string
	seq      atomic.Uint64
	// Metric children of the hot path, resolved once.
	served  prometheus.Counter
	classes [6]prometheus.Counter
}

// Init resolves what every request needs; call it once before serving.
func (p *Pipeline) Init() *Pipeline {
	var rb [4]byte
	_, _ = rand.Read(rb[:])
	p.idPrefix = hex.EncodeToString(rb[:]) + "-"
	p.served = p.Metrics.Requests.WithLabelValues("served", "")
	for i := 1; i < len(p.classes); i++ {
		p.classes[i] = p.Metrics.Responses.WithLabelValues(metrics.StatusClass(i * 100))
	}
	return p
}

// ServeHTTP implements http.Handler.
func (p *Pipeline) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	x := &Exchange{ID: p.newID(), W: &Writer{ResponseWriter: w}}
	c, v4, v6 := p.Client(r)
	x.Client, x.Subnet = c, SubnetOf(c, v4, v6)
	w.Header().Set("X-Request-Id", x.ID)
	abort := false
	defer func() {
		if v := recover(); v != nil && v != http.ErrAbortHandler {
			// A bug: log it with its stack, answer 500 if nothing went out, never crash the process.
			x.Err = fmt.Errorf("panic: %v\n%s", v, debug.Stack())
			x.Reason = "panic"
			if !x.W.WroteHeader() {
				httpx.WriteError(x.W, r, nil)
			} else {
				abort = true
			}
		} else if v != nil {
			abort = true
		}
		p.finish(x, r, start)
		if abort {
			panic(http.ErrAbortHandler) // cut the connection: a truncated answer must not look complete
		}
	}()
	abort = p.settle(x, r, p.Handle(x, r))
}

// settle turns the handler's result into the answer, and reports whether the connection must
// be aborted. One rule for "the client left": a write to the client failed (a reset, a broken
// pipe, a write deadline), the handler said so, or the request failed while its context had
// ended (net/http cancels it when the connection closes). Such a request is client_gone,
// never an upstream error or a served 200; one that completed is served even if the client
// hung up right after.
func (p *Pipeline) settle(x *Exchange, r *http.Request, err error) (abort bool) {
	switch {
	case x.W.WriteErr != nil || errors.Is(err, ErrClientGone) || (err != nil && r.Context().Err() != nil):
		x.W.Status, x.Reason, x.Denied, x.Err = StatusClientGone, ReasonClientGone, false, nil
		return false
	case err == nil:
		return false
	case x.W.WroteHeader():
		x.W.Flush()
		var a *Abort
		if errors.As(err, &a) {
			x.Reason, x.Denied = a.Reason, true
		} else {
			x.Reason, x.Err = ReasonUpstreamAborted, err
		}
		return true
	}
	var e *httpx.Error
	if !errors.As(err, &e) {
		e = &httpx.Error{Status: http.StatusInternalServerError, Message: "internal error", Reason: "internal"}
		x.Err = err
	}
	if x.Reason == "" {
		x.Reason = e.Reason
	}
	// A refused request ends its connection: nothing a client pipelined behind it (a request
	// smuggled in a body the gateway and a front proxy framed differently, or a flood of retries
	// on one kept-alive connection) is read after it.
	x.W.Header().Set("Connection", "close")
	webpage.Answer(x.W, r, e, !x.JSONOnly && webpage.WantsPage(r))
	return false
}

// finish writes the access line (logx.Access, the form the fail2ban filter reads) and the
// request metrics.
func (p *Pipeline) finish(x *Exchange, r *http.Request, start time.Time) {
	status := x.W.Status
	if status == 0 {
		status = http.StatusOK
	}
	// outcome and label are the metrics' words; logReason is the access line's, which fail2ban
	// reads: only the gateway's own refusals and errors carry one, never a status relayed from
	// AList or the storage.
	outcome, label, logReason := "served", "", ""
	switch {
	case x.Reason == ReasonClientGone:
		outcome, logReason = ReasonClientGone, ReasonClientGone
	case x.Denied:
		outcome, label, logReason = "denied", x.Reason, x.Reason
		p.Metrics.Denials.WithLabelValues(x.Reason).Inc()
	case x.Reason == ReasonUpstreamAborted || status >= 500:
		label = cmp.Or(x.Reason, "upstream")
		outcome, logReason = "error", label
	case status >= 400:
		outcome, label = "denied", "upstream"
	}
	if x.LogReason != "" && logReason != "" {
		logReason = x.LogReason
	}
	if outcome == "served" {
		p.served.Inc()
	} else {
		p.Metrics.Requests.WithLabelValues(outcome, label).Inc()
	}
	if c := status / 100; c >= 1 && c < len(p.classes) {
		p.classes[c].Inc()
	} else {
		p.Metrics.Responses.WithLabelValues(metrics.StatusClass(status)).Inc()
	}
	if x.Err != nil {
		p.Log.Warn("request failed", "request_id", x.ID, "status", status, "err", x.Err.Error())
	}
	logx.Access(p.Log, logx.AccessRecord{RequestID: x.ID, ClientIP: x.Client.Text, Subnet: x.Subnet, Method: r.Method,
		Status: status, Bytes: x.W.Written, Duration: time.Since(start), Reason: logReason})
}

func (p *Pipeline) newID() string {
	b := make([]byte, 0, 24)
	b = append(b, p.idPrefix...)
	b = strconv.AppendUint(b, p.seq.Add(1), 36)
	return string(b)
}

// SubnetOf is the rate-limit key of c: its address masked to v4/v6 bits, or "unknown" for a
// client whose address is not known.
func SubnetOf(c clientip.Client, v4, v6 int) string {
	if !c.Addr.IsValid() {
		return "unknown"
	}
	return sign.Subnet(c.Addr, v4, v6)
}
