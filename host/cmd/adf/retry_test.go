package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/activedataflow/adf/host/store"
	"github.com/activedataflow/adf/internal/testkit"
)

// Under adf serve a run is retried by one policy: the engine restarts
// retryable failures with backoff until the flow's retry_deadline, and
// then the run fails for good; the queue does not run the job again (it
// used to, for 3 attempts of the whole policy, 12+ minutes for a stopped
// PostgreSQL). Errors whose code says a retry cannot help (here a missing
// input file and a bad record under on_error: fail) fail the run in its
// first attempt.
func TestServeRetryPolicy(t *testing.T) {
	work, data := t.TempDir(), t.TempDir()
	plugins := testkit.PluginDir(t, testkit.FilePlugin, sqlPluginPkg)
	in := filepath.Join(work, "in.csv")
	if err := os.WriteFile(in, []byte("id,name\n1,a\n2,b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(work, "bad.csv")
	if err := os.WriteFile(bad, []byte("id,name\n1,a\n2,b,extra\n3,c\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	h := svcStart(t, svcConfig{dataDir: data, pluginDir: plugins, work: work, args: []string{"--tick", "0", "--retry-backoff", "1s"}})
	h.applyFlow(map[string]any{"name": "unreachable", "retry_deadline": "3s",
		"source": map[string]any{"type": "file", "config": map[string]any{"path": in}},
		"sink":   map[string]any{"type": "postgres", "config": map[string]any{"url": fmt.Sprintf("postgres://app@127.0.0.1:%d/app", port), "table": "t"}}})
	missing := filepath.Join(work, "no-such-input.csv")
	h.applyFlow(map[string]any{"name": "missing_input",
		"source": map[string]any{"type": "file", "config": map[string]any{"path": missing}},
		"sink":   map[string]any{"type": "file", "config": map[string]any{"path": filepath.Join(work, "out2.jsonl")}}})
	h.applyFlow(map[string]any{"name": "bad_record",
		"source": map[string]any{"type": "file", "config": map[string]any{"path": bad}},
		"sink":   map[string]any{"type": "file", "config": map[string]any{"path": filepath.Join(work, "out.jsonl")}}})

	trigger := func(name string) store.Run {
		t.Helper()
		var run store.Run
		if code, body := h.api("POST", "/v1/flows/"+name+"/runs", nil, &run); code != 202 {
			t.Fatalf("trigger %s: %d %s", name, code, body)
		}
		return run
	}
	start := time.Now()
	run := h.waitRunStatus(trigger("unreachable").ID, 60*time.Second, store.StatusFailed, store.StatusSuccess)
	took := time.Since(start)
	if run.Status != store.StatusFailed || run.Attempt != 1 {
		t.Fatalf("run %+v: want failed in its first attempt\n%s", run, h.log())
	}
	for _, want := range []string{"gave up after ", "(retry_deadline 3s): ", fmt.Sprintf("cannot reach PostgreSQL at 127.0.0.1:%d", port),
		fmt.Sprintf("check that PostgreSQL is running at 127.0.0.1:%d", port)} {
		if !strings.Contains(run.ErrorMessage, want) {
			t.Errorf("run error %q does not say %q", run.ErrorMessage, want)
		}
	}
	// A second River attempt would come only after --retry-backoff (1s)
	// and give up 3s later again.
	time.Sleep(2 * time.Second)
	if again := h.getRun(run.ID); again.Attempt != 1 || again.Status != store.StatusFailed {
		t.Fatalf("the failed run was retried by the queue: %+v", again)
	}
	t.Logf("unreachable PostgreSQL: failed after %s", took.Round(100*time.Millisecond))

	run = h.waitRunStatus(trigger("bad_record").ID, 60*time.Second, store.StatusFailed, store.StatusSuccess)
	if run.Status != store.StatusFailed || run.Attempt != 1 {
		t.Fatalf("run %+v: want failed in its first attempt\n%s", run, h.log())
	}
	if want := "wrong number of fields"; !strings.Contains(run.ErrorMessage, want) || !strings.Contains(run.ErrorMessage, "on_error is fail") {
		t.Errorf("run error %q does not say %q and on_error is fail", run.ErrorMessage, want)
	}
	run = h.waitRunStatus(trigger("missing_input").ID, 60*time.Second, store.StatusFailed, store.StatusSuccess)
	if run.Status != store.StatusFailed || run.Attempt != 1 {
		t.Fatalf("run %+v: want failed in its first attempt\n%s", run, h.log())
	}
	if want := "input " + missing + " does not exist"; !strings.Contains(run.ErrorMessage, want) {
		t.Errorf("run error %q does not say %q", run.ErrorMessage, want)
	}

	restarts := map[string]int{}
	for _, line := range strings.Split(h.log(), "\n") {
		if strings.Contains(line, "restarting from the last checkpoint") {
			for _, name := range []string{"unreachable", "bad_record", "missing_input"} {
				if strings.Contains(line, `"flow":"`+name+`"`) {
					restarts[name]++
				}
			}
		}
	}
	if restarts["unreachable"] == 0 || restarts["bad_record"] != 0 || restarts["missing_input"] != 0 {
		t.Errorf("restarts logged per flow %v: want some of unreachable and none of the others\n%s", restarts, h.log())
	}
}
