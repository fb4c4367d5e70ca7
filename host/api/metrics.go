package api

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/activedataflow/adf/host/engine"
	"github.com/activedataflow/adf/host/store"
)

// Metrics are the host's Prometheus metrics, in a registry of their own.
type Metrics struct {
	reg        *prometheus.Registry
	runs       *prometheus.CounterVec
	rows       *prometheus.CounterVec
	duration   prometheus.Histogram
	heartbeats *prometheus.CounterVec
	restarts   prometheus.Counter
	authFails  *prometheus.CounterVec
}

// NewMetrics creates the metrics.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "adf_runs_total", Help: "Finished flow run attempts by status."},
			[]string{"status"}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "adf_rows_total", Help: "Rows moved by finished runs, by kind (read, written, rejected)."},
			[]string{"kind"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "adf_run_duration_seconds", Help: "Duration of run attempts.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 16)}),
		heartbeats: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "adf_heartbeats_total", Help: "Heartbeat requests by outcome."},
			[]string{"outcome"}),
		restarts: prometheus.NewCounter(prometheus.CounterOpts{Name: "adf_plugin_restarts_total", Help: "Attempts restarted from a checkpoint after a plugin failure."}),
		authFails: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "adf_api_auth_failures_total", Help: "API requests refused for their token, by reason (missing_token, bad_token, too_many_failures)."},
			[]string{"reason"}),
	}
	m.reg.MustRegister(m.runs, m.rows, m.duration, m.heartbeats, m.restarts, m.authFails,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler { return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}) }

// Heartbeat counts a heartbeat request.
func (m *Metrics) Heartbeat(outcome string) { m.heartbeats.WithLabelValues(outcome).Inc() }

// AuthFailure counts an API request refused for its token.
func (m *Metrics) AuthFailure(reason string) { m.authFails.WithLabelValues(reason).Inc() }

// Run records a finished run attempt.
func (m *Metrics) Run(run *store.Run, d time.Duration, err error) {
	status := run.Status
	if err != nil && status == store.StatusPending {
		status = "retrying"
	}
	m.runs.WithLabelValues(status).Inc()
	m.rows.WithLabelValues("read").Add(float64(run.RecordsRead))
	m.rows.WithLabelValues("written").Add(float64(run.RecordsWritten))
	m.rows.WithLabelValues("rejected").Add(float64(run.RecordsRejected))
	m.duration.Observe(d.Seconds())
}

// EngineEvent counts engine events (restarts).
func (m *Metrics) EngineEvent(_ int64, ev engine.Event) {
	if ev.Kind == "restart" {
		m.restarts.Inc()
	}
}
