package api

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/activedataflow/adf/host/engine"
	"github.com/activedataflow/adf/host/progress"
	"github.com/activedataflow/adf/host/runner"
	"github.com/activedataflow/adf/host/store"
)

// queueQueryTimeout bounds the queue depth query of a scrape: a slow
// database leaves the series out rather than holding the scrape.
const queueQueryTimeout = 2 * time.Second

// queueStates are the River job states adf_queue_jobs reports: jobs waiting
// for a worker now, later, or after a failed attempt.
var queueStates = []string{"available", "scheduled", "retryable"}

// Metrics are the host's Prometheus metrics, in a registry of their own.
//
// The per-flow row and byte counters follow the live counts of the runs in
// progress (read from the progress tracker at every scrape) and take a
// finished run's remainder when its outcome is observed (Run), so a run's
// rows are counted once, while it goes. A run's live count can step back
// when an attempt restarts from its last checkpoint; the counters never do:
// they count the re-read rows again only past the highest count seen.
type Metrics struct {
	reg        *prometheus.Registry
	runs       *prometheus.CounterVec
	rows       *prometheus.CounterVec
	duration   prometheus.Histogram
	heartbeats *prometheus.CounterVec
	restarts   prometheus.Counter
	authFails  *prometheus.CounterVec

	flowRows      *prometheus.CounterVec
	flowBytes     *prometheus.CounterVec
	flowRuns      *prometheus.CounterVec
	flowDuration  *prometheus.HistogramVec
	flowSuccess   *prometheus.GaugeVec
	flowRestarts  *prometheus.CounterVec
	inProgress    *prometheus.Desc
	checkpointAge *prometheus.Desc
	lag           *prometheus.Desc
	queue         *prometheus.Desc
	queueErrors   prometheus.Counter

	mu      sync.Mutex
	tracker *progress.Tracker
	db      *sql.DB
	// seen is, per run, the counts already added to the counters.
	seen map[int64]*seenRun
	// closed are runs whose outcome was observed while the tracker still
	// listed them: their counts are complete.
	closed map[int64]bool
}

// seenRun is what the counters already hold of one run.
type seenRun struct {
	flow                                       string
	read, written, rejected, bytesIn, bytesOut int64
	restarts                                   int64
	// lastLive is when the run was last in progress here: a run that
	// went on elsewhere (a retry on another host, a lost lease) is
	// forgotten after seenTTL.
	lastLive time.Time
}

// seenTTL is how long the counts of a run no longer in progress here are
// kept, for another attempt of it on this host to go on from.
const seenTTL = time.Hour

// NewMetrics creates the metrics.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "adf_runs_total", Help: "Finished flow run attempts by status."},
			[]string{"status"}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "adf_rows_total", Help: "Rows moved by runs of all flows, by kind (read, written, rejected), counted while the runs go."},
			[]string{"kind"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "adf_run_duration_seconds", Help: "Duration of run attempts.",
			Buckets: durationBuckets}),
		heartbeats: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "adf_heartbeats_total", Help: "Heartbeat requests by outcome."},
			[]string{"outcome"}),
		restarts: prometheus.NewCounter(prometheus.CounterOpts{Name: "adf_plugin_restarts_total", Help: "Attempts restarted from a checkpoint after a plugin failure."}),
		authFails: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "adf_api_auth_failures_total", Help: "API requests refused for their token, by reason (missing_token, bad_token, too_many_failures)."},
			[]string{"reason"}),

		flowRows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "adf_flow_rows_total", Help: "Rows moved by the flow's runs, by kind (read, written, rejected), counted while the runs go."},
			[]string{"flow", "kind"}),
		flowBytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "adf_flow_bytes_total", Help: "Bytes the flow's runs read from their source and wrote to their sink (committed), by kind (read, written)."},
			[]string{"flow", "kind"}),
		flowRuns: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "adf_flow_runs_total", Help: "Finished run attempts of the flow, by status (success, failed, cancelled, retrying, suspended)."},
			[]string{"flow", "status"}),
		flowDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "adf_flow_run_duration_seconds", Help: "Duration of the flow's run attempts.",
			Buckets: durationBuckets}, []string{"flow"}),
		flowSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "adf_flow_last_success_timestamp_seconds", Help: "When the flow's last successful run on this host ended (Unix time)."},
			[]string{"flow"}),
		flowRestarts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "adf_flow_restarts_total", Help: "Attempts of the flow's runs restarted from a checkpoint after a failure."},
			[]string{"flow"}),
		inProgress: prometheus.NewDesc("adf_runs_in_progress", "Runs this host is executing.", nil, nil),
		checkpointAge: prometheus.NewDesc("adf_flow_checkpoint_age_seconds",
			"Seconds since the last checkpoint of the flow's run in progress on this host (since its start before the first); the oldest when several run.", []string{"flow"}, nil),
		lag: prometheus.NewDesc("adf_source_lag_records", "Records the source has behind the position of a split of the flow's run in progress (rafka: a topic partition's consumer-group lag).",
			[]string{"flow", "split"}, nil),
		queue: prometheus.NewDesc("adf_queue_jobs", "Run jobs in the queue (all hosts), by state (available: waiting for a worker; scheduled: for later; retryable: after a failed attempt).",
			[]string{"state"}, nil),
		queueErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "adf_queue_depth_errors_total", Help: "Scrapes whose queue depth query failed (adf_queue_jobs is then absent)."}),
		seen:        map[int64]*seenRun{},
		closed:      map[int64]bool{},
	}
	m.reg.MustRegister(m.runs, m.rows, m.duration, m.heartbeats, m.restarts, m.authFails,
		m.flowRows, m.flowBytes, m.flowRuns, m.flowDuration, m.flowSuccess, m.flowRestarts, liveCollector{m},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

var durationBuckets = prometheus.ExponentialBuckets(0.05, 2, 16)

// Attach gives the metrics the host's progress tracker (live counts, lag,
// checkpoint age, runs in progress) and its store's database (queue
// depth); either may be nil.
func (m *Metrics) Attach(t *progress.Tracker, st *store.Store) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tracker = t
	if st != nil {
		m.db = st.DB()
	}
}

// Handler serves /metrics. Each scrape first brings the row and byte
// counters up to the live counts of the runs in progress.
func (m *Metrics) Handler() http.Handler {
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.Sync()
		h.ServeHTTP(w, r)
	})
}

// Sync adds to the counters what the runs in progress moved since the last
// call.
func (m *Metrics) Sync() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tracker == nil {
		return
	}
	// The tracker is read under m.mu: a run whose outcome Run records
	// meanwhile is either still listed here (and Run adds the rest after
	// this) or closed.
	live := map[int64]bool{}
	for _, s := range m.tracker.List() {
		live[s.RunID] = true
		if m.closed[s.RunID] {
			continue
		}
		m.add(s.RunID, s.Flow, s.RowsRead, s.RowsWritten, s.RowsRejected, s.BytesRead, s.BytesWritten, int64(s.Restarts))
	}
	for id := range m.closed {
		if !live[id] {
			delete(m.closed, id)
		}
	}
	for id, s := range m.seen {
		if !live[id] && time.Since(s.lastLive) > seenTTL {
			delete(m.seen, id)
		}
	}
}

// add raises the run's counters to the given totals; m.mu is held.
func (m *Metrics) add(runID int64, flowName string, read, written, rejected, bytesIn, bytesOut, restarts int64) {
	s := m.seen[runID]
	if s == nil {
		s = &seenRun{flow: flowName}
		m.seen[runID] = s
	}
	if s.flow == "" {
		s.flow = flowName
	}
	if s.flow == "" {
		return
	}
	s.lastLive = time.Now()
	f := s.flow
	// up raises one counter (and the all-flows one, when given) to total.
	up := func(total int64, prev *int64, cs ...prometheus.Counter) {
		if total <= *prev {
			return
		}
		for _, c := range cs {
			c.Add(float64(total - *prev))
		}
		*prev = total
	}
	up(read, &s.read, m.flowRows.WithLabelValues(f, "read"), m.rows.WithLabelValues("read"))
	up(written, &s.written, m.flowRows.WithLabelValues(f, "written"), m.rows.WithLabelValues("written"))
	up(rejected, &s.rejected, m.flowRows.WithLabelValues(f, "rejected"), m.rows.WithLabelValues("rejected"))
	up(bytesIn, &s.bytesIn, m.flowBytes.WithLabelValues(f, "read"))
	up(bytesOut, &s.bytesOut, m.flowBytes.WithLabelValues(f, "written"))
	up(restarts, &s.restarts, m.flowRestarts.WithLabelValues(f))
}

// Heartbeat counts a heartbeat request.
func (m *Metrics) Heartbeat(outcome string) { m.heartbeats.WithLabelValues(outcome).Inc() }

// AuthFailure counts an API request refused for its token.
func (m *Metrics) AuthFailure(reason string) { m.authFails.WithLabelValues(reason).Inc() }

// Run records a finished run attempt (runner.Options.Observe): its status,
// duration and the counts its runs had not yet shown. It is called before
// the run leaves the progress tracker.
func (m *Metrics) Run(run *store.Run, d time.Duration, err error) {
	status := run.Status
	switch {
	case errors.Is(err, runner.ErrSuspended):
		status = "suspended"
	case err != nil && status == store.StatusPending:
		status = "retrying"
	}
	m.runs.WithLabelValues(status).Inc()
	m.duration.Observe(d.Seconds())
	m.flowRuns.WithLabelValues(run.FlowName, status).Inc()
	m.flowDuration.WithLabelValues(run.FlowName).Observe(d.Seconds())
	if run.Status == store.StatusSuccess {
		end := time.Now()
		if run.EndedAt != nil {
			end = *run.EndedAt
		}
		m.flowSuccess.WithLabelValues(run.FlowName).Set(float64(end.UnixNano()) / 1e9)
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	var bytesIn, restarts int64
	if m.tracker != nil {
		if s, ok := m.tracker.Get(run.ID); ok {
			bytesIn, restarts = s.BytesRead, int64(s.Restarts)
			// The live counts may be ahead of the committed ones the run
			// row has (rows read after the last checkpoint of a failed
			// attempt): they were counted already.
			m.add(run.ID, run.FlowName, s.RowsRead, s.RowsWritten, s.RowsRejected, s.BytesRead, s.BytesWritten, restarts)
		}
	}
	m.add(run.ID, run.FlowName, run.RecordsRead, run.RecordsWritten, run.RecordsRejected, bytesIn, run.BytesWritten, restarts)
	switch run.Status {
	case store.StatusSuccess, store.StatusFailed, store.StatusCancelled:
		// The run is over: nothing more comes of it. (A pending one comes
		// back for another attempt, which goes on from these counts.)
		delete(m.seen, run.ID)
		if m.tracker != nil {
			m.closed[run.ID] = true
		}
	}
}

// EngineEvent counts engine events (restarts).
func (m *Metrics) EngineEvent(_ int64, ev engine.Event) {
	if ev.Kind == "restart" {
		m.restarts.Inc()
	}
}

// liveCollector reports, at scrape time, what the tracker and the queue
// say now.
type liveCollector struct{ m *Metrics }

func (c liveCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.m.inProgress
	ch <- c.m.checkpointAge
	ch <- c.m.lag
	ch <- c.m.queue
	c.m.queueErrors.Describe(ch)
}

func (c liveCollector) Collect(ch chan<- prometheus.Metric) {
	m := c.m
	m.mu.Lock()
	t, db := m.tracker, m.db
	m.mu.Unlock()
	if t != nil {
		snaps := t.List()
		ch <- prometheus.MustNewConstMetric(m.inProgress, prometheus.GaugeValue, float64(len(snaps)))
		now := time.Now()
		age := map[string]float64{}
		type key struct{ flow, split string }
		lag := map[key]int64{}
		for _, s := range snaps {
			since := s.StartedAt
			if s.LastCheckpointAt != nil {
				since = *s.LastCheckpointAt
			}
			age[s.Flow] = max(age[s.Flow], now.Sub(since).Seconds())
			for _, sp := range s.Splits {
				if sp.Lag >= 0 {
					k := key{s.Flow, sp.ID}
					lag[k] = max(lag[k], sp.Lag)
				}
			}
		}
		for f, a := range age {
			ch <- prometheus.MustNewConstMetric(m.checkpointAge, prometheus.GaugeValue, a, f)
		}
		for k, n := range lag {
			ch <- prometheus.MustNewConstMetric(m.lag, prometheus.GaugeValue, float64(n), k.flow, k.split)
		}
	}
	if db != nil {
		counts, err := queueDepth(db)
		if err != nil {
			// The other series stay scrapeable; the failure is counted
			// (in this scrape: the counter goes out after the query).
			m.queueErrors.Inc()
		} else {
			for _, st := range queueStates {
				ch <- prometheus.MustNewConstMetric(m.queue, prometheus.GaugeValue, float64(counts[st]), st)
			}
		}
	}
	ch <- m.queueErrors
}

// queueDepth counts the queue's waiting jobs by state.
func queueDepth(db *sql.DB) (map[string]int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), queueQueryTimeout)
	defer cancel()
	rows, err := db.QueryContext(ctx, `SELECT state, count(*) FROM river_job WHERE state IN ('available', 'scheduled', 'retryable') GROUP BY state`)
	if err != nil {
		return nil, fmt.Errorf("count queued jobs: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var st string
		var n int64
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("count queued jobs: %w", err)
		}
		out[st] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count queued jobs: %w", err)
	}
	return out, nil
}
