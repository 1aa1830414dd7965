package sign

import (
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
	b := make([]byte, 0, len(path)+len(workerAddr)+32)
	b = append(b, `{"path":`...)
	b = AppendJSString(b, path)
	b = append(b, `,"worker_addr":`...)
	b = AppendJSString(b, workerAddr)
	return string(append(b, '}'))
}

// IPSignData is what ipSign signs: {"path":..,"ip":..}.
func IPSignData(path, ip string) string {
	b := make([]byte, 0, len(path)+len(ip)+20)
	b = append(b, `{"path":`...)
	b = AppendJSString(b, path)
	b = append(b, `,"ip":`...)
	b = AppendJSString(b, ip)
	return string(append(b, '}'))
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
}

// Encode returns unpadded standard base64 of {"pathHash":..,"filesize":..,"expireTime":..}.
func (a AdditionalInfo) Encode() string {
	b := make([]byte, 0, 128)
	b = append(b, `{"pathHash":`...)
	b = AppendJSString(b, a.PathHash)
	b = append(b, `,"filesize":`...)
	b = strconv.AppendInt(b, a.FileSize, 10)
	b = append(b, `,"expireTime":`...)
	b = strconv.AppendInt(b, a.ExpireTime, 10)
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
	raw, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return AdditionalInfo{}, ErrAdditionalDecode
	}
	if !utf8.Valid(raw) {
		return AdditionalInfo{}, ErrAdditionalInvalid
	}
	var v struct {
		PathHash   *string  `json:"pathHash"`
		FileSize   *float64 `json:"filesize"`
		ExpireTime *float64 `json:"expireTime"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return AdditionalInfo{}, ErrAdditionalInvalid
	}
	var a AdditionalInfo
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
