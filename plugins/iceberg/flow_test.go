package iceberg_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/activedataflow/adf/internal/testkit"
	"github.com/activedataflow/adf/plugins/iceberg"
	"github.com/activedataflow/adf/sdk"
	"github.com/activedataflow/adf/sdk/flow"
)

const icebergPlugin = "plugins/iceberg/cmd/adf-plugin-iceberg"

// newADF is an adf installation with the file and iceberg plugins: the
// tests run their flows through the adf binary, as a user would.
func newADF(t testing.TB) *testkit.ADF {
	t.Helper()
	return testkit.NewADF(t, testkit.FilePlugin, icebergPlugin)
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

// flowDoc renders a flow as the document adf run reads (JSON is YAML).
func flowDoc(t testing.TB, f *flow.Flow) string {
	t.Helper()
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// run runs the flow once with adf run, which must succeed, and returns its
// summary.
func run(t testing.TB, a *testkit.ADF, f *flow.Flow) testkit.Summary {
	t.Helper()
	start := time.Now()
	s, _ := a.RunFlow(t, f.Name, flowDoc(t, f))
	if s.Status != "success" {
		t.Fatalf("adf run %s: summary %+v", f.Name, s)
	}
	t.Logf("%s: %d rows read, %d written in %v", f.Name, s.Read, s.Written, time.Since(start).Round(time.Millisecond))
	return s
}

// runWithFault runs the flow with adf run under ADF_FAULT (and a debug log)
// and returns how the command ended.
func runWithFault(t testing.TB, a *testkit.ADF, f *flow.Flow, fault string) testkit.Result {
	t.Helper()
	env := a.Env
	a.Env = append(append([]string{}, env...), "ADF_FAULT="+fault, "ADF_LOG_LEVEL=debug")
	defer func() { a.Env = env }()
	return a.Run(t, "run", "--progress", "none", a.WriteFlow(t, f.Name, flowDoc(t, f)))
}

var (
	faultRE       = regexp.MustCompile(`fault injection: killing a process.*fault=(\S+) pid=(\d+)`)
	sinkStartedRE = regexp.MustCompile(`plugin started: .*role=sink pid=(\d+)`)
)

// faultPid is the pid the fault injection killed, from the log, 0 when the
// fault never fired.
func faultPid(log string) int {
	m := faultRE.FindStringSubmatch(log)
	if m == nil {
		return 0
	}
	pid, _ := strconv.Atoi(m[2])
	return pid
}

// sinkPids are the pids of every sink process the run started, in order,
// from its debug log.
func sinkPids(log string) []int {
	var pids []int
	for _, m := range sinkStartedRE.FindAllStringSubmatch(log, -1) {
		pid, _ := strconv.Atoi(m[1])
		pids = append(pids, pid)
	}
	return pids
}

// countIDs scans the table with iceberg-go and counts each order id.
func countIDs(t *testing.T, w *warehouse, tbl string, n int) (seen []int, total int, snapshots int) {
	t.Helper()
	tb, closeCat := w.open(t, tbl)
	defer closeCat()
	_, seq, err := tb.Scan().ToArrowRecords(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	seen = make([]int, n+1)
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
	return seen, total, len(tb.Metadata().Snapshots())
}

// 1M rows CSV → Iceberg (SQLite catalog, local warehouse) → the iceberg
// source → JSON-lines: exact. The same table is then read by pyiceberg.
func TestMillionRowsCSVToIcebergToJSONLines(t *testing.T) {
	w := newWarehouse(t)
	in, out := filepath.Join(w.dir, "orders.csv"), filepath.Join(w.dir, "out", "orders.jsonl")
	orders := testkit.WriteOrdersCSV(t, in, 1, 1_000_000)
	a := newADF(t)
	s := run(t, a, csvToIceberg("csv_to_iceberg", in, w, "sales.orders", 2))
	if s.Written != 1_000_000 {
		t.Fatalf("sink wrote %d rows, want 1e6", s.Written)
	}
	s = run(t, a, icebergToJSONL("iceberg_to_jsonl", w, "sales.orders", nil, out, 2))
	if s.Read != 1_000_000 || s.Written != 1_000_000 {
		t.Fatalf("summary = %+v, want 1e6 read and written", s)
	}
	testkit.SameRows(t, testkit.ReadOrdersJSONL(t, out), testkit.Canon(orders))

	t.Run("pyiceberg", func(t *testing.T) { checkWithPyIceberg(t, w, "sales.orders", orders) })
}

// The sink process is killed (-9) mid-run, right after the host persisted
// checkpoint 2 and before the sink committed it (ADF_FAULT=saved@2:sink);
// after the host restarts the attempt from the last checkpoint, the table
// holds every row exactly once.
func TestKillSinkMidRun(t *testing.T) {
	w := newWarehouse(t)
	in := filepath.Join(w.dir, "orders.csv")
	const n = 1_500_000
	testkit.WriteOrdersCSV(t, in, 1, n)
	a := newADF(t)
	f := csvToIceberg("killed_sink", in, w, "sales.killed", 2)
	f.Checkpoint = &flow.Checkpoint{Every: sdk.Duration(150 * time.Millisecond)}
	r := runWithFault(t, a, f, "saved@2:sink")
	if r.Code != 0 {
		t.Fatalf("adf run with the sink killed at checkpoint 2 failed\n%s", r)
	}
	res := r.Summary(t)
	killed := faultPid(r.Stderr)
	if killed == 0 {
		t.Fatalf("the sink was never killed: the run ended before its second checkpoint\n%s", r)
	}
	pids := sinkPids(r.Stderr)
	if res.Restarts < 1 || len(pids) < 2 || pids[0] != killed || testkit.PluginPids(r.Stderr)["sink"] == killed {
		t.Fatalf("expected a restart with a new sink process after killing sink %d, got restarts=%d sink pids=%v\n%s", killed, res.Restarts, pids, r)
	}
	seen, total, snapshots := countIDs(t, w, "sales.killed", n)
	for id := 1; id <= n; id++ {
		if seen[id] != 1 {
			t.Fatalf("row id %d is in the table %d times (table holds %d rows, want %d)", id, seen[id], total, n)
		}
	}
	if total != n {
		t.Fatalf("table holds %d rows, want %d", total, n)
	}
	t.Logf("killed sink pid %d; %d snapshots; table exact", killed, snapshots)
}

// The sink pre-commits checkpoint 3 (its data files are written, no
// snapshot references them), then the host is killed (-9) before it
// persists checkpoint 3 (ADF_FAULT=precommitted@3:host; the sink dies with
// it). The same adf run again resumes the run from checkpoint 2 and replays
// the rows of checkpoint 3: no snapshot ever carried the undurable
// checkpoint, no checkpoint has two snapshots, and the table holds each row
// exactly once.
func TestKillSinkRightAfterCommit(t *testing.T) {
	w := newWarehouse(t)
	in := filepath.Join(w.dir, "orders.csv")
	const n = 1_000_000
	testkit.WriteOrdersCSV(t, in, 1, n)
	a := newADF(t)
	f := csvToIceberg("killed_after_commit", in, w, "sales.commitkill", 2)
	f.Checkpoint = &flow.Checkpoint{Every: sdk.Duration(150 * time.Millisecond)}
	r := runWithFault(t, a, f, "precommitted@3:host")
	if r.Code != -1 || !strings.Contains(r.Stderr, "fault=precommitted@3:host") {
		t.Fatalf("checkpoint 3 was never lost (the host was not killed before persisting it): the run ended too early\n%s", r)
	}
	r = a.Run(t, "run", "--progress", "none", filepath.Join(a.Work, f.Name+".yaml"))
	if r.Code != 0 || !strings.Contains(r.Stderr, "from checkpoint 2 ") {
		t.Fatalf("adf run after the host was killed did not resume from checkpoint 2 and succeed\n%s", r)
	}
	if s := r.Summary(t); s.Status != "success" {
		t.Fatalf("summary %+v\n%s", s, r)
	}
	seen, total, _ := countIDs(t, w, "sales.commitkill", n)
	for id := 1; id <= n; id++ {
		if seen[id] != 1 {
			t.Fatalf("row id %d is in the table %d times (table holds %d rows, want %d)", id, seen[id], total, n)
		}
	}
	tb, closeCat := w.open(t, "sales.commitkill")
	defer closeCat()
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
	a := newADF(t)
	inc := map[string]any{"mode": "incremental", "cursor": "to_jsonl"}

	in1 := filepath.Join(w.dir, "a.csv")
	first := testkit.WriteOrdersCSV(t, in1, 1, 20_000)
	run(t, a, csvToIceberg("load", in1, w, "sales.inc", 2))
	out1 := filepath.Join(w.dir, "out1.jsonl")
	s := run(t, a, icebergToJSONL("inc", w, "sales.inc", inc, out1, 2))
	if s.Read != 20_000 {
		t.Fatalf("first incremental run read %d rows, want 20000", s.Read)
	}
	testkit.SameRows(t, testkit.ReadOrdersJSONL(t, out1), testkit.Canon(first))

	in2 := filepath.Join(w.dir, "b.csv")
	second := testkit.WriteOrdersCSV(t, in2, 20_001, 7_000)
	run(t, a, csvToIceberg("load", in2, w, "sales.inc", 2))
	out2 := filepath.Join(w.dir, "out2.jsonl")
	s = run(t, a, icebergToJSONL("inc", w, "sales.inc", inc, out2, 2))
	if s.Read != 7_000 {
		t.Fatalf("second incremental run read %d rows, want only the 7000 new ones", s.Read)
	}
	testkit.SameRows(t, testkit.ReadOrdersJSONL(t, out2), testkit.Canon(second))

	out3 := filepath.Join(w.dir, "out3.jsonl")
	s = run(t, a, icebergToJSONL("inc", w, "sales.inc", inc, out3, 2))
	if s.Read != 0 {
		t.Fatalf("third incremental run read %d rows, want 0 (nothing new)", s.Read)
	}
	// A full scan still sees everything.
	outAll := filepath.Join(w.dir, "all.jsonl")
	run(t, a, icebergToJSONL("full", w, "sales.inc", nil, outAll, 2))
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
