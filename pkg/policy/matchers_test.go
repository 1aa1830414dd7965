package policy

import (
	"net/netip"
	"testing"
	"time"
)

func build(t *testing.T, kind string, p map[string][]string) matcher {
	t.Helper()
	m, err := kinds[kind].build(p)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestGlob(t *testing.T) {
	for _, tc := range []struct {
		glob, path string
		want       bool
	}{
		{"/**/*.iso", "/a/b/c.iso", true},
		{"/**/*.iso", "/c.iso", true},
		{"/**/*.iso", "/a/c.isox", false},
		{"/*.iso", "/a/c.iso", false},
		{"/*.iso", "/c.iso", true},
		{"/a/**/b.iso", "/a/b.iso", true},
		{"/a/**/b.iso", "/a/x/y/b.iso", true},
		{"/a/**/b.iso", "/ab.iso", false},
		{"/a/**", "/a/x/y", true},
		{"/a/**", "/a", false},
		{"/a/?.txt", "/a/b.txt", true},
		{"/a/?.txt", "/a//.txt", false},
		{"/a/?.txt", "/a/bc.txt", false},
		{"/a/*/c", "/a/b/c", true},
		{"/a/*/c", "/a/b/x/c", false},
		{"/exact", "/exact", true},
		{"/exact", "/exactly", false},
		{"/a*b*c", "/aXbYc", true},
		{"/a*b*c", "/aXbY/c", false},
		{"**", "/anything/at/all", true},
		{"/x/**/y/**/z", "/x/y/z", true},
		{"/x/**/y/**/z", "/x/1/y/2/3/z", true},
		{"/x/**/y/**/z", "/x/1/2/3/z", false},
	} {
		g, err := compileGlob(tc.glob)
		if err != nil {
			t.Fatal(err)
		}
		if got := g.match(tc.path); got != tc.want {
			t.Errorf("%q ~ %q: got %v", tc.glob, tc.path, got)
		}
	}
}

// TestGlobLinear: a pattern full of ** against a long path that almost matches stays fast
// (a backtracking matcher takes exponential time here).
func TestGlobLinear(t *testing.T) {
	g, err := compileGlob("/**a**a**a**a**a**a**a**a**b")
	if err != nil {
		t.Fatal(err)
	}
	long := "/" + string(make([]byte, 0))
	for i := 0; i < 20000; i++ {
		long += "a"
	}
	start := time.Now()
	if g.match(long) {
		t.Fatal("matched")
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Fatalf("took %v", d)
	}
}

func TestMatchers(t *testing.T) {
	addr := netip.MustParseAddr
	for _, tc := range []struct {
		name string
		m    matcher
		r    Request
		want bool
	}{
		{"prefix folder", build(t, "path", map[string][]string{"prefixes": {"/private/"}}), Request{Path: "/private"}, true},
		{"prefix sibling", build(t, "path", map[string][]string{"prefixes": {"/private/"}}), Request{Path: "/privateer"}, false},
		{"glob", build(t, "path", map[string][]string{"globs": {"/**/*.iso"}}), Request{Path: "/x/y.iso"}, true},
		{"cidr v4", build(t, "cidr", map[string][]string{"addresses": {"10.0.0.0/8"}}), Request{Addr: addr("10.1.2.3")}, true},
		{"cidr mapped client", build(t, "cidr", map[string][]string{"addresses": {"10.0.0.0/8"}}), Request{Addr: addr("::ffff:10.1.2.3")}, true},
		{"cidr single", build(t, "cidr", map[string][]string{"addresses": {"192.0.2.7"}}), Request{Addr: addr("192.0.2.8")}, false},
		{"cidr v6", build(t, "cidr", map[string][]string{"addresses": {"2001:db8::/32"}}), Request{Addr: addr("2001:db8::1")}, true},
		{"cidr v6 vs v4", build(t, "cidr", map[string][]string{"addresses": {"::/0"}}), Request{Addr: addr("10.0.0.1")}, false},
		{"cidr no addr", build(t, "cidr", map[string][]string{"addresses": {"0.0.0.0/0"}}), Request{}, false},
		{"size in", build(t, "size", map[string][]string{"min": {"1GB"}, "max": {"2GB"}}), Request{Size: 1 << 30}, true},
		{"size max inclusive", build(t, "size", map[string][]string{"min": {"1GB"}, "max": {"2GB"}}), Request{Size: 2 << 30}, true},
		{"size above", build(t, "size", map[string][]string{"max": {"2GB"}}), Request{Size: 2<<30 + 1}, false},
		{"size unknown", build(t, "size", map[string][]string{"max": {"2GB"}}), Request{Size: -1}, false},
		{"size unknown min 0", build(t, "size", map[string][]string{"min": {"0"}}), Request{Size: -1}, false},
		{"ext", build(t, "ext", map[string][]string{"extensions": {"iso", "tar.gz"}}), Request{Path: "/a/B.ISO"}, true},
		{"ext multi", build(t, "ext", map[string][]string{"extensions": {"tar.gz"}}), Request{Path: "/a/b.tar.gz"}, true},
		{"ext hidden", build(t, "ext", map[string][]string{"extensions": {"iso"}}), Request{Path: "/a/.iso"}, false},
		{"ext folder", build(t, "ext", map[string][]string{"extensions": {"iso"}}), Request{Path: "/a.iso/b"}, false},
		{"method", build(t, "method", map[string][]string{"methods": {"HEAD"}}), Request{Method: "HEAD"}, true},
		{"method other", build(t, "method", map[string][]string{"methods": {"HEAD"}}), Request{Method: "GET"}, false},
		{"host exact", build(t, "host", map[string][]string{"hosts": {"dl.example.com"}}), Request{Host: "DL.example.com."}, true},
		{"host wildcard apex", build(t, "host", map[string][]string{"hosts": {"*.example.com"}}), Request{Host: "example.com"}, true},
		{"host wildcard sub", build(t, "host", map[string][]string{"hosts": {"*.example.com"}}), Request{Host: "a.b.example.com"}, true},
		{"host wildcard other", build(t, "host", map[string][]string{"hosts": {"*.example.com"}}), Request{Host: "badexample.com"}, false},
		{"user", build(t, "user", map[string][]string{"users": {"ann"}}), Request{User: "ann"}, true},
		{"user anonymous", build(t, "user", map[string][]string{"users": {"ann"}}), Request{}, false},
		{"group", build(t, "group", map[string][]string{"groups": {"staff"}}), Request{Groups: []string{"x", "staff"}}, true},
		{"group none", build(t, "group", map[string][]string{"groups": {"staff"}}), Request{Groups: []string{"x"}}, false},
	} {
		if got := tc.m.match(&tc.r); got != tc.want {
			t.Errorf("%s: got %v", tc.name, got)
		}
	}
}

func at(t *testing.T, zone, s string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestTimeWindow: wall-clock windows in a zone, across midnight and across DST changes.
func TestTimeWindow(t *testing.T) {
	night := build(t, "time", map[string][]string{"days": {"fri"}, "between": {"22:00-07:00"}, "zone": {"Europe/Berlin"}})
	early := build(t, "time", map[string][]string{"between": {"02:00-02:30"}, "zone": {"Europe/Berlin"}})
	day := build(t, "time", map[string][]string{"between": {"07:00-22:00"}, "zone": {"America/New_York"}})
	late := build(t, "time", map[string][]string{"days": {"sat", "sun"}})
	utc := func(s string) time.Time { return at(t, "UTC", s) }
	for _, tc := range []struct {
		name string
		m    matcher
		at   time.Time
		want bool
	}{
		// 2026-03-27 is a Friday.
		{"friday night start", night, at(t, "Europe/Berlin", "2026-03-27 22:00"), true},
		{"before start", night, at(t, "Europe/Berlin", "2026-03-27 21:59"), false},
		{"saturday early belongs to friday", night, at(t, "Europe/Berlin", "2026-03-28 06:59"), true},
		{"saturday 07:00 ends", night, at(t, "Europe/Berlin", "2026-03-28 07:00"), false},
		{"thursday night is not friday's", night, at(t, "Europe/Berlin", "2026-03-27 03:00"), false},
		{"given in UTC, judged in Berlin", night, utc("2026-03-27 21:30"), true}, // 22:30 CET
		// Europe/Berlin springs forward on 2026-03-29 02:00 → 03:00: 02:00-02:30 never happens.
		{"skipped hour", early, utc("2026-03-29 01:15"), false}, // 03:15 CEST
		{"day before", early, utc("2026-03-28 01:15"), true},    // 02:15 CET
		// and falls back on 2026-10-25 03:00 → 02:00: 02:15 happens twice and matches twice.
		{"repeated hour first", early, utc("2026-10-25 00:15"), true},
		{"repeated hour second", early, utc("2026-10-25 01:15"), true},
		// America/New_York springs forward 2026-03-08: 07:00 EDT is 11:00 UTC, not 12:00.
		{"NY after DST", day, utc("2026-03-08 11:00"), true},
		{"NY before window after DST", day, utc("2026-03-08 10:59"), false},
		{"NY before DST", day, utc("2026-03-07 11:30"), false}, // 06:30 EST
		{"days only", late, utc("2026-03-29 12:00"), true},
		{"days only weekday", late, utc("2026-03-30 12:00"), false},
	} {
		r := Request{Time: tc.at}
		if got := tc.m.match(&r); got != tc.want {
			t.Errorf("%s: got %v at %v", tc.name, got, tc.at)
		}
	}
}

func TestParseBetween(t *testing.T) {
	for s, ok := range map[string]bool{"22:00-07:00": true, "00:00-24:00": false, "07:00-07:00": false, "7:00-08:00": false,
		"23:00-24:00": true, "24:00-01:00": false, "10:60-11:00": false, "10:00 - 11:00": true} {
		if _, _, err := parseBetween(s); (err == nil) != ok {
			t.Errorf("%q: %v", s, err)
		}
	}
}
