package logx

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"
)

// slogLine is the reference: the access line exactly as slog's JSONHandler renders the record
// Access used to log through LogAttrs (same level, msg and attrs; only the time is given).
func slogLine(t testing.TB, at time.Time, a AccessRecord) string {
	t.Helper()
	var buf bytes.Buffer
	h := slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})
	r := slog.NewRecord(at, slog.LevelInfo, AccessMsg, 0)
	r.AddAttrs(a.attrs()...)
	if err := h.Handle(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// fastLine is the line Access writes through a logger from New with the clock stopped at at.
func fastLine(t testing.TB, at time.Time, a AccessRecord) string {
	t.Helper()
	defer func(old func() time.Time) { now = old }(now)
	now = func() time.Time { return at }
	var buf bytes.Buffer
	l := New(&buf, "info", "json")
	if _, ok := l.Handler().(*jsonHandler); !ok {
		t.Fatalf("New(json) handler is %T, want the fast path", l.Handler())
	}
	Access(l, a)
	return buf.String()
}

// checkSameAsSlog fails unless Access (and appendAccess on its own) writes slog's bytes.
func checkSameAsSlog(t testing.TB, at time.Time, a AccessRecord) {
	t.Helper()
	want := slogLine(t, at, a)
	if got := fastLine(t, at, a); got != want {
		t.Fatalf("access line differs from slog for %#v at %s\n got %q\nwant %q", a, at, got, want)
	}
	if got := string(appendAccess([]byte("prefix"), at, a)); got != "prefix"+want {
		t.Fatalf("appendAccess differs from slog for %#v at %s\n got %q\nwant %q", a, at, got, "prefix"+want)
	}
}

var nastyStrings = []string{
	"", "GET", "127.0.0.1", "2001:db8::1/60", "ad2f799d-na", "sign mismatch",
	`"`, `\`, `\"`, `x","client_ip":"6.6.6.6","status":401,"reason":"y`,
	"\x00\x01\x02\x07\x08\x09\x0a\x0b\x0c\x0d\x1b\x1f\x20\x7f",
	"line\nbreak\r\n\ttab",
	"\xff", "\xfe\xfd", "a\xc3", "\xc3(", "\xe2\x82", "\xed\xa0\x80", "\xf4\x90\x80\x80", "ok\xffok",
	"<script>&amp;</script>",
	"\u2028", "\u2029", "a\u2028b\u2029c", "\u2027\u202a",
	"ä€𝄞", "😀🏳️‍🌈", "\ufffd", "\ufeffbom",
	strings.Repeat("x", 20000), strings.Repeat("\"\xff\u2028", 3000),
}

var nastyDurations = []time.Duration{
	0, 1, 499, 500, 501, 999, time.Microsecond, 123 * time.Microsecond, 127270 * time.Microsecond,
	1234567, 3 * time.Second, 90 * time.Hour, 1<<53 + 1, math.MaxInt64, math.MaxInt64 - 499,
	-1, -499, -500, -501, -time.Microsecond, -3 * time.Second, math.MinInt64, math.MinInt64 + 1,
}

var nastyInts = []int64{0, 1, -1, 200, 206, 499, 1 << 20, math.MaxInt32, math.MinInt32, math.MaxInt64, math.MinInt64}

// TestAccessLineMatchesSlog: the hand-rendered line is slog's, byte for byte, for hostile
// strings, extreme numbers and times in UTC and in a local zone that is not.
func TestAccessLineMatchesSlog(t *testing.T) {
	zones := []*time.Location{time.UTC, time.FixedZone("EDGE", 5*3600+45*60), time.FixedZone("WEST", -(9*3600 + 30*60))}
	if loc, err := time.LoadLocation("America/New_York"); err == nil {
		zones = append(zones, loc)
	}
	for _, loc := range zones {
		t.Run(loc.String(), func(t *testing.T) {
			defer func(old *time.Location) { time.Local = old }(time.Local)
			time.Local = loc
			times := []time.Time{
				time.Now(), // Local, with a monotonic reading
				time.Date(2026, 11, 23, 22, 57, 22, 569199454, time.Local),
				time.Date(2026, 1, 1, 0, 0, 0, 0, time.Local),         // no fraction
				time.Date(2026, 1, 1, 0, 0, 0, 120000000, time.Local), // trailing zeros
				time.Date(2024, 2, 29, 23, 59, 59, 1, time.Local),
				time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
				time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
			}
			if got := time.Now().Location(); got != loc {
				t.Fatalf("time.Now in %v, want %v", got, loc)
			}
			base := AccessRecord{RequestID: "ad2f799d-na", ClientIP: "127.0.0.1", Subnet: "127.0.0.1/32",
				Method: "GET", Status: 499, Duration: 127270 * time.Microsecond, Reason: "client_gone"}
			for _, at := range times {
				checkSameAsSlog(t, at, base)
			}
			at := times[0]
			for _, s := range nastyStrings {
				checkSameAsSlog(t, at, AccessRecord{RequestID: s, ClientIP: s, Subnet: s, Method: s, Status: 401, Reason: s})
				a := base
				a.Reason = s
				checkSameAsSlog(t, at, a)
			}
			for _, d := range nastyDurations {
				a := base
				a.Duration = d
				checkSameAsSlog(t, at, a)
			}
			for _, n := range nastyInts {
				a := base
				a.Status, a.Bytes = int(n), n
				checkSameAsSlog(t, at, a)
			}
		})
	}
}

// TestAccessLineFloats: every duration up to 0.2 ms at nanosecond steps and a sweep of magnitudes
// render as json.Marshal does (the float format is the subtle part).
func TestAccessLineFloats(t *testing.T) {
	check := func(d time.Duration) {
		f := durationMS(d)
		want, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendJSONFloat(nil, f); string(got) != string(want) {
			t.Fatalf("duration %d: %s, want %s", int64(d), got, want)
		}
	}
	for d := time.Duration(-2e5); d <= 2e5; d++ {
		check(d)
	}
	for d := time.Duration(1); d > 0 && d < math.MaxInt64/3; d = d*3 + 7 {
		check(d)
		check(-d)
	}
	for _, f := range []float64{1e-7, 1.5e-9, -2e-10, 1e21, 1.25e22, -3e25, 1e-6, 1e20, 5e-324, math.MaxFloat64, math.Copysign(0, -1)} {
		want, _ := json.Marshal(f)
		if got := appendJSONFloat(nil, f); string(got) != string(want) {
			t.Fatalf("%v: %s, want %s", f, got, want)
		}
	}
}

func FuzzAccessLine(f *testing.F) {
	f.Add("ad2f799d-na", "127.0.0.1", "127.0.0.1/32", "GET", "client_gone", 499, int64(0), int64(127270000), int64(1795474642569199454), 0)
	f.Add(`x","a":"`, "\xff", "\u2028", "<&>", "\x00\n", -1, int64(math.MinInt64), int64(math.MaxInt64), int64(0), 3600)
	f.Add("", "", "", "", "", 0, int64(0), int64(math.MinInt64), int64(math.MinInt64), -5*3600-1800)
	f.Add("😀", "2001:db8::1", "2001:db8::/60", "HEAD", "rate_limit", 429, int64(1<<40), int64(-501), int64(math.MaxInt64), 50000)
	f.Fuzz(func(t *testing.T, reqID, clientIP, subnet, method, reason string, status int, n, dur, unixNano int64, offset int) {
		at := time.Unix(0, unixNano).In(time.FixedZone("Z", offset%(18*3600)))
		checkSameAsSlog(t, at, AccessRecord{RequestID: reqID, ClientIP: clientIP, Subnet: subnet, Method: method,
			Status: status, Bytes: n, Duration: time.Duration(dur), Reason: reason})
	})
}

// TestAccessLineConcurrent: access lines and other slog lines from many goroutines through one
// logger reach one writer whole, one per line, whatever the writer.
func TestAccessLineConcurrent(t *testing.T) {
	const goroutines, perG = 16, 300
	for _, wc := range []struct {
		name string
		w    func(*bytes.Buffer) (w io.Writer, done func())
	}{
		{"plain", func(b *bytes.Buffer) (io.Writer, func()) { return b, func() {} }},
		{"buffered", func(b *bytes.Buffer) (io.Writer, func()) {
			bw := NewBufferedWriter(b, 4<<10, time.Millisecond)
			return bw, func() { _ = bw.Close() }
		}},
	} {
		t.Run(wc.name, func(t *testing.T) {
			var out bytes.Buffer // not safe for concurrent use on its own
			w, done := wc.w(&out)
			l := New(w, "info", "json")
			withL := l.With("service", "proxy") // slog's path, same writer
			long := strings.Repeat("\"\xff\u2028y", 40)
			var wg sync.WaitGroup
			for g := range goroutines {
				wg.Go(func() {
					for i := range perG {
						id := fmt.Sprintf("g%d-%d", g, i)
						switch i % 4 {
						case 0:
							l.Info("other", "id", id, "long", long)
						case 1:
							Access(withL, AccessRecord{RequestID: id, ClientIP: "198.51.100.1", Method: "GET", Status: 200, Reason: long})
						default:
							Access(l, AccessRecord{RequestID: id, ClientIP: "198.51.100.1", Method: "GET", Status: 401, Reason: long, Duration: time.Duration(i) * time.Microsecond})
						}
					}
				})
			}
			wg.Wait()
			done()
			lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			if len(lines) != goroutines*perG {
				t.Fatalf("%d lines, want %d", len(lines), goroutines*perG)
			}
			seen := map[string]bool{}
			for _, ln := range lines {
				var m map[string]any
				if err := json.Unmarshal([]byte(ln), &m); err != nil {
					t.Fatalf("line is not JSON (interleaved?): %v\n%q", err, ln)
				}
				id, _ := m["request_id"].(string)
				if m["msg"] == "other" {
					id, _ = m["id"].(string)
				}
				if id == "" || seen[id] {
					t.Fatalf("missing or repeated id %q: %q", id, ln)
				}
				seen[id] = true
			}
		})
	}
}

// TestAccessSlogPaths: what the fast path does not cover still goes through slog.
func TestAccessSlogPaths(t *testing.T) {
	a := AccessRecord{RequestID: "r1", ClientIP: "203.0.113.7", Method: "GET", Status: 403, Reason: "access denied"}
	t.Run("with", func(t *testing.T) {
		var buf bytes.Buffer
		l := New(&buf, "info", "json").With("service", "landing")
		if _, ok := l.Handler().(*jsonHandler); ok {
			t.Fatal("With attributes kept the hand-rendered path")
		}
		Access(l, a)
		if !strings.Contains(buf.String(), `"msg":"access","service":"landing","request_id":"r1",`) {
			t.Fatalf("With attribute not between msg and request_id: %s", buf.String())
		}
	})
	t.Run("with nothing", func(t *testing.T) {
		l := New(&bytes.Buffer{}, "info", "json")
		if _, ok := l.With().Handler().(*jsonHandler); !ok {
			t.Fatal("an empty With lost the fast path")
		}
	})
	t.Run("group", func(t *testing.T) {
		var buf bytes.Buffer
		Access(New(&buf, "info", "json").WithGroup("g"), a)
		if !strings.Contains(buf.String(), `"msg":"access","g":{"request_id":"r1",`) {
			t.Fatalf("group not applied: %s", buf.String())
		}
	})
	t.Run("text", func(t *testing.T) {
		var buf bytes.Buffer
		Access(New(&buf, "info", "text"), a)
		if !strings.Contains(buf.String(), " level=INFO msg=access request_id=r1 client_ip=203.0.113.7 ") {
			t.Fatalf("text line: %s", buf.String())
		}
	})
	t.Run("debug level", func(t *testing.T) {
		var buf bytes.Buffer
		Access(New(&buf, "debug", "json"), a)
		if !strings.Contains(buf.String(), `"msg":"access","request_id":"r1",`) {
			t.Fatalf("no access line at debug: %s", buf.String())
		}
	})
	t.Run("year out of range", func(t *testing.T) {
		defer func(old func() time.Time) { now = old }(now)
		now = func() time.Time { return time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }
		var buf bytes.Buffer
		Access(New(&buf, "info", "json"), a) // left to slog, which takes its own time
		if strings.Count(buf.String(), "\n") != 1 || !json.Valid(bytes.TrimSpace(buf.Bytes())) || strings.Contains(buf.String(), "10000") {
			t.Fatalf("line: %q", buf.String())
		}
	})
	t.Run("other messages", func(t *testing.T) {
		var buf bytes.Buffer
		New(&buf, "info", "json").Warn("hi", "k", 1)
		if !strings.Contains(buf.String(), `"level":"WARN","msg":"hi","k":1}`) {
			t.Fatalf("line: %s", buf.String())
		}
	})
}

// TestAccessLineNoAllocs holds the fast path to its point.
func TestAccessLineNoAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip()
	}
	l := New(&countWriter{w: &bytes.Buffer{}}, "info", "json")
	a := AccessRecord{RequestID: "0123456789abcdef", ClientIP: "127.0.0.1", Subnet: "127.0.0.1/32", Method: "GET", Status: 200, Bytes: 1024, Duration: 123 * time.Microsecond}
	if n := testing.AllocsPerRun(1000, func() { Access(l, a) }); n != 0 {
		t.Fatalf("%v allocs per access line, want 0", n)
	}
}
