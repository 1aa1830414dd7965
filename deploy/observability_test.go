package deploy_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// Grafana dashboard and Prometheus files against internal/metrics/testdata/metrics.golden.

var (
	metricRe   = regexp.MustCompile(`\b(alist_edge_[a-z0-9_]+)`)
	matcherRe  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*"`)
	groupingRe = regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
)

// targetLabels are added by Prometheus, not by the services.
var targetLabels = map[string]bool{"instance": true, "job": true}

// checkExpr: every metric exists, every label matched or grouped by exists on a metric of expr.
func checkExpr(t *testing.T, where, expr string, gold map[string]map[string]bool, used map[string]bool) {
	t.Helper()
	ms := metricRe.FindAllString(expr, -1)
	known := map[string]bool{}
	for l := range targetLabels {
		known[l] = true
	}
	for _, m := range ms {
		labels, ok := gold[m]
		if !ok {
			t.Errorf("%s queries %s, which is not in internal/metrics/testdata/metrics.golden", where, m)
			continue
		}
		used[strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m, "_bucket"), "_sum"), "_count")] = true
		for l := range labels {
			known[l] = true
		}
	}
	if len(ms) == 0 {
		return
	}
	var labels []string
	for _, m := range matcherRe.FindAllStringSubmatch(expr, -1) {
		labels = append(labels, m[1])
	}
	for _, g := range groupingRe.FindAllStringSubmatch(expr, -1) {
		for _, l := range strings.Split(g[1], ",") {
			if l = strings.TrimSpace(l); l != "" {
				labels = append(labels, l)
			}
		}
	}
	for _, l := range labels {
		if !known[l] {
			t.Errorf("%s uses label %q, which none of its metrics has: %s", where, l, expr)
		}
	}
}

func TestGrafanaDashboard(t *testing.T) {
	var dash map[string]any
	if err := json.Unmarshal([]byte(read(t, "grafana/alist-edge.json")), &dash); err != nil {
		t.Fatalf("grafana/alist-edge.json: %v", err)
	}
	if dash["uid"] == "" || dash["title"] == "" {
		t.Error("dashboard needs uid and title")
	}
	gold := golden(t)
	used := map[string]bool{}
	ids := map[float64]bool{}
	panels, _ := dash["panels"].([]any)
	if len(panels) == 0 {
		t.Fatal("no panels")
	}
	var titles []string
	for _, p := range panels {
		pm := p.(map[string]any)
		title, _ := pm["title"].(string)
		titles = append(titles, title)
		id, _ := pm["id"].(float64)
		if ids[id] {
			t.Errorf("panel %q: duplicate id %v", title, id)
		}
		ids[id] = true
		if _, ok := pm["gridPos"].(map[string]any); !ok {
			t.Errorf("panel %q: no gridPos", title)
		}
		targets, _ := pm["targets"].([]any)
		if len(targets) == 0 {
			t.Errorf("panel %q: no queries", title)
		}
		for _, tg := range targets {
			expr, _ := tg.(map[string]any)["expr"].(string)
			if expr == "" {
				t.Errorf("panel %q: a target without expr", title)
				continue
			}
			checkExpr(t, fmt.Sprintf("panel %q", title), expr, gold, used)
		}
	}
	// variables query metrics too
	if tmpl, ok := dash["templating"].(map[string]any); ok {
		for _, v := range tmpl["list"].([]any) {
			if def, _ := v.(map[string]any)["definition"].(string); def != "" {
				checkExpr(t, "variable "+def, def, gold, used)
			}
		}
	}
	// every metric has a panel (a new metric needs one)
	var missing []string
	for m := range gold {
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m, "_bucket"), "_sum"), "_count")
		if !used[base] {
			missing = append(missing, base)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("metrics without a dashboard panel: %v", dedupe(missing))
	}
	for _, want := range []string{"outcome", "reason", "Bytes", "Active streams", "first byte", "Database", "hit ratio", "Fail-open"} {
		found := false
		for _, ti := range titles {
			found = found || strings.Contains(ti, want)
		}
		if !found {
			t.Errorf("no panel title mentions %q", want)
		}
	}
}

func dedupe(s []string) []string {
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

func TestPrometheusRules(t *testing.T) {
	var rules struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal([]byte(read(t, "prometheus/alerts.yml")), &rules); err != nil {
		t.Fatal(err)
	}
	gold := golden(t)
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			n++
			checkExpr(t, "alert "+r.Alert, r.Expr, gold, map[string]bool{})
		}
	}
	if n == 0 {
		t.Fatal("no rules")
	}
	var prom struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal([]byte(read(t, "prometheus/prometheus.yml")), &prom); err != nil {
		t.Fatal(err)
	}
	var targets []string
	for _, sc := range prom.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			targets = append(targets, st.Targets...)
		}
	}
	sort.Strings(targets)
	if strings.Join(targets, ",") != "landing:9091,proxy:9090" {
		t.Errorf("scrape targets %v; want the compose services' admin ports landing:9091, proxy:9090", targets)
	}
}

func TestPromtool(t *testing.T) {
	pt := tool(t, "promtool", "apt-get install -y --no-install-recommends prometheus")
	if out, err := run(t, "prometheus", pt, "check", "config", "prometheus.yml"); err != nil {
		t.Errorf("promtool check config: %v\n%s", err, out)
	}
	if out, err := run(t, "prometheus", pt, "check", "rules", "alerts.yml"); err != nil {
		t.Errorf("promtool check rules: %v\n%s", err, out)
	}
}
