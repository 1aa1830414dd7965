package proxy

import (
	"net/http"
	"testing"

	"github.com/alist-edge/alist-edge/pkg/quota"
)

func TestReserveFor(t *testing.T) {
	const size = 1000
	for _, tc := range []struct {
		method, rng string
		size        int64
		want        int64
	}{
		{"GET", "", size, size},
		{"HEAD", "", size, 0},
		{"HEAD", "bytes=0-9", size, 0},
		{"GET", "", 0, quota.ReserveUnknown},
		{"GET", "bytes=0-9", 0, quota.ReserveUnknown},
		{"GET", "", -5, quota.ReserveUnknown},
		{"GET", "bytes=0-9", size, 10},
		{"GET", "bytes=10-10", size, 1},
		{"GET", "bytes=990-", size, 10},
		{"GET", "bytes=0-", size, size},
		{"GET", "bytes=-100", size, 100},
		{"GET", "bytes=-5000", size, size},   // suffix longer than the file: the whole file
		{"GET", "bytes=900-5000", size, 100}, // end clipped to the file
		{"GET", "bytes= 5 - 14 ", size, 10},  // optional white space
		{"GET", "bytes=1000-", size, 0},      // unsatisfiable: 416, no body
		{"GET", "bytes=5000-6000", size, 0},
		{"GET", "bytes=-0", size, 0},
		{"GET", "bytes=0-9,20-29", size, size}, // several ranges: multipart, checked before the headers
		{"GET", "bytes=9-0", size, size},       // invalid: the server answers the whole file
		{"GET", "bytes=a-b", size, size},
		{"GET", "bytes=+1-5", size, size},
		{"GET", "bytes=-", size, size},
		{"GET", "bytes=5", size, size},
		{"GET", "Bytes=0-9", size, size},
		{"GET", "items=0-9", size, size},
		{"GET", "bytes=99999999999999999999-", size, size},
	} {
		if got := reserveFor(tc.method, tc.rng, tc.size); got != tc.want {
			t.Errorf("reserveFor(%s, %q, %d) = %d, want %d", tc.method, tc.rng, tc.size, got, tc.want)
		}
	}
}

// FuzzRangeLength: whatever the header, the reservation is a length within the file.
func FuzzRangeLength(f *testing.F) {
	for _, s := range []string{"", "bytes=0-9", "bytes=-5", "bytes=5-", "bytes=0-0,1-1", "bytes= 1 - 2", "bytes=9-1"} {
		f.Add(s, int64(100))
	}
	f.Fuzz(func(t *testing.T, h string, size int64) {
		if size <= 0 {
			size = -size + 1
		}
		if size <= 0 {
			return
		}
		n := reserveFor(http.MethodGet, h, size)
		if n < 0 || n > size {
			t.Fatalf("reserveFor(%q, %d) = %d, outside [0, size]", h, size, n)
		}
	})
}
