package proxy

import (
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/alist-edge/alist-edge/internal/httpx"
	"github.com/alist-edge/alist-edge/internal/origin"
	"github.com/alist-edge/alist-edge/pkg/quota"
)

// bufSize is the copy buffer of one stream: large enough that a fast upstream fills few
// syscalls, small enough that thousands of streams fit in memory. Buffers are pooled, so a
// stream allocates nothing in proportion to the file.
const bufSize = 256 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

// Every stream starts on a small buffer and moves to a large one only while its client keeps up:
// a thousand slow downloads then hold a thousand small buffers (the upstream is paced by TCP
// behind them), while a fast client gets few large reads and writes (see copyAdaptive).
const (
	smallBufSize = 16 << 10
	// upgradeBytes sent in less than upgradeWithin (small buffer) switch to the large one.
	upgradeBytes  = 2 << 20
	upgradeWithin = 20 * time.Millisecond
	// a large-buffer write slower than downgradeAfter means the client is slow: back to small.
	downgradeAfter = 50 * time.Millisecond
	// shortBody: answers up to this size start on the large buffer.
	shortBody = 4 << 20
)

var smallPool = sync.Pool{New: func() any { b := make([]byte, smallBufSize); return &b }}

// relayHeaders is the allowlist of docs/contract.md §9: the only upstream response headers a client sees
// (then the CORS headers). Everything else (Set-Cookie, Server, storage-internal headers,
// hop-by-hop headers) stays behind.
var relayHeaders = [...]string{
	"Content-Type",        // what the bytes are
	"Content-Disposition", // download name (a default is added when absent, see below)
	"Content-Length",      // size of this answer's body
	"Cache-Control",       // upstream caching rules
	"Content-Encoding",    // passed through untouched (the transport never decompresses)
	"Accept-Ranges",       // tells download managers they may resume
	"Content-Range",       // the part a 206 or 416 covers
	"Content-Language",    //
	"Expires",             //
	"Pragma",              //
	"Etag",                // validators for If-Range / If-None-Match
	"Last-Modified",       // validator for If-Range / If-Modified-Since
}

// stream relays the upstream answer: allowlisted headers, a default Content-Disposition, CORS,
// then the body through the pooled buffer, counting what the client accepted.
func (h *Handler) stream(rq *request, r *http.Request, resp *origin.Response, buf []byte, path string, meter *quota.Meter, idle time.Duration) error {
	defer resp.Close()
	body := io.Reader(resp.Body)
	if r.Method != http.MethodHead {
		// Under a bandwidth quota the grant must cover the answer before its headers go out.
		b, err := capUpstream(r.Context(), meter, resp.Head, resp.HeadErr, resp.ContentLength, resp.Body)
		if err != nil {
			return err
		}
		body = b
	}
	hdr := rq.w.Header()
	for _, k := range relayHeaders {
		if vs := resp.Header[k]; len(vs) > 0 {
			hdr[k] = vs
		}
	}
	if (resp.Status == http.StatusOK || resp.Status == http.StatusPartialContent) && len(resp.Header["Content-Disposition"]) == 0 {
		hdr["Content-Disposition"] = []string{contentDisposition(baseName(path))}
	}
	httpx.SetCORS(hdr, r)
	rq.w.WriteHeader(resp.Status)
	if resp.HeadErr == io.EOF && len(resp.Head) == 0 || r.Method == http.MethodHead {
		return nil
	}

	defer h.beginStream(rq, meter, idle, resp.ContentLength)()

	gone := func() error {
		if r.Context().Err() != nil {
			return errClientGone
		}
		return nil
	}
	if resp.HeadErr == nil && resp.ContentLength >= 0 && resp.ContentLength <= bufSize {
		// The typical Range answer: collected, then headers and body in one Write (see relayShort).
		if more, err := relayShort(rq.w, resp.Head, body, gone); !more {
			return err
		}
	} else {
		if len(resp.Head) > 0 {
			if _, err := rq.w.Write(resp.Head); err != nil {
				return errClientGone
			}
		}
		if err := resp.HeadErr; err != nil {
			if err == io.EOF {
				return nil
			}
			return fmt.Errorf("%w: %w", errAborted, err)
		}
	}
	rq.w.Flush()
	// A short answer (a Range, a small file) goes on the large buffer at once: few syscalls, and
	// the buffer is back in the pool soon whatever the client's speed.
	short := resp.ContentLength >= 0 && resp.ContentLength <= shortBody
	return copyAdaptive(rq.w, body, buf, short, gone)
}

// beginStream starts metering the body and returns what ends it: the charge settled (what the
// client received, endStream), then the meter's reservation (meter.Close), in that order.
func (h *Handler) beginStream(rq *request, meter *quota.Meter, idle time.Duration, size int64) (end func()) {
	rq.w.startStream(meter, idle, size)
	h.m.ActiveStreams.Inc()
	return func() {
		rq.w.endStream()
		meter.Close()
		h.m.ActiveStreams.Dec()
	}
}

// collectWithin bounds how long relayShort holds back an answer that is still arriving: a
// healthy upstream delivers bufSize in a few milliseconds, and a slow one must not keep the
// client (or a CDN's time-to-first-byte limit in front of us) waiting for the whole body before
// it sees the headers. The bound is checked between reads; one stalled read is bounded by the
// upstream idle timeout, as the head read before it was.
const collectWithin = 100 * time.Millisecond

// relayShort sends an answer that fits in one large buffer with a single Write: head and the
// rest of body are collected first, so net/http puts the headers and the body on the wire in
// at most two write(2)s (its 4 KiB buffer, then the rest) instead of one for the headers and
// the head and one per upstream read, each of which costs about as much CPU as the rest of the
// request. The large buffer is borrowed only until that Write returns.
//
// If the upstream fails while the body is collected, what arrived is still written before
// errAborted is returned: the status is already committed (WriteHeader), so the client must see
// a transfer that stops short of its Content-Length and is then aborted, exactly as if the
// bytes had been relayed as they came, and usage counts what it got. more reports that the body
// did not end within the buffer or within collectWithin: what was collected has been written,
// and the caller relays the rest.
func relayShort(w io.Writer, head []byte, body io.Reader, gone func() error) (more bool, err error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	n := copy(buf, head)
	start := time.Now()
	var rerr error
	for n < len(buf) && time.Since(start) < collectWithin {
		var m int
		m, rerr = body.Read(buf[n:])
		n += m
		if rerr != nil {
			break
		}
	}
	if rerr != nil && rerr != io.EOF {
		if gerr := gone(); gerr != nil {
			return false, gerr
		}
	}
	if _, werr := w.Write(buf[:n]); werr != nil {
		return false, errClientGone
	}
	switch {
	case rerr == io.EOF:
		return false, nil
	case rerr != nil:
		return false, fmt.Errorf("%w: %w", errAborted, rerr)
	}
	return true, nil
}

// copyAdaptive relays body to w starting with small (the caller's small buffer): after
// upgradeBytes went out within upgradeWithin it borrows a large pooled buffer, and gives it back
// as soon as one write takes longer than downgradeAfter (the client, not the upstream, is the
// limit, and a blocked write would pin the large buffer). gone tells a client that left from an
// upstream failure.
func copyAdaptive(w interface {
	io.Writer
	Flush()
}, body io.Reader, small []byte, startLarge bool, gone func() error) error {
	buf := small
	var large *[]byte
	if startLarge {
		large = bufPool.Get().(*[]byte)
		buf = *large
	}
	defer func() {
		if large != nil {
			bufPool.Put(large)
		}
	}()
	var sent int64
	mark := time.Now()
	for {
		n, err := body.Read(buf)
		if n > 0 {
			t0 := time.Now()
			if _, werr := w.Write(buf[:n]); werr != nil {
				return errClientGone
			}
			if n < len(buf) {
				// The upstream had no more for now: do not let the tail sit in a buffer.
				w.Flush()
			}
			if large == nil {
				if sent += int64(n); sent >= upgradeBytes {
					if time.Since(mark) < upgradeWithin {
						large = bufPool.Get().(*[]byte)
						buf = *large
					}
					sent, mark = 0, time.Now()
				}
			} else if time.Since(t0) > downgradeAfter {
				bufPool.Put(large)
				large, buf = nil, small
				sent, mark = 0, time.Now()
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if gerr := gone(); gerr != nil {
				return gerr
			}
			return fmt.Errorf("%w: %w", errAborted, err)
		}
	}
}
