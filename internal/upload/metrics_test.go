package upload

import (
	"testing"

	dto "github.com/prometheus/client_model/go"
)

// testutilCounter reads the value of a counter (or gauge) of e's registry with one label value
// ("" for none); 0 when absent.
func testutilCounter(t *testing.T, e *env, name, label string) float64 {
	t.Helper()
	mfs, err := e.m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "alist_edge_"+name {
			continue
		}
		for _, m := range mf.Metric {
			if label != "" && !hasLabelValue(m, label) {
				continue
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			}
		}
	}
	return 0
}

func hasLabelValue(m *dto.Metric, v string) bool {
	for _, l := range m.Label {
		if l.GetName() != "service" && l.GetValue() == v {
			return true
		}
	}
	return false
}
