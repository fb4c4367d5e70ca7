package main

// Liveness of runs in `adf serve`: a host killed with SIGKILL mid-run leaves
// its run to be resumed from its last checkpoint, by itself after a restart
// or by another host on the same PostgreSQL.

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/activedataflow/adf/host/store"
	"github.com/activedataflow/adf/internal/testkit"
)

// leaseRows is the input of the lease tests.
const leaseRows = 2_000_000

// resumedRE finds the engine's log line of a resumed run (JSON logs).
var resumedRE = regexp.MustCompile(`"@message":"resuming from checkpoint".*?"rows_read":(\d+)`)

// connect opens a connection for the test's own queries.
func connect(t *testing.T, dbURL string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// checkpointRows reads the rows_read of a run's latest checkpoint (0 when
// there is none).
func checkpointRows(t *testing.T, conn *pgx.Conn, runID int64) int64 {
	t.Helper()
	var state string
	err := conn.QueryRow(context.Background(), `SELECT state FROM checkpoints WHERE run_id = $1`, runID).Scan(&state)
	if err == pgx.ErrNoRows {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	var cp struct {
		Stats struct {
			RowsRead int64 `json:"rows_read"`
		} `json:"stats"`
	}
	if err := json.Unmarshal([]byte(state), &cp); err != nil {
		t.Fatal(err)
	}
	return cp.Stats.RowsRead
}

// tableCheck fails unless table holds exactly the ids 1..n once each.
func tableCheck(t *testing.T, dbURL, table string, n int64) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var count, distinct, sum, minID, maxID int64
	if err := conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT id), coalesce(sum(id), 0), coalesce(min(id), 0), coalesce(max(id), 0) FROM `+table).
		Scan(&count, &distinct, &sum, &minID, &maxID); err != nil {
		t.Fatal(err)
	}
	if count != n || distinct != n || sum != n*(n+1)/2 || minID != 1 || maxID != n {
		t.Fatalf("%s holds %d rows (%d distinct ids, sum %d, %d..%d), want ids 1..%d once each", table, count, distinct, sum, minID, maxID, n)
	}
}

func TestServeKilledMidRunResumes(t *testing.T) {
	dbURL := testkit.NewDatabase(t)
	work, data := t.TempDir(), t.TempDir()
	plugins := testkit.PluginDir(t, testkit.FilePlugin, sqlPluginPkg)
	in := filepath.Join(work, "orders.csv")
	testkit.WriteOrdersCSV(t, in, 1, leaseRows)
	cfg := svcConfig{dataDir: data, pluginDir: plugins, work: work, dbURL: dbURL, args: []string{"--tick", "0", "--lease-ttl", "3s"}}
	h := svcStart(t, cfg)
	h.applyFlow(map[string]any{"name": "big",
		"source":     map[string]any{"type": "file", "config": map[string]any{"path": in}},
		"sink":       map[string]any{"type": "postgres", "config": map[string]any{"url": dbURL, "table": "orders", "mode": "upsert", "key": []string{"id"}, "create_table": true}},
		"checkpoint": map[string]any{"every": "300ms"}})
	var run store.Run
	if code, body := h.api("POST", "/v1/flows/big/runs", nil, &run); code != 202 {
		t.Fatalf("trigger: %d %s", code, body)
	}
	var before int64
	conn := connect(t, dbURL)
	testkit.WaitFor(t, 120*time.Second, "a checkpoint past 40% of the rows", func() bool {
		before = checkpointRows(t, conn, run.ID)
		return before >= leaseRows*4/10
	}, h.log)
	if err := h.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-h.done
	killed := time.Now()
	if before >= leaseRows {
		t.Fatalf("the run had read everything (%d rows) before the kill", before)
	}

	h2 := svcStart(t, cfg)
	run = h2.waitRunStatus(run.ID, 120*time.Second, store.StatusSuccess, store.StatusFailed)
	if run.Status != store.StatusSuccess {
		t.Fatalf("run %d %s: %s\n%s", run.ID, run.Status, run.ErrorMessage, h2.log())
	}
	recovered := time.Since(killed)
	m := resumedRE.FindStringSubmatch(h2.log())
	if m == nil {
		t.Fatalf("the restarted host did not resume the run from a checkpoint\n%s", h2.log())
	}
	resumedAt, _ := strconv.ParseInt(m[1], 10, 64)
	if resumedAt < before || resumedAt >= leaseRows {
		t.Errorf("resumed at rows_read=%d, want at least the %d of the checkpoint seen before the kill and less than %d", resumedAt, before, leaseRows)
	}
	tableCheck(t, dbURL, "orders", leaseRows)
	if run.RecordsRead != leaseRows {
		t.Errorf("run counts %d rows read, want %d", run.RecordsRead, leaseRows)
	}
	t.Logf("host killed at checkpoint rows_read=%d (%.0f%%); the restarted host resumed and read the remaining %d rows; run ended %s after the kill (lease ttl 3s)",
		resumedAt, 100*float64(resumedAt)/leaseRows, leaseRows-resumedAt, recovered.Round(100*time.Millisecond))
	fmt.Println("recovery after SIGKILL of adf serve:", recovered.Round(100*time.Millisecond))
}

// TestTwoHostsShareRuns: two hosts on one PostgreSQL run 200 scheduled
// flows and a long run; the host running the long run is killed, the other
// finishes it from its checkpoint, and every flow ran exactly once.
func TestTwoHostsShareRuns(t *testing.T) {
	const flows = 200
	dbURL := testkit.NewDatabase(t)
	work := t.TempDir()
	plugins := testkit.PluginDir(t, testkit.FilePlugin, sqlPluginPkg)
	big := filepath.Join(work, "big.csv")
	testkit.WriteOrdersCSV(t, big, 1, leaseRows)
	small := filepath.Join(work, "small.csv")
	want := testkit.Canon(testkit.WriteOrdersCSV(t, small, 1, 20))
	hosts := map[int]*svcHost{}
	for i := 0; i < 2; i++ {
		h := svcStart(t, svcConfig{dataDir: t.TempDir(), pluginDir: plugins, work: work, dbURL: dbURL,
			args: []string{"--tick", "500ms", "--lease-ttl", "3s", "--workers", "4"}})
		hosts[h.cmd.Process.Pid] = h
	}
	var first *svcHost
	for _, h := range hosts {
		first = h
	}
	// The scheduled flows first (saving 200 flows takes a while), then the
	// long run, which the test must catch mid-way.
	for i := 0; i < flows; i++ {
		first.applyFlow(map[string]any{"name": fmt.Sprintf("f%03d", i), "schedule": map[string]any{"every": "1h"},
			"source": map[string]any{"type": "file", "config": map[string]any{"path": small}},
			"sink":   map[string]any{"type": "file", "config": map[string]any{"path": filepath.Join(work, "out", fmt.Sprintf("f%03d.jsonl", i))}}})
	}

	first.applyFlow(map[string]any{"name": "long",
		"source":     map[string]any{"type": "file", "config": map[string]any{"path": big}},
		"sink":       map[string]any{"type": "postgres", "config": map[string]any{"url": dbURL, "table": "orders", "mode": "upsert", "key": []string{"id"}, "create_table": true}},
		"checkpoint": map[string]any{"every": "300ms"}})
	var long store.Run
	if code, body := first.api("POST", "/v1/flows/long/runs", nil, &long); code != 202 {
		t.Fatalf("trigger: %d %s", code, body)
	}
	// Kill whichever host holds the long run's lease, at 40% or more.
	ctx := context.Background()
	conn := connect(t, dbURL)
	var owner, status string
	testkit.WaitFor(t, 120*time.Second, "the long run past 40% of its rows", func() bool {
		_ = conn.QueryRow(ctx, `SELECT coalesce(lease_owner, ''), status FROM data_flow_runs WHERE id = $1`, long.ID).Scan(&owner, &status)
		if status == store.StatusSuccess {
			t.Fatalf("the long run ended before the test could kill its host (the test polls too slowly for this machine)")
		}
		return owner != "" && checkpointRows(t, conn, long.ID) >= leaseRows*4/10
	}, func() string {
		var done int
		_ = conn.QueryRow(ctx, `SELECT count(*) FROM data_flow_runs WHERE flow_name <> 'long' AND status = 'success'`).Scan(&done)
		return fmt.Sprintf("long run %s, lease %q, checkpoint rows_read %d; %d scheduled runs done\n%s", status, owner, checkpointRows(t, conn, long.ID), done, first.log())
	})
	var pid int
	if _, err := fmt.Sscanf(owner[strings.Index(owner, ":")+1:], "%d:", &pid); err != nil || hosts[pid] == nil {
		t.Fatalf("lease owner %q is not one of the hosts %v", owner, hosts)
	}
	victim := hosts[pid]
	if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-victim.done
	killed := time.Now()
	delete(hosts, pid)
	var survivor *svcHost
	for _, h := range hosts {
		survivor = h
	}

	long = survivor.waitRunStatus(long.ID, 180*time.Second, store.StatusSuccess, store.StatusFailed)
	if long.Status != store.StatusSuccess {
		t.Fatalf("long run %s: %s\n%s", long.Status, long.ErrorMessage, survivor.log())
	}
	t.Logf("the surviving host finished the long run %s after the other was killed", time.Since(killed).Round(100*time.Millisecond))
	if !resumedRE.MatchString(survivor.log()) {
		t.Errorf("the surviving host did not resume the long run from a checkpoint")
	}
	tableCheck(t, dbURL, "orders", leaseRows)

	// Every scheduled flow: exactly one run, successful, its output exact.
	testkit.WaitFor(t, 180*time.Second, "every scheduled flow to succeed once", func() bool {
		var done int
		_ = conn.QueryRow(ctx, `SELECT count(*) FROM data_flow_runs WHERE flow_name <> 'long' AND status = 'success'`).Scan(&done)
		return done >= flows
	}, survivor.log)
	rows, err := conn.Query(ctx, `SELECT flow_name, count(*), count(*) FILTER (WHERE status = 'success') FROM data_flow_runs GROUP BY flow_name`)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for rows.Next() {
		var name string
		var n, ok int
		if err := rows.Scan(&name, &n, &ok); err != nil {
			t.Fatal(err)
		}
		seen++
		if n != 1 || ok != 1 {
			t.Errorf("flow %s has %d runs (%d successful), want exactly one", name, n, ok)
		}
	}
	rows.Close()
	if seen != flows+1 {
		t.Errorf("%d flows have runs, want %d", seen, flows+1)
	}
	for i := 0; i < flows; i++ {
		testkit.SameRows(t, testkit.ReadOrdersJSONL(t, filepath.Join(work, "out", fmt.Sprintf("f%03d.jsonl", i))), want)
	}
}

// TestStaleHostIsFenced: a host frozen past its lease (SIGSTOP) loses the
// run to another host; when it wakes up it stops working on the run and
// never writes its checkpoints or its status again.
func TestStaleHostIsFenced(t *testing.T) {
	dbURL := testkit.NewDatabase(t)
	work := t.TempDir()
	plugins := testkit.PluginDir(t, testkit.FilePlugin, sqlPluginPkg)
	in := filepath.Join(work, "orders.csv")
	testkit.WriteOrdersCSV(t, in, 1, leaseRows)
	start := func() *svcHost {
		return svcStart(t, svcConfig{dataDir: t.TempDir(), pluginDir: plugins, work: work, dbURL: dbURL,
			args: []string{"--tick", "0", "--lease-ttl", "2s"}})
	}
	a := start()
	a.applyFlow(map[string]any{"name": "big",
		"source":     map[string]any{"type": "file", "config": map[string]any{"path": in}},
		"sink":       map[string]any{"type": "postgres", "config": map[string]any{"url": dbURL, "table": "orders", "mode": "upsert", "key": []string{"id"}, "create_table": true}},
		"checkpoint": map[string]any{"every": "300ms"}})
	var run store.Run
	if code, body := a.api("POST", "/v1/flows/big/runs", nil, &run); code != 202 {
		t.Fatalf("trigger: %d %s", code, body)
	}
	conn := connect(t, dbURL)
	testkit.WaitFor(t, 120*time.Second, "a checkpoint past 30% of the rows", func() bool {
		return checkpointRows(t, conn, run.ID) >= leaseRows*3/10
	}, a.log)
	if err := a.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	b := start()
	run = b.waitRunStatus(run.ID, 120*time.Second, store.StatusSuccess, store.StatusFailed)
	if run.Status != store.StatusSuccess {
		t.Fatalf("run %s on the second host: %s\n%s", run.Status, run.ErrorMessage, b.log())
	}
	if err := a.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 30*time.Second, "the woken host to give the run up", func() bool {
		return strings.Contains(a.log(), "lost the run's lease")
	}, a.log)
	time.Sleep(time.Second)
	if got := b.getRun(run.ID); got.Status != store.StatusSuccess || got.RecordsRead != leaseRows {
		t.Errorf("after the stale host woke up the run is %s with %d rows read (%s)", got.Status, got.RecordsRead, got.ErrorMessage)
	}
	if n := checkpointRows(t, conn, run.ID); n != leaseRows {
		t.Errorf("the run's checkpoint says %d rows read after the stale host woke up, want %d (its final checkpoint)", n, leaseRows)
	}
	tableCheck(t, dbURL, "orders", leaseRows)
}
