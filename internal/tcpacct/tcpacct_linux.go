package tcpacct

import (
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// supported: tcpi_bytes_acked appeared in Linux 4.1; an older kernel returns a shorter tcp_info
// and the field would read as zero.
var supported = sync.OnceValue(func() bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	return kernelAtLeast(unix.ByteSliceToString(u.Release[:]), 4, 1)
})

// kernelAtLeast parses a release such as "6.8.0-45-generic".
func kernelAtLeast(release string, major, minor int) bool {
	parts := strings.SplitN(release, ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	digits := parts[1]
	if i := strings.IndexFunc(digits, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		digits = digits[:i] // "1-rc1"
	}
	mi, err2 := strconv.Atoi(digits)
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}

// scratch is the tcp_info a Conn reads into, so a reading allocates nothing.
type scratch = unix.TCPInfo

// sample reads the counters: tcpi_bytes_acked and the send queue (SIOCOUTQ: bytes written but
// not acknowledged). An acknowledgment arriving between the two system calls would skew Sent;
// an empty queue cannot move (we are the only writer), else acked is read on both sides of the
// queue and the pair retried until it did not move. After three tries the result errs high on
// Sent and low on Acked, which only charges less.
func sample(fd int, ti *scratch) (Counters, error) {
	for try := 0; ; try++ {
		q, err := unix.IoctlGetInt(fd, unix.SIOCOUTQ)
		if err != nil {
			return Counters{}, err
		}
		if err := tcpInfo(fd, ti); err != nil {
			return Counters{}, err
		}
		a := int64(ti.Bytes_acked)
		if q == 0 {
			return Counters{Sent: a, Acked: a, Closed: ti.State == tcpClose}, nil
		}
		q2, err := unix.IoctlGetInt(fd, unix.SIOCOUTQ)
		if err != nil {
			return Counters{}, err
		}
		if q == q2 || try == 2 {
			// Sent from the earlier queue errs high; Acked read in between is exact.
			return Counters{Sent: a + int64(q), Acked: a, Closed: ti.State == tcpClose}, nil
		}
	}
}

// tcpClose is TCP_CLOSE (include/net/tcp_states.h): reset by the peer, or never connected.
const tcpClose = 7

// tcpInfo is unix.GetsockoptTCPInfo into ti (that one allocates a struct per call), and checks
// that the kernel filled tcpi_bytes_acked.
func tcpInfo(fd int, ti *scratch) error {
	size := uint32(unsafe.Sizeof(*ti))
	_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.IPPROTO_TCP, unix.TCP_INFO,
		uintptr(unsafe.Pointer(ti)), uintptr(unsafe.Pointer(&size)), 0)
	if e != 0 {
		return e
	}
	if size < uint32(unsafe.Offsetof(ti.Bytes_acked)+unsafe.Sizeof(ti.Bytes_acked)) {
		return ErrUnsupported
	}
	return nil
}
