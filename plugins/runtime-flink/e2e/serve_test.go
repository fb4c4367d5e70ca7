package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/activedataflow/adf/internal/testkit"
)

// server is one `adf serve` of a test.
type server struct {
	t    *testing.T
	url  string
	proc *testkit.Process
}

const adminToken, heartbeatToken = "admin-tok", "beat-tok"

func startServe(t *testing.T, a *testkit.ADF) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	b := *a
	b.Env = append(append([]string(nil), a.Env...), "ADF_ADMIN_TOKEN="+adminToken, "ADF_HEARTBEAT_TOKENS="+heartbeatToken)
	s := &server{t: t, url: "http://" + addr, proc: b.Start(t, "serve", "--listen", addr, "--tick", "0", "--lease-ttl", "3s")}
	testkit.WaitFor(t, time.Minute, "adf serve ready", func() bool {
		resp, err := http.Get(s.url + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}, s.proc.Stderr)
	t.Cleanup(func() { _ = s.proc.Signal(9) })
	return s
}

// call sends method path with body (JSON) and the token, decoding the
// answer into out; it returns the status code.
func (s *server) call(method, path, token string, body, out any) int {
	s.t.Helper()
	code, b := testkit.CallAPI(s.t, s.url, token, method, path, body, out)
	if code >= 300 {
		s.t.Logf("%s %s: %d %s", method, path, code, b)
	}
	return code
}

type run struct {
	ID             int64  `json:"id"`
	Status         string `json:"status"`
	RecordsRead    int64  `json:"records_read"`
	RecordsWritten int64  `json:"records_written"`
	ErrorMessage   string `json:"error_message"`
}

func (s *server) waitRun(id int64, timeout time.Duration, status string) run {
	s.t.Helper()
	var r run
	testkit.WaitFor(s.t, timeout, fmt.Sprintf("run %d %s", id, status), func() bool {
		if code := s.call("GET", fmt.Sprintf("/v1/runs/%d", id), adminToken, nil, &r); code != 200 {
			s.t.Fatalf("GET run %d: %d", id, code)
		}
		if r.Status == status {
			return true
		}
		if r.Status == "failed" || r.Status == "cancelled" || r.Status == "success" {
			s.t.Fatalf("run %d ended %s, want %s: %s\n%s", id, r.Status, status, r.ErrorMessage, s.proc.Stderr())
		}
		return false
	}, s.proc.Stderr)
	return r
}

// adf serve with a scheduled flow on runtime flink: the heartbeat creates
// the run, the job runs on Flink and the run row ends success with the
// job's counts. Cancelling a run of an unbounded flow cancels its Flink job.
func TestServeRunsScheduledFlowOnFlink(t *testing.T) {
	a := newADF(t)
	s := startServe(t, a)
	old := jobIDs(t)
	csv := filepath.Join(t.TempDir(), "orders.csv")
	const n = 100_000
	testkit.WriteOrdersCSV(t, csv, 0, n)
	out := filepath.Join(t.TempDir(), "out.jsonl")
	var rt map[string]any
	if err := json.Unmarshal([]byte(flinkRuntime(t)), &rt); err != nil {
		t.Fatal(err)
	}
	sched := map[string]any{"name": "sched-flink", "parallelism": 2, "schedule": map[string]any{"every": "1h"},
		"source":  map[string]any{"type": "file", "config": map[string]any{"path": csv}},
		"sink":    map[string]any{"type": "file", "config": map[string]any{"path": out}},
		"runtime": rt}
	if code := s.call("POST", "/v1/flows", adminToken, sched, nil); code != 201 {
		t.Fatalf("create flow: %d", code)
	}
	var beat struct {
		RunIDs []int64 `json:"run_ids"`
	}
	if code := s.call("POST", "/v1/heartbeat", heartbeatToken, nil, &beat); code != 200 || len(beat.RunIDs) != 1 {
		t.Fatalf("heartbeat: %d, runs %v", code, beat.RunIDs)
	}
	r := s.waitRun(beat.RunIDs[0], 5*time.Minute, "success")
	if r.RecordsRead != n || r.RecordsWritten != n {
		t.Fatalf("run row counts %d read, %d written; want %d each", r.RecordsRead, r.RecordsWritten, n)
	}
	if job := jobOfFlow(t, "sched-flink", old, time.Second); job.State != "FINISHED" {
		t.Fatalf("Flink job %s is %s, want FINISHED", job.ID, job.State)
	}

	// An unbounded flow: rafka, continuous.
	url := testkit.RedisURL(t)
	rdb := redis.NewClient(mustRedisOptions(t, url))
	t.Cleanup(func() { rdb.Close() })
	topic := produce(t, rdb, 1000)
	cont := map[string]any{"name": "cont-flink", "parallelism": 2,
		"source":  map[string]any{"type": "rafka", "config": map[string]any{"url": url, "topic": topic, "group": "cont", "format": "json", "mode": "continuous"}},
		"sink":    map[string]any{"type": "file", "config": map[string]any{"path": filepath.Join(t.TempDir(), "cont") + "/"}},
		"runtime": rt}
	if code := s.call("POST", "/v1/flows", adminToken, cont, nil); code != 201 {
		t.Fatalf("create flow: %d", code)
	}
	var started run
	if code := s.call("POST", "/v1/flows/cont-flink/runs", adminToken, nil, &started); code != 202 {
		t.Fatalf("trigger: %d", code)
	}
	s.waitRun(started.ID, time.Minute, "in_progress")
	job := jobOfFlow(t, "cont-flink", old, 2*time.Minute)
	testkit.WaitFor(t, 2*time.Minute, "the Flink job running", func() bool { return jobState(t, job.ID) == "RUNNING" }, s.proc.Stderr)
	if code := s.call("POST", fmt.Sprintf("/v1/runs/%d/cancel", started.ID), adminToken, nil, nil); code != 202 {
		t.Fatalf("cancel: %d", code)
	}
	s.waitRun(started.ID, time.Minute, "cancelled")
	testkit.WaitFor(t, time.Minute, "the Flink job cancelled", func() bool { return jobState(t, job.ID) == "CANCELED" }, s.proc.Stderr)
}

// A host killed (SIGKILL) or stopped (SIGTERM) while its run's Flink job
// runs: the job goes on (a stopping host leaves it running), the host that
// resumes the run follows the same job (no second submission), and the run
// ends success with the job's counts and every row once in the table.
func TestServeResumesFlinkRunOfDeadHost(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) { resumeFlinkRun(t, sig) })
	}
}

func resumeFlinkRun(t *testing.T, sig syscall.Signal) {
	a := newADF(t)
	dbURL := testkit.NewDatabase(t)
	csv := filepath.Join(t.TempDir(), "orders.csv")
	const n = 2_000_000
	want := expectedOrders(testkit.WriteOrdersCSV(t, csv, 0, n))
	var f map[string]any
	if err := json.Unmarshal([]byte(ordersFlow("dead-host", csv, dbURL, "orders", "append", flinkRuntime(t))), &f); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, a)
	old := jobIDs(t)
	if code := s.call("POST", "/v1/flows", adminToken, f, nil); code != 201 {
		t.Fatalf("create flow: %d", code)
	}
	var started run
	if code := s.call("POST", "/v1/flows/dead-host/runs", adminToken, nil, &started); code != 202 {
		t.Fatalf("trigger: %d", code)
	}
	job := jobOfFlow(t, "dead-host", old, 2*time.Minute)
	testkit.WaitFor(t, 2*time.Minute, "the Flink job running", func() bool { return jobState(t, job.ID) == "RUNNING" }, s.proc.Stderr)
	if err := s.proc.Signal(sig); err != nil {
		t.Fatal(err)
	}
	s.proc.Wait(t, time.Minute)
	if st := jobState(t, job.ID); st != "RUNNING" && st != "FINISHED" {
		t.Fatalf("after %s of adf serve the Flink job is %s, want it going on", sig, st)
	}
	t.Logf("sent %s to adf serve (pid %d) while job %s runs", sig, s.proc.Pid(), job.ID)

	s2 := startServe(t, a)
	r := s2.waitRun(started.ID, 5*time.Minute, "success")
	if r.RecordsRead != n || r.RecordsWritten != int64(len(want)) {
		t.Fatalf("run row counts %d read, %d written; want %d and %d", r.RecordsRead, r.RecordsWritten, n, len(want))
	}
	var jobs []flinkJob
	for _, j := range flinkJobs(t) {
		if strings.HasPrefix(j.Name, "adf: dead-host run ") && !old[j.ID] {
			jobs = append(jobs, j)
		}
	}
	if len(jobs) != 1 || jobs[0].ID != job.ID {
		t.Fatalf("Flink jobs of the run: %v, want only %s: the resuming host submitted again", jobs, job.ID)
	}
	sameRows(t, "orders", tableRows(t, pg(t, dbURL), "orders", "customer"), want)
}
