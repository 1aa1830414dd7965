package upload

import (
	"io"
	"net/http"
	"time"

	"github.com/alist-edge/alist-edge/internal/pipeline"
)

// The public server (internal/server) starts every answer with a write deadline
// (DefaultAnswerTimeout) and has no read timeout. An upload's body and a download's file take
// as long as they take, so both are bounded by progress instead: every chunk must move within
// idleTimeout, and an answer written after a long upload gets a fresh deadline.

const (
	idleTimeout = 60 * time.Second
	sendChunk   = 256 << 10 // a download must move this much per idleTimeout (~4 KiB/s)
)

// idleWriter gives each chunk of a file answer its own write deadline. It keeps sendfile:
// http.ServeContent hands ReadFrom an *io.LimitedReader over the *os.File, and each chunk is
// one such reader (net's sendfile unwraps one level).
type idleWriter struct {
	*pipeline.Writer
	rc *http.ResponseController
}

func newIdleWriter(w *pipeline.Writer) idleWriter {
	return idleWriter{Writer: w, rc: http.NewResponseController(w)}
}

func (w idleWriter) arm() { _ = w.rc.SetWriteDeadline(time.Now().Add(idleTimeout)) }

func (w idleWriter) Write(p []byte) (int, error) {
	w.arm()
	return w.Writer.Write(p)
}

func (w idleWriter) ReadFrom(src io.Reader) (int64, error) {
	lr, ok := src.(*io.LimitedReader)
	if !ok {
		w.arm()
		return w.Writer.ReadFrom(src)
	}
	var total int64
	for lr.N > 0 {
		w.arm()
		n := min(lr.N, sendChunk)
		got, err := w.Writer.ReadFrom(&io.LimitedReader{R: lr.R, N: n})
		lr.N -= got
		total += got
		if err != nil || got < n {
			return total, err
		}
	}
	return total, nil
}

// idleReader bounds each read of an upload's body by idleTimeout through the connection's
// read deadline (moved at most once a second: it is a timer reset per call).
type idleReader struct {
	r     io.Reader
	rc    *http.ResponseController
	armed time.Time
}

func (r *idleReader) Read(p []byte) (int, error) {
	if now := time.Now(); now.Sub(r.armed) > time.Second {
		r.armed = now
		_ = r.rc.SetReadDeadline(now.Add(idleTimeout))
	}
	return r.r.Read(p)
}
