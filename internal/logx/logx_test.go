package logx_test

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/alist-edge/alist-edge/internal/logx"
)

// access returns the line logx.Access writes for a (JSON handler, optional With attributes).
func access(t *testing.T, a logx.AccessRecord, with ...any) string {
	t.Helper()
	var buf bytes.Buffer
	l := logx.New(&buf, "info", "json")
	if len(with) > 0 {
		l = l.With(with...)
	}
	logx.Access(l, a)
	line := strings.TrimSuffix(buf.String(), "\n")
	if strings.Contains(line, "\n") {
		t.Fatalf("more than one line: %q", line)
	}
	return line
}

func TestAccessFieldOrder(t *testing.T) {
	line := access(t, logx.AccessRecord{RequestID: "r1", ClientIP: "203.0.113.7", Subnet: "203.0.113.7/32", Method: "GET",
		Status: 206, Bytes: 1 << 20, Duration: 1234567 * time.Nanosecond})
	// time is variable; everything after it is fixed.
	_, rest, ok := strings.Cut(line, `,"level"`)
	if !ok {
		t.Fatalf("no level: %s", line)
	}
	want := `:"INFO","msg":"access","request_id":"r1","client_ip":"203.0.113.7","subnet":"203.0.113.7/32","method":"GET","status":206,"bytes":1048576,"duration_ms":1.235,"reason":""}`
	if rest != want {
		t.Fatalf("access line\n got %s\nwant %s", rest, want)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatal(err)
	}
	if _, err := time.Parse(time.RFC3339Nano, m["time"].(string)); err != nil {
		t.Fatalf("time: %v", err)
	}
}

func TestAccessLevelOff(t *testing.T) {
	var buf bytes.Buffer
	logx.Access(logx.New(&buf, "warn", "json"), logx.AccessRecord{Status: 401, Reason: "sign missing"})
	if buf.Len() != 0 {
		t.Fatalf("access line at LOG_LEVEL=warn: %s", buf.String())
	}
}

func TestDenied(t *testing.T) {
	for _, c := range []struct {
		status int
		reason string
		want   bool
	}{{401, "sign mismatch", true}, {401, "additionalInfo decode failed", true}, {401, "expire invalid", true},
		{401, "sign missing", false}, {401, "link expired", false}, {401, "ipSign expired", false}, {401, "client ip missing", false},
		{403, "access denied", true}, {429, "rate_limit", true},
		{200, "", false}, {206, "", false}, {401, "", false}, {500, "database", false}, {503, "throttled", false}} {
		if got := (logx.AccessRecord{Status: c.status, Reason: c.reason}).Denied(); got != c.want {
			t.Errorf("Denied(%d, %q) = %v", c.status, c.reason, got)
		}
	}
}

// filterRegexp reads the failregex of the fail2ban filter and turns it into a Go regexp with
// <HOST> as the named group "host" (fail2ban's own <HOST> matches addresses; this is looser,
// the captured value is compared exactly).
func filterRegexp(t *testing.T) *regexp.Regexp {
	t.Helper()
	b, err := os.ReadFile("../../deploy/fail2ban/filter.d/alist-edge.conf")
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	var failregex []string
	lines := strings.Split(string(b), "\n")
	for i := 0; i < len(lines); i++ {
		ln := lines[i]
		if strings.HasPrefix(strings.TrimSpace(ln), "#") || !strings.Contains(ln, "=") || strings.HasPrefix(ln, " ") {
			continue
		}
		k, v, _ := strings.Cut(ln, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if k == "failregex" {
			failregex = append(failregex, v)
			for i+1 < len(lines) && strings.HasPrefix(lines[i+1], " ") && strings.TrimSpace(lines[i+1]) != "" {
				i++
				failregex = append(failregex, strings.TrimSpace(lines[i]))
			}
			continue
		}
		vars[k] = v
	}
	if len(failregex) != 1 {
		t.Fatalf("want exactly one failregex line, got %d", len(failregex))
	}
	re := regexp.MustCompile(`%\((\w+)\)s`).ReplaceAllStringFunc(failregex[0], func(s string) string {
		name := s[2 : len(s)-2]
		v, ok := vars[name]
		if !ok {
			t.Fatalf("failregex uses undefined %%(%s)s", name)
		}
		return v
	})
	re = strings.ReplaceAll(re, "%%", "%")
	if strings.Count(re, "<HOST>") != 1 {
		t.Fatalf("failregex must hold <HOST> once: %s", re)
	}
	re = strings.Replace(re, "<HOST>", `(?P<host>[0-9A-Fa-f.:]+)`, 1)
	rx, err := regexp.Compile(re)
	if err != nil {
		t.Fatalf("failregex does not compile as a Go regexp: %v\n%s", err, re)
	}
	return rx
}

// TestFail2banFilter: the filter finds every denial with the right client_ip and no served
// request, whatever a client manages to put into the other fields.
func TestFail2banFilter(t *testing.T) {
	rx := filterRegexp(t)
	host := rx.SubexpIndex("host")
	tricky := `x","client_ip":"6.6.6.6","status":401,"reason":"y`
	cases := []struct {
		a    logx.AccessRecord
		with []any
	}{
		{a: logx.AccessRecord{RequestID: "r1", ClientIP: "203.0.113.7", Subnet: "203.0.113.7/32", Method: "GET", Status: 401, Duration: 400 * time.Microsecond, Reason: "sign mismatch"}},
		{a: logx.AccessRecord{RequestID: "r2", ClientIP: "2001:db8::1", Subnet: "2001:db8:0:0:0:0:0:0/60", Method: "HEAD", Status: 429, Reason: "rate_limit"}},
		{a: logx.AccessRecord{RequestID: "r3", ClientIP: "198.51.100.4", Method: "GET", Status: 403, Reason: "access denied"}, with: []any{"service", "proxy", "pid", 42}},
		{a: logx.AccessRecord{RequestID: tricky, ClientIP: "198.51.100.5", Method: tricky, Status: 401, Reason: tricky + " mismatch"}},
		{a: logx.AccessRecord{RequestID: tricky, ClientIP: "198.51.100.5", Method: tricky, Status: 401, Reason: tricky}},
		{a: logx.AccessRecord{RequestID: "r7", ClientIP: "198.51.100.8", Method: "GET", Status: 401, Reason: "sign missing"}},
		{a: logx.AccessRecord{RequestID: "r8", ClientIP: "198.51.100.8", Method: "GET", Status: 401, Reason: "link expired"}},
		{a: logx.AccessRecord{RequestID: "r5", ClientIP: "198.51.100.6", Method: "GET", Status: 429, Duration: 90 * time.Hour, Reason: "bandwidth_total"}},
		{a: logx.AccessRecord{RequestID: "r6", ClientIP: "198.51.100.7", Method: "GET", Status: 403, Reason: "ipv6 access is prohibited"}, with: []any{"service", "landing"}},
		// served or not a denial: never a match
		{a: logx.AccessRecord{RequestID: "s1", ClientIP: "198.51.100.9", Subnet: "198.51.100.9/32", Method: "GET", Status: 200, Bytes: 12345, Duration: 3 * time.Second}},
		{a: logx.AccessRecord{RequestID: "s2", ClientIP: "198.51.100.9", Method: "GET", Status: 206, Bytes: 1}},
		{a: logx.AccessRecord{RequestID: "s3", ClientIP: "198.51.100.9", Method: "GET", Status: 302}, with: []any{"service", "landing"}},
		{a: logx.AccessRecord{RequestID: "s4", ClientIP: "198.51.100.9", Method: "GET", Status: 401}},
		{a: logx.AccessRecord{RequestID: "s5", ClientIP: "198.51.100.9", Method: "GET", Status: 500, Reason: "database"}},
		{a: logx.AccessRecord{RequestID: "s6", ClientIP: "198.51.100.9", Method: "GET", Status: 503, Reason: "throttled"}},
		{a: logx.AccessRecord{RequestID: tricky, ClientIP: "198.51.100.9", Method: tricky, Status: 200}},
	}
	for _, c := range cases {
		line := access(t, c.a, c.with...)
		m := rx.FindStringSubmatch(line)
		switch {
		case c.a.Denied() && m == nil:
			t.Errorf("denial not matched: %s", line)
		case c.a.Denied() && m[host] != c.a.ClientIP:
			t.Errorf("matched host %q, want %q: %s", m[host], c.a.ClientIP, line)
		case !c.a.Denied() && m != nil:
			t.Errorf("served request matched (host %q): %s", m[host], line)
		}
	}
}
