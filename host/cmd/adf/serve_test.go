package main

// Integration tests of `adf serve`: the real adf binary as a child process,
// on real PostgreSQL (testkit) and on SQLite in a fresh data directory, with
// the real file plugin.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/activedataflow/adf/host/store"
	"github.com/activedataflow/adf/internal/testkit"
)

// svcHost is one `adf serve` process.
type svcHost struct {
	t       *testing.T
	cmd     *exec.Cmd
	url     string
	admin   string
	logPath string
	done    chan error
}

type svcConfig struct {
	dataDir, pluginDir, work, dbURL string
	adminToken                      string
	env                             []string
	args                            []string
}

func svcFreePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// svcStart starts `adf serve` and waits until /readyz answers 200.
func svcStart(t *testing.T, c svcConfig) *svcHost {
	t.Helper()
	addr := svcFreePort(t)
	cmd := exec.Command(testkit.Build(t, adfPkg), append([]string{"serve", "--listen", addr}, c.args...)...)
	cmd.Dir = c.work
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ADF_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "ADF_PLUGIN_DIR="+c.pluginDir, "ADF_DATA_DIR="+c.dataDir, "ADF_LOG_LEVEL=info")
	// The tests' files are in t.TempDir() directories (as testkit.ADF's).
	cmd.Env = append(cmd.Env, "ADF_FILE_ROOTS="+os.TempDir())
	if c.dbURL != "" {
		cmd.Env = append(cmd.Env, "ADF_DATABASE_URL="+c.dbURL)
	}
	if c.adminToken != "" {
		cmd.Env = append(cmd.Env, "ADF_ADMIN_TOKEN="+c.adminToken)
	}
	// The tests' inputs and outputs live in their temp directories; adf
	// serve confines flows to the data directory unless told otherwise
	// (a test's own ADF_FILE_ROOTS in c.env comes later and wins).
	cmd.Env = append(cmd.Env, "ADF_FILE_ROOTS="+os.TempDir())
	cmd.Env = append(cmd.Env, c.env...)
	logf, err := os.CreateTemp(t.TempDir(), "serve-*.log")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &svcHost{t: t, cmd: cmd, url: "http://" + addr, logPath: logf.Name(), done: make(chan error, 1)}
	go func() { h.done <- cmd.Wait(); logf.Close() }()
	t.Cleanup(func() {
		if h.cmd.ProcessState == nil {
			_ = h.cmd.Process.Signal(syscall.SIGKILL)
			<-h.done
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(h.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		select {
		case err := <-h.done:
			h.done <- err
			t.Fatalf("adf serve exited: %v\n%s", err, h.log())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("adf serve not ready after 60s\n%s", h.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	h.admin = c.adminToken
	if h.admin == "" {
		b, err := os.ReadFile(filepath.Join(c.dataDir, "admin-token"))
		if err != nil {
			t.Fatalf("no admin token configured and none generated: %v", err)
		}
		h.admin = strings.TrimSpace(string(b))
	}
	return h
}

func (h *svcHost) log() string {
	b, _ := os.ReadFile(h.logPath)
	return string(b)
}

// kill sends SIGKILL to the host's pid and waits for it to die.
func (h *svcHost) kill() {
	h.t.Helper()
	if err := syscall.Kill(h.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		h.t.Fatal(err)
	}
	<-h.done
}

// api sends an admin API request and decodes the answer into out.
func (h *svcHost) api(method, path string, body any, out any) (int, string) {
	h.t.Helper()
	return testkit.CallAPI(h.t, h.url, h.admin, method, path, body, out)
}

func (h *svcHost) applyFlow(doc map[string]any) {
	h.t.Helper()
	if code, body := h.api("POST", "/v1/flows", doc, nil); code != 201 {
		h.t.Fatalf("apply flow %v: %d %s", doc["name"], code, body)
	}
}

func (h *svcHost) getRun(id int64) store.Run {
	h.t.Helper()
	var run store.Run
	if code, body := h.api("GET", fmt.Sprintf("/v1/runs/%d", id), nil, &run); code != 200 {
		h.t.Fatalf("GET run %d: %d %s", id, code, body)
	}
	return run
}

func (h *svcHost) waitRunStatus(id int64, timeout time.Duration, statuses ...string) store.Run {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		run := h.getRun(id)
		for _, s := range statuses {
			if run.Status == s {
				return run
			}
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("run %d is %s after %s, want %v: %s\n%s", id, run.Status, timeout, statuses, run.ErrorMessage, h.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// svcClient is an HTTP client whose connections come from a given loopback
// address.
func svcClient(from string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}, Timeout: 30 * time.Second}
}

func svcOpenStore(t *testing.T, dbURL, dataDir string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), dbURL, dataDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func svcCSV(t *testing.T, path string, n int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("id,word\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "%d,w%d\n", i, i)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func svcIDs(t *testing.T, path string) []int64 {
	t.Helper()
	var ids []int64
	for _, row := range readJSONLines(t, path) {
		ids = append(ids, intField(t, row, "id"))
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// The heartbeat security matrix against a real `adf serve`: exact status
// codes, and exactly one heartbeat_requests row per request, with its
// outcome and client address, except that a refused request of the same
// client with the same outcome as an earlier one (within the sampling
// minute) is folded into the earlier row, whose requests count says 2. The peer address varies by connecting from
// different loopback addresses: 127.0.0.2 is allowed, 127.0.0.3 is a trusted
// proxy, 127.0.0.4 is neither.
func TestServeHeartbeatSecurity(t *testing.T) {
	const hbToken = "hb-secret-0123456789"
	t0 := time.Now()
	dbURL := testkit.NewDatabase(t)
	work := t.TempDir()
	h := svcStart(t, svcConfig{dataDir: t.TempDir(), pluginDir: testkit.PluginDir(t, testkit.FilePlugin), work: work, dbURL: dbURL,
		adminToken: "admin-0123456789",
		env:        []string{"ADF_HEARTBEAT_TOKENS=" + hbToken, "ADF_HEARTBEAT_ALLOW=127.0.0.2/32,10.9.9.9/32", "ADF_TRUSTED_PROXIES=127.0.0.3/32"},
		args:       []string{"--tick", "0", "--heartbeat-rate", "0.001", "--heartbeat-burst", "4"}})
	t.Logf("adf serve ready after %s", time.Since(t0))
	in := svcCSV(t, filepath.Join(work, "in.csv"), 3)
	out := filepath.Join(work, "out.jsonl")
	h.applyFlow(map[string]any{"name": "beat", "schedule": map[string]any{"every": "1h"},
		"source": map[string]any{"type": "file", "config": map[string]any{"path": in}},
		"sink":   map[string]any{"type": "file", "config": map[string]any{"path": out}}})

	type call struct {
		name, from, method, token, tokenHeader, xff string
		status                                      int
		outcome, client                             string
		folded                                      bool // into the row of the same client and outcome
	}
	calls := []call{
		{name: "no token", from: "127.0.0.2", method: "POST", status: 401, outcome: "missing_token", client: "127.0.0.2"},
		{name: "wrong token", from: "127.0.0.2", method: "POST", token: "not-the-token", status: 401, outcome: "bad_token", client: "127.0.0.2"},
		{name: "disallowed address", from: "127.0.0.4", method: "POST", token: hbToken, status: 403, outcome: "address_not_allowed", client: "127.0.0.4"},
		{name: "allowed address through a trusted proxy", from: "127.0.0.3", method: "POST", token: hbToken, xff: "10.9.9.9", status: 200, outcome: "ok", client: "10.9.9.9"},
		{name: "spoofed X-Forwarded-For from an untrusted peer", from: "127.0.0.4", method: "POST", token: hbToken, xff: "127.0.0.2", status: 403, outcome: "address_not_allowed", client: "127.0.0.4", folded: true},
		{name: "GET instead of POST", from: "127.0.0.2", method: "GET", token: hbToken, status: 405, outcome: "method_not_allowed", client: "127.0.0.2"},
		{name: "right token (3rd of burst 4)", from: "127.0.0.2", method: "POST", token: hbToken, status: 200, outcome: "ok", client: "127.0.0.2"},
		{name: "X-Heartbeat-Token header (4th of burst 4)", from: "127.0.0.2", method: "POST", tokenHeader: hbToken, status: 200, outcome: "ok", client: "127.0.0.2"},
		{name: "over the rate", from: "127.0.0.2", method: "POST", token: hbToken, status: 429, outcome: "rate_limited", client: "127.0.0.2"},
	}
	var runID int64
	for i, c := range calls {
		req, err := http.NewRequest(c.method, h.url+"/v1/heartbeat", nil)
		if err != nil {
			t.Fatal(err)
		}
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		if c.tokenHeader != "" {
			req.Header.Set("X-Heartbeat-Token", c.tokenHeader)
		}
		if c.xff != "" {
			req.Header.Set("X-Forwarded-For", c.xff)
		}
		resp, err := svcClient(c.from).Do(req)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%s: status %d %s, want %d", c.name, resp.StatusCode, body, c.status)
		}
		if strings.Contains(string(body), hbToken) {
			t.Errorf("%s: the response shows the token: %s", c.name, body)
		}
		switch c.status {
		case 401:
			if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s: WWW-Authenticate %q, want a Bearer challenge", c.name, resp.Header.Get("WWW-Authenticate"))
			}
		case 405:
			if resp.Header.Get("Allow") != "POST" {
				t.Errorf("%s: Allow %q, want POST", c.name, resp.Header.Get("Allow"))
			}
		case 429:
			if resp.Header.Get("Retry-After") == "" {
				t.Errorf("%s: no Retry-After", c.name)
			}
		case 200:
			var res store.HeartbeatResult
			if err := json.Unmarshal(body, &res); err != nil {
				t.Fatalf("%s: %s: %v", c.name, body, err)
			}
			if i == 3 {
				if res.Due != 1 || fmt.Sprint(res.Triggered) != "[beat]" || len(res.RunIDs) != 1 {
					t.Errorf("%s: %s, want flow beat due and triggered", c.name, body)
				} else {
					runID = res.RunIDs[0]
				}
			} else if res.Due != 0 || len(res.Triggered) != 0 {
				t.Errorf("%s: %s, want nothing due (beat already ran this slot)", c.name, body)
			}
		}
	}
	t.Logf("matrix done after %s", time.Since(t0))
	st := svcOpenStore(t, dbURL, "")
	var logged []call
	for _, c := range calls {
		if !c.folded {
			logged = append(logged, c)
		}
	}
	var rows []store.HeartbeatLogEntry
	// The folded request is added to its row's count within a second.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var err error
		if rows, err = st.HeartbeatLog(context.Background(), 100); err != nil {
			t.Fatal(err)
		}
		if len(rows) != len(logged) || rows[2].Requests == 2 || time.Now().After(deadline) {
			break
		}
	}
	if len(rows) != len(logged) {
		t.Fatalf("%d heartbeat log rows, want %d (one per request, one folded): %+v", len(rows), len(logged), rows)
	}
	for i, c := range logged {
		r := rows[i]
		want := 1
		if i == 2 {
			want = 2 // and the spoofed X-Forwarded-For
		}
		if r.Status != c.status || r.Outcome != c.outcome || r.ClientAddr != c.client || r.Source != "http" ||
			!strings.HasPrefix(r.RemoteAddr, c.from+":") || r.ReceivedAt.IsZero() || r.Requests != want {
			t.Errorf("log row %d (%s): %+v, want status %d outcome %s client %s from %s, %d request(s)", i, c.name, r, c.status, c.outcome, c.client, c.from, want)
		}
	}
	if rows[3].FlowsDue != 1 || rows[3].FlowsTriggered != 1 {
		t.Errorf("log row of the triggering heartbeat: %+v, want 1 due, 1 triggered", rows[3])
	}
	if runID != 0 {
		run := h.waitRunStatus(runID, time.Minute, store.StatusSuccess, store.StatusFailed)
		if run.Status != store.StatusSuccess || fmt.Sprint(svcIDs(t, out)) != "[1 2 3]" {
			t.Errorf("heartbeat-triggered run %+v, output %v: want success with ids 1..3", run, svcIDs(t, out))
		}
	}
	if strings.Contains(h.log(), hbToken) || strings.Contains(h.log(), "admin-0123456789") {
		t.Errorf("the host's log shows a token")
	}
	if !strings.Contains(h.log(), `"outcome":"rate_limited"`) {
		t.Errorf("the host's log has no heartbeat line for the refused request\n%s", h.log())
	}
}

// The host is killed (SIGKILL, by pid) after a heartbeat committed and before
// the job ran (its only worker is busy with a continuous flow): after a
// restart on the same database the job runs, exactly once; nothing lost,
// nothing doubled.
func TestServeKilledAfterHeartbeat(t *testing.T) {
	for _, dialect := range []string{"postgres", "sqlite"} {
		t.Run(dialect, func(t *testing.T) {
			dbURL := ""
			if dialect == "postgres" {
				dbURL = testkit.NewDatabase(t)
			}
			work, dataDir, pluginDir := t.TempDir(), t.TempDir(), testkit.PluginDir(t, testkit.FilePlugin)
			cfg := svcConfig{dataDir: dataDir, pluginDir: pluginDir, work: work, dbURL: dbURL, adminToken: "admin-tok",
				env: []string{"ADF_HEARTBEAT_TOKENS=hb-tok"}, args: []string{"--tick", "0", "--workers", "1"}}
			h := svcStart(t, cfg)
			svcCSV(t, filepath.Join(work, "stream", "a.csv"), 2)
			h.applyFlow(map[string]any{"name": "forever",
				"source": map[string]any{"type": "file", "config": map[string]any{"path": filepath.Join(work, "stream"), "mode": "continuous", "discover_interval": "100ms"}},
				"sink":   map[string]any{"type": "file", "config": map[string]any{"path": filepath.Join(work, "stream-out") + "/"}}})
			var busy store.Run
			if code, body := h.api("POST", "/v1/flows/forever/runs", nil, &busy); code != 202 {
				t.Fatalf("trigger forever: %d %s", code, body)
			}
			h.waitRunStatus(busy.ID, 30*time.Second, store.StatusInProgress)

			in := svcCSV(t, filepath.Join(work, "in.csv"), 5)
			out := filepath.Join(work, "out.jsonl")
			h.applyFlow(map[string]any{"name": "once", "schedule": map[string]any{"every": "1h"},
				"source": map[string]any{"type": "file", "config": map[string]any{"path": in}},
				"sink":   map[string]any{"type": "file", "config": map[string]any{"path": out}}})
			req, _ := http.NewRequest("POST", h.url+"/v1/heartbeat", nil)
			req.Header.Set("X-Heartbeat-Token", "hb-tok")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var res store.HeartbeatResult
			err = json.NewDecoder(resp.Body).Decode(&res)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || fmt.Sprint(res.Triggered) != "[once]" || len(res.RunIDs) != 1 {
				t.Fatalf("heartbeat: %d %+v %v, want once triggered", resp.StatusCode, res, err)
			}
			id := res.RunIDs[0]
			time.Sleep(700 * time.Millisecond) // the job could run now if a worker were free
			if run := h.getRun(id); run.Status != store.StatusPending || run.Attempt != 0 {
				t.Fatalf("run %+v before the kill: want pending, never attempted (the only worker is busy)", run)
			}
			h.kill()
			if _, err := os.Stat(out); err == nil {
				t.Fatalf("the run wrote %s before the kill", out)
			}

			cfg.args = []string{"--tick", "0", "--workers", "2"}
			h2 := svcStart(t, cfg)
			run := h2.waitRunStatus(id, time.Minute, store.StatusSuccess, store.StatusFailed)
			if run.Status != store.StatusSuccess || run.Attempt != 1 || run.RecordsWritten != 5 {
				t.Fatalf("run after restart: %+v, want success on attempt 1 with 5 rows", run)
			}
			if ids := svcIDs(t, out); fmt.Sprint(ids) != "[1 2 3 4 5]" {
				t.Errorf("output ids %v, want 1..5 exactly once", ids)
			}
			var runs []store.Run
			if code, body := h2.api("GET", "/v1/flows/once/runs", nil, &runs); code != 200 || len(runs) != 1 {
				t.Errorf("runs of once: %d %s, want exactly one", code, body)
			}
			time.Sleep(300 * time.Millisecond)
			st := svcOpenStore(t, dbURL, dataDir)
			var jobs int
			var state string
			q := `SELECT count(*), max(state) FROM river_job WHERE kind = 'data_flow_run' AND args->>'run_id' = $1`
			if dialect == "sqlite" {
				q = `SELECT count(*), max(state) FROM river_job WHERE kind = 'data_flow_run' AND json_extract(args, '$.run_id') = CAST($1 AS INTEGER)`
			}
			if err := st.DB().QueryRow(q, fmt.Sprint(id)).Scan(&jobs, &state); err != nil {
				t.Fatal(err)
			}
			if jobs != 1 || state != "completed" {
				t.Errorf("%d river jobs for run %d (state %s), want exactly one, completed", jobs, id, state)
			}
			if again := h2.getRun(id); again.Attempt != 1 || again.Status != store.StatusSuccess {
				t.Errorf("run %+v later: want it not run again", again)
			}
		})
	}
}

// From a clean directory: `adf serve` on SQLite (no database URL) with a
// short built-in tick runs a flow applied through the API from the ticker;
// health, readiness, metrics and the OpenAPI document are served; SIGTERM
// stops it cleanly.
func TestServeQuickstartSQLite(t *testing.T) {
	work := t.TempDir()
	dataDir := filepath.Join(work, "adf-data") // does not exist yet
	h := svcStart(t, svcConfig{dataDir: dataDir, pluginDir: testkit.PluginDir(t, testkit.FilePlugin), work: work, args: []string{"--tick", "1s"}})
	if _, err := os.Stat(filepath.Join(dataDir, "adf.db")); err != nil {
		t.Fatalf("no SQLite store in the data directory: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(dataDir, "admin-token")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("generated admin token file: %v %v, want mode 0600", fi, err)
	}
	in := svcCSV(t, filepath.Join(work, "in.csv"), 4)
	out := filepath.Join(work, "out.jsonl")
	h.applyFlow(map[string]any{"name": "hourly", "schedule": map[string]any{"every": "1h"},
		"source": map[string]any{"type": "file", "config": map[string]any{"path": in}},
		"sink":   map[string]any{"type": "file", "config": map[string]any{"path": out}}})
	var runs []store.Run
	deadline := time.Now().Add(30 * time.Second)
	for {
		runs = nil
		if code, body := h.api("GET", "/v1/flows/hourly/runs", nil, &runs); code != 200 {
			t.Fatalf("runs: %d %s", code, body)
		}
		if len(runs) == 1 && runs[0].Status == store.StatusSuccess {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no successful run from the ticker after 30s: %+v\n%s", runs, h.log())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if runs[0].Trigger != "schedule" || runs[0].RecordsWritten != 4 {
		t.Errorf("run %+v, want a scheduled run with 4 rows", runs[0])
	}
	if ids := svcIDs(t, out); fmt.Sprint(ids) != "[1 2 3 4]" {
		t.Errorf("output ids %v, want 1..4", ids)
	}
	time.Sleep(1500 * time.Millisecond) // more ticks: the hourly flow is not due again
	runs = nil
	if h.api("GET", "/v1/flows/hourly/runs", nil, &runs); len(runs) != 1 {
		t.Errorf("%d runs after more ticks, want 1", len(runs))
	}
	get := func(path string) (int, string) {
		resp, err := http.Get(h.url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || !strings.Contains(body, "ok") {
		t.Errorf("/healthz: %d %s", code, body)
	}
	if code, body := get("/readyz"); code != 200 || !strings.Contains(body, "ready") {
		t.Errorf("/readyz: %d %s", code, body)
	}
	code, metrics := get("/metrics")
	for _, want := range []string{`adf_runs_total{status="success"} 1`, `adf_heartbeats_total{outcome="ok"}`, `adf_rows_total{kind="written"} 4`} {
		if code != 200 || !strings.Contains(metrics, want) {
			t.Errorf("/metrics (%d) has no %q", code, want)
		}
	}
	code, doc := get("/v1/openapi.json")
	var oa map[string]any
	if err := json.Unmarshal([]byte(doc), &oa); code != 200 || err != nil || oa["openapi"] == nil || oa["paths"] == nil {
		t.Errorf("/v1/openapi.json: %d, %v, want a JSON OpenAPI document", code, err)
	}
	// Heartbeats are disabled without tokens; the ticker still schedules.
	resp, err := http.Post(h.url+"/v1/heartbeat", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("POST /v1/heartbeat without configured tokens: %d, want 403", resp.StatusCode)
	}
	if err := h.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-h.done:
		if err != nil {
			t.Errorf("adf serve after SIGTERM: %v\n%s", err, h.log())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("adf serve did not stop within 20s of SIGTERM\n%s", h.log())
	}
}

// Graceful shutdown: SIGTERM while a continuous flow runs lets it take a
// final checkpoint, which commits what it read (checkpoints are every hour,
// so only the final one can have committed them) and is stored; the host
// exits cleanly within the shutdown timeout.
func TestServeGracefulShutdown(t *testing.T) {
	work, dataDir := t.TempDir(), t.TempDir()
	dbURL := testkit.NewDatabase(t)
	cfg := svcConfig{dataDir: dataDir, pluginDir: testkit.PluginDir(t, testkit.FilePlugin), work: work, dbURL: dbURL,
		adminToken: "admin-tok", args: []string{"--tick", "0", "--shutdown-timeout", "20s"}}
	h := svcStart(t, cfg)
	stream, outDir := filepath.Join(work, "stream"), filepath.Join(work, "out")
	if err := os.MkdirAll(stream, 0o755); err != nil {
		t.Fatal(err)
	}
	h.applyFlow(map[string]any{"name": "cont", "checkpoint": map[string]any{"every": "1h"},
		"source": map[string]any{"type": "file", "config": map[string]any{"path": stream, "mode": "continuous", "discover_interval": "100ms"}},
		"sink":   map[string]any{"type": "file", "config": map[string]any{"path": outDir + "/"}}})
	var run store.Run
	if code, body := h.api("POST", "/v1/flows/cont/runs", nil, &run); code != 202 {
		t.Fatalf("trigger: %d %s", code, body)
	}
	h.waitRunStatus(run.ID, 30*time.Second, store.StatusInProgress)
	addCSV(t, stream, "a.csv", 1, 3)
	time.Sleep(1500 * time.Millisecond) // discovered and read, not committed (checkpoint every 1h)
	if counts, _ := partRows(t, outDir); len(counts) != 0 {
		t.Fatalf("rows committed before any checkpoint: %v", counts)
	}
	if err := h.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-h.done:
		if err != nil {
			t.Fatalf("adf serve after SIGTERM: %v\n%s", err, h.log())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("adf serve did not stop within 30s of SIGTERM\n%s", h.log())
	}
	counts, names := partRows(t, outDir)
	if len(counts) != 3 || counts[1] != 1 || counts[2] != 1 || counts[3] != 1 {
		t.Fatalf("after SIGTERM the output holds %v (%v), want ids 1..3 once: the final checkpoint commits them\n%s", counts, names, h.log())
	}
	st := svcOpenStore(t, dbURL, "")
	after, err := st.GetRun(context.Background(), run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if after.Status != store.StatusPending {
		t.Fatalf("run after graceful shutdown: status %s (error %q), want pending: an unbounded run is suspended, not finished", after.Status, after.ErrorMessage)
	}
	var cps int
	if err := st.DB().QueryRow(`SELECT count(*) FROM checkpoints WHERE run_id = $1`, run.ID).Scan(&cps); err != nil || cps != 1 {
		t.Errorf("%d checkpoints stored for run %d (%v), want 1", cps, run.ID, err)
	}
	// The next host resumes the same run from its checkpoint: a file added
	// meanwhile is read, the old one is not read again.
	addCSV(t, stream, "b.csv", 4, 6)
	h2 := svcStart(t, cfg)
	h2.waitRunStatus(run.ID, 30*time.Second, store.StatusInProgress)
	deadline := time.Now().Add(30 * time.Second)
	for {
		time.Sleep(300 * time.Millisecond)
		if err := h2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		<-h2.done
		counts, names = partRows(t, outDir)
		if len(counts) == 6 || time.Now().After(deadline) {
			break
		}
		h2 = svcStart(t, cfg)
	}
	for id := int64(1); id <= 6; id++ {
		if counts[id] != 1 {
			t.Fatalf("after resuming, the output holds %v (%v), want ids 1..6 exactly once\n%s", counts, names, h2.log())
		}
	}
}
