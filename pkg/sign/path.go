package sign

import (
	"strings"
	"unicode/utf8"
)

// ErrPathEncoding is answered (400) for a malformed escape or a path that is not UTF-8.
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
// path); the decoded one is what every signature covers (SPEC §3).
//
// A decoded path with a "." or ".." segment is refused with ErrPathEncoding (differs from
// SPEC §3, which lets it through): such a segment can only come from an encoded slash
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
