package sign

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// HashSignData is what hashSign signs: standard base64 (with padding) of the UTF-8 path.
func HashSignData(path string) string {
	return base64.StdEncoding.EncodeToString([]byte(path))
}

// WorkerSignData is what workerSign signs: {"path":..,"worker_addr":..} as JSON.stringify
// writes it.
func WorkerSignData(path, workerAddr string) string {
	return string(appendWorkerSignData(make([]byte, 0, len(path)+len(workerAddr)+32), path, workerAddr))
}

func appendWorkerSignData(b []byte, path, workerAddr string) []byte {
	b = append(b, `{"path":`...)
	b = AppendJSString(b, path)
	b = append(b, `,"worker_addr":`...)
	b = AppendJSString(b, workerAddr)
	return append(b, '}')
}

// IPSignData is what ipSign signs: {"path":..,"ip":..}.
func IPSignData(path, ip string) string {
	return string(appendIPSignData(make([]byte, 0, len(path)+len(ip)+20), path, ip))
}

func appendIPSignData(b []byte, path, ip string) []byte {
	b = append(b, `{"path":`...)
	b = AppendJSString(b, path)
	b = append(b, `,"ip":`...)
	b = AppendJSString(b, ip)
	return append(b, '}')
}

// AppendJSString appends s as a JSON string the way JavaScript's JSON.stringify writes it:
// only '"', '\\' and U+0000–U+001F are escaped, '<', '>', '&', U+2028 and U+2029 stay raw
// (encoding/json would escape them and every such link would fail to verify).
func AppendJSString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"':
			b = append(b, '\\', '"')
		case '\\':
			b = append(b, '\\', '\\')
		case '\b':
			b = append(b, '\\', 'b')
		case '\t':
			b = append(b, '\\', 't')
		case '\n':
			b = append(b, '\\', 'n')
		case '\f':
			b = append(b, '\\', 'f')
		case '\r':
			b = append(b, '\\', 'r')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// PathHash is the sha256 hex of the decoded path: additionalInfo's pathHash and the database key.
func PathHash(path string) string {
	sum := sha256.Sum256([]byte(path))
	return hex.EncodeToString(sum[:])
}

// AdditionalInfo is the signed description of a download that the landing hands the proxy.
type AdditionalInfo struct {
	PathHash   string
	FileSize   int64
	ExpireTime int64 // Unix seconds; the real lifetime of the link
	// User and Groups are the signed-in visitor the landing vouches for (issue #17); "" is
	// anonymous, and then Groups is not written. The proxy believes an identity only from here.
	User   string
	Groups []string
}

// Encode returns unpadded standard base64 of {"pathHash":..,"filesize":..,"expireTime":..},
// followed by ,"user":..,"groups":[..] only when User is set: a link without identity is
// byte for byte the Workers'. CheckIdentity first: a name it refuses is encoded as given, and
// the proxy refuses such a link (additionalInfo invalid).
func (a AdditionalInfo) Encode() string {
	b := make([]byte, 0, 128+len(a.User)+16*len(a.Groups))
	b = append(b, `{"pathHash":`...)
	b = AppendJSString(b, a.PathHash)
	b = append(b, `,"filesize":`...)
	b = strconv.AppendInt(b, a.FileSize, 10)
	b = append(b, `,"expireTime":`...)
	b = strconv.AppendInt(b, a.ExpireTime, 10)
	b = appendIdentity(b, a.User, a.Groups)
	b = append(b, '}')
	return base64.RawStdEncoding.EncodeToString(b)
}

// Errors of DecodeAdditionalInfo, with the proxy's exact messages.
var (
	ErrAdditionalDecode  = &Error{"additionalInfo decode failed"}
	ErrAdditionalInvalid = &Error{"additionalInfo invalid"}
)

// DecodeAdditionalInfo reverses Encode. It accepts the value with or without '=' padding (the
// original decoded with atob, which accepts both) and reads numbers as JavaScript would
// (fractions and exponents allowed, truncated toward zero); a field of the wrong type is
// invalid, a missing field reads as zero and is judged by the caller.
func DecodeAdditionalInfo(s string) (AdditionalInfo, error) {
	var buf [256]byte
	s = strings.TrimRight(s, "=")
	var raw []byte
	if n := base64.RawStdEncoding.DecodedLen(len(s)); n <= len(buf) {
		raw = buf[:n]
	} else {
		raw = make([]byte, n)
	}
	n, err := base64.RawStdEncoding.Decode(raw, stringBytes(s))
	if err != nil {
		return AdditionalInfo{}, ErrAdditionalDecode
	}
	raw = raw[:n]
	if a, ok := parseCanonicalInfo(raw); ok {
		return a, nil
	}
	if !utf8.Valid(raw) {
		return AdditionalInfo{}, ErrAdditionalInvalid
	}
	var v struct {
		PathHash   *string  `json:"pathHash"`
		FileSize   *float64 `json:"filesize"`
		ExpireTime *float64 `json:"expireTime"`
		User       *string  `json:"user"`
		Groups     []string `json:"groups"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return AdditionalInfo{}, ErrAdditionalInvalid
	}
	var a AdditionalInfo
	if v.User != nil && *v.User != "" {
		a.User, a.Groups = *v.User, v.Groups
		if len(a.Groups) == 0 {
			a.Groups = nil
		}
	} else if v.User != nil || v.Groups != nil {
		return AdditionalInfo{}, ErrAdditionalInvalid // groups without a user, or an empty user
	}
	if a.CheckIdentity() != nil {
		return AdditionalInfo{}, ErrAdditionalInvalid
	}
	if v.PathHash != nil {
		a.PathHash = *v.PathHash
	}
	if v.FileSize != nil {
		a.FileSize = clampInt(*v.FileSize)
	}
	if v.ExpireTime != nil {
		a.ExpireTime = clampInt(*v.ExpireTime)
	}
	return a, nil
}

func clampInt(f float64) int64 {
	switch {
	case math.IsNaN(f):
		return 0
	case f >= math.MaxInt64:
		return math.MaxInt64
	case f <= math.MinInt64:
		return math.MinInt64
	}
	return int64(f)
}

// LinkLifetime is how long a link for fileSize bytes stays valid: at least minDuration
// seconds, longer when the file cannot be fetched at minBandwidthMbps in that time. Computed in
// float64 exactly as the original did, so expireTime matches it to the second.
func LinkLifetime(fileSize int64, minDurationSeconds int64, minBandwidthMbps float64) int64 {
	if minBandwidthMbps <= 0 {
		return minDurationSeconds
	}
	bytesPerSecond := minBandwidthMbps * 1000000 / 8
	need := int64(math.Ceil(float64(fileSize) / bytesPerSecond))
	if need > minDurationSeconds {
		return need
	}
	return minDurationSeconds
}

// parseCanonicalInfo reads the exact form Encode writes (the only form the landing emits)
// without encoding/json, which is most of the allocations of a verification; anything else
// falls back to the general decoder.
func parseCanonicalInfo(raw []byte) (AdditionalInfo, bool) {
	const (
		p1 = `{"pathHash":"`
		p2 = `","filesize":`
		p3 = `,"expireTime":`
	)
	var a AdditionalInfo
	rest, ok := bytes.CutPrefix(raw, []byte(p1))
	if !ok || len(rest) < 64 {
		return a, false
	}
	for _, c := range rest[:64] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return a, false
		}
	}
	hash := rest[:64]
	if rest, ok = bytes.CutPrefix(rest[64:], []byte(p2)); !ok {
		return a, false
	}
	size, rest, ok := cutUint(rest)
	if !ok {
		return a, false
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(p3)); !ok {
		return a, false
	}
	exp, rest, ok := cutUint(rest)
	if !ok {
		return a, false
	}
	if len(rest) != 1 {
		if rest, ok = cutIdentity(rest, &a); !ok || a.CheckIdentity() != nil {
			return AdditionalInfo{}, false
		}
	}
	if len(rest) != 1 || rest[0] != '}' {
		return AdditionalInfo{}, false
	}
	a.PathHash, a.FileSize, a.ExpireTime = string(hash), size, exp
	return a, true
}

// cutUint reads a canonical non-negative decimal (no leading zeros, at most 15 digits so it
// is exact in float64 and matches what the general decoder would read).
func cutUint(b []byte) (int64, []byte, bool) {
	n := 0
	var v int64
	for n < len(b) && n < 16 && b[n] >= '0' && b[n] <= '9' {
		v = v*10 + int64(b[n]-'0')
		n++
	}
	if n == 0 || n > 15 || (n > 1 && b[0] == '0') {
		return 0, b, false
	}
	return v, b[n:], true
}
