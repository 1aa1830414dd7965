//go:build !linux

package tcpacct

func supported() bool { return false }

type scratch struct{}

func sample(int, *scratch) (Counters, error) { return Counters{}, ErrUnsupported }
