package sign

import (
	"path"
	"strings"
	"unicode/utf8"
)

// ErrPathEncoding is answered (400) for a malformed escape, a path that is not UTF-8, and a
// path the origin would resolve differently from what the policy sees (ServedPath).
var ErrPathEncoding = &Error{"invalid path encoding"}

// RawPath returns the path of an HTTP request target exactly as the client sent it (Go's
// url.URL re-encodes, and the contract needs the original encoding for the download URL).
// Absolute-form targets ("http://host/p") are reduced to their path.
func RawPath(requestURI string) string {
	if i := strings.IndexByte(requestURI, '?'); i >= 0 {
		requestURI = requestURI[:i]
	}
	if i := strings.IndexByte(requestURI, '#'); i >= 0 {
		requestURI = requestURI[:i]
	}
	if !strings.HasPrefix(requestURI, "/") {
		if i := strings.Index(requestURI, "://"); i >= 0 {
			rest := requestURI[i+3:]
			if j := strings.IndexByte(rest, '/'); j >= 0 {
				return rest[j:]
			}
			return "/"
		}
	}
	return requestURI
}

// RemoveDotSegments removes "." and ".." segments (also spelled with %2e in any case) the way
// a WHATWG URL parser does for a special URL's path, and nothing else: "//", case and other
// escapes stay. The result keeps its leading "/".
func RemoveDotSegments(p string) string {
	if !strings.Contains(p, ".") && !strings.Contains(p, "%2") {
		return p // fast path: no segment can be a dot segment
	}
	segs := strings.Split(strings.TrimPrefix(p, "/"), "/")
	out := make([]string, 0, len(segs))
	for i, s := range segs {
		last := i == len(segs)-1
		switch {
		case isDoubleDot(s):
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		case isSingleDot(s):
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, s)
		}
	}
	return "/" + strings.Join(out, "/")
}

func isSingleDot(s string) bool { return s == "." || strings.EqualFold(s, "%2e") }

func isDoubleDot(s string) bool {
	switch strings.ToLower(s) {
	case "..", ".%2e", "%2e.", "%2e%2e":
		return true
	}
	return false
}

// DecodePath percent-decodes p once, as decodeURIComponent does: '+' stays '+', every %XX
// becomes its byte, and the result must be valid UTF-8 (no overlong forms, no surrogates).
func DecodePath(p string) (string, error) {
	i := strings.IndexByte(p, '%')
	if i < 0 {
		if !utf8.ValidString(p) {
			return "", ErrPathEncoding
		}
		return p, nil
	}
	b := make([]byte, 0, len(p))
	b = append(b, p[:i]...)
	for ; i < len(p); i++ {
		c := p[i]
		if c != '%' {
			b = append(b, c)
			continue
		}
		if i+2 >= len(p) {
			return "", ErrPathEncoding
		}
		hi, ok1 := unhex(p[i+1])
		lo, ok2 := unhex(p[i+2])
		if !ok1 || !ok2 {
			return "", ErrPathEncoding
		}
		b = append(b, hi<<4|lo)
		i += 2
	}
	if !utf8.Valid(b) {
		return "", ErrPathEncoding
	}
	return string(b), nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// RequestPath turns a raw request path into (encoded path after dot-segment removal, decoded
// path); the decoded one is what every signature covers (docs/contract.md §3).
//
// A decoded path with a "." or ".." segment is refused with ErrPathEncoding (differs from
// docs/contract.md §3, which lets it through): such a segment can only come from an encoded slash
// ("/pub/..%2fprivate/x" decodes to "/pub/../private/x"), which the path policy would match as
// /pub while AList and the local folder resolve it to /private/x, walking out of a skip-sign
// prefix. No real file has such a segment, so no valid link is refused.
func RequestPath(raw string) (encoded, decoded string, err error) {
	encoded = RemoveDotSegments(raw)
	decoded, err = DecodePath(encoded)
	if err == nil && encoded != decoded && hasDotSegment(decoded) {
		return encoded, "", ErrPathEncoding
	}
	return encoded, decoded, err
}

// hasDotSegment reports whether p has a "." or ".." segment.
func hasDotSegment(p string) bool {
	for p != "" {
		var seg string
		seg, p, _ = strings.Cut(p, "/")
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// OriginKind is the kind of origin behind a service; each turns a request path into a file its
// own way, and the path policy must judge the path the origin will really serve.
type OriginKind uint8

const (
	// OriginAList: AList cleans every path it is given (utils.FixAndCleanPath: every `\`
	// becomes `/`, a leading `/` is added, then path.Clean) for /api/fs/get, /api/fs/link and
	// its /d/ downloads.
	OriginAList OriginKind = iota
	// OriginLocal: ADDRESS=file:///dir, opened through os.Root on Linux, where `\` is an
	// ordinary byte of a name and the kernel reads `//` as `/`.
	OriginLocal
)

// ServedPath is the path origin o will serve for the decoded request path: the path the policy
// (docs/contract.md §6) must be decided on, and the path to ask the origin for. Signatures keep covering
// the decoded path. The form is path.Clean's (leading "/" kept, "//" collapsed, "." segments
// and a trailing "/" dropped), after `\` → `/` for AList.
//
// Refused with ErrPathEncoding:
//   - a ".." segment (for AList also one built with `\`, as in "/pub/..\private/x"): it would
//     move the served path out of the prefix the policy matched. It is refused, not resolved,
//     because ".." means different things to different resolvers (lexical in AList, through
//     symlinks in the kernel), and no link AList hands out contains one;
//   - NUL: no file system or AList storage accepts it in a name, and a layer that passes paths
//     as C strings would cut the path there, serving a shorter path than the policy judged.
//
// Other control bytes stay: they are legal in Linux names (upstream vector control_chars) and
// mean nothing to path cleaning.
func ServedPath(decoded string, o OriginKind) (string, error) {
	p := decoded
	if o == OriginAList {
		p = strings.ReplaceAll(p, `\`, "/") // returns p itself when there is no `\`
	}
	if strings.IndexByte(p, 0) >= 0 || hasDotDotSegment(p) {
		return "", ErrPathEncoding
	}
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return path.Clean(p), nil // allocates only when p is not already clean
}

// hasDotDotSegment reports whether p has a ".." segment.
func hasDotDotSegment(p string) bool {
	for off := 0; ; {
		i := strings.Index(p[off:], "..")
		if i < 0 {
			return false
		}
		i += off
		if (i == 0 || p[i-1] == '/') && (i+2 == len(p) || p[i+2] == '/') {
			return true
		}
		off = i + 1
	}
}
