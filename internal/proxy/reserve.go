package proxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/alist-edge/alist-edge/internal/httpx"
	"github.com/alist-edge/alist-edge/pkg/quota"
)

// Bandwidth quotas are caps (docs/contract.md §8). The check reserves what the answer is expected to
// deliver (reserveFor); before any header goes out the answer's real length is compared with
// that grant and extended if needed (429 when the quota cannot cover it); an answer of unknown
// length is read through cappedReader, which asks for more as it goes and stops the stream
// when the quota has nothing left. Without a quota (Meter.Grant() < 0) none of this runs.

// errQuotaReached: a stream whose headers were already out was stopped because its subnet's
// bandwidth quota allows no more bytes. The connection is aborted like any mid-stream failure;
// its log reason is quota_reached.
var errQuotaReached = errors.New("bandwidth quota reached")

// extendChunk is what a stream of unknown length asks for each time its grant runs out: one
// database round trip per 4 MiB, and at most that much held back from parallel requests.
const extendChunk = 4 << 20

// reserveFor is CheckRequest.Reserve for a request: nothing for HEAD, the length of a single
// Range clipped to the file, the whole file for no Range or one that is not a single range
// (several ranges, or not understood: the answer is then the whole file or a multipart body
// whose real length is checked before the headers go out), unknown when the signed size is.
func reserveFor(method, rangeHeader string, size int64) int64 {
	if method == http.MethodHead {
		return 0
	}
	if size <= 0 {
		return quota.ReserveUnknown
	}
	if n, ok := rangeLength(rangeHeader, size); ok {
		return n
	}
	return size
}

// rangeLength is the length of the single byte range h asks of a file of size bytes (0 for
// one that cannot be satisfied: the answer is a 416); ok is false when h is empty, names
// several ranges or cannot be read.
func rangeLength(h string, size int64) (int64, bool) {
	spec, ok := strings.CutPrefix(h, "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return 0, false
	}
	first, last, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return 0, false
	}
	first, last = strings.TrimSpace(first), strings.TrimSpace(last)
	if first == "" { // the last n bytes
		n, ok := digits(last)
		if !ok {
			return 0, false
		}
		return min(n, size), true
	}
	start, ok := digits(first)
	if !ok {
		return 0, false
	}
	if start >= size {
		return 0, true
	}
	if last == "" {
		return size - start, true
	}
	end, ok := digits(last)
	if !ok || end < start {
		return 0, false
	}
	return min(end, size-1) - start + 1, true
}

// digits reads a non-negative decimal made of ASCII digits only (no sign, no spaces).
func digits(s string) (int64, bool) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// extendBy asks the quota for n more bytes before the headers went out; anything short of n
// is the refusal a client gets (429 with the quota's message, or 500 when the database failed).
func extendBy(ctx context.Context, m *quota.Meter, n int64) error {
	g, err := m.Extend(ctx, n)
	if g >= n {
		return nil
	}
	var le *quota.LimitError
	switch {
	case errors.As(err, &le):
		return httpx.QuotaRefusal(le.Decision)
	case ctx.Err() != nil:
		return errClientGone
	}
	return errDB
}

// capUpstream makes sure the grant covers the upstream answer before its headers go out: a
// known length (Content-Length, or the whole body already in Head) is extended to in full or
// refused; a body of unknown length is read through a cappedReader, which stops it where the
// quota ends.
func capUpstream(ctx context.Context, m *quota.Meter, head []byte, headErr error, contentLength int64, body io.Reader) (io.Reader, error) {
	grant := m.Grant()
	if grant < 0 {
		return body, nil
	}
	need := int64(len(head))
	if headErr == nil && contentLength > need {
		need = contentLength
	}
	if need > grant {
		if err := extendBy(ctx, m, need-grant); err != nil {
			return nil, err
		}
	}
	if headErr != nil || contentLength >= 0 {
		// The length is known and granted: the transport ends the body at its Content-Length.
		return body, nil
	}
	return &cappedReader{ctx: ctx, m: m, r: body, left: m.Grant() - int64(len(head))}, nil
}

// cappedReader reads at most what the meter granted, extending the grant when the body goes
// on; when the quota grants nothing more it fails with errQuotaReached.
type cappedReader struct {
	ctx     context.Context
	m       *quota.Meter
	r       io.Reader
	left    int64 // bytes that may still be read under the grant
	stash   [1]byte
	stashed bool
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if c.left <= 0 {
		if !c.stashed {
			// At the end of the grant: learn whether the body goes on before asking for more,
			// so that a body ending exactly there ends cleanly.
			n, err := c.r.Read(c.stash[:])
			if n == 0 {
				return 0, err
			}
			c.stashed = true
		}
		g, err := c.m.Extend(c.ctx, extendChunk)
		if g <= 0 {
			var le *quota.LimitError
			if err == nil || errors.As(err, &le) {
				return 0, errQuotaReached
			}
			return 0, err
		}
		c.left += g
	}
	off := 0
	if c.stashed {
		p[0], c.stashed, off = c.stash[0], false, 1
		c.left--
		if len(p) == 1 || c.left == 0 {
			return 1, nil
		}
	}
	q := p[off:]
	if int64(len(q)) > c.left {
		q = q[:c.left]
	}
	n, err := c.r.Read(q)
	c.left -= int64(n)
	return off + n, err
}

// localGate holds back the headers of a local answer until the exact length http.ServeContent
// computed for it (a Range, a multipart body, a file that changed since it was signed) is
// granted; if it cannot be, nothing is written and refused says why.
type localGate struct {
	*meterWriter
	ctx     context.Context
	m       *quota.Meter
	refused error
}

func (g *localGate) WriteHeader(code int) {
	if g.refused != nil {
		return
	}
	if !g.base.WroteHeader() {
		if n, err := strconv.ParseInt(g.Header().Get("Content-Length"), 10, 64); err == nil && n > g.m.Grant() {
			if err := extendBy(g.ctx, g.m, n-g.m.Grant()); err != nil {
				g.refused = err
				return
			}
		}
	}
	g.meterWriter.WriteHeader(code)
}

func (g *localGate) Write(p []byte) (int, error) {
	if g.refused != nil {
		return 0, g.refused
	}
	return g.meterWriter.Write(p)
}

// ReadFrom keeps sendfile (meterWriter.ReadFrom) for an admitted answer.
func (g *localGate) ReadFrom(src io.Reader) (int64, error) {
	if g.refused != nil {
		return 0, g.refused
	}
	return g.meterWriter.ReadFrom(src)
}

// localRefusal clears what http.ServeContent set for the file, so the refusal carries only
// its own headers.
func localRefusal(hdr http.Header) {
	for _, k := range []string{"Content-Range", "Content-Disposition", "Etag", "Accept-Ranges", "Last-Modified"} {
		delete(hdr, k)
	}
}
