package sign

import (
	"encoding/json"
	"slices"
	"testing"
)

// FuzzCanonicalInfo proves the fast additionalInfo parser agrees with encoding/json on every
// input it accepts.
func FuzzCanonicalInfo(f *testing.F) {
	f.Add([]byte(`{"pathHash":"95743e40eac77718788f68c7c1b03a7f298348d3425cbf2965cf783a00216f8d","filesize":1048576,"expireTime":1761803600}`))
	f.Add([]byte(`{"pathHash":"95743e40eac77718788f68c7c1b03a7f298348d3425cbf2965cf783a00216f8d","filesize":01,"expireTime":1}`))
	f.Add([]byte(`{"pathHash":"95743e40eac77718788f68c7c1b03a7f298348d3425cbf2965cf783a00216f8d","filesize":1,"expireTime":1,"user":"al","groups":["a","b"]}`))
	f.Add([]byte(`{"pathHash":"95743e40eac77718788f68c7c1b03a7f298348d3425cbf2965cf783a00216f8d","filesize":1,"expireTime":1,"user":"al"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		a, ok := parseCanonicalInfo(raw)
		if !ok {
			return
		}
		var v struct {
			PathHash   string   `json:"pathHash"`
			FileSize   float64  `json:"filesize"`
			ExpireTime float64  `json:"expireTime"`
			User       string   `json:"user"`
			Groups     []string `json:"groups"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatalf("fast path accepted %q that encoding/json refuses: %v", raw, err)
		}
		if v.PathHash != a.PathHash || int64(v.FileSize) != a.FileSize || int64(v.ExpireTime) != a.ExpireTime ||
			v.User != a.User || !slices.Equal(v.Groups, a.Groups) {
			t.Fatalf("fast %+v != json %+v", a, v)
		}
	})
}
