package proxy

import "strings"

func baseName(p string) string { return p[strings.LastIndexByte(p, '/')+1:] }

// contentDisposition is `attachment` with an ASCII `filename` fallback and the exact name in
// an RFC 5987 `filename*` (RFC 6266), so CJK and emoji names survive every browser.
func contentDisposition(name string) string {
	if name == "" {
		return "attachment"
	}
	b := make([]byte, 0, 40+4*len(name))
	b = append(b, `attachment; filename="`...)
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 0x80:
			// one '_' per character, not per byte
			if c >= 0xC0 || i == 0 {
				b = append(b, '_')
			}
		case c < 0x20 || c == 0x7f || c == '"' || c == '\\':
			b = append(b, '_')
		default:
			b = append(b, c)
		}
	}
	b = append(b, '"')
	b = append(b, `; filename*=UTF-8''`...)
	const hexDigits = "0123456789ABCDEF"
	for i := 0; i < len(name); i++ {
		c := name[i]
		if isAttrChar(c) {
			b = append(b, c)
		} else {
			b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
		}
	}
	return string(b)
}

// isAttrChar is RFC 5987's attr-char: what may stand unescaped in filename*.
func isAttrChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$&+-.^_`|~", c) >= 0
}
