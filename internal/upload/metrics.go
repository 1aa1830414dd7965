package upload

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/alist-edge/alist-edge/internal/metrics"
)

// uploadMetrics are the upload service's own metrics, next to the pipeline's requests and
// denials; labels are small fixed vocabularies (outcome, reason), never a path.
type uploadMetrics struct {
	uploads      *prometheus.CounterVec // by outcome: created, exists, refused, failed, client_gone
	bytes        *prometheus.CounterVec // body bytes received, by the same outcome
	duration     prometheus.Histogram   // PUT from the first check to the answer
	refusals     *prometheus.CounterVec // by reason
	freeBytes    prometheus.Gauge
	storedFiles  prometheus.Gauge
	storedBytes  prometheus.Gauge
	expired      prometheus.Counter
	expiredBytes prometheus.Counter
}

func newUploadMetrics(m *metrics.Metrics) *uploadMetrics {
	ns, cl := metrics.Namespace, prometheus.Labels{"service": "upload"}
	u := &uploadMetrics{
		uploads: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "uploads_total", ConstLabels: cl,
			Help: "Upload PUTs by outcome (created, exists, refused, failed, client_gone)."}, []string{"outcome"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "upload_bytes_total", ConstLabels: cl,
			Help: "Upload body bytes received, by the outcome of their PUT."}, []string{"outcome"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "upload_duration_seconds", ConstLabels: cl,
			Help: "Time of an upload PUT, from its checks to its answer.", Buckets: prometheus.ExponentialBuckets(0.005, 4, 10)}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "upload_refusals_total", ConstLabels: cl,
			Help: "Upload requests refused, by reason (signature, max_size, extension, disk_full, exists, rate_limit, ...)."}, []string{"reason"}),
		freeBytes: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "upload_free_bytes", ConstLabels: cl,
			Help: "Bytes available in UPLOAD_DIR's filesystem, as last measured."}),
		storedFiles: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "upload_stored_files", ConstLabels: cl,
			Help: "Files recorded in the database."}),
		storedBytes: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "upload_stored_bytes", ConstLabels: cl,
			Help: "Bytes of the files recorded in the database."}),
		expired: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "upload_expired_total", ConstLabels: cl,
			Help: "Files deleted by the FILE_TTL janitor."}),
		expiredBytes: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "upload_expired_bytes_total", ConstLabels: cl,
			Help: "Bytes freed by the FILE_TTL janitor."}),
	}
	m.Registry.MustRegister(u.uploads, u.bytes, u.duration, u.refusals, u.freeBytes, u.storedFiles, u.storedBytes, u.expired, u.expiredBytes)
	return u
}
