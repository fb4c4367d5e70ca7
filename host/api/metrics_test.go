package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/activedataflow/adf/host/api"
	"github.com/activedataflow/adf/host/progress"
	"github.com/activedataflow/adf/host/runner"
	"github.com/activedataflow/adf/host/store"
	"github.com/activedataflow/adf/internal/testkit"
	"github.com/activedataflow/adf/sdk/flow"
)

// scrape serves one /metrics request and returns its text.
func scrape(t *testing.T, m *api.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("/metrics: %d %s", rec.Code, rec.Body)
	}
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

// sample returns the value of the series (name and labels as the text
// format writes them, e.g. `adf_flow_rows_total{flow="a",kind="read"}`),
// and whether it is there.
func sample(body, series string) (float64, bool) {
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f, err == nil
		}
	}
	return 0, false
}

func wantSample(t *testing.T, body, series string, want float64) {
	t.Helper()
	got, ok := sample(body, series)
	if !ok {
		t.Fatalf("no series %s in:\n%s", series, grepADF(body))
	}
	if got != want {
		t.Fatalf("%s = %v, want %v", series, got, want)
	}
}

func grepADF(body string) string {
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, "adf_") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestMetricsLiveCounts: the per-flow counters follow the live counts of a
// run in progress, never step back when an attempt restarts, and count a
// finished run's remainder exactly once.
func TestMetricsLiveCounts(t *testing.T) {
	m := api.NewMetrics()
	tr := progress.New()
	m.Attach(tr, nil)
	tr.Update(1, func(s *progress.Snapshot) { s.Flow, s.RowsRead, s.RowsWritten, s.BytesRead = "orders", 10, 5, 100 })
	body := scrape(t, m)
	wantSample(t, body, `adf_flow_rows_total{flow="orders",kind="read"}`, 10)
	wantSample(t, body, `adf_flow_rows_total{flow="orders",kind="written"}`, 5)
	wantSample(t, body, `adf_flow_bytes_total{flow="orders",kind="read"}`, 100)
	wantSample(t, body, `adf_rows_total{kind="read"}`, 10)
	wantSample(t, body, `adf_runs_in_progress`, 1)

	tr.Update(1, func(s *progress.Snapshot) { s.RowsRead, s.RowsWritten = 25, 20 })
	wantSample(t, scrape(t, m), `adf_flow_rows_total{flow="orders",kind="read"}`, 25)

	// An attempt restarted from its checkpoint: the live count goes back,
	// the counter does not, and the re-read rows count past the highest.
	tr.Update(1, func(s *progress.Snapshot) { s.RowsRead, s.Restarts = 18, 1 })
	body = scrape(t, m)
	wantSample(t, body, `adf_flow_rows_total{flow="orders",kind="read"}`, 25)
	wantSample(t, body, `adf_flow_restarts_total{flow="orders"}`, 1)
	tr.Update(1, func(s *progress.Snapshot) { s.RowsRead = 28 })
	wantSample(t, scrape(t, m), `adf_flow_rows_total{flow="orders",kind="read"}`, 28)

	// The run ends: its outcome is observed while the tracker still has it
	// (the runner's order), then it leaves the tracker.
	ended := time.Unix(1_700_000_000, 0)
	m.Run(&store.Run{ID: 1, FlowName: "orders", Status: store.StatusSuccess, RecordsRead: 30, RecordsWritten: 30, BytesWritten: 900, EndedAt: &ended}, 2*time.Second, nil)
	body = scrape(t, m) // a scrape between the outcome and the tracker's Finish
	wantSample(t, body, `adf_flow_rows_total{flow="orders",kind="read"}`, 30)
	tr.Finish(1)
	for range 2 {
		body = scrape(t, m)
		wantSample(t, body, `adf_flow_rows_total{flow="orders",kind="read"}`, 30)
		wantSample(t, body, `adf_flow_rows_total{flow="orders",kind="written"}`, 30)
		wantSample(t, body, `adf_rows_total{kind="read"}`, 30)
		wantSample(t, body, `adf_flow_bytes_total{flow="orders",kind="written"}`, 900)
	}
	wantSample(t, body, `adf_flow_runs_total{flow="orders",status="success"}`, 1)
	wantSample(t, body, `adf_runs_total{status="success"}`, 1)
	wantSample(t, body, `adf_flow_run_duration_seconds_count{flow="orders"}`, 1)
	wantSample(t, body, `adf_flow_run_duration_seconds_sum{flow="orders"}`, 2)
	wantSample(t, body, `adf_flow_last_success_timestamp_seconds{flow="orders"}`, 1_700_000_000)
	wantSample(t, body, `adf_runs_in_progress`, 0)
	if _, ok := sample(body, `adf_flow_checkpoint_age_seconds{flow="orders"}`); ok {
		t.Fatal("a checkpoint age is reported for a flow with no run in progress")
	}
}

// TestMetricsRetriedRun: a failed attempt's counts carry over to the run's
// next attempt on this host, which starts from its checkpoint's counts:
// nothing is counted twice.
func TestMetricsRetriedRun(t *testing.T) {
	m := api.NewMetrics()
	tr := progress.New()
	m.Attach(tr, nil)
	tr.Update(5, func(s *progress.Snapshot) { s.Flow, s.RowsRead = "f", 40 })
	scrape(t, m)
	m.Run(&store.Run{ID: 5, FlowName: "f", Status: store.StatusPending, RecordsRead: 30}, time.Second, errors.New("plugin died"))
	tr.Finish(5)
	m.Run(&store.Run{ID: 6, FlowName: "f", Status: store.StatusPending, RecordsRead: 3}, time.Second, runner.ErrSuspended)
	body := scrape(t, m)
	wantSample(t, body, `adf_flow_runs_total{flow="f",status="retrying"}`, 1)
	wantSample(t, body, `adf_flow_runs_total{flow="f",status="suspended"}`, 1)
	wantSample(t, body, `adf_flow_rows_total{flow="f",kind="read"}`, 43)
	// The retry resumes from the 30 committed rows.
	tr.Update(5, func(s *progress.Snapshot) { s.Flow, s.RowsRead = "f", 30 })
	wantSample(t, scrape(t, m), `adf_flow_rows_total{flow="f",kind="read"}`, 43)
	tr.Update(5, func(s *progress.Snapshot) { s.RowsRead = 50 })
	wantSample(t, scrape(t, m), `adf_flow_rows_total{flow="f",kind="read"}`, 53)
	m.Run(&store.Run{ID: 5, FlowName: "f", Status: store.StatusFailed, RecordsRead: 45}, time.Second, errors.New("bad config"))
	tr.Finish(5)
	body = scrape(t, m)
	wantSample(t, body, `adf_flow_rows_total{flow="f",kind="read"}`, 53)
	wantSample(t, body, `adf_flow_runs_total{flow="f",status="failed"}`, 1)
	if _, ok := sample(body, `adf_flow_last_success_timestamp_seconds{flow="f"}`); ok {
		t.Fatal("a flow without a success has a last success time")
	}
}

// TestMetricsLagAndCheckpointAge: the lag of each split and the age of the
// last checkpoint of the runs in progress.
func TestMetricsLagAndCheckpointAge(t *testing.T) {
	m := api.NewMetrics()
	tr := progress.New()
	m.Attach(tr, nil)
	cp := time.Now().Add(-time.Minute)
	tr.Update(1, func(s *progress.Snapshot) {
		s.Flow = "events"
		s.LastCheckpointAt = &cp
		s.Splits = []progress.Split{
			{ID: "events-0", Reader: 0, State: progress.SplitAssigned, Lag: 120},
			{ID: "events-1", Reader: 1, State: progress.SplitAssigned, Lag: 0},
			{ID: "events-2", Reader: -1, State: progress.SplitPending, Lag: -1},
		}
	})
	body := scrape(t, m)
	wantSample(t, body, `adf_source_lag_records{flow="events",split="events-0"}`, 120)
	wantSample(t, body, `adf_source_lag_records{flow="events",split="events-1"}`, 0)
	if _, ok := sample(body, `adf_source_lag_records{flow="events",split="events-2"}`); ok {
		t.Fatal("an unknown lag (-1) is reported")
	}
	age, ok := sample(body, `adf_flow_checkpoint_age_seconds{flow="events"}`)
	if !ok || age < 60 || age > 3600 {
		t.Fatalf("checkpoint age %v (%v), want about a minute", age, ok)
	}
	tr.Finish(1)
	if _, ok := sample(scrape(t, m), `adf_source_lag_records{flow="events",split="events-0"}`); ok {
		t.Fatal("the lag of a run no longer in progress is still reported")
	}
}

// TestMetricsQueueDepth counts the queue's waiting jobs from the store's
// River tables, on both databases.
func TestMetricsQueueDepth(t *testing.T) {
	for _, dialect := range dialects() {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			url := ""
			if dialect == "postgres" {
				url = testkit.NewDatabase(t)
			}
			st, err := store.Open(ctx, url, filepath.Join(t.TempDir(), "data"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			if _, err := st.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			r, err := runner.New(runner.Options{Store: st})
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			m := api.NewMetrics()
			m.Attach(progress.New(), st)
			body := scrape(t, m)
			for _, state := range []string{"available", "scheduled", "retryable"} {
				wantSample(t, body, `adf_queue_jobs{state="`+state+`"}`, 0)
			}
			for _, name := range []string{"a", "b"} {
				f, err := flow.Parse([]byte(`{"name": "` + name + `", "source": {"type": "file", "config": {"path": "in.csv"}}, "sink": {"type": "file", "config": {"path": "out.csv"}}}`))
				if err != nil {
					t.Fatal(err)
				}
				if _, _, err := st.ApplyFlow(ctx, f, time.Now()); err != nil {
					t.Fatal(err)
				}
				// The runner is not started: the job waits.
				if _, err := r.Trigger(ctx, name); err != nil {
					t.Fatal(err)
				}
			}
			body = scrape(t, m)
			wantSample(t, body, `adf_queue_jobs{state="available"}`, 2)
			wantSample(t, body, `adf_queue_jobs{state="scheduled"}`, 0)
			wantSample(t, body, `adf_queue_depth_errors_total`, 0)
			// A database that cannot answer leaves the series out and
			// counts the failure; the rest of the scrape works.
			st.Close()
			body = scrape(t, m)
			if _, ok := sample(body, `adf_queue_jobs{state="available"}`); ok {
				t.Fatal("queue depth reported from a closed database")
			}
			wantSample(t, body, `adf_queue_depth_errors_total`, 1)
			wantSample(t, body, `adf_runs_in_progress`, 0)
		})
	}
}

// TestMetricsDuringRun: with a real runner and the file plugin, the
// per-flow counters move while a continuous run goes (two scrapes), and
// stay at the run's final counts after it is cancelled.
func TestMetricsDuringRun(t *testing.T) {
	tr := progress.New()
	h := newHost(t, "sqlite", hostOptions{started: true, progress: tr, leaseTTL: 3 * time.Second}, testkit.FilePlugin)
	h.api.Metrics.Attach(tr, h.st)
	stream, out := filepath.Join(h.dir, "stream"), filepath.Join(h.dir, "out")
	if err := os.MkdirAll(stream, 0o755); err != nil {
		t.Fatal(err)
	}
	doc := map[string]any{"name": "cont", "checkpoint": map[string]any{"every": "500ms"},
		"source": map[string]any{"type": "file", "config": map[string]any{"path": stream, "mode": "continuous", "discover_interval": "100ms"}},
		"sink":   map[string]any{"type": "file", "config": map[string]any{"path": out + "/"}}}
	if code, b := h.do("POST", "/v1/flows", "", doc, nil); code != http.StatusCreated {
		t.Fatalf("apply: %d %s", code, b)
	}
	id := h.trigger("cont")
	addRows := func(name string, first, n int) {
		var b strings.Builder
		b.WriteString("id,word\n")
		for i := first; i < first+n; i++ {
			fmt.Fprintf(&b, "%d,w%d\n", i, i)
		}
		tmp := write(t, filepath.Join(stream, "."+name), b.String())
		if err := os.Rename(tmp, filepath.Join(stream, name)); err != nil {
			t.Fatal(err)
		}
	}
	poll := func(series string, want float64) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			body := scrape(t, h.api.Metrics)
			if v, _ := sample(body, series); v == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never reached %v:\n%s", series, want, grepADF(body))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	addRows("a.csv", 1, 10)
	poll(`adf_flow_rows_total{flow="cont",kind="read"}`, 10)
	addRows("b.csv", 11, 5)
	poll(`adf_flow_rows_total{flow="cont",kind="read"}`, 15)
	poll(`adf_flow_rows_total{flow="cont",kind="written"}`, 15)
	if run, err := h.st.GetRun(context.Background(), id); err != nil || run.Status != store.StatusInProgress {
		t.Fatalf("run %d: %+v %v: the counters must move while it goes", id, run, err)
	}
	if err := h.st.RequestCancel(context.Background(), id, time.Now()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		run, err := h.st.GetRun(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if run.Status == store.StatusCancelled {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %d is %s after the cancel request", id, run.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
	poll(`adf_flow_runs_total{flow="cont",status="cancelled"}`, 1)
	body := scrape(t, h.api.Metrics)
	wantSample(t, body, `adf_flow_rows_total{flow="cont",kind="read"}`, 15)
	wantSample(t, body, `adf_rows_total{kind="read"}`, 15)
	wantSample(t, body, `adf_runs_in_progress`, 0)
}

// TestDashboardQueriesKnownMetrics: every metric the shipped Grafana
// dashboard queries is one /metrics exposes, and the dashboard is a
// Grafana dashboard with a Prometheus data source variable.
func TestDashboardQueriesKnownMetrics(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testkit.RepoRoot(t), "examples", "grafana", "adf-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title      string `json:"title"`
		Templating struct {
			List []struct{ Name, Type, Query any } `json:"list"`
		} `json:"templating"`
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	var hasDS bool
	for _, v := range dash.Templating.List {
		hasDS = hasDS || (v.Type == "datasource" && v.Query == "prometheus")
	}
	if dash.Title == "" || !hasDS {
		t.Fatalf("dashboard %q has no Prometheus data source variable", dash.Title)
	}
	// Every series the dashboard can query, made to exist.
	st, err := store.Open(context.Background(), "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	r, err := runner.New(runner.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	m := api.NewMetrics()
	tr := progress.New()
	m.Attach(tr, st)
	tr.Update(1, func(s *progress.Snapshot) {
		s.Flow, s.RowsRead, s.RowsRejected, s.BytesRead, s.Restarts = "f", 5, 1, 10, 1
		s.Splits = []progress.Split{{ID: "p0", Lag: 3}}
	})
	m.Run(&store.Run{ID: 2, FlowName: "f", Status: store.StatusSuccess, RecordsWritten: 4, BytesWritten: 9}, time.Second, nil)
	m.Heartbeat("ok")
	body := scrape(t, m)
	nameRE := regexp.MustCompile(`adf_[a-z_]+`)
	queried := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, name := range nameRE.FindAllString(tg.Expr, -1) {
				queried++
				if !strings.Contains(body, "\n"+name+"{") && !strings.Contains(body, "\n"+name+" ") {
					t.Errorf("panel %q queries %s, which /metrics does not expose", p.Title, name)
				}
			}
		}
	}
	if queried < 10 {
		t.Fatalf("the dashboard queries %d metrics", queried)
	}
}
