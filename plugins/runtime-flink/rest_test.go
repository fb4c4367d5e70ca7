package flink

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/activedataflow/adf/internal/testkit"
	"github.com/activedataflow/adf/sdk"
)

func newTestRuntime(t *testing.T, url, bridge string) *runtime {
	t.Helper()
	c := &Config{URL: url, BridgeJar: bridge}
	c.Defaults()
	c.RequestTimeout = sdk.Duration(10 * time.Second)
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	r, _ := newRuntime(c)
	return r
}

// waitState polls the job until its state is one of want.
func waitState(t *testing.T, r *runtime, id string, timeout time.Duration, want ...string) sdk.RuntimeStatus {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var st sdk.RuntimeStatus
	for time.Now().Before(deadline) {
		var err error
		st, err = r.Status(context.Background(), id)
		if err != nil {
			t.Fatalf("status of %s: %v", id, err)
		}
		for _, w := range want {
			if st.State == w {
				return st
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("job %s: state %q after %s, want %v (%s)", id, st.State, timeout, want, st.Message)
	return st
}

// listJobs lists the cluster's job ids.
func listJobs(t *testing.T, r *runtime) []string {
	t.Helper()
	var ov struct {
		Jobs []struct {
			ID string `json:"jid"`
		} `json:"jobs"`
	}
	if _, err := r.api.do(context.Background(), http.MethodGet, "/jobs/overview", 0, nil, 0, "", &ov); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 0, len(ov.Jobs))
	for _, j := range ov.Jobs {
		ids = append(ids, j.ID)
	}
	return ids
}

// TestFlinkREST runs jobs of a stand-in bridge on the local Flink cluster:
// Validate, Submit, Status (rows from the accumulators, the root exception
// of a failed job), Cancel.
func TestFlinkREST(t *testing.T) {
	testkit.LockFlink(t, false)
	url := testkit.FlinkURL(t)
	dir := t.TempDir()
	hello := helloBinary(t, "linux", "amd64")
	comps := components(copyAs(t, hello, dir, "adf-plugin-file"), copyAs(t, hello, dir, "adf-transforms"), copyAs(t, hello, dir, "adf-plugin-sql"))
	r := newTestRuntime(t, url, fakeBridgeJar(t))
	ctx := context.Background()
	// A run's job id follows from the flow and the run id, and the cluster
	// outlives test runs: every run of the test has run ids of its own.
	run := func(n int) string { return fmt.Sprintf("%d-%d", time.Now().UnixNano(), n) }

	if err := r.Validate(ctx, sdk.RuntimeJob{Flow: flowDoc("ok", ""), Components: comps}); err != nil {
		t.Fatalf("validate: %v", err)
	}

	okRun := run(7)
	id, err := r.Submit(ctx, sdk.RuntimeJob{Flow: flowDoc("ok", `, "parallelism": 2`), RunID: okRun, Components: comps})
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	st := waitState(t, r, id, 120*time.Second, StateSuccess, StateFailed)
	if st.State != StateSuccess || st.RecordsRead != 100 || st.RecordsWritten != 100 {
		t.Fatalf("ok job: %+v", st)
	}
	// The uploaded jar is deleted once the job runs.
	var jars struct {
		Files []struct{ Name string } `json:"files"`
	}
	if _, err := r.api.do(ctx, http.MethodGet, "/jars", 0, nil, 0, "", &jars); err != nil {
		t.Fatal(err)
	}
	for _, f := range jars.Files {
		if strings.HasPrefix(f.Name, safeName("adf-ok-run"+okRun)) {
			t.Fatalf("jar %s left on the cluster", f.Name)
		}
	}
	// Submitting the run again (a host resuming it) finds its job.
	jobsBefore := len(listJobs(t, r))
	again, err := r.Submit(ctx, sdk.RuntimeJob{Flow: flowDoc("ok", `, "parallelism": 2`), RunID: okRun, Components: comps})
	if err != nil || again != id || len(listJobs(t, r)) != jobsBefore {
		t.Fatalf("second submit of the run: job %s (%v), want %s and no new job", again, err, id)
	}
	// Cancelling a finished job is no error.
	if err := r.Cancel(ctx, id); err != nil {
		t.Fatalf("cancel of a finished job: %v", err)
	}

	id, err = r.Submit(ctx, sdk.RuntimeJob{Flow: flowDoc("fail", `, "max_restarts": 0`), RunID: run(8), Components: comps})
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	st = waitState(t, r, id, 120*time.Second, StateSuccess, StateFailed)
	if st.State != StateFailed || !strings.HasPrefix(st.Message, `sink "postgres": invalid_config: relation "orders" does not exist`+"\n(Flink: org.apache.flink.runtime.JobException: Recovery is suppressed") || strings.Contains(st.Message, "\tat ") {
		t.Fatalf("failed job: %+v", st)
	}
	t.Logf("failed job message: %s", st.Message)

	id, err = r.Submit(ctx, sdk.RuntimeJob{Flow: flowDoc("slow", ""), RunID: run(9), Components: comps})
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	st = waitState(t, r, id, 120*time.Second, StateRunning)
	if err := r.Cancel(ctx, id); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	st = waitState(t, r, id, 120*time.Second, StateCancelled)
	if err := r.Cancel(ctx, id); err != nil {
		t.Fatalf("second cancel: %v", err)
	}

	for _, bad := range []string{"0123456789abcdef0123456789abcdef", "not-a-job"} {
		if _, err := r.Status(ctx, bad); errCode(err) != sdk.CodeNotFound {
			t.Fatalf("status of %s: [%s] %v", bad, errCode(err), err)
		}
	}
	if err := r.Cancel(ctx, "0123456789abcdef0123456789abcdef"); errCode(err) != sdk.CodeNotFound {
		t.Fatalf("cancel of an unknown job: [%s] %v", errCode(err), err)
	}
}

// TestValidateRefuses: every local problem is named, together with the
// cluster's.
func TestValidateRefuses(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "adf-plugin-sql")
	if err := writeFile(script, "#!/bin/sh\necho\n"); err != nil {
		t.Fatal(err)
	}
	hello := helloBinary(t, "linux", "amd64")
	comps := components(copyAs(t, helloBinary(t, "linux", "arm64"), dir, "adf-plugin-file"), copyAs(t, hello, dir, "adf-transforms"), script)

	// A closed port: unreachable, with the URL and what to check.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	r := newTestRuntime(t, closed, filepath.Join(dir, "missing.jar"))
	err = r.Validate(context.Background(), sdk.RuntimeJob{Flow: flowDoc("x", ""), Components: comps})
	es := sdk.AsErrors(err)
	if len(es) != 4 {
		t.Fatalf("want 4 errors, got %d: %v", len(es), err)
	}
	wants := []struct{ code, text string }{
		{sdk.CodeNotFound, "missing.jar does not exist"},
		{sdk.CodeInvalidConfig, `source "file": ` + comps[0].Executable + " is a Linux arm64 executable"},
		{sdk.CodeInvalidConfig, `sink "postgres": ` + script + " is a shell script"},
		{sdk.CodeInvalidConfig, "url: cannot reach Flink at " + closed},
	}
	for i, w := range wants {
		if es[i].Code != w.code || !strings.Contains(es[i].Error(), w.text) {
			t.Errorf("error %d: [%s] %v; want [%s] %q", i, es[i].Code, es[i], w.code, w.text)
		}
	}
	// Status reports the same as unavailable: the host retries it.
	if _, err := r.Status(context.Background(), "0123456789abcdef0123456789abcdef"); errCode(err) != sdk.CodeUnavailable {
		t.Errorf("status with Flink down: [%s] %v", errCode(err), err)
	}
	if !strings.Contains(es[3].Error(), "connection refused") || !strings.Contains(es[3].Error(), "scripts/flink-local.sh start") {
		t.Errorf("unreachable error lacks the cause or the hint: %v", es[3])
	}
	if !strings.Contains(es[0].Error(), "scripts/build-bridge.sh") {
		t.Errorf("bridge error lacks the hint: %v", es[0])
	}
}

func writeFile(p, s string) error { return osWriteFile(p, []byte(s), 0o755) }

// TestRESTAnswers: answers of a fake Flink: 1.x refused, Flink's error
// lists shortened, classification by status.
func TestRESTAnswers(t *testing.T) {
	version := "1.20.1"
	trace := "org.apache.flink.runtime.rest.handler.RestHandlerException: Could not execute application.\n\tat org.apache.flink.runtime.webmonitor.handlers.JarRunHandler.lambda$handleRequest$1(JarRunHandler.java:114)\n\tat java.base/java.util.concurrent.CompletableFuture.uniHandle(CompletableFuture.java:934)\nCaused by: java.util.concurrent.CompletionException: org.apache.flink.util.FlinkRuntimeException: Could not execute application.\n\t... 9 more\nCaused by: java.lang.IllegalArgumentException: adf: job.json: no source\n\tat io.github.activedataflow.adf.flink.FlowJob.main(FlowJob.java:10)\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch {
		case req.URL.Path == "/config":
			json.NewEncoder(w).Encode(map[string]any{"flink-version": version})
		case req.URL.Path == "/jars/upload":
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			json.NewEncoder(w).Encode(map[string]any{"errors": []string{"Request entity too large"}})
		case strings.HasSuffix(req.URL.Path, "/run"):
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]any{"errors": []string{"Internal server error.", "<Exception on server side:\n" + trace + "\nEnd of exception on server side>"}})
		case strings.HasPrefix(req.URL.Path, "/jobs/"):
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("busy"))
		}
	}))
	defer srv.Close()
	r := newTestRuntime(t, srv.URL+"/", "")
	ctx := context.Background()
	err := r.checkCluster(ctx)
	if errCode(err) != sdk.CodeInvalidConfig || !strings.Contains(err.Error(), "runs Flink 1.20.1") || !strings.Contains(err.Error(), "Flink 2.x") {
		t.Fatalf("1.x: %v", err)
	}
	version = "2.1.0"
	if err := r.checkCluster(ctx); err != nil {
		t.Fatalf("2.1: %v", err)
	}
	_, err = r.api.run(ctx, "x_job.jar", 1, "")
	want := "Internal server error.\norg.apache.flink.runtime.rest.handler.RestHandlerException: Could not execute application.\nCaused by: java.util.concurrent.CompletionException: org.apache.flink.util.FlinkRuntimeException: Could not execute application.\nCaused by: java.lang.IllegalArgumentException: adf: job.json: no source"
	if !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "JarRunHandler.java") || errCode(err) != sdk.CodeInternal {
		t.Fatalf("run error: [%s] %v", errCode(err), err)
	}
	jar := filepath.Join(t.TempDir(), "j.jar")
	writeFile(jar, "PK")
	_, err = r.api.upload(ctx, jar, "j.jar")
	if errCode(err) != sdk.CodeInvalidConfig || !strings.Contains(err.Error(), "rest.server.max-content-length") {
		t.Fatalf("upload: %v", err)
	}
	_, err = r.Status(ctx, "0123456789abcdef0123456789abcdef")
	var se *sdk.Error
	if errCode(err) != sdk.CodeUnavailable || !asError(err, &se) || !se.Retryable() {
		t.Fatalf("503: %v", err)
	}
}

func TestConfig(t *testing.T) {
	comp := Plugin().Components[0]
	if comp.Kind() != sdk.KindRuntime || comp.Type() != "flink" {
		t.Fatalf("component %s %s", comp.Kind(), comp.Type())
	}
	v, err := comp.DecodeConfig([]byte(`{"url": "http://127.0.0.1:8081"}`))
	if err != nil {
		t.Fatal(err)
	}
	if c := v.(*Config); c.RequestTimeout.D() != 30*time.Second || c.Parallelism != 0 {
		t.Fatalf("defaults: %+v", c)
	}
	for _, bad := range []string{`{}`, `{"url": "127.0.0.1:8081"}`, `{"url": "ftp://x"}`, `{"url": "http://x", "request_timeout": "0s"}`, `{"url": "http://x", "parallelism": 0}`, `{"url": "http://x", "bogus": 1}`} {
		if _, err := comp.DecodeConfig([]byte(bad)); errCode(err) == "" || !strings.Contains(errCode(err), sdk.CodeInvalidConfig) {
			t.Errorf("%s accepted (%v)", bad, err)
		}
	}
	fields := sdk.AnnotatedFields(comp.ConfigSchema(), []byte(`{"url": "http://h:8081", "bridge_jar": "/x/b.jar"}`))
	if len(fields) != 2 || !fields[0].Path || fields[0].Field != "bridge_jar" || !fields[1].Connect || fields[1].Field != "url" {
		t.Fatalf("annotations: %+v", fields)
	}
}
