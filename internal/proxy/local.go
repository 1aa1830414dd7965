package proxy

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/alist-edge/alist-edge/internal/httpx"
	"github.com/alist-edge/alist-edge/internal/origin"
	"github.com/alist-edge/alist-edge/pkg/quota"
)

// serveLocal serves a file of the local folder with http.ServeContent: Range (single and
// multiple), HEAD, If-Range and the conditional headers, and sendfile through ReadFrom. Under a
// bandwidth quota a localGate makes sure the grant covers the exact answer first.
func (h *Handler) serveLocal(rq *request, r *http.Request, path string, meter *quota.Meter, idle time.Duration) error {
	f, fi, err := h.local.Open(path)
	switch {
	case errors.Is(err, origin.ErrNotFound):
		return errNotFound
	case errors.Is(err, origin.ErrForbidden):
		return errForbidden
	case err != nil:
		return err
	}
	defer f.Close()
	name := baseName(path)
	hdr := rq.w.Header()
	httpx.SetCORS(hdr, r)
	hdr["Content-Disposition"] = []string{contentDisposition(name)}
	hdr["Etag"] = []string{etag(fi.ModTime().UnixNano(), fi.Size())}
	hdr["Accept-Ranges"] = []string{"bytes"}
	var w http.ResponseWriter = rq.w
	var gate *localGate
	if r.Method != http.MethodHead {
		defer h.beginStream(rq, meter, idle, fi.Size())()
		if meter.Grant() >= 0 {
			gate = &localGate{meterWriter: rq.w, ctx: r.Context(), m: meter}
			w = gate
		}
	}
	http.ServeContent(w, r, name, fi.ModTime(), f)
	if gate != nil && gate.refused != nil {
		localRefusal(hdr)
		return gate.refused
	}
	return nil
}

func etag(mtimeNS, size int64) string {
	b := make([]byte, 0, 36)
	b = append(b, '"')
	b = strconv.AppendInt(b, mtimeNS, 36)
	b = append(b, '-')
	b = strconv.AppendInt(b, size, 36)
	return string(append(b, '"'))
}
