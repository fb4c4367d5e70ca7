package main

// Tests of `adf serve` while runs go: the live metrics (per-flow rows
// between two scrapes, rafka consumer-group lag) and cancelling runs
// through the API (an unbounded run ends with a final checkpoint, a bounded
// one stops). The real adf binary, real plugin processes, PostgreSQL and
// Redis.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/activedataflow/adf/host/store"
	"github.com/activedataflow/adf/internal/testkit"
)

const sequencePluginPkg = "sdk/examples/sequence/cmd/adf-plugin-sequence"

// scrapeMetrics returns the host's /metrics text.
func (h *svcHost) scrapeMetrics() string {
	h.t.Helper()
	resp, err := http.Get(h.url + "/metrics")
	if err != nil {
		h.t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		h.t.Fatalf("GET /metrics: %d %s", resp.StatusCode, b)
	}
	return string(b)
}

// metricValue returns the value of one series of a scrape, written as the
// text format writes it (`adf_flow_rows_total{flow="x",kind="read"}`).
func metricValue(body, series string) (float64, bool) {
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f, err == nil
		}
	}
	return 0, false
}

// series returns the lines of a scrape that start with prefix.
func series(body, prefix string) []string {
	var out []string
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, prefix) {
			out = append(out, line)
		}
	}
	return out
}

func (h *svcHost) trigger(flowName string) int64 {
	h.t.Helper()
	var run store.Run
	if code, body := h.api("POST", "/v1/flows/"+flowName+"/runs", nil, &run); code != 202 {
		h.t.Fatalf("trigger %s: %d %s", flowName, code, body)
	}
	return run.ID
}

// waitRead polls the run's row until its live count of rows read is at
// least n (the runner writes it every few seconds while the run goes).
func (h *svcHost) waitRead(id int64, n int64, timeout time.Duration) store.Run {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		run := h.getRun(id)
		if run.RecordsRead >= n {
			return run
		}
		if run.Status != store.StatusInProgress && run.Status != store.StatusPending {
			h.t.Fatalf("run %d ended %s (%s) before reading %d rows\n%s", id, run.Status, run.ErrorMessage, n, h.log())
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("run %d read %d rows after %s, want %d: its live counts do not reach the run row\n%s", id, run.RecordsRead, timeout, n, h.log())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestServeMetricsWhileRunning: during a continuous run the per-flow rows
// counter increases between two scrapes, without the run ending; the run
// is in progress, its checkpoint age is reported, and the queue depth is
// there.
func TestServeMetricsWhileRunning(t *testing.T) {
	work := t.TempDir()
	h := svcStart(t, svcConfig{dataDir: t.TempDir(), pluginDir: testkit.PluginDir(t, testkit.FilePlugin), work: work,
		dbURL: testkit.NewDatabase(t), adminToken: "admin-tok", args: []string{"--tick", "0"}})
	stream, outDir := filepath.Join(work, "stream"), filepath.Join(work, "out")
	mkdirAll(t, stream)
	h.applyFlow(map[string]any{"name": "live_rows", "checkpoint": map[string]any{"every": "1s"},
		"source": map[string]any{"type": "file", "config": map[string]any{"path": stream, "mode": "continuous", "discover_interval": "100ms"}},
		"sink":   map[string]any{"type": "file", "config": map[string]any{"path": outDir + "/"}}})
	id := h.trigger("live_rows")
	h.waitRunStatus(id, 30*time.Second, store.StatusInProgress)
	const read = `adf_flow_rows_total{flow="live_rows",kind="read"}`

	addCSV(t, stream, "a.csv", 1, 100)
	first := pollMetric(t, h, read, 30*time.Second, func(v float64) bool { return v >= 100 })
	addCSV(t, stream, "b.csv", 101, 50)
	second := pollMetric(t, h, read, 30*time.Second, func(v float64) bool { return v >= 150 })
	if second <= first {
		t.Fatalf("rows read went from %v to %v between two scrapes", first, second)
	}
	body := h.scrapeMetrics()
	if run := h.getRun(id); run.Status != store.StatusInProgress {
		t.Fatalf("the run is %s; the counters must move while it goes", run.Status)
	}
	if v, ok := metricValue(body, "adf_runs_in_progress"); !ok || v != 1 {
		t.Fatalf("adf_runs_in_progress = %v (%v), want 1:\n%s", v, ok, strings.Join(series(body, "adf_"), "\n"))
	}
	if _, ok := metricValue(body, `adf_flow_checkpoint_age_seconds{flow="live_rows"}`); !ok {
		t.Fatalf("no checkpoint age for the run in progress:\n%s", strings.Join(series(body, "adf_flow_"), "\n"))
	}
	pollMetric(t, h, `adf_flow_rows_total{flow="live_rows",kind="written"}`, 30*time.Second, func(v float64) bool { return v >= 150 })
	if _, ok := metricValue(body, `adf_queue_jobs{state="available"}`); !ok {
		t.Fatalf("no queue depth:\n%s", strings.Join(series(body, "adf_queue"), "\n"))
	}
	// The all-flows counter README documents follows too.
	if v, _ := metricValue(body, `adf_rows_total{kind="read"}`); v < 150 {
		t.Fatalf(`adf_rows_total{kind="read"} = %v, want >= 150`, v)
	}
	// Cancelled, the run's rows are not counted again.
	if code, body := h.api("POST", fmt.Sprintf("/v1/runs/%d/cancel", id), nil, nil); code != 202 {
		t.Fatalf("cancel: %d %s", code, body)
	}
	h.waitRunStatus(id, 60*time.Second, store.StatusCancelled)
	body = h.scrapeMetrics()
	if v, _ := metricValue(body, read); v != 150 {
		t.Fatalf("after the run ended %s = %v, want 150", read, v)
	}
	if v, _ := metricValue(body, `adf_flow_runs_total{flow="live_rows",status="cancelled"}`); v != 1 {
		t.Fatalf("cancelled runs = %v, want 1:\n%s", v, strings.Join(series(body, "adf_flow_runs"), "\n"))
	}
}

// pollMetric scrapes until the series satisfies ok and returns its value.
func pollMetric(t *testing.T, h *svcHost, name string, timeout time.Duration, ok func(float64) bool) float64 {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		body := h.scrapeMetrics()
		v, found := metricValue(body, name)
		if found && ok(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v (present %v) after %s:\n%s\n%s", name, v, found, timeout, strings.Join(series(body, "adf_"), "\n"), h.log())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestServeMetricsRafkaLag: a continuous rafka flow started behind a
// topic's backlog reports its consumer-group lag per partition above 0,
// and 0 once it has caught up.
func TestServeMetricsRafkaLag(t *testing.T) {
	redisURL := testkit.RedisURL(t)
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	ctx := context.Background()
	topic := fmt.Sprintf("lag_%d", time.Now().UnixNano())
	t.Cleanup(func() {
		keys, _ := rdb.Keys(context.Background(), "rafka:{"+topic+"}*").Result()
		if len(keys) > 0 {
			rdb.Del(context.Background(), keys...)
		}
	})
	// A backlog of 2 partitions, 30000 entries each: the run reads it in
	// batches of 50, behind for a while.
	const perPartition = 30000
	if err := rdb.HSet(ctx, "rafka:{"+topic+"}:meta", "partitions", 2).Err(); err != nil {
		t.Fatal(err)
	}
	for p := range 2 {
		pipe := rdb.Pipeline()
		for i := range perPartition {
			pipe.XAdd(ctx, &redis.XAddArgs{Stream: fmt.Sprintf("rafka:{%s}:%d", topic, p), Values: []any{"value", fmt.Sprintf(`{"id":%d}`, p*perPartition+i)}})
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	work := t.TempDir()
	h := svcStart(t, svcConfig{dataDir: t.TempDir(), pluginDir: testkit.PluginDir(t, testkit.FilePlugin, rafkaPluginPkg), work: work,
		dbURL: testkit.NewDatabase(t), adminToken: "admin-tok", args: []string{"--tick", "0"}})
	h.applyFlow(map[string]any{"name": "lagging", "parallelism": 2, "checkpoint": map[string]any{"every": "1s"},
		"source": map[string]any{"type": "rafka", "config": map[string]any{"url": redisURL, "topic": topic, "group": "g_" + topic,
			"format": "json", "mode": "continuous", "batch_size": 50}},
		"sink": map[string]any{"type": "file", "config": map[string]any{"path": filepath.Join(work, "out") + "/"}}})
	id := h.trigger("lagging")
	lagOf := func(body string) map[string]float64 {
		out := map[string]float64{}
		for _, line := range series(body, `adf_source_lag_records{flow="lagging",split="`) {
			f := strings.Fields(line)
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err != nil {
				t.Fatalf("bad series %q", line)
			}
			out[strings.TrimSuffix(strings.TrimPrefix(f[0], `adf_source_lag_records{flow="lagging",split="`), `"}`)] = v
		}
		return out
	}
	deadline := time.Now().Add(60 * time.Second)
	var behind map[string]float64
	for behind == nil {
		if time.Now().After(deadline) {
			t.Fatalf("no lag above 0 seen while the run read a backlog of %d entries\n%s", 2*perPartition, h.log())
		}
		for split, v := range lagOf(h.scrapeMetrics()) {
			if v > 0 {
				behind = map[string]float64{split: v}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("lag while behind: %v", behind)
	deadline = time.Now().Add(120 * time.Second)
	for {
		body := h.scrapeMetrics()
		lag := lagOf(body)
		read, _ := metricValue(body, `adf_flow_rows_total{flow="lagging",kind="read"}`)
		caughtUp := len(lag) == 2 && read == 2*perPartition
		for _, v := range lag {
			caughtUp = caughtUp && v == 0
		}
		if caughtUp {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 120s: lag %v, rows read %v, want lag 0 on both partitions after %d rows\n%s", lag, read, 2*perPartition, h.log())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if run := h.getRun(id); run.Status != store.StatusInProgress {
		t.Fatalf("the continuous run is %s (%s)", run.Status, run.ErrorMessage)
	}
}

// TestServeCancelUnboundedRun: a cancel request stops a continuous run
// with a final checkpoint: the rows it read after its last periodic one
// (none here: checkpoints every hour) are in its single output file,
// published, each exactly once, and the run is cancelled.
func TestServeCancelUnboundedRun(t *testing.T) {
	work := t.TempDir()
	h := svcStart(t, svcConfig{dataDir: t.TempDir(), pluginDir: testkit.PluginDir(t, testkit.FilePlugin), work: work,
		dbURL: testkit.NewDatabase(t), adminToken: "admin-tok", args: []string{"--tick", "0", "--lease-ttl", "3s"}})
	stream := filepath.Join(work, "stream")
	mkdirAll(t, stream)
	out := filepath.Join(work, "out.jsonl")
	h.applyFlow(map[string]any{"name": "endless", "checkpoint": map[string]any{"every": "1h"},
		"source": map[string]any{"type": "file", "config": map[string]any{"path": stream, "mode": "continuous", "discover_interval": "100ms"}},
		"sink":   map[string]any{"type": "file", "config": map[string]any{"path": out}}})
	id := h.trigger("endless")
	h.waitRunStatus(id, 30*time.Second, store.StatusInProgress)
	addCSV(t, stream, "a.csv", 1, 40)
	addCSV(t, stream, "b.csv", 41, 60)
	h.waitRead(id, 100, 30*time.Second)
	if code, body := h.api("POST", fmt.Sprintf("/v1/runs/%d/cancel", id), nil, nil); code != 202 {
		t.Fatalf("cancel: %d %s", code, body)
	}
	run := h.waitRunStatus(id, 60*time.Second, store.StatusCancelled, store.StatusFailed, store.StatusSuccess)
	if run.Status != store.StatusCancelled {
		t.Fatalf("run %d ended %s (%s), want cancelled\n%s", id, run.Status, run.ErrorMessage, h.log())
	}
	var ids []int64
	for _, row := range readJSONLines(t, out) {
		ids = append(ids, intField(t, row, "id"))
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	if len(ids) != 100 {
		t.Fatalf("the output holds %d rows, want the 100 read before the cancel (its final checkpoint publishes them)\n%s", len(ids), h.log())
	}
	for i, v := range ids {
		if v != int64(i+1) {
			t.Fatalf("the output's ids are not 1..100 each once: %v", ids)
		}
	}
	if run.RecordsRead != 100 || run.RecordsWritten != 100 {
		t.Fatalf("cancelled run records read %d, written %d, want 100 and 100", run.RecordsRead, run.RecordsWritten)
	}
	if !strings.Contains(h.log(), "run cancelled: taking its final checkpoint") {
		t.Fatalf("no final checkpoint logged\n%s", h.log())
	}
}

// TestServeCancelBoundedRun: a cancel request stops a long bounded run at
// once (its source cannot be unbounded); it is cancelled, not finished.
func TestServeCancelBoundedRun(t *testing.T) {
	work := t.TempDir()
	h := svcStart(t, svcConfig{dataDir: t.TempDir(), pluginDir: testkit.PluginDir(t, sequencePluginPkg, rafkaPluginPkg), work: work,
		dbURL: testkit.NewDatabase(t), adminToken: "admin-tok", args: []string{"--tick", "0", "--lease-ttl", "3s"}})
	const count = 2_000_000_000
	h.applyFlow(map[string]any{"name": "long_bounded", "checkpoint": map[string]any{"every": "1s"},
		"source": map[string]any{"type": "sequence", "config": map[string]any{"count": count}},
		"sink":   map[string]any{"type": "discard"}})
	id := h.trigger("long_bounded")
	h.waitRead(id, 1, 60*time.Second)
	if code, body := h.api("POST", fmt.Sprintf("/v1/runs/%d/cancel", id), nil, nil); code != 202 {
		t.Fatalf("cancel: %d %s", code, body)
	}
	run := h.waitRunStatus(id, 30*time.Second, store.StatusCancelled, store.StatusFailed, store.StatusSuccess)
	if run.Status != store.StatusCancelled {
		t.Fatalf("run %d ended %s (%s), want cancelled\n%s", id, run.Status, run.ErrorMessage, h.log())
	}
	if run.RecordsRead <= 0 || run.RecordsRead >= count {
		t.Fatalf("cancelled run read %d of %d rows", run.RecordsRead, count)
	}
	if code, _ := h.api("POST", fmt.Sprintf("/v1/runs/%d/cancel", id), nil, nil); code != 409 {
		t.Fatalf("cancelling the ended run again: %d, want 409", code)
	}
}

func mkdirAll(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}
