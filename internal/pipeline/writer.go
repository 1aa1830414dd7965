package pipeline

import (
	"io"
	"net/http"
)

// Writer is the answer as the pipeline sees it: the status sent, the body bytes the connection
// took and the first write that failed (the client is gone or stopped reading). It keeps the
// connection's ReadFrom (sendfile), Flush, and Unwrap for http.ResponseController.
type Writer struct {
	http.ResponseWriter
	Status   int   // 0 until the header is written
	Written  int64 // body bytes accepted by the connection
	WriteErr error
}

// WroteHeader reports whether the status is out: from then on a failure can only abort.
func (w *Writer) WroteHeader() bool { return w.Status != 0 }

func (w *Writer) WriteHeader(code int) {
	if w.Status == 0 && code >= 200 {
		w.Status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *Writer) Write(p []byte) (int, error) {
	if w.Status == 0 {
		w.Status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.Written += int64(n)
	w.noteErr(err)
	return n, err
}

// ReadFrom passes src to the connection's ReadFrom (sendfile for files); its errors are the
// socket's: a file that was opened and stat'ed does not fail to read.
func (w *Writer) ReadFrom(src io.Reader) (int64, error) {
	if w.Status == 0 {
		w.Status = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(writerOnly{w.ResponseWriter}, src)
	}
	w.Written += n
	w.noteErr(err)
	return n, err
}

func (w *Writer) noteErr(err error) {
	if err != nil && w.WriteErr == nil {
		w.WriteErr = err
	}
}

// writerOnly hides ReadFrom so io.Copy does not recurse.
type writerOnly struct{ io.Writer }

func (w *Writer) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
		return
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the server's writer (write deadlines).
func (w *Writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }
