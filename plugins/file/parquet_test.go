package file_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/activedataflow/adf/internal/testkit"
	"github.com/activedataflow/adf/sdk"
	"github.com/activedataflow/adf/sdk/sdktest"
)

// The Parquet tests check ADF's files against an independent reader and
// writer: pyarrow (Apache Arrow's Python library, on Arrow C++'s Parquet
// implementation). The tests install it themselves when missing: a virtual
// environment in /var/tmp/adf-pyarrow-venv (override with
// ADF_PYARROW_VENV) with pip install pyarrow from PyPI. CI needs python3
// (with venv) and access to PyPI on the first run; later runs reuse it.

func pyarrowVenv() string {
	if v := os.Getenv("ADF_PYARROW_VENV"); v != "" {
		return v
	}
	return "/var/tmp/adf-pyarrow-venv"
}

// ensurePyArrow returns the venv's python with pyarrow importable.
func ensurePyArrow(t *testing.T) string {
	t.Helper()
	return testkit.PythonVenv(t, pyarrowVenv(), "import pyarrow.parquet", "pyarrow")
}

// python runs script with args and returns its standard output.
func python(t *testing.T, script string, args ...string) string {
	t.Helper()
	py := ensurePyArrow(t)
	cmd := exec.Command(py, append([]string{"-c", script}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, stderr.String())
	}
	return string(out)
}

// pyOrders reads order rows (id, name, amount, ts) from Parquet files with
// pyarrow and prints them in testkit's canonical form, then the schema of
// the first file and its row group count as a last JSON line.
const pyOrders = `
import json, sys
import pyarrow.parquet as pq
info = None
for p in sys.argv[1:]:
    f = pq.ParquetFile(p)
    if info is None:
        info = {"schema": [[fl.name, str(fl.type)] for fl in f.schema_arrow], "row_groups": f.num_row_groups,
                "codec": f.metadata.row_group(0).column(0).compression if f.num_row_groups else ""}
    t = f.read()
    for r in t.to_pylist():
        print("%d|%s|%.2f|%s" % (r["id"], r["name"], r["amount"], r["ts"].strftime("%Y-%m-%dT%H:%M:%SZ")))
print(json.dumps(info))
`

type pqInfo struct {
	Schema    [][2]string `json:"schema"`
	RowGroups int         `json:"row_groups"`
	Codec     string      `json:"codec"`
}

// readOrdersParquet reads the files with pyarrow.
func readOrdersParquet(t *testing.T, paths ...string) ([]string, pqInfo) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(python(t, pyOrders, paths...)), "\n")
	var info pqInfo
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &info); err != nil {
		t.Fatalf("pyarrow info %q: %v", lines[len(lines)-1], err)
	}
	return lines[:len(lines)-1], info
}

var ordersParquetSchema = [][2]string{{"id", "int64"}, {"name", "string"}, {"amount", "double"}, {"ts", "timestamp[us, tz=UTC]"}}

// TestParquetSinkFromCSV: 200k CSV rows through adf run into one Parquet
// file, read back by pyarrow row by row, with the schema, the row groups
// of row_group_size and the codec.
func TestParquetSinkFromCSV(t *testing.T) {
	a := fileADF(t)
	in := filepath.Join(a.Work, "orders.csv")
	want := testkit.Canon(testkit.WriteOrdersCSV(t, in, 1, 200000))
	for _, tc := range []struct{ name, extra, codec string }{
		{"zstd", "", "ZSTD"},
		{"snappy", `, "compression": "snappy"`, "SNAPPY"},
		{"none", `, "compression": "none"`, "UNCOMPRESSED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(a.Work, tc.name, "orders.parquet")
			doc := fmt.Sprintf(`{"name": "pq-%s", "parallelism": 2, "source": {"type": "file", "config": {"path": %q, "split_size": 1048576}},
"sink": {"type": "file", "config": {"path": %q, "row_group_size": 50000%s}}}`, tc.name, in, out, tc.extra)
			res := a.Run(t, "run", "--progress", "none", a.WriteFlow(t, "pq-"+tc.name, doc))
			if res.Code != 0 {
				t.Fatalf("adf run failed\n%s", res)
			}
			got, info := readOrdersParquet(t, out)
			testkit.SameRows(t, got, want)
			if !slices.Equal(info.Schema, ordersParquetSchema) {
				t.Errorf("schema %q, want %q", info.Schema, ordersParquetSchema)
			}
			if info.RowGroups != 4 || info.Codec != tc.codec {
				t.Errorf("%d row groups compressed %s, want 4 of 50000 rows, %s", info.RowGroups, info.Codec, tc.codec)
			}
			noHidden(t, filepath.Dir(out))
		})
	}
}

// noHidden fails if dir holds hidden (temp, pending, segment) files.
func noHidden(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("%s left in %s", e.Name(), dir)
		}
	}
}

// pyWriteTyped writes argv[1] with pyarrow: every type the task names,
// nulls in each column, in row groups of argv[3] rows, argv[2] rows.
const pyWriteTyped = `
import sys, datetime, decimal
import pyarrow as pa, pyarrow.parquet as pq
n, rg = int(sys.argv[2]), int(sys.argv[3])
base = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
def nul(i, v):
    return None if i % 7 == 3 else v
t = pa.table({
    "id": pa.array(range(n), pa.int64()),
    "f": pa.array([nul(i, i / 8) for i in range(n)], pa.float64()),
    "s": pa.array([nul(i, "s%d é,\"x\"" % i) for i in range(n)], pa.string()),
    "ts": pa.array([nul(i, base + datetime.timedelta(microseconds=i * 1001)) for i in range(n)], pa.timestamp("us", tz="UTC")),
    "tsn": pa.array([i * 1000000007 for i in range(n)], pa.timestamp("ns", tz="Europe/Paris")),
    "d": pa.array([nul(i, decimal.Decimal(i * 37 - 5000) / 100) for i in range(n)], pa.decimal128(12, 2)),
    "l": pa.array([nul(i, list(range(i % 4))) for i in range(n)], pa.list_(pa.int64())),
    "st": pa.array([nul(i, {"a": i, "b": "b%d" % (i % 3)}) for i in range(n)], pa.struct([("a", pa.int64()), ("b", pa.string())])),
    "day": pa.array([datetime.date(2026, 1, 1) + datetime.timedelta(days=i % 400) for i in range(n)], pa.date32()),
    "cat": pa.array([nul(i, "c%d" % (i % 5)) for i in range(n)], pa.string()).dictionary_encode(),
})
pq.write_table(t, sys.argv[1], row_group_size=rg)
print(pq.ParquetFile(sys.argv[1]).num_row_groups)
`

// pyCompare reads argv[1] (pyarrow's file) and the Parquet files after it
// (ADF's), sorted by id, and prints "same" when schema and values are equal.
const pyCompare = `
import sys
import pyarrow as pa, pyarrow.parquet as pq
want = pq.read_table(sys.argv[1])
got = pa.concat_tables([pq.read_table(p) for p in sys.argv[2:]]).sort_by("id")
if not got.schema.equals(want.schema, check_metadata=False):
    print("schema differs:\n%s\n--- want ---\n%s" % (got.schema, want.schema)); sys.exit(0)
if got.num_rows != want.num_rows:
    print("%d rows, want %d" % (got.num_rows, want.num_rows)); sys.exit(0)
for name in want.column_names:
    g, w = got.column(name).combine_chunks(), want.column(name).combine_chunks()
    if not g.equals(w):
        for i in range(len(w)):
            if g[i] != w[i]:
                print("column %s row %d: %r, want %r" % (name, i, g[i], w[i])); sys.exit(0)
print("same")
`

// TestParquetSourceFromPyArrow: a file pyarrow wrote (int64, float64,
// strings with nulls, timestamps in µs UTC and ns Europe/Paris, decimal128,
// list<int64>, struct, date32, dictionary<int32, string>) in several row groups is read by the source
// with parallelism 3 and written back to Parquet by the sink; pyarrow finds
// the same schema and the same values.
func TestParquetSourceFromPyArrow(t *testing.T) {
	a := fileADF(t)
	in := filepath.Join(a.Work, "typed.parquet")
	if rg := strings.TrimSpace(python(t, pyWriteTyped, in, "25000", "4000")); rg != "7" {
		t.Fatalf("pyarrow wrote %s row groups, want 7", rg)
	}
	for _, tc := range []struct{ name, out string }{{"file", "out.parquet"}, {"dir", "parts/"}} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.MkdirAll(filepath.Join(a.Work, tc.name), 0o755); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(a.Work, tc.name, tc.out)
			if tc.name == "dir" {
				out += "/"
			}
			doc := fmt.Sprintf(`{"name": "typed-%s", "parallelism": 3, "source": {"type": "file", "config": {"path": %q, "batch_size": 1500}},
"sink": {"type": "file", "config": {"path": %q, "format": "parquet"}}, "checkpoint": {"every": "50ms"}}`, tc.name, in, out)
			res := a.Run(t, "run", "--progress", "none", a.WriteFlow(t, "typed-"+tc.name, doc))
			if res.Code != 0 {
				t.Fatalf("adf run failed\n%s", res)
			}
			if s := res.Summary(t); s.Read != 25000 || s.Written != 25000 {
				t.Fatalf("summary %+v\n%s", s, res)
			}
			outs := []string{out}
			if tc.name == "dir" {
				outs, _ = filepath.Glob(filepath.Join(out, "part-*.parquet"))
				if len(outs) == 0 {
					t.Fatalf("no part-*.parquet in %s", out)
				}
				noHidden(t, out)
			} else {
				noHidden(t, filepath.Dir(out))
			}
			if got := strings.TrimSpace(python(t, pyCompare, append([]string{in}, outs...)...)); got != "same" {
				t.Fatal(got)
			}
		})
	}
}

// TestParquetSourceJSONLines: the typed file into JSON lines: the values as
// the JSON-lines writer renders them (decimals as strings, timestamps in
// UTC, lists as arrays, structs as objects).
func TestParquetSourceJSONLines(t *testing.T) {
	a := fileADF(t)
	in := filepath.Join(a.Work, "typed.parquet")
	python(t, pyWriteTyped, in, "8", "3")
	out := filepath.Join(a.Work, "out.jsonl")
	doc := fmt.Sprintf(`{"name": "typed-jsonl", "source": {"type": "file", "config": {"path": %q}},
"sink": {"type": "file", "config": {"path": %q}}}`, in, out)
	if res := a.Run(t, "run", "--progress", "none", a.WriteFlow(t, "typed-jsonl", doc)); res.Code != 0 {
		t.Fatalf("adf run failed\n%s", res)
	}
	got := fileLines(t, out)
	slices.Sort(got)
	for _, want := range []string{
		`{"id":0,"f":0,"s":"s0 é,\"x\"","ts":"2026-01-01T00:00:00Z","tsn":"1970-01-01T00:00:00Z","d":"-50","l":[],"st":{"a":0,"b":"b0"},"day":"2026-01-01","cat":"c0"}`,
		`{"id":3,"f":null,"s":null,"ts":null,"tsn":"1970-01-01T00:00:03.000000021Z","d":null,"l":null,"st":null,"day":"2026-01-04","cat":null}`,
		`{"id":5,"f":0.625,"s":"s5 é,\"x\"","ts":"2026-01-01T00:00:00.005005Z","tsn":"1970-01-01T00:00:05.000000035Z","d":"-48.15","l":[0],"st":{"a":5,"b":"b2"},"day":"2026-01-06","cat":"c0"}`,
	} {
		if !slices.Contains(got, want) {
			t.Errorf("output lacks\n%s\ngot:\n%s", want, strings.Join(got, "\n"))
		}
	}
	if len(got) != 8 {
		t.Errorf("%d lines, want 8", len(got))
	}
}

// pyWriteIDs writes argv[1] with ids [argv[2], argv[2]+argv[3]) in row
// groups of argv[4] rows.
const pyWriteIDs = `
import sys
import pyarrow as pa, pyarrow.parquet as pq
first, n, rg = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
pq.write_table(pa.table({"id": pa.array(range(first, first + n), pa.int64()),
    "name": pa.array(["n%d" % i for i in range(first, first + n)])}), sys.argv[1], row_group_size=rg)
`

// TestParquetSourceRowGroupSplits: two files of 10 and 7 row groups read by
// 2 to 4 readers through a glob: every row exactly once.
func TestParquetSourceRowGroupSplits(t *testing.T) {
	a := fileADF(t)
	dir := filepath.Join(a.Work, "in")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	python(t, pyWriteIDs, filepath.Join(dir, "a.parquet"), "0", "100000", "10000")
	python(t, pyWriteIDs, filepath.Join(dir, "b.parquet"), "100000", "35000", "5000")
	const n = 135000
	for par := 2; par <= 4; par++ {
		out := filepath.Join(a.Work, fmt.Sprintf("out%d.jsonl", par))
		doc := fmt.Sprintf(`{"name": "rg%d", "parallelism": %d, "source": {"type": "file", "config": {"path": %q, "batch_size": 3000}},
"sink": {"type": "file", "config": {"path": %q}}, "checkpoint": {"every": "20ms"}}`, par, par, filepath.Join(dir, "*.parquet"), out)
		res := a.Run(t, "run", "--progress", "none", a.WriteFlow(t, fmt.Sprintf("rg%d", par), doc))
		if res.Code != 0 {
			t.Fatalf("adf run failed\n%s", res)
		}
		seen := make(map[int64]bool, n)
		var sum int64
		for _, l := range fileLines(t, out) {
			var row struct {
				ID   int64  `json:"id"`
				Name string `json:"name"`
			}
			if err := json.Unmarshal([]byte(l), &row); err != nil {
				t.Fatal(err)
			}
			if seen[row.ID] {
				t.Fatalf("parallelism %d: id %d twice", par, row.ID)
			}
			if row.Name != fmt.Sprintf("n%d", row.ID) {
				t.Fatalf("row %q", l)
			}
			seen[row.ID] = true
			sum += row.ID
		}
		if len(seen) != n || sum != int64(n)*(n-1)/2 {
			t.Fatalf("parallelism %d: %d distinct ids summing to %d, want %d summing to %d", par, len(seen), sum, n, int64(n)*(n-1)/2)
		}
	}
}

// TestParquetSourceConformance: the SDK's FLIP-27 checks (splits encode and
// decode, a mid-run checkpoint restores without loss or repeats) over
// row-group splits, resumed inside a row group (batch_size below the row
// group size).
func TestParquetSourceConformance(t *testing.T) {
	dir := t.TempDir()
	python(t, pyWriteIDs, filepath.Join(dir, "a.parquet"), "0", "20000", "3000")
	python(t, pyWriteIDs, filepath.Join(dir, "b.parquet"), "20000", "10", "4")
	cfg := fmt.Sprintf(`{"path": %q, "batch_size": 700}`, dir)
	sdktest.TestSource(t, component(t, sdk.KindSource), sdktest.SourceOptions{Config: []byte(cfg), Parallelism: 3, ExpectRows: 20010})
}

// TestParquetSourceSchemaMismatch: a file whose schema differs from the
// first one's fails the run, naming both files and both schemas.
func TestParquetSourceSchemaMismatch(t *testing.T) {
	a := fileADF(t)
	dir := filepath.Join(a.Work, "in")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	python(t, pyWriteIDs, filepath.Join(dir, "a.parquet"), "0", "10", "5")
	python(t, `
import sys
import pyarrow as pa, pyarrow.parquet as pq
pq.write_table(pa.table({"id": pa.array([1.5], pa.float64())}), sys.argv[1])
`, filepath.Join(dir, "b.parquet"))
	doc := fmt.Sprintf(`{"name": "mismatch", "source": {"type": "file", "config": {"path": %q}},
"sink": {"type": "file", "config": {"path": %q}}}`, dir, filepath.Join(a.Work, "out.jsonl"))
	res := a.Run(t, "run", "--progress", "none", a.WriteFlow(t, "mismatch", doc))
	if res.Code == 0 {
		t.Fatalf("adf run succeeded\n%s", res)
	}
	for _, want := range []string{"different schemas", filepath.Join(dir, "a.parquet"), filepath.Join(dir, "b.parquet"), "id: float64"} {
		if !strings.Contains(res.Stderr+res.Stdout, want) {
			t.Errorf("output lacks %q\n%s", want, res)
		}
	}
}

// TestParquetSinkFaults: the Parquet sink, single file and directory, is
// killed at points of the checkpoint protocol; the run restarts and the
// output holds every row exactly once, with no hidden file left.
func TestParquetSinkFaults(t *testing.T) {
	a := fileADF(t)
	in := filepath.Join(a.Work, "orders.csv")
	want := testkit.Canon(testkit.WriteOrdersCSV(t, in, 1, 60000))
	for _, tc := range []struct{ fault, out string }{
		{"saved@2:sink", "out.parquet"},
		{"precommitted@3:sink", "out.parquet"},
		{"committing@final:sink", "out.parquet"},
		{"saved@2:sink", "parts/"},
		{"committing@final:sink", "parts/"},
	} {
		name := strings.NewReplacer("@", "-", ":", "-", "/", "", ".", "-").Replace(tc.fault + "-" + tc.out)
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(a.Work, name)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, tc.out)
			if strings.HasSuffix(tc.out, "/") {
				out += "/"
			}
			doc := fmt.Sprintf(`{"name": %q, "parallelism": 2, "source": {"type": "file", "config": {"path": %q, "split_size": 262144, "batch_size": 2000}},
"sink": {"type": "file", "config": {"path": %q, "format": "parquet", "row_group_size": 10000}}, "checkpoint": {"every": "20ms"}, "max_restarts": 5}`, name, in, out)
			fa := *a
			fa.Env = append(slices.Clone(a.Env), "ADF_FAULT="+tc.fault)
			res := fa.Run(t, "run", "--progress", "none", fa.WriteFlow(t, name, doc))
			if res.Code != 0 {
				t.Fatalf("adf run failed\n%s", res)
			}
			if !strings.Contains(res.Stderr, "fault injection: killing a process") {
				t.Fatalf("fault %s never fired\n%s", tc.fault, res)
			}
			outs := []string{out}
			noHidden(t, filepath.Dir(out))
			if strings.HasSuffix(out, "/") {
				outs, _ = filepath.Glob(filepath.Join(out, "part-*.parquet"))
				noHidden(t, out)
			}
			got, info := readOrdersParquet(t, outs...)
			testkit.SameRows(t, got, want)
			if !slices.Equal(info.Schema, ordersParquetSchema) {
				t.Errorf("schema %q, want %q", info.Schema, ordersParquetSchema)
			}
		})
	}
}

// TestParquetConfig: Parquet keys are validated with field paths.
func TestParquetConfig(t *testing.T) {
	tests := []struct {
		kind sdk.Kind
		cfg  string
		want []string
	}{
		{sdk.KindSink, `{"path": "out.parquet", "compression": "lz4"}`, []string{`compression: value must be one of 'zstd', 'snappy', 'none'`}},
		{sdk.KindSink, `{"path": "out/", "format": "parquet", "row_group_size": 0}`, []string{`row_group_size: minimum: got 0, want 1`}},
		{sdk.KindSink, `{"path": "out.parquet", "compression": "snappy", "row_group_size": 1000}`, nil},
		{sdk.KindSource, `{"path": "in.parquet", "schema": [{"name": "a", "type": "int64"}]}`, []string{`schema: Parquet files carry their own schema; remove schema`}},
		{sdk.KindSource, `{"path": "in.pq"}`, nil},
		{sdk.KindSink, `{"path": "out.parquet", "partition_by": ["a", "a", ""]}`, []string{`partition_by: needs a directory output: end path in / (got "out.parquet")`, `partition_by[1]: column "a" is named twice`, `partition_by[2]: must name a column`}},
	}
	for _, tc := range tests {
		if got := configErrors(t, tc.kind, tc.cfg); !slices.Equal(got, tc.want) {
			t.Errorf("%s %s:\n got %q\nwant %q", tc.kind, tc.cfg, got, tc.want)
		}
	}
}

// fakeEnumCtx records what an enumerator assigns.
type fakeEnumCtx struct {
	par      int
	assigned []string
	noMore   bool
	periodic func(context.Context) error
}

func (f *fakeEnumCtx) AssignSplit(s sdk.Split, _ int) error {
	f.assigned = append(f.assigned, s.SplitID())
	return nil
}
func (f *fakeEnumCtx) AssignSplits(m map[int][]sdk.Split) error {
	for id, ss := range m {
		for _, s := range ss {
			_ = f.AssignSplit(s, id)
		}
	}
	return nil
}
func (f *fakeEnumCtx) SignalNoMoreSplits(int) error { f.noMore = true; return nil }
func (f *fakeEnumCtx) RegisteredReaders() []int     { return []int{0} }
func (f *fakeEnumCtx) Parallelism() int             { return f.par }
func (f *fakeEnumCtx) CallPeriodically(_ time.Duration, fn func(context.Context) error) {
	f.periodic = fn
}

// planSplits returns the ids of the splits the source's enumerator hands
// out for cfg, in order, to a flow of parallelism 2.
func planSplits(t *testing.T, cfg string) []string {
	t.Helper()
	return planSplitsFor(t, cfg, 2)
}

// planSplitsFor is planSplits for a flow of the given parallelism.
func planSplitsFor(t *testing.T, cfg string, parallelism int) []string {
	t.Helper()
	src, err := component(t, sdk.KindSource).NewSourceFromConfig([]byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	ctx := &fakeEnumCtx{par: parallelism}
	en, err := src.CreateEnumerator(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := en.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i := 0; !ctx.noMore; i++ {
		if i > 1000 {
			t.Fatal("enumerator never signals no more splits")
		}
		if err := en.HandleSplitRequest(context.Background(), 0, ""); err != nil {
			t.Fatal(err)
		}
	}
	return ctx.assigned
}

// TestParquetSourceSplitPlan: one split per row group by default;
// split_size joins consecutive row groups.
func TestParquetSourceSplitPlan(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.parquet")
	python(t, pyWriteIDs, a, "0", "10000", "2500")
	got := planSplits(t, fmt.Sprintf(`{"path": %q}`, dir))
	want := []string{a + ":0-1", a + ":1-2", a + ":2-3", a + ":3-4"}
	if !slices.Equal(got, want) {
		t.Errorf("splits %q, want %q", got, want)
	}
	// split_size just over the largest row group: two row groups per
	// split (the smallest is more than half the largest).
	info := strings.TrimSpace(python(t, `
import sys, pyarrow.parquet as pq
md = pq.ParquetFile(sys.argv[1]).metadata
print(max(md.row_group(i).total_byte_size for i in range(md.num_row_groups)))
`, a))
	var rgBytes int64
	fmt.Sscan(info, &rgBytes)
	got = planSplits(t, fmt.Sprintf(`{"path": %q, "split_size": %d}`, dir, rgBytes+1))
	want = []string{a + ":0-2", a + ":2-4"}
	if !slices.Equal(got, want) {
		t.Errorf("split_size %d: splits %q, want %q", rgBytes+1, got, want)
	}
}

// TestSinkConformanceParquet: the SDK's two-phase sink checks for Parquet
// output, a single file and a directory of parts.
func TestSinkConformanceParquet(t *testing.T) {
	t.Run("file", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "sub", "out.parquet")
		sdktest.TestSink(t, component(t, sdk.KindSink), sdktest.SinkOptions{
			Config: []byte(fmt.Sprintf(`{"path": %q, "row_group_size": 300}`, out)),
			ReadBack: func(t *testing.T) []string {
				return readOutput(t, out, func() []string { return readParquetRows(t, out) })
			},
			Reset: removeOutput(out),
		})
		noHidden(t, filepath.Dir(out))
	})
	t.Run("directory", func(t *testing.T) {
		out := t.TempDir() + "/parts/"
		sdktest.TestSink(t, component(t, sdk.KindSink), sdktest.SinkOptions{
			Config: []byte(fmt.Sprintf(`{"path": %q, "format": "parquet", "compression": "snappy"}`, out)),
			ReadBack: func(t *testing.T) []string {
				parts, _ := filepath.Glob(filepath.Join(out, "part-*.parquet"))
				slices.Sort(parts)
				var rows []string
				for _, p := range parts {
					rows = append(rows, readParquetRows(t, p)...)
				}
				return rows
			},
		})
		noHidden(t, out)
	})
}

// TestParquetSourceContinuousWaitsForFooter: in continuous mode a Parquet
// file whose footer cannot be read yet (still being written) is skipped and
// planned by a later discovery once it is complete.
func TestParquetSourceContinuousWaitsForFooter(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.parquet")
	writeFile(t, p, "PAR1 not yet complete")
	src, err := component(t, sdk.KindSource).NewSourceFromConfig([]byte(fmt.Sprintf(`{"path": %q, "mode": "continuous"}`, dir)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := &fakeEnumCtx{par: 1}
	en, err := src.CreateEnumerator(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := en.Start(context.Background()); err != nil {
		t.Fatalf("an incomplete file failed the continuous source: %v", err)
	}
	if err := en.HandleSplitRequest(context.Background(), 0, ""); err != nil || len(ctx.assigned) != 0 {
		t.Fatalf("assigned %v (%v) before the file was complete", ctx.assigned, err)
	}
	python(t, pyWriteIDs, p, "0", "30", "10")
	if err := ctx.periodic(context.Background()); err != nil {
		t.Fatal(err)
	}
	if want := []string{p + ":0-1"}; !slices.Equal(ctx.assigned, want) {
		t.Fatalf("assigned %v, want %v", ctx.assigned, want)
	}
	// Bounded mode fails on such a file.
	writeFile(t, filepath.Join(dir, "b.parquet"), "PAR1 broken")
	src, _ = component(t, sdk.KindSource).NewSourceFromConfig([]byte(fmt.Sprintf(`{"path": %q}`, filepath.Join(dir, "b.parquet"))))
	en, _ = src.CreateEnumerator(&fakeEnumCtx{par: 1})
	if err := en.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "Parquet footer") {
		t.Fatalf("bounded source on a broken file: %v", err)
	}
}

// pyPartitions reads a partitioned output directory argv[1] with pyarrow:
// every part file's rows, checking that each row's partition column
// (argv[2]) holds the value its directory names (URI-decoded), then the
// rows in canonical order form; a last JSON line lists the directories and
// what pyarrow.dataset with Hive partitioning reads of the whole tree.
const pyPartitions = `
import json, os, sys, urllib.parse
import pyarrow.parquet as pq
root, col = sys.argv[1], sys.argv[2]
dirs = []
for d, subdirs, files in sorted(os.walk(root)):
    parts = [f for f in files if f.startswith("part-") and f.endswith(".parquet")]
    if not parts:
        continue
    rel = os.path.relpath(d, root)
    dirs.append(rel)
    k, v = rel.split("=", 1)
    assert k == col, rel
    v = urllib.parse.unquote(v)
    for f in parts:
        for r in pq.read_table(os.path.join(d, f)).to_pylist():
            if r[col] != v:
                print("BAD %s row %r in directory %s" % (f, r, rel))
            print("%d|%s|%.2f|%s" % (r["id"], r["name"], r["amount"], r["ts"].strftime("%Y-%m-%dT%H:%M:%SZ")))
import pyarrow.dataset as ds
hive = ds.dataset(root, format="parquet", partitioning="hive").to_table()
print(json.dumps({"dirs": sorted(dirs), "hive_rows": hive.num_rows, "hive_names": sorted(set(hive.column(col).to_pylist()))}))
`

// TestParquetSinkPartitionBy: orders partitioned by name (values with a
// comma, quotes, a non-ASCII letter) into name=<value>/ directories, the
// sink killed once: pyarrow finds every row exactly once, each in the
// directory of its value, and no hidden file is left.
func TestParquetSinkPartitionBy(t *testing.T) {
	a := fileADF(t)
	in := filepath.Join(a.Work, "orders.csv")
	want := testkit.Canon(testkit.WriteOrdersCSV(t, in, 1, 60000))
	for _, fault := range []string{"", "saved@2:sink", "precommitted@3:sink", "committing@final:sink"} {
		name := "part" + strings.NewReplacer("@", "-", ":", "-").Replace(fault)
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(a.Work, name) + "/"
			doc := fmt.Sprintf(`{"name": %q, "parallelism": 2, "source": {"type": "file", "config": {"path": %q, "split_size": 262144, "batch_size": 2000}},
"sink": {"type": "file", "config": {"path": %q, "format": "parquet", "partition_by": ["name"]}}, "checkpoint": {"every": "20ms"}, "max_restarts": 5}`, name, in, out)
			fa := *a
			if fault != "" {
				fa.Env = append(slices.Clone(a.Env), "ADF_FAULT="+fault)
			}
			res := fa.Run(t, "run", "--progress", "none", fa.WriteFlow(t, name, doc))
			if res.Code != 0 {
				t.Fatalf("adf run failed\n%s", res)
			}
			if fault != "" && !strings.Contains(res.Stderr, "fault injection: killing a process") {
				t.Fatalf("fault %s never fired\n%s", fault, res)
			}
			lines := strings.Split(strings.TrimSpace(python(t, pyPartitions, out, "name")), "\n")
			var info struct {
				Dirs      []string `json:"dirs"`
				HiveRows  int      `json:"hive_rows"`
				HiveNames []string `json:"hive_names"`
			}
			if err := json.Unmarshal([]byte(lines[len(lines)-1]), &info); err != nil {
				t.Fatal(err)
			}
			dirs := info.Dirs
			if wantNames := []string{"alice", "bob", `say "hi"`, "smith, jr", "zoë"}; info.HiveRows != len(want) || !slices.Equal(info.HiveNames, wantNames) {
				t.Errorf("pyarrow.dataset (hive) read %d rows with names %q, want %d with %q", info.HiveRows, info.HiveNames, len(want), wantNames)
			}
			wantDirs := []string{"name=alice", "name=bob", "name=say%20%22hi%22", "name=smith%2C%20jr", "name=zo%C3%AB"}
			if !slices.Equal(dirs, wantDirs) {
				t.Errorf("partition directories %q, want %q", dirs, wantDirs)
			}
			rows := lines[:len(lines)-1]
			for _, l := range rows {
				if strings.HasPrefix(l, "BAD") {
					t.Fatal(l)
				}
			}
			testkit.SameRows(t, rows, want)
			for _, d := range append([]string{"."}, wantDirs...) {
				noHidden(t, filepath.Join(out, d))
			}
		})
	}
}

// TestParquetSourceFaults: the source is killed mid-run while reading
// pyarrow's typed file (nested columns included); the restored readers
// seek into their row groups and the output, read by pyarrow, equals the
// input: nothing lost, nothing repeated.
func TestParquetSourceFaults(t *testing.T) {
	a := fileADF(t)
	in := filepath.Join(a.Work, "typed.parquet")
	python(t, pyWriteTyped, in, "60000", "7000")
	for _, fault := range []string{"saved@2:source", "precommitted@3:source"} {
		name := strings.NewReplacer("@", "-", ":", "-").Replace(fault)
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(a.Work, name+".parquet")
			doc := fmt.Sprintf(`{"name": %q, "parallelism": 3, "source": {"type": "file", "config": {"path": %q, "batch_size": 500}},
"sink": {"type": "file", "config": {"path": %q}}, "checkpoint": {"every": "20ms"}, "max_restarts": 5}`, name, in, out)
			fa := *a
			fa.Env = append(slices.Clone(a.Env), "ADF_FAULT="+fault)
			res := fa.Run(t, "run", "--progress", "none", fa.WriteFlow(t, name, doc))
			if res.Code != 0 {
				t.Fatalf("adf run failed\n%s", res)
			}
			if !strings.Contains(res.Stderr, "fault injection: killing a process") {
				t.Fatalf("fault %s never fired\n%s", fault, res)
			}
			if got := strings.TrimSpace(python(t, pyCompare, in, out)); got != "same" {
				t.Fatal(got)
			}
			noHidden(t, a.Work)
		})
	}
}

// pyWriteProjection writes argv[2] rows (id, payload, s: struct<a, b>) in
// two row groups, uncompressed and without dictionaries, and prints the
// offset of each row group's first payload page.
const pyWriteProjection = `
import sys, pyarrow as pa, pyarrow.parquet as pq
n = int(sys.argv[2])
t = pa.table({"id": pa.array(range(n), pa.int64()),
              "payload": pa.array(["p" * 40 + str(i) for i in range(n)]),
              "s": pa.array([{"a": i, "b": "b%d" % i} for i in range(n)])})
pq.write_table(t, sys.argv[1], compression="none", use_dictionary=False, row_group_size=n // 2)
md = pq.ParquetFile(sys.argv[1]).metadata
for rg in range(md.num_row_groups):
    print(md.row_group(rg).column(1).data_page_offset)
`

// TestParquetSourceProjection: with a select after the source, the reader
// reads only the selected columns' chunks. The proof: the payload column's
// pages are overwritten with garbage, so a flow reading it fails, while
// one selecting id and the struct s reads every row exactly. A select
// naming a column a (sound) file lacks reads all columns, so its error
// names the file's whole schema.
func TestParquetSourceProjection(t *testing.T) {
	a := fileADF(t)
	in := filepath.Join(a.Work, "wide.parquet")
	const n = 20000
	offsets := strings.Fields(python(t, pyWriteProjection, in, fmt.Sprint(n)))
	if len(offsets) != 2 {
		t.Fatalf("pyarrow wrote %d row groups, want 2", len(offsets))
	}
	f, err := os.OpenFile(in, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range offsets {
		var off int64
		fmt.Sscan(o, &off)
		if _, err := f.WriteAt(bytes.Repeat([]byte{0xff}, 64), off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	run := func(name, in, transforms string) (testkit.Result, string) {
		out := filepath.Join(a.Work, name+".jsonl")
		doc := fmt.Sprintf(`{"name": %q, "parallelism": 2, "source": {"type": "file", "config": {"path": %q}},
"transforms": [%s], "sink": {"type": "file", "config": {"path": %q}}}`, name, in, transforms, out)
		return a.Run(t, "run", "--progress", "none", "--fresh", a.WriteFlow(t, name, doc)), out
	}

	res, out := run("projected", in, `{"type": "select", "config": {"columns": ["s", "id"]}}`)
	if res.Code != 0 {
		t.Fatalf("the projected flow failed\n%s", res)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	seen := make(map[int64]bool, n)
	for _, line := range lines {
		var row struct {
			S struct {
				A int64  `json:"a"`
				B string `json:"b"`
			} `json:"s"`
			ID int64 `json:"id"`
		}
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatalf("output line %q: %v", line, err)
		}
		if row.S.A != row.ID || row.S.B != fmt.Sprintf("b%d", row.ID) || seen[row.ID] || strings.Contains(line, "payload") {
			t.Fatalf("output line %q: want id, s.a = id, s.b = b<id>, once, no payload", line)
		}
		seen[row.ID] = true
	}
	if len(seen) != n {
		t.Fatalf("%d distinct ids, want %d", len(seen), n)
	}

	if res, _ := run("whole", in, ""); res.Code == 0 {
		t.Fatalf("reading every column of the damaged file succeeded: the damage misses the payload column, so the projected run proves nothing\n%s", res)
	}
	clean := filepath.Join(a.Work, "clean.parquet")
	python(t, pyWriteProjection, clean, "100")
	res, _ = run("missing", clean, `{"type": "select", "config": {"columns": ["id", "nope"]}}`)
	if res.Code == 0 || !strings.Contains(res.Stderr, "nope") || !strings.Contains(res.Stderr, "payload") {
		t.Fatalf("a select of a missing column: want a failure naming it and the file's columns (payload among them)\n%s", res)
	}
}
