// Package metrics exports the native collector's measurements in the
// Prometheus text format at /metrics. It implements the observers of
// ingest and live; the edge build does without it, which keeps the
// Prometheus client (about 1.2 MB gzip) out of the worker.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/visitrack/visitrack/shared/protocol"
)

// Metrics is one collector's set of metrics, on its own registry.
type Metrics struct {
	registry           *prometheus.Registry
	received           prometheus.Counter
	stored             prometheus.Counter
	rejected           *prometheus.CounterVec
	batchEvents        prometheus.Histogram
	commitSeconds      prometheus.Histogram
	recognitionRefused prometheus.Counter
	connections        prometheus.Gauge
	webhookPending     prometheus.Gauge
	webhookDelivered   prometheus.Counter
	webhookAttempts    prometheus.Counter
	webhookFailed      prometheus.Counter
	handler            http.Handler
}

// New returns metrics registered on a fresh registry, with the Go runtime
// and process collectors.
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
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
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "visitrack_websocket_connections", Help: "Open tracker WebSocket connections."}),
		webhookPending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "visitrack_webhook_deliveries_pending", Help: "Webhook deliveries not yet delivered or given up."}),
		webhookDelivered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "visitrack_webhook_deliveries_delivered_total", Help: "Webhook deliveries a target accepted (2xx)."}),
		webhookAttempts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "visitrack_webhook_attempts_failed_total", Help: "Webhook attempts that failed and will be retried."}),
		webhookFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "visitrack_webhook_deliveries_failed_total", Help: "Webhook deliveries given up after 24 hours of retries."}),
	}
	m.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.received, m.stored, m.rejected, m.batchEvents, m.commitSeconds, m.recognitionRefused, m.connections,
		m.webhookPending, m.webhookDelivered, m.webhookAttempts, m.webhookFailed)
	m.handler = promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
	return m
}

// ServeHTTP serves the metrics in the Prometheus text format.
func (m *Metrics) ServeHTTP(w http.ResponseWriter, r *http.Request) { m.handler.ServeHTTP(w, r) }

// Collected implements ingest.Observer.
func (m *Metrics) Collected(received, stored int, rejected []protocol.Rejection) {
	m.received.Add(float64(received))
	m.stored.Add(float64(stored))
	for i := range rejected {
		m.rejected.WithLabelValues(rejected[i].Code).Inc()
	}
}

// Committed implements ingest.Observer.
func (m *Metrics) Committed(rows int, took time.Duration) {
	m.batchEvents.Observe(float64(rows))
	m.commitSeconds.Observe(took.Seconds())
}

// RecognitionRefused implements ingest.Observer.
func (m *Metrics) RecognitionRefused() { m.recognitionRefused.Inc() }

// Connections implements live.Observer.
func (m *Metrics) Connections(open int) { m.connections.Set(float64(open)) }

// WebhookPending implements webhook.Observer.
func (m *Metrics) WebhookPending(n int) { m.webhookPending.Set(float64(n)) }

// WebhookDelivered implements webhook.Observer.
func (m *Metrics) WebhookDelivered() { m.webhookDelivered.Inc() }

// WebhookAttemptFailed implements webhook.Observer.
func (m *Metrics) WebhookAttemptFailed() { m.webhookAttempts.Inc() }

// WebhookFailed implements webhook.Observer.
func (m *Metrics) WebhookFailed() { m.webhookFailed.Inc() }

// WAL is what the write-ahead log's keeper (sqlite.WAL) tells about it.
type WAL interface {
	// Size is the log file's size in bytes.
	Size() int64
	// Restarts counts the writer's checkpoints that restarted the log,
	// and those that readers kept from it.
	Restarts() (done, gaveUp int64)
	// Stalls counts the writer's checkpoints and the time they held it.
	Stalls() (n int64, total time.Duration)
}

// WatchWAL exports the log's size and restarts, read at each scrape: an
// operator sees the bound hold (docs/operations.md#the-write-ahead-log-stays-bounded), and a log that readers
// keep from restarting.
func (m *Metrics) WatchWAL(w WAL) {
	m.registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "visitrack_wal_bytes", Help: "Size of the SQLite write-ahead log file."},
			func() float64 { return float64(w.Size()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "visitrack_wal_restarts_total", Help: "Checkpoints by the ingest writer that started the log again from its beginning."},
			func() float64 { done, _ := w.Restarts(); return float64(done) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "visitrack_wal_restarts_given_up_total", Help: "Restarts of the log that readers of older snapshots kept from happening (tried again shortly after)."},
			func() float64 { _, gaveUp := w.Restarts(); return float64(gaveUp) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "visitrack_wal_writer_checkpoints_total", Help: "Checkpoints the ingest writer ran between two commits."},
			func() float64 { n, _ := w.Stalls(); return float64(n) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "visitrack_wal_writer_checkpoint_seconds_total", Help: "Time the ingest writer spent in checkpoints, when acks wait."},
			func() float64 { _, d := w.Stalls(); return d.Seconds() }),
	)
}

// Conns is what the cap of open connections per client address
// (live.ConnCap) tells.
type Conns interface {
	// Open is the number of plain HTTP connections the cap counts now.
	Open() int64
	// Refused is the number of connections refused over the cap since
	// the start.
	Refused() int64
}

// WatchConns exports the capped connections and the refused ones, read
// at each scrape: an operator sees a client address at its cap.
func (m *Metrics) WatchConns(c Conns) {
	m.registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "visitrack_http_connections", Help: "Open plain HTTP connections counted against --max-connections-per-ip (not WebSockets, not trusted proxies')."},
			func() float64 { return float64(c.Open()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "visitrack_http_connections_refused_total", Help: "Connections refused because their client address held --max-connections-per-ip open connections."},
			func() float64 { return float64(c.Refused()) }),
	)
}

// Engagement is what the engagement engine (engage.Engine) tells.
type Engagement interface {
	// Dropped is how many committed batches the engine's bounded queue
	// refused since the start: their events were never evaluated.
	Dropped() uint64
	// Offered is how many offers the engine made since the start.
	Offered() uint64
}

// WatchEngagement exports the engine's dropped batches and offers, read
// at each scrape: an operator sees rules that miss events because the
// engine falls behind the writer (docs/engagement.md).
func (m *Metrics) WatchEngagement(e Engagement) {
	m.registry.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "visitrack_engagement_dropped_batches_total", Help: "Committed batches the engagement engine dropped because its queue was full (their events were not evaluated)."},
			func() float64 { return float64(e.Dropped()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "visitrack_engagement_offers_total", Help: "Offers the engagement engine made."},
			func() float64 { return float64(e.Offered()) }),
	)
}
