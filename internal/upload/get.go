package upload

import (
	"errors"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/alist-edge/alist-edge/internal/httpx"
	"github.com/alist-edge/alist-edge/internal/pipeline"
)

// get serves a stored file (GET/HEAD; the URL without its query is the capability). Only a file
// with a database row is served, with the type it was uploaded with: a temporary file, or
// anything else put in the folder by hand, is not. Files never change once stored (create-
// exclusive), so the ETag is the row's size and upload time and the answer is immutable.
// http.ServeContent does Range, If-None-Match and If-Modified-Since, and sends the file with
// sendfile through the pipeline's writer.
func (s *Service) get(x *pipeline.Exchange, r *http.Request, p string) error {
	row, ok, err := s.uploads.LookupUpload(r.Context(), p)
	if err != nil {
		x.Err = err
		return s.refuse(x, errDB)
	}
	if !ok {
		return s.refuse(x, errNotFound)
	}
	fh, err := s.files.root.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		// Deleted by hand: simply forgotten.
		_ = s.uploads.ForgetUpload(r.Context(), p)
		s.m.storedFiles.Dec()
		s.m.storedBytes.Sub(float64(row.Size))
		return s.refuse(x, errNotFound)
	}
	if err != nil {
		return err
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return s.refuse(x, errNotFound)
	}
	h := x.W.Header()
	httpx.SetCORS(h, r)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("ETag", `"`+strconv.FormatInt(row.Size, 36)+"-"+strconv.FormatInt(row.UploadedAt.UnixMilli(), 36)+`"`)
	ct := row.ContentType
	if _, _, err := mime.ParseMediaType(ct); err != nil || ct == "" {
		ct = "application/octet-stream"
	}
	h.Set("Content-Type", ct)
	name := path.Base(p)
	disp := "attachment"
	if inlineType(ct) {
		disp = "inline"
	}
	if v := mime.FormatMediaType(disp, map[string]string{"filename": name}); v != "" {
		h.Set("Content-Disposition", v)
	} else {
		h.Set("Content-Disposition", disp)
	}
	http.ServeContent(newIdleWriter(x.W), r, "", row.UploadedAt, fh)
	return nil
}

// inlineType: the types a browser may show in place (Prosody's default safe types); anything
// else is a download, so an uploaded page or script never runs on this origin.
func inlineType(ct string) bool {
	mt, _, _ := strings.Cut(strings.ToLower(ct), ";")
	mt = strings.TrimSpace(mt)
	return strings.HasPrefix(mt, "image/") || strings.HasPrefix(mt, "video/") || strings.HasPrefix(mt, "audio/") || mt == "text/plain"
}
