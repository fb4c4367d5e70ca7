package api_test

// Integration tests of the HTTP API around a real store (PostgreSQL through
// testkit, and SQLite in a temp dir), a real runner (River) and real plugin
// processes (the file plugin and the SDK's example sequence plugin).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/activedataflow/adf/host/access"
	"github.com/activedataflow/adf/host/api"
	"github.com/activedataflow/adf/host/builtin"
	"github.com/activedataflow/adf/host/progress"
	"github.com/activedataflow/adf/host/runner"
	"github.com/activedataflow/adf/host/store"
	"github.com/activedataflow/adf/internal/testkit"
)

const (
	adminToken     = "admin-secret-token"
	operatorToken  = "operator-secret-token"
	viewerToken    = "viewer-secret-token"
	sequencePlugin = "sdk/examples/sequence/cmd/adf-plugin-sequence"
)

// host is one in-process host: store, registry, runner and HTTP server.
type host struct {
	t         *testing.T
	st        *store.Store
	r         *runner.Runner
	srv       *httptest.Server
	api       *api.Server
	pluginDir string
	dir       string

	mu       sync.Mutex
	observed []observation
}

// observation is what the runner reported at the end of one attempt, with
// the flow's last_run_status read at that moment.
type observation struct {
	runID      int64
	attempt    int
	runStatus  string
	flowStatus string
}

type hostOptions struct {
	maxAttempts int
	started     bool
	// progress is the tracker the runner writes and the API reads (nil:
	// none, as without live progress).
	progress *progress.Tracker
	// leaseTTL is the runner's lease time (0: its default).
	leaseTTL time.Duration
}

func dialects() []string { return []string{"postgres", "sqlite"} }

func newHost(t *testing.T, dialect string, o hostOptions, plugins ...string) *host {
	t.Helper()
	ctx := context.Background()
	url := ""
	if dialect == "postgres" {
		url = testkit.NewDatabase(t)
	}
	h := &host{t: t, dir: t.TempDir()}
	st, err := store.Open(ctx, url, filepath.Join(h.dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	h.st = st
	h.pluginDir = testkit.PluginDir(t, plugins...)
	reg, err := builtin.Registry(ctx, h.pluginDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	metrics := api.NewMetrics()
	r, err := runner.New(runner.Options{Store: st, Registry: reg, DataDir: filepath.Join(h.dir, "data"), Workers: 2,
		MaxAttempts: o.maxAttempts, RetryBackoff: 100 * time.Millisecond, PollInterval: 100 * time.Millisecond,
		Progress: o.progress, LeaseTTL: o.leaseTTL,
		Observe: func(run *store.Run, d time.Duration, err error) {
			metrics.Run(run, d, err)
			flowStatus := "" // the flow may have been deleted under its run
			if rec, gerr := st.GetFlow(context.Background(), run.FlowName); gerr == nil {
				flowStatus = rec.LastRunStatus
			} else if !errors.Is(gerr, store.ErrNotFound) {
				t.Errorf("observe: %v", gerr)
				return
			}
			h.mu.Lock()
			h.observed = append(h.observed, observation{run.ID, run.Attempt, run.Status, flowStatus})
			h.mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	h.r = r
	admin, err := access.New(access.Config{Tokens: []string{adminToken}, OperatorTokens: []string{operatorToken}, ViewerTokens: []string{viewerToken}})
	if err != nil {
		t.Fatal(err)
	}
	s := &api.Server{Store: st, Runner: r, Registry: reg, Log: nil, Admin: admin, Metrics: metrics, Progress: o.progress}
	s.Log = testLogger()
	h.api = s
	h.srv = httptest.NewServer(s.Handler())
	t.Cleanup(h.srv.Close)
	if o.started {
		if err := r.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_ = r.Stop(sctx)
		})
	}
	return h
}

// do sends a request with the admin token (unless token is "-") and decodes
// the JSON answer into out (when not nil).
func (h *host) do(method, path, token string, body any, out any) (int, []byte) {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, h.srv.URL+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if token == "" {
		token = adminToken
	}
	if token != "-" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			h.t.Fatalf("%s %s: decode %q: %v", method, path, b, err)
		}
	}
	return resp.StatusCode, b
}

func write(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// waitRun polls a run until it ends (success or failed).
func (h *host) waitRun(id int64, timeout time.Duration) *store.Run {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		run, err := h.st.GetRun(context.Background(), id)
		if err != nil {
			h.t.Fatal(err)
		}
		if run.Status == store.StatusSuccess || run.Status == store.StatusFailed {
			return run
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("run %d still %s (attempt %d) after %s: %s", id, run.Status, run.Attempt, timeout, run.ErrorMessage)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (h *host) trigger(name string) int64 {
	h.t.Helper()
	var run store.Run
	if code, b := h.do("POST", "/v1/flows/"+name+"/runs", "", nil, &run); code != http.StatusAccepted {
		h.t.Fatalf("trigger %s: %d %s", name, code, b)
	}
	return run.ID
}

func readLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%s: %q: %v", path, line, err)
		}
		out = append(out, m)
	}
	return out
}

// riverJobs returns (state, attempt) of every job of the queue.
func riverJobs(t *testing.T, st *store.Store) [][2]string {
	t.Helper()
	rows, err := st.DB().Query(`SELECT state, attempt FROM river_job ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out [][2]string
	for rows.Next() {
		var state string
		var attempt int
		if err := rows.Scan(&state, &attempt); err != nil {
			t.Fatal(err)
		}
		out = append(out, [2]string{state, fmt.Sprint(attempt)})
	}
	return out
}

// Invalid config: 422 naming every bad field; nothing saved. Unknown type:
// 422 with the missing-plugin message. The admin API refuses a missing or
// wrong token.
func TestInvalidFlowRejected(t *testing.T) {
	for _, dialect := range dialects() {
		t.Run(dialect, func(t *testing.T) {
			h := newHost(t, dialect, hostOptions{}, testkit.FilePlugin)
			// Several bad component configs at once.
			bad := map[string]any{
				"name":   "bad",
				"source": map[string]any{"type": "file", "config": map[string]any{"path": "in.csv", "bogus": 1}},
				"transforms": []any{
					map[string]any{"type": "filter", "config": map[string]any{"expr": "amount >"}},
				},
				"sink":     map[string]any{"type": "file", "config": map[string]any{"format": "jsonl"}},
				"schedule": map[string]any{"every": "1h"},
			}
			var body api.ErrorBody
			code, raw := h.do("POST", "/v1/flows", "", bad, &body)
			if code != http.StatusUnprocessableEntity {
				t.Fatalf("POST bad flow: %d %s, want 422", code, raw)
			}
			var fields []string
			for _, p := range body.Problems {
				fields = append(fields, p.Field)
				if p.Reason == "" {
					t.Errorf("problem %+v has no reason", p)
				}
			}
			want := []string{"source.config.bogus", "transforms[0].config.expr", "sink.config.path"}
			if strings.Join(fields, ",") != strings.Join(want, ",") {
				t.Errorf("problems name %q, want %q\n%s", fields, want, raw)
			}
			// Flow-level and component-level problems together: every one is
			// named.
			bad["on_error"] = "explode"
			body = api.ErrorBody{}
			code, raw = h.do("PUT", "/v1/flows/bad", "", bad, &body)
			fields = fields[:0]
			for _, p := range body.Problems {
				fields = append(fields, p.Field)
			}
			sort.Strings(fields)
			want = []string{"on_error", "sink.config.path", "source.config.bogus", "transforms[0].config.expr"}
			if code != http.StatusUnprocessableEntity || strings.Join(fields, ",") != strings.Join(want, ",") {
				t.Errorf("PUT flow with bad on_error and bad configs: %d, problems %q, want 422 naming %q\n%s", code, fields, want, raw)
			}
			// Unknown source type: the helpful missing-plugin message.
			body = api.ErrorBody{}
			code, raw = h.do("POST", "/v1/flows", "", map[string]any{
				"name":   "missing",
				"source": map[string]any{"type": "fiel", "config": map[string]any{"path": "in.csv"}},
				"sink":   map[string]any{"type": "file", "config": map[string]any{"path": "out.jsonl"}},
			}, &body)
			if code != http.StatusUnprocessableEntity || body.Error != "plugin_missing" ||
				!strings.Contains(body.Message, `source type "fiel" is not installed`) || !strings.Contains(body.Message, `did you mean "file"?`) {
				t.Errorf("unknown source type: %d %s, want 422 plugin_missing with a suggestion", code, raw)
			}
			// Nothing saved.
			for _, name := range []string{"bad", "missing"} {
				if code, raw := h.do("GET", "/v1/flows/"+name, "", nil, nil); code != http.StatusNotFound {
					t.Errorf("GET /v1/flows/%s: %d %s, want 404", name, code, raw)
				}
			}
			var list []*store.FlowRecord
			if code, raw := h.do("GET", "/v1/flows", "", nil, &list); code != 200 || len(list) != 0 {
				t.Errorf("GET /v1/flows: %d %s, want an empty list", code, raw)
			}
			if flows, err := h.st.ListFlows(context.Background()); err != nil || len(flows) != 0 {
				t.Errorf("store holds %d flows (%v), want none", len(flows), err)
			}
			// Admin token.
			for _, tok := range []string{"-", "wrong-token"} {
				for _, path := range []string{"/v1/flows", "/v1/runs", "/v1/plugins"} {
					code, raw := h.do("GET", path, tok, nil, nil)
					if code != http.StatusUnauthorized || strings.Contains(string(raw), adminToken) {
						t.Errorf("GET %s with token %q: %d %s, want 401", path, tok, code, raw)
					}
				}
			}
			if code, raw := h.do("POST", "/v1/flows", "wrong-token", bad, nil); code != http.StatusUnauthorized {
				t.Errorf("POST /v1/flows with a wrong token: %d %s, want 401", code, raw)
			}
		})
	}
}

// A flow's source type changed from file to another installed type through
// the API: the next run uses it without a restart; the config version is
// bumped and each run records the config it used.
func TestSourceTypeChange(t *testing.T) {
	for _, dialect := range dialects() {
		t.Run(dialect, func(t *testing.T) {
			h := newHost(t, dialect, hostOptions{started: true}, testkit.FilePlugin, sequencePlugin)
			in := write(t, filepath.Join(h.dir, "in.csv"), "n\n100\n200\n300\n")
			out1, out2 := filepath.Join(h.dir, "out1.jsonl"), filepath.Join(h.dir, "out2.jsonl")
			doc := func(source map[string]any, out string) map[string]any {
				return map[string]any{"name": "switch", "source": source,
					"sink": map[string]any{"type": "file", "config": map[string]any{"path": out}}}
			}
			var rec store.FlowRecord
			code, raw := h.do("POST", "/v1/flows", "", doc(map[string]any{"type": "file", "config": map[string]any{"path": in}}, out1), &rec)
			if code != http.StatusCreated || rec.ConfigVersion != 1 {
				t.Fatalf("create: %d %s", code, raw)
			}
			run1 := h.waitRun(h.trigger("switch"), time.Minute)
			if typ, cfg := sourceOf(t, run1.Config); run1.Status != store.StatusSuccess || run1.ConfigVersion != 1 || run1.RecordsWritten != 3 ||
				typ != "file" || cfg["path"] != in {
				t.Fatalf("first run %+v config %s: want success with config v1 (file source), 3 rows", run1, run1.Config)
			}
			rec = store.FlowRecord{}
			code, raw = h.do("PUT", "/v1/flows/switch", "", doc(map[string]any{"type": "sequence", "config": map[string]any{"count": 7}}, out2), &rec)
			if code != http.StatusOK || rec.ConfigVersion != 2 || rec.Flow.Source.Type != "sequence" {
				t.Fatalf("update: %d %s, want 200 with config_version 2", code, raw)
			}
			// Applying the same document again changes nothing.
			rec = store.FlowRecord{}
			if code, raw := h.do("PUT", "/v1/flows/switch", "", doc(map[string]any{"type": "sequence", "config": map[string]any{"count": 7}}, out2), &rec); code != 200 || rec.ConfigVersion != 2 {
				t.Fatalf("re-apply: %d %s, want 200 with config_version still 2", code, raw)
			}
			var got store.Run
			id2 := h.trigger("switch")
			run2 := h.waitRun(id2, time.Minute)
			if code, raw := h.do("GET", fmt.Sprintf("/v1/runs/%d", id2), "", nil, &got); code != 200 || got.ConfigVersion != 2 {
				t.Fatalf("GET run: %d %s", code, raw)
			}
			if typ, cfg := sourceOf(t, got.Config); run2.Status != store.StatusSuccess || run2.ConfigVersion != 2 || run2.RecordsWritten != 7 ||
				typ != "sequence" || cfg["count"] != 7.0 {
				t.Fatalf("second run %+v config %s: want success with config v2 (sequence source), 7 rows", run2, got.Config)
			}
			var ns []int
			for _, row := range readLines(t, out2) {
				ns = append(ns, int(row["n"].(float64)))
			}
			sort.Ints(ns)
			if fmt.Sprint(ns) != "[0 1 2 3 4 5 6]" {
				t.Errorf("second run wrote n = %v, want 0..6", ns)
			}
			if rows := readLines(t, out1); len(rows) != 3 {
				t.Errorf("first run's output has %d rows, want 3", len(rows))
			}
			// The first run still records the config it used.
			first, err := h.st.GetRun(context.Background(), run1.ID)
			if typ, _ := sourceOf(t, first.Config); err != nil || first.ConfigVersion != 1 || typ != "file" {
				t.Errorf("first run after the change: %+v %s (%v), want config v1 kept", first, first.Config, err)
			}
		})
	}
}

// A failing flow whose failure may pass (its runtime plugin's binary was
// replaced after the flow was applied by one that crashes at start) is
// retried by the queue: the run stays pending between attempts, then ends
// failed on the last attempt with a message and a backtrace, and the
// flow's last_run_status follows. A bad record under on_error: fail is
// permanent: failed on attempt 1 with the file:line in the message, no
// retry.
func TestFailingFlow(t *testing.T) {
	for _, dialect := range dialects() {
		t.Run(dialect, func(t *testing.T) {
			const attempts = 3
			h := newHost(t, dialect, hostOptions{maxAttempts: attempts}, testkit.FilePlugin, sequencePlugin)
			ctx := context.Background()
			out := filepath.Join(h.dir, "out.jsonl")
			if code, raw := h.do("POST", "/v1/flows", "", map[string]any{"name": "transient",
				"source":  map[string]any{"type": "sequence", "config": map[string]any{"count": 5}},
				"sink":    map[string]any{"type": "file", "config": map[string]any{"path": out}},
				"runtime": map[string]any{"type": "inline"}}, nil); code != http.StatusCreated {
				t.Fatalf("create: %d %s", code, raw)
			}
			bin := filepath.Join(h.pluginDir, "adf-plugin-sequence")
			if err := os.Remove(bin); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(bin, []byte("#!/bin/sh\necho 'crashed at start' >&2\nexit 3\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			id := h.trigger("transient")
			var rec store.FlowRecord
			if code, raw := h.do("GET", "/v1/flows/transient", "", nil, &rec); code != 200 || rec.LastRunStatus != store.StatusPending {
				t.Fatalf("flow after trigger: %d %s, want last_run_status pending", code, raw)
			}
			if err := h.r.Start(ctx); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				_ = h.r.Stop(sctx)
			})
			start := time.Now()
			run := h.waitRun(id, time.Minute)
			elapsed := time.Since(start)
			if run.Status != store.StatusFailed || run.Attempt != attempts || run.ErrorMessage == "" ||
				!strings.Contains(run.ErrorBacktrace, "0: ") || !strings.Contains(run.ErrorBacktrace, "\n1: ") || run.EndedAt == nil {
				t.Fatalf("run %+v: want failed on attempt %d with message and backtrace", run, attempts)
			}
			// Backoff 100ms then 200ms between the attempts.
			if elapsed < 300*time.Millisecond {
				t.Errorf("3 attempts took %s, want the retry backoff (>= 300ms)", elapsed)
			}
			f, err := h.st.GetFlow(ctx, "transient")
			if err != nil || f.LastRunStatus != store.StatusFailed || f.LastError != run.ErrorMessage {
				t.Errorf("flow %+v (%v): want last_run_status failed with the run's error", f, err)
			}
			want := []observation{{id, 1, "pending", "pending"}, {id, 2, "pending", "pending"}, {id, 3, "failed", "failed"}}
			// The last attempt is observed just after its outcome is
			// stored, which waitRun may see first.
			var obs []observation
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				h.mu.Lock()
				obs = append([]observation(nil), h.observed...)
				h.mu.Unlock()
				if len(obs) >= len(want) || time.Now().After(deadline) {
					break
				}
			}
			if fmt.Sprint(obs) != fmt.Sprint(want) {
				t.Errorf("attempts observed %v, want %v", obs, want)
			}
			if jobs := waitJobs(t, h.st, "[[discarded 3]]"); fmt.Sprint(jobs) != "[[discarded 3]]" {
				t.Errorf("river jobs %v, want one discarded after 3 attempts", jobs)
			}
			runs, err := h.st.ListRuns(ctx, "transient", 10)
			if err != nil || len(runs) != 1 {
				t.Errorf("%d runs (%v), want exactly 1", len(runs), err)
			}

			// Permanent: a bad record under on_error: fail.
			in := write(t, filepath.Join(h.dir, "bad.csv"), "id,name,amount\n1,a,5\n2,b,150\n3,c,x,y\n4,d,200\n")
			if code, raw := h.do("POST", "/v1/flows", "", map[string]any{"name": "permanent", "on_error": "fail",
				"source": map[string]any{"type": "file", "config": map[string]any{"path": in}},
				"sink":   map[string]any{"type": "file", "config": map[string]any{"path": filepath.Join(h.dir, "p.jsonl")}}}, nil); code != http.StatusCreated {
				t.Fatalf("create: %d %s", code, raw)
			}
			pid := h.trigger("permanent")
			prun := h.waitRun(pid, time.Minute)
			if prun.Status != store.StatusFailed || prun.Attempt != 1 || !strings.Contains(prun.ErrorMessage, in+":4") || prun.ErrorBacktrace == "" {
				t.Fatalf("permanent failure: run %+v, want failed on attempt 1 naming %s:4", prun, in)
			}
			time.Sleep(500 * time.Millisecond) // a retry would have started by now
			prun, _ = h.st.GetRun(ctx, pid)
			pf, _ := h.st.GetFlow(ctx, "permanent")
			if prun.Attempt != 1 || prun.Status != store.StatusFailed || pf.LastRunStatus != store.StatusFailed {
				t.Errorf("after a permanent failure: run %+v flow status %q, want no retry and failed", prun, pf.LastRunStatus)
			}
			if jobs := waitJobs(t, h.st, "[[discarded 3] [cancelled 1]]"); fmt.Sprint(jobs) != "[[discarded 3] [cancelled 1]]" {
				t.Errorf("river jobs %v, want the second cancelled after 1 attempt", jobs)
			}
		})
	}
}

func testLogger() hclog.Logger {
	if os.Getenv("ADF_TEST_LOG") != "" {
		return hclog.New(&hclog.LoggerOptions{Level: hclog.Debug})
	}
	return hclog.NewNullLogger()
}

// sourceOf decodes the source type and config of a run's recorded config.
func sourceOf(t *testing.T, doc json.RawMessage) (string, map[string]any) {
	t.Helper()
	var f struct {
		Source struct {
			Type   string         `json:"type"`
			Config map[string]any `json:"config"`
		} `json:"source"`
	}
	if err := json.Unmarshal(doc, &f); err != nil {
		t.Fatalf("run config %s: %v", doc, err)
	}
	return f.Source.Type, f.Source.Config
}

// waitJobs waits (a few seconds at most) for the queue's jobs to reach
// want: River records a job's outcome asynchronously after Work returns.
func waitJobs(t *testing.T, st *store.Store, want string) [][2]string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		jobs := riverJobs(t, st)
		if fmt.Sprint(jobs) == want || time.Now().After(deadline) {
			return jobs
		}
		time.Sleep(50 * time.Millisecond)
	}
}
