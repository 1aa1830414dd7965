// Package metrics defines every Prometheus metric of both services in one place, under one
// namespace, so names stay stable (a golden test pins them) and no handler invents a label.
// Labels carry only small fixed vocabularies: never a path, an IP or a subnet.
package metrics

import (
	"runtime/debug"

	"github.com/alist-edge/alist-edge/pkg/policy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Namespace prefixes every metric.
const Namespace = "alist_edge"

// Metrics of one service process.
type Metrics struct {
	Registry *prometheus.Registry

	// Requests by outcome (served, denied, error) and denial reason ("" when served).
	Requests *prometheus.CounterVec
	// Responses by status class (1xx … 5xx).
	Responses *prometheus.CounterVec
	// Denials by reason: the rate-limit, quota, ban, throttle and signature refusals.
	Denials *prometheus.CounterVec
	// BytesStreamed counts body bytes written to clients.
	BytesStreamed prometheus.Counter
	// ActiveStreams is the number of bodies being streamed right now.
	ActiveStreams prometheus.Gauge
	// UpstreamTTFB is the time from sending the upstream request to its response headers.
	UpstreamTTFB prometheus.Histogram
	// AlistDuration is the time of AList API calls by endpoint (fs_link, fs_get).
	AlistDuration *prometheus.HistogramVec
	// DBRoundTrip is the time of the unified check.
	DBRoundTrip prometheus.Histogram
	// LinkCache counts link lookups by result (hit, miss).
	LinkCache *prometheus.CounterVec
	// ThrottleProtections counts requests refused because the upstream host is protected.
	ThrottleProtections prometheus.Counter
	// FailOpen counts requests served without limits because the database failed.
	FailOpen prometheus.Counter
	// UpstreamRetries counts retried upstream attempts.
	UpstreamRetries prometheus.Counter
	// PolicyDecisions counts policy decisions by rule id ("default" when no rule matched),
	// action and mode: "enforced" for the deciding rule, "shadow" for a shadow rule that matched
	// (evaluated, not enforced). Rule ids come from the policy, never from requests.
	PolicyDecisions *prometheus.CounterVec
	// LimitRefusals counts requests refused by a policy quota or rate, by its name.
	LimitRefusals *prometheus.CounterVec
}

// New registers the metrics of service ("proxy" or "landing") on a fresh registry, with the
// Go and process collectors and a build_info gauge.
func New(service string) *Metrics {
	reg := prometheus.NewRegistry()
	constLabels := prometheus.Labels{"service": service}
	m := &Metrics{
		Registry: reg,
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "requests_total",
			Help: "Requests by outcome and denial reason.", ConstLabels: constLabels}, []string{"outcome", "reason"}),
		Responses: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "responses_total",
			Help: "Responses by status class.", ConstLabels: constLabels}, []string{"class"}),
		Denials: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "denials_total",
			Help: "Refused requests by reason (rate_limit, bandwidth_total, bandwidth_filepath, banned, throttled, signature, policy, ...).", ConstLabels: constLabels}, []string{"reason"}),
		BytesStreamed: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "bytes_streamed_total",
			Help: "Body bytes written to clients.", ConstLabels: constLabels}),
		ActiveStreams: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "active_streams",
			Help: "Bodies being streamed now.", ConstLabels: constLabels}),
		UpstreamTTFB: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: "upstream_ttfb_seconds",
			Help: "Time from the upstream request to its response headers.", ConstLabels: constLabels,
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}),
		AlistDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "alist_request_seconds",
			Help: "AList API call time by endpoint.", ConstLabels: constLabels,
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 15}}, []string{"endpoint"}),
		DBRoundTrip: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: "db_roundtrip_seconds",
			Help: "Time of the unified database check.", ConstLabels: constLabels,
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1}}),
		LinkCache: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "link_cache_total",
			Help: "AList link lookups by result (hit, miss).", ConstLabels: constLabels}, []string{"result"}),
		ThrottleProtections: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "throttle_protections_total",
			Help: "Requests refused while their upstream host is throttle-protected.", ConstLabels: constLabels}),
		FailOpen: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "fail_open_total",
			Help: "Requests served without limits because the database failed (PG_ERROR_HANDLE=fail-open).", ConstLabels: constLabels}),
		UpstreamRetries: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "upstream_retries_total",
			Help: "Upstream attempts retried before the first byte.", ConstLabels: constLabels}),
		PolicyDecisions: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "policy_decisions_total",
			Help: "Policy decisions by rule id, action and mode (enforced, shadow).", ConstLabels: constLabels}, []string{"rule", "action", "mode"}),
		LimitRefusals: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "policy_limit_refusals_total",
			Help: "Requests refused by a policy quota or rate, by its name.", ConstLabels: constLabels}, []string{"limit"}),
	}
	version := "devel"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		version = bi.Main.Version
	}
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "build_info",
		Help: "Build information; always 1.", ConstLabels: prometheus.Labels{"service": service, "version": version}})
	buildInfo.Set(1)
	reg.MustRegister(m.Requests, m.Responses, m.Denials, m.BytesStreamed, m.ActiveStreams, m.UpstreamTTFB, m.AlistDuration,
		m.DBRoundTrip, m.LinkCache, m.ThrottleProtections, m.FailOpen, m.UpstreamRetries, m.PolicyDecisions, m.LimitRefusals, buildInfo,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// StatusClass is "2xx" for 200 and so on.
func StatusClass(status int) string {
	switch {
	case status < 200:
		return "1xx"
	case status < 300:
		return "2xx"
	case status < 400:
		return "3xx"
	case status < 500:
		return "4xx"
	}
	return "5xx"
}

// PolicyCounters are the decision counters of one compiled policy, resolved once when the
// policy is loaded (a reload builds new ones), so a request only increments: rule ids and
// actions are fixed by the policy.
type PolicyCounters struct {
	enforced, shadow []prometheus.Counter // by rule index (nil where a rule is not this service's)
	def              prometheus.Counter
}

// PolicyCounters resolves the counters of every rule of eng that applies to this service:
// the rule's id and action as the policy writes it, "default" when no rule matched.
func (m *Metrics) PolicyCounters(eng *policy.Engine) *PolicyCounters {
	c := &PolicyCounters{def: m.PolicyDecisions.WithLabelValues("default", eng.DefaultText(), "enforced")}
	for _, r := range eng.Rules() {
		for len(c.enforced) <= r.Index {
			c.enforced, c.shadow = append(c.enforced, nil), append(c.shadow, nil)
		}
		if r.Shadow {
			c.shadow[r.Index] = m.PolicyDecisions.WithLabelValues(r.ID, r.ActionText, "shadow")
		} else {
			c.enforced[r.Index] = m.PolicyDecisions.WithLabelValues(r.ID, r.ActionText, "enforced")
		}
	}
	return c
}

// Count counts one decision of the policy c was resolved for: the deciding rule (or the
// default) and each shadow rule that matched on the way.
func (c *PolicyCounters) Count(d *policy.Decision) {
	if d.Rule == nil {
		c.def.Inc()
	} else if ctr := c.at(c.enforced, d.Rule.Index); ctr != nil {
		ctr.Inc()
	}
	for s := range d.Shadows() {
		if ctr := c.at(c.shadow, s.Index); ctr != nil {
			ctr.Inc()
		}
	}
}

func (c *PolicyCounters) at(list []prometheus.Counter, i int) prometheus.Counter {
	if i >= 0 && i < len(list) {
		return list[i]
	}
	return nil
}
