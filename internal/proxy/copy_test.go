package proxy

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
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

// slowReader hands out one byte per Read after a pause.
type slowReader struct {
	r     io.Reader
	pause time.Duration
}

func (s *slowReader) Read(p []byte) (int, error) {
	time.Sleep(s.pause)
	return s.r.Read(p[:min(len(p), 1)])
}

func TestRelayShort(t *testing.T) {
	noGone := func() error { return nil }
	boom := errors.New("boom")
	src := testData(bufSize + 1)
	for _, c := range []struct {
		name     string
		head     int // bytes of src already read as the head
		body     func(rest []byte) io.Reader
		gone     func() error
		more     bool
		err      error // errors.Is target; nil: success
		wantN    int   // bytes written in the one write
		noWrites bool
	}{
		{name: "head only then EOF", head: 100, body: func([]byte) io.Reader { return bytes.NewReader(nil) }, wantN: 100},
		{name: "one byte per read", head: 1, body: func(r []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(r[:5000])) }, wantN: 5001},
		{name: "data with EOF", head: smallBufSize, body: func(r []byte) io.Reader { return iotest.DataErrReader(bytes.NewReader(r[:64<<10])) }, wantN: smallBufSize + 64<<10},
		{name: "fills the buffer with EOF", head: smallBufSize, body: func(r []byte) io.Reader {
			return iotest.DataErrReader(bytes.NewReader(r[:bufSize-smallBufSize]))
		}, wantN: bufSize},
		// a reader that tells EOF only on the next read: the caller reads it (copyAdaptive)
		{name: "fills the buffer, EOF later", head: smallBufSize, body: func(r []byte) io.Reader { return bytes.NewReader(r[:bufSize-smallBufSize]) }, more: true, wantN: bufSize},
		{name: "longer than the buffer", head: smallBufSize, body: func(r []byte) io.Reader { return bytes.NewReader(r) }, more: true, wantN: bufSize},
		{name: "upstream fails", head: 10, body: func(r []byte) io.Reader {
			return io.MultiReader(bytes.NewReader(r[:1000]), &errReader{boom})
		}, err: boom, wantN: 1010},
		{name: "client gone", head: 10, body: func(r []byte) io.Reader {
			return io.MultiReader(bytes.NewReader(r[:1000]), &errReader{boom})
		}, gone: func() error { return errClientGone }, err: errClientGone, noWrites: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := &flushWriter{out: &bytes.Buffer{}}
			gone := c.gone
			if gone == nil {
				gone = noGone
			}
			more, err := relayShort(w, src[:c.head], c.body(src[c.head:]), gone)
			if more != c.more || (c.err == nil && err != nil) || (c.err != nil && !errors.Is(err, c.err)) {
				t.Fatalf("more %v err %v, want more %v err %v", more, err, c.more, c.err)
			}
			if c.err != nil && c.err != errClientGone && !errors.Is(err, errAborted) {
				t.Fatalf("err %v does not wrap errAborted", err)
			}
			if c.noWrites {
				if w.writes != 0 {
					t.Fatalf("%d writes to a client that left", w.writes)
				}
				return
			}
			if w.writes != 1 || !bytes.Equal(w.out.Bytes(), src[:c.wantN]) {
				t.Fatalf("%d writes, %d bytes (want 1 write of %d exact bytes)", w.writes, w.n, c.wantN)
			}
		})
	}
}

// TestRelayShortDoesNotHold: a body still trickling in after collectWithin is written as far
// as it arrived, and the caller relays the rest.
func TestRelayShortDoesNotHold(t *testing.T) {
	src := testData(1000)
	body := &slowReader{r: bytes.NewReader(src[1:]), pause: collectWithin / 4}
	w := &flushWriter{out: &bytes.Buffer{}}
	start := time.Now()
	more, err := relayShort(w, src[:1], body, func() error { return nil })
	if err != nil || !more {
		t.Fatalf("more %v err %v, want more", more, err)
	}
	if d := time.Since(start); d > 2*time.Second { // the whole body takes 25 s
		t.Fatalf("held the answer for %v", d)
	}
	if err := copyAdaptive(w, body.r, make([]byte, smallBufSize), true, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(w.out.Bytes(), src) {
		t.Fatal("bytes differ")
	}
}
