package upload

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/alist-edge/alist-edge/internal/httpx"
)

// Slot paths. P, the path a MAC signs, is the URL path after UPLOAD_PREFIX decoded once (net/url
// decodes r.URL.Path exactly once; Prosody signs the raw name and percent-encodes it in the URL).
// The same P names the file below UPLOAD_DIR, so it is checked segment by segment before anything
// else: Prosody does not refuse ".." in a file name, and a name is the client's choice.

const (
	maxSegment = 255  // a file name on every common filesystem
	maxPath    = 1024 // the whole slot path
)

var (
	errNotFound = &httpx.Error{Status: http.StatusNotFound, Message: "not found", Reason: "not_found"}
	errBadPath  = &httpx.Error{Status: http.StatusBadRequest, Message: "invalid upload path", Reason: "path"}
)

// slotPath returns P for a request path, or errNotFound outside the prefix and errBadPath for a
// path that is not a clean relative one.
func slotPath(urlPath, prefix string) (string, *httpx.Error) {
	p, ok := strings.CutPrefix(urlPath, prefix)
	if !ok {
		return "", errNotFound
	}
	if p == "" || len(p) > maxPath {
		return "", errBadPath
	}
	for seg := range strings.SplitSeq(p, "/") {
		if !cleanSegment(seg) {
			return "", errBadPath
		}
	}
	return p, nil
}

// cleanSegment: not empty, not a dot segment, at most maxSegment bytes of valid UTF-8 without
// '\', NUL or control characters (a name that breaks a shell, a log line or a Windows share).
func cleanSegment(seg string) bool {
	if seg == "" || seg == "." || seg == ".." || len(seg) > maxSegment || !utf8.ValidString(seg) {
		return false
	}
	for _, r := range seg {
		if r < 0x20 || r == 0x7f || r == '\\' || (r >= 0x80 && r < 0xa0) {
			return false
		}
	}
	return true
}

// extOf is the lower-cased extension of the last segment, with its dot ("" when none).
func extOf(p string) string {
	name := p[strings.LastIndexByte(p, '/')+1:]
	i := strings.LastIndexByte(name, '.')
	if i <= 0 {
		return ""
	}
	return strings.ToLower(name[i:])
}
