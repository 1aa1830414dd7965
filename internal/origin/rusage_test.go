package origin

import (
	"syscall"
	"time"
)

type syscallRusage struct{ syscall.Rusage }

func getrusage(ru *syscallRusage) { _ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru.Rusage) }

func (ru *syscallRusage) total() time.Duration {
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
