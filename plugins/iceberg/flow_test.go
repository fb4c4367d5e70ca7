package iceberg_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/activedataflow/adf/host/engine"
	"github.com/activedataflow/adf/host/registry"
	"github.com/activedataflow/adf/internal/testkit"
	"github.com/activedataflow/adf/plugins/iceberg"
	"github.com/activedataflow/adf/sdk/flow"
)

const icebergPlugin = "plugins/iceberg/cmd/adf-plugin-iceberg"

func newRegistry(t testing.TB) *registry.Registry {
	t.Helper()
	return testkit.Registry(t, testkit.FilePlugin, icebergPlugin)
}

func head(s []string) []string {
	if len(s) > 3 {
		return s[:3]
	}
	return s
}

func csvToIceberg(name, in string, w *warehouse, tbl string, parallelism int) *flow.Flow {
	return &flow.Flow{
		Name:        name,
		Source:      flow.Component{Type: "file", Config: json.RawMessage(fmt.Sprintf(`{"path": %q, "format": "csv", "split_size": 2000000}`, in))},
		Parallelism: parallelism,
		Sink:        flow.Component{Type: "iceberg", Config: w.config(tbl, nil)},
	}
}

func icebergToJSONL(name string, w *warehouse, tbl string, extra map[string]any, out string, parallelism int) *flow.Flow {
	return &flow.Flow{
		Name:        name,
		Source:      flow.Component{Type: "iceberg", Config: w.config(tbl, extra)},
		Parallelism: parallelism,
		Sink:        flow.Component{Type: "file", Config: json.RawMessage(fmt.Sprintf(`{"path": %q}`, out))},
	}
}

func run(t *testing.T, eng *engine.Engine, f *flow.Flow, runID string) engine.Result {
	t.Helper()
	start := time.Now()
	res, err := eng.Run(context.Background(), f, runID)
	if err != nil {
		t.Fatalf("run %s of %s: %v", runID, f.Name, err)
	}
	t.Logf("%s %s: %d rows read, %d written in %v", f.Name, runID, res.Stats.RowsRead, res.Stats.RowsWritten, time.Since(start).Round(time.Millisecond))
	return res
}

// 1M rows CSV → Iceberg (SQLite catalog, local warehouse) → the iceberg
// source → JSON-lines: exact. The same table is then read by pyiceberg.
func TestMillionRowsCSVToIcebergToJSONLines(t *testing.T) {
	w := newWarehouse(t)
	in, out := filepath.Join(w.dir, "orders.csv"), filepath.Join(w.dir, "out", "orders.jsonl")
	orders := testkit.WriteOrdersCSV(t, in, 1, 1_000_000)
	eng := engine.New(engine.Options{Registry: newRegistry(t), DataDir: w.dir})
	res := run(t, eng, csvToIceberg("csv_to_iceberg", in, w, "sales.orders", 2), "run-1")
	if res.Stats.RowsWritten != 1_000_000 {
		t.Fatalf("sink wrote %d rows, want 1e6", res.Stats.RowsWritten)
	}
	res = run(t, eng, icebergToJSONL("iceberg_to_jsonl", w, "sales.orders", nil, out, 2), "run-1")
	if res.Stats.RowsRead != 1_000_000 || res.Stats.RowsWritten != 1_000_000 {
		t.Fatalf("stats = %+v, want 1e6 read and written", res.Stats)
	}
	testkit.SameRows(t, testkit.ReadOrdersJSONL(t, out), testkit.Canon(orders))

	t.Run("pyiceberg", func(t *testing.T) { checkWithPyIceberg(t, w, "sales.orders", orders) })
}

// The sink process is killed (-9) mid-run; after the engine restarts the
// attempt from the last checkpoint, the table holds every row exactly once.
func TestKillSinkMidRun(t *testing.T) {
	w := newWarehouse(t)
	in := filepath.Join(w.dir, "orders.csv")
	const n = 1_500_000
	testkit.WriteOrdersCSV(t, in, 1, n)
	var mu sync.Mutex
	var pids []int
	killed := 0
	f := csvToIceberg("killed_sink", in, w, "sales.killed", 2)
	f.Checkpoint = &flow.Checkpoint{Every: 150_000_000} // 150ms
	eng := engine.New(engine.Options{Registry: newRegistry(t), DataDir: w.dir, OnEvent: func(ev engine.Event) {
		mu.Lock()
		defer mu.Unlock()
		switch ev.Kind {
		case "plugin_started":
			if ev.Role == "sink" {
				pids = append(pids, ev.Pid)
			}
		case "checkpoint":
			if ev.Checkpoint.ID == 2 && !ev.Checkpoint.Final && killed == 0 {
				killed = pids[len(pids)-1]
				if err := syscall.Kill(killed, syscall.SIGKILL); err != nil {
					t.Errorf("kill %d: %v", killed, err)
				}
			}
		}
	}})
	res := run(t, eng, f, "run-kill")
	mu.Lock()
	defer mu.Unlock()
	if killed == 0 {
		t.Fatal("the sink was never killed: the run ended before its second checkpoint")
	}
	if res.Stats.Restarts < 1 || len(pids) < 2 {
		t.Fatalf("expected a restart with a new sink process, got restarts=%d pids=%v", res.Stats.Restarts, pids)
	}
	tb, closeCat := w.open(t, "sales.killed")
	defer closeCat()
	_, seq, err := tb.Scan().ToArrowRecords(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	seen := make([]int, n+1)
	total := 0
	for rec, err := range seq {
		if err != nil {
			t.Fatal(err)
		}
		ids := rec.Column(int(rec.Schema().FieldIndices("id")[0])).(*array.Int64)
		for i := 0; i < ids.Len(); i++ {
			seen[ids.Value(i)]++
			total++
		}
		rec.Release()
	}
	for id := 1; id <= n; id++ {
		if seen[id] != 1 {
			t.Fatalf("row id %d is in the table %d times (table holds %d rows, want %d)", id, seen[id], total, n)
		}
	}
	if total != n {
		t.Fatalf("table holds %d rows, want %d", total, n)
	}
	t.Logf("killed sink pid %d; %d snapshots; table exact", killed, len(tb.Metadata().Snapshots()))
}

// failingStore is the host's checkpoint store, which fails to persist one
// checkpoint: it first kills the sink process (kill -9), as if the host
// had crashed between the sink's pre-commit (Flush) and its own persist.
type failingStore struct {
	*engine.MemoryStore
	failAt int64
	kill   func()
	failed bool
}

func (s *failingStore) Save(ctx context.Context, flowName, runID string, cp *engine.Checkpoint, rejected []engine.Rejected) error {
	if cp.ID == s.failAt && !s.failed {
		s.failed = true
		s.kill()
		return fmt.Errorf("test: checkpoint %d is lost before it is persisted", cp.ID)
	}
	return s.MemoryStore.Save(ctx, flowName, runID, cp, rejected)
}

// The sink pre-commits checkpoint 3 (its data files are written, no
// snapshot references them), then it is killed and the host never persists
// checkpoint 3. The restarted attempt restores checkpoint 2 and replays the
// rows of checkpoint 3: no snapshot ever carried the undurable checkpoint,
// no checkpoint has two snapshots, and the table holds each row exactly
// once.
func TestKillSinkRightAfterCommit(t *testing.T) {
	w := newWarehouse(t)
	in := filepath.Join(w.dir, "orders.csv")
	const n = 1_000_000
	testkit.WriteOrdersCSV(t, in, 1, n)
	var mu sync.Mutex
	var pids []int
	f := csvToIceberg("killed_after_commit", in, w, "sales.commitkill", 2)
	f.Checkpoint = &flow.Checkpoint{Every: 150_000_000} // 150ms
	store := &failingStore{MemoryStore: engine.NewMemoryStore(), failAt: 3, kill: func() {
		mu.Lock()
		defer mu.Unlock()
		if err := syscall.Kill(pids[len(pids)-1], syscall.SIGKILL); err != nil {
			t.Errorf("kill: %v", err)
		}
	}}
	eng := engine.New(engine.Options{Registry: newRegistry(t), DataDir: w.dir, Checkpoints: store, OnEvent: func(ev engine.Event) {
		mu.Lock()
		defer mu.Unlock()
		if ev.Kind == "plugin_started" && ev.Role == "sink" {
			pids = append(pids, ev.Pid)
		}
	}})
	res := run(t, eng, f, "run-commit-kill")
	if !store.failed || res.Stats.Restarts < 1 {
		t.Fatalf("checkpoint 3 was never lost, or no restart (restarts=%d): the run ended too early", res.Stats.Restarts)
	}
	tb, closeCat := w.open(t, "sales.commitkill")
	defer closeCat()
	_, seq, err := tb.Scan().ToArrowRecords(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	seen := make([]int, n+1)
	total := 0
	for rec, err := range seq {
		if err != nil {
			t.Fatal(err)
		}
		ids := rec.Column(int(rec.Schema().FieldIndices("id")[0])).(*array.Int64)
		for i := 0; i < ids.Len(); i++ {
			seen[ids.Value(i)]++
			total++
		}
		rec.Release()
	}
	for id := 1; id <= n; id++ {
		if seen[id] != 1 {
			t.Fatalf("row id %d is in the table %d times (table holds %d rows, want %d)", id, seen[id], total, n)
		}
	}
	perCheckpoint := map[string]int{}
	for _, s := range tb.Metadata().Snapshots() {
		if s.Summary == nil || s.Summary.Properties[iceberg.SummaryCheckpoint] == "" {
			t.Fatalf("snapshot %d has summary %+v, want an ADF checkpoint id", s.SnapshotID, s.Summary)
		}
		perCheckpoint[s.Summary.Properties[iceberg.SummaryCheckpoint]]++
	}
	for cp, n := range perCheckpoint {
		if n != 1 {
			t.Fatalf("checkpoint %s has %d snapshots, want 1 (%v)", cp, n, perCheckpoint)
		}
	}
	t.Logf("the undurable checkpoint 3 was never published; %d rows, each once, %d snapshots", total, len(perCheckpoint))
}

// Incremental mode over runs: each run reads only what was appended since
// the previous one.
func TestIncrementalSourceOverTwoRuns(t *testing.T) {
	w := newWarehouse(t)
	eng := engine.New(engine.Options{Registry: newRegistry(t), DataDir: w.dir})
	inc := map[string]any{"mode": "incremental", "cursor": "to_jsonl"}

	in1 := filepath.Join(w.dir, "a.csv")
	first := testkit.WriteOrdersCSV(t, in1, 1, 20_000)
	run(t, eng, csvToIceberg("load", in1, w, "sales.inc", 2), "load-1")
	out1 := filepath.Join(w.dir, "out1.jsonl")
	res := run(t, eng, icebergToJSONL("inc", w, "sales.inc", inc, out1, 2), "inc-1")
	if res.Stats.RowsRead != 20_000 {
		t.Fatalf("first incremental run read %d rows, want 20000", res.Stats.RowsRead)
	}
	testkit.SameRows(t, testkit.ReadOrdersJSONL(t, out1), testkit.Canon(first))

	in2 := filepath.Join(w.dir, "b.csv")
	second := testkit.WriteOrdersCSV(t, in2, 20_001, 7_000)
	run(t, eng, csvToIceberg("load", in2, w, "sales.inc", 2), "load-2")
	out2 := filepath.Join(w.dir, "out2.jsonl")
	res = run(t, eng, icebergToJSONL("inc", w, "sales.inc", inc, out2, 2), "inc-2")
	if res.Stats.RowsRead != 7_000 {
		t.Fatalf("second incremental run read %d rows, want only the 7000 new ones", res.Stats.RowsRead)
	}
	testkit.SameRows(t, testkit.ReadOrdersJSONL(t, out2), testkit.Canon(second))

	out3 := filepath.Join(w.dir, "out3.jsonl")
	res = run(t, eng, icebergToJSONL("inc", w, "sales.inc", inc, out3, 2), "inc-3")
	if res.Stats.RowsRead != 0 {
		t.Fatalf("third incremental run read %d rows, want 0 (nothing new)", res.Stats.RowsRead)
	}
	// A full scan still sees everything.
	outAll := filepath.Join(w.dir, "all.jsonl")
	run(t, eng, icebergToJSONL("full", w, "sales.inc", nil, outAll, 2), "full-1")
	testkit.SameRows(t, testkit.ReadOrdersJSONL(t, outAll), append(testkit.Canon(first), testkit.Canon(second)...))
}

// checksum is the SHA-256 of the sorted rendered values, one per line; the
// pyiceberg script computes the same.
func checksum(vals []string) string {
	sort.Strings(vals)
	h := sha256.New()
	for _, v := range vals {
		h.Write([]byte(v))
		h.Write([]byte("\n"))
	}
	return hex.EncodeToString(h.Sum(nil))
}
