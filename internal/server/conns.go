package server

import (
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/alist-edge/alist-edge/internal/tcpacct"
)

// Defaults of the public listener's per-connection limits (Options.AnswerTimeout and
// Options.MaxRequestsPerConn).
const (
	// DefaultAnswerTimeout bounds how long one answer may wait for the client to take it. A
	// stream re-arms its own deadline per write (the proxy's CLIENT_IDLE_TIMEOUT), so this only
	// caps answers that are written in one go: errors, redirects, pages, 304s, short files.
	DefaultAnswerTimeout = 30 * time.Second
	// DefaultMaxRequestsPerConn is nginx's keepalive_requests default: after this many requests
	// a connection is closed, so a client that pipelines without reading gets at most this many
	// answers (and access lines) before it has to reconnect.
	DefaultMaxRequestsPerConn = 1000
)

// connInfo is what the public server keeps per connection; connContext puts it into every
// request's context.
type connInfo struct {
	requests atomic.Int64
}

type connInfoKey struct{}

// connContext is the public server's ConnContext: the request counter of limitAnswers, and the
// TCP counters the proxy charges usage by (tcpacct: what the client acknowledged).
func connContext(ctx context.Context, c net.Conn) context.Context {
	return tcpacct.ConnContext(context.WithValue(ctx, connInfoKey{}, &connInfo{}), c)
}

// writeDeadliner is what net/http's ResponseWriter offers http.ResponseController.
type writeDeadliner interface{ SetWriteDeadline(time.Time) error }

// limitAnswers gives every answer a write deadline and closes a connection after max requests.
//
// net/http's Server.WriteTimeout cannot do the first: it is one deadline for the whole answer,
// which would cut a long download. Setting the deadline per request instead bounds every answer
// (a client that stops reading is dropped within answerTimeout, whatever the answer), and the
// proxy's streams move it forward after each write. The request cap bounds pipelining: net/http
// answers pipelined requests one after another into the socket whether or not the client reads
// them, until the kernel's buffers fill (about 12,000 small answers on loopback).
func limitAnswers(h http.Handler, answerTimeout time.Duration, max int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if answerTimeout > 0 {
			if d, ok := w.(writeDeadliner); ok { // net/http's own writer: no ResponseController to allocate
				_ = d.SetWriteDeadline(time.Now().Add(answerTimeout))
			} else {
				_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(answerTimeout))
			}
		}
		if ci, ok := r.Context().Value(connInfoKey{}).(*connInfo); ok && max > 0 && ci.requests.Add(1) >= max {
			// net/http closes the connection after an answer whose handler set this.
			w.Header().Set("Connection", "close")
		}
		if r.ContentLength != 0 || len(r.TransferEncoding) > 0 {
			// A request with a body (the proxy takes none, the landing only a small form): the
			// connection ends with its answer, so where that body ends is never a question two
			// parsers could answer differently (request smuggling).
			w.Header().Set("Connection", "close")
		}
		h.ServeHTTP(w, r)
	})
}

// connCap caps the open connections of a listener. Past the cap Accept waits until one closes,
// so new clients queue in the kernel's backlog instead of each costing a goroutine, buffers and
// a file descriptor: a flood of idle connections cannot exhaust them. A slot is given back by
// the server's ConnState hook (closed or hijacked), so connections are not wrapped and keep
// what net/http and tcpacct need of them (sendfile, the socket's counters).
type connCap struct {
	net.Listener
	slots chan struct{}
}

func (l *connCap) Accept() (net.Conn, error) {
	l.slots <- struct{}{}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return c, nil
}

// connState is the server's ConnState hook: a closed or hijacked connection frees its slot.
func (l *connCap) connState(_ net.Conn, s http.ConnState) {
	if s == http.StateClosed || s == http.StateHijacked {
		<-l.slots
	}
}
