package sign

import "unsafe"

// stringBytes views s as bytes without copying; the HMAC writers only read it. The hot path
// hashes five strings per request and a copy each would be the only allocation left.
func stringBytes(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}
