package policy

import (
	"net/netip"
	"testing"
	"time"
)

// TestExampleBehaviour: the worked examples of docs/policy.md do what the doc says.
func TestExampleBehaviour(t *testing.T) {
	load := func(name string) *Engine {
		d, err := Load("testdata/examples/" + name)
		if err != nil {
			t.Fatal(err)
		}
		e, err := d.Compile(ProxyActions)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	office, home := netip.MustParseAddr("10.20.1.1"), netip.MustParseAddr("192.0.2.1")
	noon := time.Date(2026, 7, 1, 10, 0, 0, 0, time.UTC) // 12:00 in Berlin
	night := time.Date(2026, 7, 1, 21, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		file   string
		r      Request
		rule   string
		action Action
		shadow int
	}{
		{"1-office-private.toml", Request{Path: "/private/a", Addr: home, Size: -1}, "private-outside-office", Block, 0},
		{"1-office-private.toml", Request{Path: "/private/a", Addr: office, Size: -1}, "", 0, 0},
		{"2-night-free.toml", Request{Path: "/a", Time: noon, Size: -1}, "day-metered", 0, 0},
		{"2-night-free.toml", Request{Path: "/a", Time: night, Size: -1}, "night-free", 0, 0},
		{"3-hot-file.toml", Request{Path: "/releases/2026/x.iso", Size: 2 << 30}, "hot-iso", 0, 0},
		{"3-hot-file.toml", Request{Path: "/releases/2026/x.iso", Size: 1 << 20}, "", 0, 0},
		{"4-monthly-subnet.toml", Request{Path: "/a", Addr: netip.MustParseAddr("172.17.0.1")}, "campus", 0, 0},
		{"4-monthly-subnet.toml", Request{Path: "/a", Addr: home}, "monthly", 0, 0},
		{"5-shadow-block.toml", Request{Path: "/setup.EXE", Addr: home}, "", 0, 1},
		{"5-shadow-block.toml", Request{Path: "/setup.exe", Addr: office}, "", 0, 0},
	} {
		d := load(tc.file).Decide(&tc.r)
		rule := ""
		if d.Rule != nil {
			rule = d.Rule.ID
		}
		if rule != tc.rule || d.Action != tc.action || d.ShadowCount() != tc.shadow {
			t.Errorf("%s %+v: rule %q action %b shadows %d", tc.file, tc.r, rule, d.Action, d.ShadowCount())
		}
	}
}
