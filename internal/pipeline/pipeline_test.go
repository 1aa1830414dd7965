package pipeline

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/alist-edge/alist-edge/internal/clientip"
	"github.com/alist-edge/alist-edge/internal/httpx"
	"github.com/alist-edge/alist-edge/internal/metrics"
	itestutil "github.com/alist-edge/alist-edge/internal/testutil"
)

func newPipe(t *testing.T, handle func(x *Exchange, r *http.Request) error) (*Pipeline, *itestutil.SyncBuffer) {
	t.Helper()
	logs := &itestutil.SyncBuffer{}
	p := (&Pipeline{Log: slog.New(slog.NewJSONHandler(logs, nil)), Metrics: metrics.New("test"), Handle: handle,
		Client: func(r *http.Request) (clientip.Client, int, int) {
			return clientip.Client{Text: "203.0.113.7", Addr: netipMust("203.0.113.7")}, 24, 60
		}}).Init()
	return p, logs
}

func accessLine(t *testing.T, logs *itestutil.SyncBuffer) map[string]any {
	t.Helper()
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, `"msg":"access"`) {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatal(err)
			}
			return m
		}
	}
	t.Fatalf("no access line:\n%s", logs.String())
	return nil
}

var errPolicy = &httpx.Error{Status: http.StatusForbidden, Reason: "policy", Message: "access denied"}

// TestAnswers: how a handler's result becomes the answer, the access line and the metrics.
func TestAnswers(t *testing.T) {
	const chromium = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	for _, c := range []struct {
		name       string
		handle     func(x *Exchange, r *http.Request) error
		accept     string
		status     int
		body       string // substring
		logReason  string
		outcome    string
		label      string
		warnLogged bool
	}{
		{"served", func(x *Exchange, r *http.Request) error { _, err := x.W.Write([]byte("ok")); return err },
			"", 200, "ok", "", "served", "", false},
		{"own refusal, JSON", func(x *Exchange, r *http.Request) error { return x.Deny(errPolicy) },
			"*/*", 403, `{"code":403,"message":"access denied"}`, "policy", "denied", "policy", false},
		{"own refusal, browser", func(x *Exchange, r *http.Request) error { return x.Deny(errPolicy) },
			chromium, 403, "<!DOCTYPE html>", "policy", "denied", "policy", false},
		{"JSON-only route", func(x *Exchange, r *http.Request) error { x.JSONOnly = true; return x.Deny(errPolicy) },
			chromium, 403, `"message":"access denied"`, "policy", "denied", "policy", false},
		{"signature message logged", func(x *Exchange, r *http.Request) error {
			x.LogReason = "sign mismatch"
			return x.Deny(&httpx.Error{Status: 401, Reason: "signature", Message: "sign mismatch"})
		}, "", 401, "sign mismatch", "sign mismatch", "denied", "signature", false},
		{"relayed 404 carries no reason", func(x *Exchange, r *http.Request) error {
			return &httpx.Error{Status: 404, Reason: "alist", Message: "object not found"}
		}, "", 404, "object not found", "", "denied", "upstream", false},
		{"plain error is a 500 with the cause logged", func(x *Exchange, r *http.Request) error { return errors.New("disk on fire") },
			"", 500, `"message":"internal error"`, "internal", "error", "internal", true},
		{"panic is a 500", func(x *Exchange, r *http.Request) error { panic("bug") },
			"", 500, "internal error", "panic", "error", "panic", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, logs := newPipe(t, c.handle)
			r := httptest.NewRequest(http.MethodGet, "/f", nil)
			if c.accept != "" {
				r.Header.Set("Accept", c.accept)
			}
			w := httptest.NewRecorder()
			p.ServeHTTP(w, r)
			if w.Code != c.status || !strings.Contains(w.Body.String(), c.body) || w.Header().Get("X-Request-Id") == "" {
				t.Fatalf("%d %q %v", w.Code, w.Body.String(), w.Header())
			}
			m := accessLine(t, logs)
			if m["reason"] != c.logReason || m["status"] != float64(c.status) || m["subnet"] != "203.0.113.0/24" {
				t.Fatalf("access line %v", m)
			}
			if v := testutil.ToFloat64(p.Metrics.Requests.WithLabelValues(c.outcome, c.label)); v != 1 {
				t.Fatalf("requests{%s,%s} = %v", c.outcome, c.label, v)
			}
			if got := strings.Contains(logs.String(), "request failed"); got != c.warnLogged {
				t.Fatalf("request failed logged: %v\n%s", got, logs.String())
			}
		})
	}
}

// TestAbortAfterHeader: a failure after the header went out cuts the connection (the client
// sees a short body, never a complete-looking answer), logged upstream_aborted or the Abort's
// reason; a client that left is client_gone, never an error.
func TestAbortAfterHeader(t *testing.T) {
	for _, c := range []struct {
		name    string
		err     error
		reason  string
		outcome string
	}{
		{"upstream", errors.New("read: connection reset"), ReasonUpstreamAborted, "error"},
		{"quota", &Abort{Reason: "quota_reached", Err: errors.New("bandwidth quota reached")}, "quota_reached", "denied"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, logs := newPipe(t, func(x *Exchange, r *http.Request) error {
				x.W.Header().Set("Content-Length", "100")
				_, _ = x.W.Write([]byte("0123456789"))
				return c.err
			})
			srv := httptest.NewServer(p)
			defer srv.Close()
			resp, err := http.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			_, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil {
				t.Fatal("a cut answer looked complete")
			}
			deadline := time.Now().Add(5 * time.Second)
			for !strings.Contains(logs.String(), `"msg":"access"`) && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if m := accessLine(t, logs); m["reason"] != c.reason || m["status"] != float64(200) {
				t.Fatalf("access line %v", m)
			}
			if v := testutil.ToFloat64(p.Metrics.Requests.WithLabelValues(c.outcome, c.reason)); v != 1 {
				t.Fatalf("requests{%s,%s} = %v", c.outcome, c.reason, v)
			}
		})
	}
	t.Run("client gone", func(t *testing.T) {
		done := make(chan struct{})
		p, logs := newPipe(t, func(x *Exchange, r *http.Request) error {
			defer close(done)
			x.W.Header().Set("Content-Length", "1073741824")
			buf := make([]byte, 64<<10)
			for {
				if _, err := x.W.Write(buf); err != nil {
					return errors.New("upstream read failed meanwhile") // whatever else happened
				}
			}
		})
		srv := httptest.NewServer(p)
		defer srv.Close()
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		_, _ = io.ReadFull(c, make([]byte, 256<<10))
		_ = c.(*net.TCPConn).SetLinger(0)
		c.Close()
		<-done
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(logs.String(), `"msg":"access"`) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if m := accessLine(t, logs); m["reason"] != ReasonClientGone || m["status"] != float64(StatusClientGone) {
			t.Fatalf("access line %v", m)
		}
		if strings.Contains(logs.String(), "request failed") {
			t.Fatalf("a client that left was logged as a failure:\n%s", logs.String())
		}
	})
}

func TestSubnetOf(t *testing.T) {
	if got := SubnetOf(clientip.Client{}, 32, 60); got != "unknown" {
		t.Fatalf("no address: %q", got)
	}
	if got := SubnetOf(clientip.Client{Addr: netipMust("2001:db8::1")}, 32, 60); got != "2001:db8:0:0:0:0:0:0/60" {
		t.Fatalf("v6: %q", got)
	}
}

func netipMust(s string) netip.Addr { return netip.MustParseAddr(s) }
