package policy

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// TestExplainGolden: the explain JSON for a few requests, compared with files under
// testdata/explain (go test -run ExplainGolden -update rewrites them after a reviewed change).
func TestExplainGolden(t *testing.T) {
	proxy, landing := compile(t, engineDoc, ProxyActions), compile(t, engineDoc, LandingActions)
	when := time.Date(2026, 1, 31, 22, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		e    *Engine
		r    Request
	}{
		{"office-private-proxy", proxy, Request{Path: "/private/a.iso", Addr: netip.MustParseAddr("10.1.2.3"), Time: when, Size: -1, Method: "GET"}},
		{"bots-landing", landing, Request{Path: "/private/a", Addr: netip.MustParseAddr("192.0.2.1"), Time: when, Size: 100}},
		{"big-public-proxy", proxy, Request{Path: "/pub/big.bin", Addr: netip.MustParseAddr("2001:db8::1"), Time: when, Size: 3 << 30, User: "ann", Groups: []string{"staff"}}},
		{"default-proxy", proxy, Request{Path: "/private/x", Addr: netip.MustParseAddr("192.0.2.1"), Time: when, Size: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := json.MarshalIndent(tc.e.Explain(&tc.r), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			file := filepath.Join("testdata", "explain", tc.name+".json")
			if *update {
				if err := os.WriteFile(file, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs:\n%s", file, got)
			}
		})
	}
}

// TestExplainAgreesWithDecide: the trace's decision is Decide's, for every request of the
// decide table.
func TestExplainAgreesWithDecide(t *testing.T) {
	e := compile(t, bench50(), ProxyActions)
	for _, p := range []string{"/team1/x", "/team3/project3/a.bin", "/zzz", "/archive/4/x.iso"} {
		r := benchReq
		r.Path = p
		d, tr := e.Decide(&r), e.Explain(&r)
		if d.Rule == nil != tr.Decision.Default || d.Rule != nil && d.Rule.ID != tr.Decision.Rule {
			t.Errorf("%s: decide %+v explain %+v", p, d.Rule, tr.Decision)
		}
	}
}
