package origin

import (
	"context"
	"errors"
	"io"
	"time"
)

// errIdle is the cancel cause when a body read outlived the idle timeout.
var errIdle = errors.New("upstream idle timeout")

// idleBody bounds each Read by the idle timeout; the timer runs only while a Read waits, so a
// slow client never counts against the upstream. Close releases the attempt's context.
type idleBody struct {
	rc     io.ReadCloser
	d      time.Duration
	cancel context.CancelCauseFunc
	t      *time.Timer
}

func (b *idleBody) Read(p []byte) (int, error) {
	if b.d > 0 {
		if b.t == nil {
			b.t = time.AfterFunc(b.d, func() { b.cancel(errIdle) })
		} else {
			b.t.Reset(b.d)
		}
	}
	n, err := b.rc.Read(p)
	if b.t != nil {
		b.t.Stop()
	}
	return n, err
}

func (b *idleBody) Close() error {
	if b.t != nil {
		b.t.Stop()
	}
	err := b.rc.Close()
	b.cancel(nil)
	return err
}
