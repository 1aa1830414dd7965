package logx

import (
	"bytes"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
	n  int // writes
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n++
	return l.b.Write(p)
}

func (l *lockedBuf) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func TestBufferedWriterBatchesAndFlushes(t *testing.T) {
	var out lockedBuf
	w := NewBufferedWriter(&out, 64, time.Hour)
	for i := 0; i < 10; i++ {
		_, _ = io.WriteString(w, "0123456789\n") // 11 bytes: five fit in 64
	}
	if got := strings.Count(out.String(), "\n"); got != 5 {
		t.Fatalf("after 10 lines, %d reached the writer, want 5 (one batch)", got)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(out.String(), "\n"); got != 10 {
		t.Fatalf("after Close, %d lines, want 10", got)
	}
	_, _ = io.WriteString(w, "late\n") // after Close: straight through
	if !strings.HasSuffix(out.String(), "late\n") {
		t.Fatalf("write after Close was held back")
	}
}

func TestBufferedWriterPeriodicFlush(t *testing.T) {
	var out lockedBuf
	w := NewBufferedWriter(&out, 1<<20, 10*time.Millisecond)
	defer w.Close()
	_, _ = io.WriteString(w, "line\n")
	deadline := time.Now().Add(2 * time.Second)
	for out.String() == "" && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if out.String() != "line\n" {
		t.Fatalf("periodic flush did not happen: %q", out.String())
	}
}

// BenchmarkAccessLine: one access record through slog's JSONHandler (what Access cost before it
// rendered the line itself) and through the logger New returns (the hand-rendered line), each
// straight to the writer (one write per line) and through BufferedWriter (one write per 64 KiB).
func BenchmarkAccessLine(b *testing.B) {
	rec := AccessRecord{RequestID: "0123456789abcdef", ClientIP: "127.0.0.1", Subnet: "127.0.0.1/32",
		Method: "GET", Status: 200, Bytes: 1024, Duration: 123 * time.Microsecond}
	for _, lc := range []struct {
		name string
		l    func(io.Writer) *slog.Logger
	}{
		{"slog", func(w io.Writer) *slog.Logger {
			return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
		}},
		{"fast", func(w io.Writer) *slog.Logger { return New(w, "info", "json") }},
	} {
		for _, bc := range []struct {
			name string
			w    func(io.Writer) (io.Writer, func())
		}{
			{"direct", func(w io.Writer) (io.Writer, func()) { return w, func() {} }},
			{"buffered", func(w io.Writer) (io.Writer, func()) {
				bw := NewBufferedWriter(w, 64<<10, 100*time.Millisecond)
				return bw, func() { _ = bw.Close() }
			}},
		} {
			b.Run(lc.name+"/"+bc.name, func(b *testing.B) {
				cw := &countWriter{w: io.Discard}
				w, done := bc.w(cw)
				l := lc.l(w)
				b.ReportAllocs()
				for b.Loop() {
					Access(l, rec)
				}
				done()
				b.ReportMetric(float64(cw.n.Load())/float64(b.N), "writes/op")
			})
		}
	}
}

type countWriter struct {
	w io.Writer
	n atomic.Int64
}

func (c *countWriter) Write(p []byte) (int, error) { c.n.Add(1); return c.w.Write(p) }
