package main

// Run deadlines through the real adf binary: a flow's timeout, and the
// host's default (--run-timeout / ADF_RUN_TIMEOUT) for flows without one.
// The source reads a named pipe nobody writes to, so the run waits for
// ever unless its timeout ends it.

import (
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/activedataflow/adf/host/store"
	"github.com/activedataflow/adf/internal/testkit"
)

const flowTimeoutError = "run exceeded its timeout of %s (timeout in the flow); it was cancelled, and what its checkpoints committed stays " +
	"(raise the flow's timeout if it needs longer; otherwise find what it waits on, such as an input that never ends or a system that does not answer; it is not retried)"

const defaultTimeoutError = "run exceeded its timeout of %s (--run-timeout, the host's default for flows without a timeout); it was cancelled, and what its checkpoints committed stays " +
	"(give the flow a timeout of its own, or raise --run-timeout (ADF_RUN_TIMEOUT), if it needs longer; otherwise find what it waits on, such as an input that never ends or a system that does not answer; it is not retried)"

// fifoFlow is a flow reading the named pipe in.csv (made here) of dir,
// with the given extra keys.
func fifoFlow(t *testing.T, dir, name, extra string) string {
	t.Helper()
	if err := syscall.Mkfifo(filepath.Join(dir, "in.csv"), 0o600); err != nil && err != syscall.EEXIST {
		t.Fatal(err)
	}
	return write(t, dir, name+".yaml", fmt.Sprintf("name: %s\nsource: {type: file, config: {path: in.csv}}\nsink: {type: file, config: {path: out/%s.jsonl}}\n%s", name, name, extra))
}

func TestRunTimeout(t *testing.T) {
	e := newEnv(t)
	flowPath := fifoFlow(t, e.work, "stuck", "timeout: 3s\n")
	start := time.Now()
	r := e.run(t, "run", "--progress", "none", flowPath)
	took := time.Since(start)
	if want := "error: " + fmt.Sprintf(flowTimeoutError, "3s") + "\n"; r.code != 1 || !strings.HasSuffix(r.stderr, want) {
		t.Fatalf("adf run past the flow's timeout: want exit 1 and\n%s\n%s", want, r)
	}
	if s := (testkit.Result{Stdout: r.stdout}).Summary(t); s.Status != "failed" || s.Restarts != 0 {
		t.Errorf("summary %+v, want failed without restarts\n%s", s, r)
	}
	if took < 3*time.Second || took > 8*time.Second {
		t.Errorf("adf run ended after %s, want the 3s timeout plus start-up", took)
	}
	t.Logf("adf run ended %s after it started", took.Round(100*time.Millisecond))

	// The timed-out run is over, not left to resume: a changed flow file
	// starts a new run (it would be refused while one could resume).
	flowPath = fifoFlow(t, e.work, "stuck", "timeout: 1s\n")
	r = e.run(t, "run", "--progress", "none", flowPath)
	if want := "error: " + fmt.Sprintf(flowTimeoutError, "1s") + "\n"; r.code != 1 || r.stderr != want {
		t.Errorf("adf run after a timed-out run: want exit 1 and only\n%s\n%s", want, r)
	}

	// The host's default bounds a flow without a timeout of its own...
	flowPath = fifoFlow(t, e.work, "nodeadline", "")
	r = e.run(t, "run", "--progress", "none", "--run-timeout", "1s", flowPath)
	if want := "error: " + fmt.Sprintf(defaultTimeoutError, "1s") + "\n"; r.code != 1 || r.stderr != want {
		t.Errorf("adf run --run-timeout 1s: want exit 1 and\n%s\n%s", want, r)
	}
	// ...but not one with its own, which wins.
	flowPath = fifoFlow(t, e.work, "own", "timeout: 1s\n")
	r = e.run(t, "run", "--progress", "none", "--run-timeout", "1h", flowPath)
	if want := "error: " + fmt.Sprintf(flowTimeoutError, "1s") + "\n"; r.code != 1 || r.stderr != want {
		t.Errorf("adf run --run-timeout 1h of a flow with timeout 1s: want exit 1 and\n%s\n%s", want, r)
	}

	// A negative timeout is invalid.
	r = e.run(t, "validate", write(t, e.work, "neg.yaml", "name: neg\nsource: {type: file, config: {path: x.csv}}\nsink: {type: file, config: {path: out/neg.jsonl}}\ntimeout: -1s\n"))
	if want := "invalid flow: 1 problem(s)\n  timeout: must be a positive duration such as \"1h\", or 0 for none\n"; r.code != 1 || !strings.Contains(r.stderr, want) {
		t.Errorf("adf validate of timeout: -1s: want\n%s\n%s", want, r)
	}
}

// A timed-out run that had checkpoints is over as well: nothing resumes it.
func TestRunTimeoutAfterCheckpoints(t *testing.T) {
	e := newEnv(t)
	addCSV(t, filepath.Join(e.work, "in"), "a.csv", 1, 3)
	doc := "name: cont\nsource: {type: file, config: {path: in, mode: continuous, discover_interval: 100ms}}\nsink: {type: file, config: {path: out/}}\ncheckpoint: {every: 300ms}\ntimeout: %s\n"
	r := e.run(t, "run", "--progress", "none", write(t, e.work, "cont.yaml", fmt.Sprintf(doc, "2s")))
	if s := (testkit.Result{Stdout: r.stdout}).Summary(t); r.code != 1 || s.Checkpoints == 0 || !strings.HasSuffix(r.stderr, "error: "+fmt.Sprintf(flowTimeoutError, "2s")+"\n") {
		t.Fatalf("continuous run with timeout 2s: want it failed by the timeout after checkpoints\n%s", r)
	}
	if strings.Contains(r.stderr, "can resume") {
		t.Errorf("a timed-out run is offered to resume\n%s", r)
	}
	r = e.run(t, "run", "--progress", "none", write(t, e.work, "cont.yaml", fmt.Sprintf(doc, "1s")))
	if strings.Contains(r.stderr, "interrupted run") || !strings.HasSuffix(r.stderr, "error: "+fmt.Sprintf(flowTimeoutError, "1s")+"\n") {
		t.Errorf("the run after a timed-out one: want a new run, timed out\n%s", r)
	}
}

// Under adf serve a run past its timeout fails at its first attempt (no
// retry, though three are allowed), with the error recorded on the run:
// the flow's timeout for a flow that has one, --run-timeout for the others.
func TestServeRunTimeout(t *testing.T) {
	work := t.TempDir()
	fifoFlow(t, work, "unused", "")
	in := filepath.Join(work, "in.csv")
	h := svcStart(t, svcConfig{dataDir: filepath.Join(work, "adf-data"), pluginDir: testkit.PluginDir(t, testkit.FilePlugin), work: work,
		env:  []string{"ADF_FILE_ROOTS=" + work},
		args: []string{"--tick", "0", "--max-attempts", "3", "--retry-backoff", "1s", "--run-timeout", "2s"}})
	for _, c := range []struct {
		name, timeout, want string
	}{
		{"own", "3s", fmt.Sprintf(flowTimeoutError, "3s")},
		{"default", "", fmt.Sprintf(defaultTimeoutError, "2s")},
	} {
		doc := map[string]any{"name": c.name,
			"source": map[string]any{"type": "file", "config": map[string]any{"path": in}},
			"sink":   map[string]any{"type": "file", "config": map[string]any{"path": filepath.Join(work, "out", c.name+".jsonl")}}}
		if c.timeout != "" {
			doc["timeout"] = c.timeout
		}
		h.applyFlow(doc)
		var rec store.FlowRecord
		if code, body := h.api("GET", "/v1/flows/"+c.name, nil, &rec); code != 200 {
			t.Fatalf("GET flow %s: %d %s", c.name, code, body)
		}
		if got := rec.Flow.Timeout; (c.timeout == "") != (got == nil) || (got != nil && got.D().String() != c.timeout) {
			t.Errorf("flow %s: saved with timeout %v, want %q: the store does not keep the flow's timeout key", c.name, got, c.timeout)
		}
		var run store.Run
		if code, body := h.api("POST", "/v1/flows/"+c.name+"/runs", nil, &run); code != 202 {
			t.Fatalf("trigger %s: %d %s", c.name, code, body)
		}
		start := time.Now()
		run = h.waitRunStatus(run.ID, 20*time.Second, store.StatusFailed, store.StatusSuccess)
		took := time.Since(start)
		if run.Status != store.StatusFailed || run.Attempt != 1 || run.ErrorMessage != c.want {
			t.Errorf("flow %s: run %s at attempt %d: %q\nwant failed at attempt 1: %q", c.name, run.Status, run.Attempt, run.ErrorMessage, c.want)
		}
		t.Logf("flow %s: run failed %s after it was triggered", c.name, took.Round(100*time.Millisecond))
	}
}
