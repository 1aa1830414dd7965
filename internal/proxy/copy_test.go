package proxy

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"
)

// flushWriter counts writes and can be slowed down.
type flushWriter struct {
	n, writes, maxWrite int
	delay               time.Duration
	out                 *bytes.Buffer
}

func (w *flushWriter) Write(p []byte) (int, error) {
	w.writes++
	w.n += len(p)
	w.maxWrite = max(w.maxWrite, len(p))
	if w.delay > 0 {
		time.Sleep(w.delay)
	}
	if w.out != nil {
		w.out.Write(p)
	}
	return len(p), nil
}

func (w *flushWriter) Flush() {}

// chunkReader returns at most the caller's buffer, like a TCP body that always has data.
type chunkReader struct{ left int64 }

func (r *chunkReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	n := int64(len(p))
	if n > r.left {
		n = r.left
	}
	r.left -= n
	return int(n), nil
}

func TestCopyAdaptiveExactBytes(t *testing.T) {
	src := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB
	w := &flushWriter{out: &bytes.Buffer{}}
	small := make([]byte, smallBufSize)
	if err := copyAdaptive(w, bytes.NewReader(src), small, false, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(w.out.Bytes(), src) {
		t.Fatal("bytes differ")
	}
}

func TestCopyAdaptiveUpgradesFastAndDowngradesSlow(t *testing.T) {
	fast := &flushWriter{}
	if err := copyAdaptive(fast, &chunkReader{left: 64 << 20}, make([]byte, smallBufSize), false, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	if fast.maxWrite != bufSize {
		t.Fatalf("fast client: largest write %d, want the large buffer %d", fast.maxWrite, bufSize)
	}
	// A slow client on a short answer starts large and is moved back to the small buffer.
	slow := &flushWriter{delay: downgradeAfter + 10*time.Millisecond}
	if err := copyAdaptive(slow, &chunkReader{left: 2 * bufSize}, make([]byte, smallBufSize), true, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	if slow.writes != 1+(bufSize/smallBufSize) {
		t.Fatalf("slow client: %d writes, want one large then small ones (%d)", slow.writes, 1+bufSize/smallBufSize)
	}
}

func TestCopyAdaptiveUpstreamError(t *testing.T) {
	boom := errors.New("boom")
	err := copyAdaptive(&flushWriter{}, io.MultiReader(bytes.NewReader(make([]byte, 100)), &errReader{boom}), make([]byte, smallBufSize), false, func() error { return nil })
	if !errors.Is(err, errAborted) || !errors.Is(err, boom) {
		t.Fatalf("err = %v, want errAborted wrapping boom", err)
	}
}

type errReader struct{ err error }

func (e *errReader) Read([]byte) (int, error) { return 0, e.err }

// BenchmarkCopyAdaptive: 256 MiB relayed to a fast client (the large buffer after the first
// 2 MiB), against a fixed small buffer; MB/s and writes per MiB show the syscall count.
func BenchmarkCopyAdaptive(b *testing.B) {
	const size = 256 << 20
	for _, bc := range []struct {
		name  string
		fixed bool
	}{{"adaptive", false}, {"small-fixed", true}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			var writes int
			for b.Loop() {
				w := &flushWriter{}
				small := make([]byte, smallBufSize)
				if bc.fixed {
					r := &chunkReader{left: size}
					_, _ = io.CopyBuffer(struct{ io.Writer }{w}, struct{ io.Reader }{r}, small)
				} else {
					_ = copyAdaptive(w, &chunkReader{left: size}, small, false, func() error { return nil })
				}
				writes += w.writes
			}
			b.ReportMetric(float64(writes)/float64(b.N)/256, "writes/MiB")
		})
	}
}
