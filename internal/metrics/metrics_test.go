package metrics_test

import (
	"flag"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/alist-edge/alist-edge/internal/metrics"
)

var descName = regexp.MustCompile(`fqName: "([^"]+)"`)

var update = flag.Bool("update", false, "rewrite testdata/metrics.golden")

const golden = "testdata/metrics.golden"

// touched returns the metrics of service with every vector used once, so each family shows up
// in a scrape.
func touched(service string) *metrics.Metrics {
	m := metrics.New(service)
	m.Requests.WithLabelValues("denied", "signature").Inc()
	m.Responses.WithLabelValues(metrics.StatusClass(200)).Inc()
	m.Denials.WithLabelValues("rate_limit").Inc()
	m.AlistDuration.WithLabelValues("fs_link").Observe(0.01)
	m.LinkCache.WithLabelValues("hit").Inc()
	m.PolicyDecisions.WithLabelValues("office", "allow", "enforced").Inc()
	m.LimitRefusals.WithLabelValues("daily").Inc()
	return m
}

// families gathers service's alist_edge_* families as "name type label,label" lines, sorted.
// The Go and process collectors are left out: their sets change with the Go version and OS.
func families(t *testing.T, service string) ([]string, map[string]*dto.MetricFamily) {
	t.Helper()
	mfs, err := touched(service).Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	byName := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), metrics.Namespace+"_") {
			continue
		}
		byName[mf.GetName()] = mf
		labels := map[string]bool{}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = true
			}
		}
		names := make([]string, 0, len(labels))
		for n := range labels {
			names = append(names, n)
		}
		sort.Strings(names)
		lines = append(lines, fmt.Sprintf("%s %s %s", mf.GetName(), strings.ToLower(mf.GetType().String()), strings.Join(names, ",")))
	}
	sort.Strings(lines)
	return lines, byName
}

// TestGolden pins every metric's name, type and label names. A change here is a change for
// every dashboard and alert: update deploy/grafana and docs/operations.md, then run
// go test ./internal/metrics -run TestGolden -update.
func TestGolden(t *testing.T) {
	lines, _ := families(t, "proxy")
	got := "# alist_edge metrics of metrics.New(\"proxy\"): name type label-names (regenerate: go test ./internal/metrics -run TestGolden -update)\n" +
		strings.Join(lines, "\n") + "\n"
	// every collector field of Metrics shows up (a new vector must be touched in touched())
	m := touched("proxy")
	v := reflect.ValueOf(m).Elem()
	for i := 0; i < v.NumField(); i++ {
		c, ok := v.Field(i).Interface().(prometheus.Collector)
		if _, isReg := c.(*prometheus.Registry); !ok || isReg {
			continue
		}
		ch := make(chan *prometheus.Desc)
		go func() { c.Describe(ch); close(ch) }()
		for d := range ch {
			name := descName.FindStringSubmatch(d.String())
			if name == nil {
				t.Fatalf("cannot read the name of %s", d)
			}
			if !strings.Contains(got, "\n"+name[1]+" ") {
				t.Errorf("Metrics.%s (%s) is not in the scrape: touch it once in touched()", v.Type().Field(i).Name, name[1])
			}
		}
	}
	if t.Failed() {
		return
	}
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Fatalf("metrics changed; if intended, run go test ./internal/metrics -run TestGolden -update\n--- got\n%s--- want\n%s", got, want)
	}
	// the landing registers the same set
	landing, _ := families(t, "landing")
	if strings.Join(landing, "\n") != strings.Join(lines, "\n") {
		t.Fatalf("landing's metrics differ from the proxy's:\n%s", strings.Join(landing, "\n"))
	}
}

// allowedLabels are the only label names a metric may carry: each has a small fixed vocabulary.
// A path, client IP, subnet, host or URL as a label value would let any client create series
// without bound (and put personal data into the TSDB); such names must never appear here.
var allowedLabels = map[string]bool{
	"service":  true, // proxy | landing (const)
	"version":  true, // build_info only (const)
	"outcome":  true, // served | denied | error | client_gone
	"reason":   true, // denial reason vocabulary
	"class":    true, // 1xx … 5xx
	"endpoint": true, // fs_link | fs_get
	"result":   true, // hit | miss
	"rule":     true, // a rule id of the operator's policy, or "default": bounded by the policy file
	"action":   true, // allow | deny | the services' action names
	"mode":     true, // enforced | shadow
	"limit":    true, // a quota or rate name of the policy file
}

var forbiddenLabel = regexp.MustCompile(`(?i)(path|ip|addr|subnet|host|url|file|client|user|token|sign)`)

func TestLabelAllowlist(t *testing.T) {
	for name := range allowedLabels {
		if forbiddenLabel.MatchString(name) {
			t.Fatalf("allowlist holds %q, which names unbounded data", name)
		}
	}
	_, fams := families(t, "proxy")
	if len(fams) == 0 {
		t.Fatal("no alist_edge metrics gathered")
	}
	for name, mf := range fams {
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if !allowedLabels[lp.GetName()] {
					t.Errorf("%s has label %q, not in the allowlist (labels must never carry a path, IP or subnet)", name, lp.GetName())
				}
			}
		}
	}
}

func TestStatusClass(t *testing.T) {
	for status, want := range map[int]string{100: "1xx", 200: "2xx", 206: "2xx", 302: "3xx", 401: "4xx", 429: "4xx", 500: "5xx", 503: "5xx"} {
		if got := metrics.StatusClass(status); got != want {
			t.Errorf("StatusClass(%d) = %q, want %q", status, got, want)
		}
	}
}
