package logx

import (
	"io"
	"sync"
	"time"
)

// BufferedWriter batches log lines: a Write appends to memory, and the lines go out in one
// write when the buffer passes its size, every interval, and on Flush/Close. Under load the
// access log then costs one write syscall per batch instead of one per request; a line is at
// most interval late (fail2ban and log shippers do not notice).
type BufferedWriter struct {
	mu      sync.Mutex
	w       io.Writer
	buf     []byte
	size    int
	stop    chan struct{}
	stopped chan struct{}
	once    sync.Once
}

// NewBufferedWriter starts the periodic flush; Close stops it and flushes.
func NewBufferedWriter(w io.Writer, size int, interval time.Duration) *BufferedWriter {
	b := &BufferedWriter{w: w, buf: make([]byte, 0, size), size: size, stop: make(chan struct{}), stopped: make(chan struct{})}
	go func() {
		defer close(b.stopped)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				_ = b.Flush()
			case <-b.stop:
				return
			}
		}
	}()
	return b
}

// Write implements io.Writer; p is copied, so the caller may reuse it.
func (b *BufferedWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf)+len(p) > b.size && len(b.buf) > 0 {
		if err := b.flushLocked(); err != nil {
			return 0, err
		}
	}
	if len(p) >= b.size {
		return b.w.Write(p)
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

// Flush writes out what is buffered.
func (b *BufferedWriter) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.flushLocked()
}

func (b *BufferedWriter) flushLocked() error {
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.w.Write(b.buf)
	b.buf = b.buf[:0]
	return err
}

// Close stops the periodic flush and flushes; later writes go straight through.
func (b *BufferedWriter) Close() error {
	b.once.Do(func() {
		close(b.stop)
		<-b.stopped
	})
	b.mu.Lock()
	defer b.mu.Unlock()
	err := b.flushLocked()
	b.size = 0 // every later Write passes through
	return err
}
