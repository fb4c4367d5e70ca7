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

// checkpointRows reads the rows_read of a run's latest checkpoint (0 when
// there is none).
func checkpointRows(t *testing.T, dbURL string, runID int64) int64 {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var state string
	err = conn.QueryRow(ctx, `SELECT state FROM checkpoints WHERE run_id = $1`, runID).Scan(&state)
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
	testkit.WaitFor(t, 120*time.Second, "a checkpoint past 40% of the rows", func() bool {
		before = checkpointRows(t, dbURL, run.ID)
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
