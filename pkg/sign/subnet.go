package sign

import (
	"net/netip"
	"strconv"
)

// Subnet is the rate-limit key of a client address: IPv4 masked to v4Bits as "a.b.c.d/nn",
// IPv6 masked to v6Bits as eight lower-case unpadded hex groups "/nn" (no "::" compression, so
// every replica and the original write the same text). IPv4-mapped IPv6 counts as IPv4.
func Subnet(addr netip.Addr, v4Bits, v6Bits int) string {
	addr = addr.Unmap().WithZone("")
	if addr.Is4() {
		p, _ := addr.Prefix(v4Bits)
		a := p.Addr().As4()
		b := make([]byte, 0, 19)
		for i, x := range a {
			if i > 0 {
				b = append(b, '.')
			}
			b = strconv.AppendUint(b, uint64(x), 10)
		}
		b = append(b, '/')
		return string(strconv.AppendInt(b, int64(v4Bits), 10))
	}
	p, _ := addr.Prefix(v6Bits)
	a := p.Addr().As16()
	b := make([]byte, 0, 44)
	for i := 0; i < 16; i += 2 {
		if i > 0 {
			b = append(b, ':')
		}
		b = strconv.AppendUint(b, uint64(a[i])<<8|uint64(a[i+1]), 16)
	}
	b = append(b, '/')
	return string(strconv.AppendInt(b, int64(v6Bits), 10))
}
