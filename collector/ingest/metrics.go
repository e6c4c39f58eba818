package ingest

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the ingest path's Prometheus metrics.
type Metrics struct {
	received           prometheus.Counter
	stored             prometheus.Counter
	rejected           *prometheus.CounterVec
	batchEvents        prometheus.Histogram
	commitSeconds      prometheus.Histogram
	recognitionRefused prometheus.Counter
}

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered, for tests and the edge build).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "visitrack_events_received_total", Help: "Events received from browsers."}),
		stored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "visitrack_events_committed_total", Help: "Events acknowledged after a durable commit (resends included)."}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "visitrack_events_rejected_total", Help: "Events rejected in an ack, by code."}, []string{"code"}),
		batchEvents: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "visitrack_commit_batch_events", Help: "Event rows written per transaction.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 8)}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "visitrack_commit_seconds", Help: "Time from a batch's start to its commit.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 12)}),
		recognitionRefused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "visitrack_recognition_refused_total", Help: "Recognition tokens that were forged, expired or of an erased identity."}),
	}
	if reg != nil {
		reg.MustRegister(m.received, m.stored, m.rejected, m.batchEvents, m.commitSeconds, m.recognitionRefused)
	}
	return m
}

func (m *Metrics) observeJob(j *job) {
	m.received.Add(float64(j.received))
	m.stored.Add(float64(j.stored))
	for i := range j.res.Ack.Rejected {
		m.rejected.WithLabelValues(j.res.Ack.Rejected[i].Code).Inc()
	}
}

func (m *Metrics) observeCommit(rows int, d time.Duration) {
	m.batchEvents.Observe(float64(rows))
	m.commitSeconds.Observe(d.Seconds())
}
