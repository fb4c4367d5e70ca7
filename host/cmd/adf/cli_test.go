package main

// Integration tests of the adf command: they build the real adf binary and
// the real file plugin, and run `adf` as a child process in temp dirs.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/activedataflow/adf/host/builtin"
	"github.com/activedataflow/adf/internal/testkit"
	"github.com/activedataflow/adf/sdk"
)

const adfPkg = "host/cmd/adf"

// env is one isolated adf installation: the binary, a plugins directory with
// the file plugin, a data directory and a working directory.
type env struct {
	bin, pluginDir, dataDir, work string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return &env{
		bin:       testkit.Build(t, adfPkg),
		pluginDir: testkit.PluginDir(t, testkit.FilePlugin),
		dataDir:   t.TempDir(),
		work:      t.TempDir(),
	}
}

// command returns an adf command running in e.work with the plugins and data
// directories of e (through the environment, as a user would set them).
func (e *env) command(ctx context.Context, args ...string) *exec.Cmd {
	a := &testkit.ADF{Bin: e.bin, PluginDir: e.pluginDir, DataDir: e.dataDir, Work: e.work}
	return a.Command(ctx, args...)
}

type result struct {
	code           int
	stdout, stderr string
}

// run runs adf to its end.
func (e *env) run(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := e.command(ctx, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	default:
		t.Fatalf("adf %s: %v\nstderr:\n%s", strings.Join(args, " "), err, res.stderr)
	}
	if ctx.Err() != nil {
		t.Fatalf("adf %s timed out\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), res.stdout, res.stderr)
	}
	return res
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// write creates a file (and its directories) under dir.
func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

var summaryRE = regexp.MustCompile(`flow (\S+) run \S+: (success|failed) in \S+: (\d+) rows read, (\d+) written, (\d+) rejected .*; (\d+) checkpoints, (\d+) restarts`)

type summary struct {
	flow, status                 string
	read, written, rejected, cps int64
}

func parseSummary(t *testing.T, r result) summary {
	t.Helper()
	m := summaryRE.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("no summary line in the output of adf run\n%s", r)
	}
	n := func(s string) int64 {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	return summary{flow: m[1], status: m[2], read: n(m[3]), written: n(m[4]), rejected: n(m[5]), cps: n(m[6])}
}

// readJSONLines decodes every line of a JSON-lines file.
func readJSONLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read output: %v", err)
	}
	return decodeJSONLines(t, path, data)
}

func decodeJSONLines(t *testing.T, name string, data []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for line := 1; sc.Scan(); line++ {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s:%d: not a JSON object: %v: %q", name, line, err, sc.Text())
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// intField returns a JSON number that must be an integer.
func intField(t *testing.T, row map[string]any, k string) int64 {
	t.Helper()
	f, ok := row[k].(float64)
	if !ok || f != float64(int64(f)) {
		t.Fatalf("row %v: %s is not an integer", row, k)
	}
	return int64(f)
}

// --- adf run -----------------------------------------------------------------

// order is one row of a generated CSV.
type order struct {
	id       int64
	customer string
	amount   float64
}

// genOrders writes n orders as CSV (some customers contain a comma, so they
// are quoted) and returns them.
func genOrders(t *testing.T, path string, n int) []order {
	t.Helper()
	var b strings.Builder
	b.WriteString("id,customer,amount\n")
	names := []string{"Ada", "Grace", "Smith, Linus", "Ken", "Radia"}
	out := make([]order, 0, n)
	for i := 1; i <= n; i++ {
		cents := (i * 7919) % 25000 // 0.00 .. 249.99
		amount := fmt.Sprintf("%d.%02d", cents/100, cents%100)
		o := order{id: int64(i), customer: names[i%len(names)]}
		o.amount, _ = strconv.ParseFloat(amount, 64)
		fmt.Fprintf(&b, "%d,%q,%s\n", o.id, o.customer, amount)
		out = append(out, o)
	}
	write(t, filepath.Dir(path), filepath.Base(path), b.String())
	return out
}

func TestRunCSVToJSONLinesWithFilter(t *testing.T) {
	e := newEnv(t)
	orders := genOrders(t, filepath.Join(e.work, "in", "orders.csv"), 300)
	want := map[int64]order{}
	for _, o := range orders {
		if o.amount > 100 {
			want[o.id] = o
		}
	}
	if len(want) == 0 || len(want) == len(orders) {
		t.Fatalf("bad test data: %d of %d rows pass the filter", len(want), len(orders))
	}
	flows := map[string]string{
		"flow.yaml": `
name: orders_yaml
source:
  type: file
  config: {path: in/orders.csv}
transforms:
  - type: filter
    config: {expr: "amount > 100"}
sink:
  type: file
  config: {path: out-yaml/result.jsonl}
`,
		"flow.json": `{
  "name": "orders_json",
  "source": {"type": "file", "config": {"path": "in/orders.csv", "format": "csv"}},
  "transforms": [{"type": "filter", "config": {"expr": "amount > 100"}}],
  "sink": {"type": "file", "config": {"path": "out-json/result.jsonl"}}
}`,
	}
	outputs := map[string]string{"flow.yaml": "out-yaml/result.jsonl", "flow.json": "out-json/result.jsonl"}
	for name, doc := range flows {
		t.Run(name, func(t *testing.T) {
			write(t, e.work, name, doc)
			r := e.run(t, "run", name)
			if r.code != 0 {
				t.Fatalf("adf run failed\n%s", r)
			}
			s := parseSummary(t, r)
			if s.status != "success" || s.read != int64(len(orders)) || s.written != int64(len(want)) || s.rejected != 0 {
				t.Fatalf("summary %+v, want %d read, %d written, 0 rejected\n%s", s, len(orders), len(want), r)
			}
			out := filepath.Join(e.work, outputs[name])
			rows := readJSONLines(t, out)
			if len(rows) != len(want) {
				t.Fatalf("%s has %d rows, want %d", out, len(rows), len(want))
			}
			seen := map[int64]bool{}
			for _, row := range rows {
				id := intField(t, row, "id")
				o, ok := want[id]
				if !ok {
					t.Fatalf("row %v should have been filtered out", row)
				}
				if seen[id] {
					t.Fatalf("row %d written twice", id)
				}
				seen[id] = true
				if row["customer"] != o.customer || row["amount"] != o.amount || len(row) != 3 {
					t.Fatalf("row %v, want %+v", row, o)
				}
			}
			// The sink publishes atomically: no temp file is left beside the output.
			ents, err := os.ReadDir(filepath.Dir(out))
			if err != nil {
				t.Fatal(err)
			}
			if len(ents) != 1 {
				var names []string
				for _, e := range ents {
					names = append(names, e.Name())
				}
				t.Fatalf("output directory holds %v, want only %s", names, filepath.Base(out))
			}
		})
	}
}

// copyFile copies src to dst, creating dst's directory.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Dir(dst), filepath.Base(dst), string(data))
}

func TestRunQuickstartExample(t *testing.T) {
	e := newEnv(t)
	root := testkit.RepoRoot(t)
	for _, f := range []string{"orders.yaml", "orders.csv"} {
		copyFile(t, filepath.Join(root, "examples", "quickstart", f), filepath.Join(e.work, "examples", "quickstart", f))
	}

	// What the flow should do, computed from the sample itself: rows with 4
	// fields are good, the others are rejected; good rows with amount > 100
	// are written with amount renamed to total.
	src, err := os.Open(filepath.Join(e.work, "examples", "quickstart", "orders.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	cr := csv.NewReader(src)
	cr.FieldsPerRecord = -1
	recs, err := cr.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	type bad struct {
		line int
		raw  string
	}
	var good int64
	var bads []bad
	want := map[int64][]string{}
	for i, rec := range recs[1:] {
		if len(rec) != 4 {
			bads = append(bads, bad{line: i + 2, raw: strings.Join(rec, ",")})
			continue
		}
		good++
		id, err1 := strconv.ParseInt(rec[0], 10, 64)
		amount, err2 := strconv.ParseFloat(rec[2], 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("unexpected sample row %v", rec)
		}
		if amount > 100 {
			want[id] = rec
		}
	}
	if len(bads) != 1 {
		t.Fatalf("the sample should have exactly 1 bad row, has %v", bads)
	}

	r := e.run(t, "run", "examples/quickstart/orders.yaml")
	if r.code != 0 {
		t.Fatalf("adf run failed\n%s", r)
	}
	s := parseSummary(t, r)
	if s.flow != "big_orders" || s.read != good || s.written != int64(len(want)) || s.rejected != 1 {
		t.Fatalf("summary %+v, want %d read, %d written, 1 rejected\n%s", s, good, len(want), r)
	}
	if !strings.Contains(r.stdout, "rejected records: out/big_orders.rejected.jsonl") {
		t.Errorf("stdout does not name the dead-letter file\n%s", r)
	}

	rows := readJSONLines(t, filepath.Join(e.work, "out", "big_orders.jsonl"))
	if len(rows) != len(want) {
		t.Fatalf("output has %d rows, want %d", len(rows), len(want))
	}
	seen := map[int64]bool{}
	for _, row := range rows {
		id := intField(t, row, "id")
		rec, ok := want[id]
		if !ok || seen[id] {
			t.Fatalf("unexpected or duplicate row %v", row)
		}
		seen[id] = true
		if _, ok := row["amount"]; ok {
			t.Fatalf("row %v still has amount (should be renamed to total)", row)
		}
		total, _ := strconv.ParseFloat(rec[2], 64)
		if row["total"] != total || row["customer"] != rec[1] || row["ordered_at"] != rec[3] {
			t.Fatalf("row %v, want %v with amount renamed to total", row, rec)
		}
	}

	dl := readJSONLines(t, filepath.Join(e.work, "out", "big_orders.rejected.jsonl"))
	if len(dl) != 1 {
		t.Fatalf("dead-letter file has %d records, want 1: %v", len(dl), dl)
	}
	rej := dl[0]
	if rej["record"] != bads[0].raw {
		t.Errorf("rejected record %q, want %q", rej["record"], bads[0].raw)
	}
	if pos, _ := rej["position"].(string); !strings.HasSuffix(pos, fmt.Sprintf("orders.csv:%d", bads[0].line)) {
		t.Errorf("rejected position %q, want orders.csv:%d", pos, bads[0].line)
	}
	if reason, _ := rej["reason"].(string); !strings.Contains(reason, "wrong number of fields") {
		t.Errorf("rejected reason %q", reason)
	}
	if rej["flow"] != "big_orders" || rej["stage"] != "source" {
		t.Errorf("rejected record %v: want flow big_orders, stage source", rej)
	}
}

func TestRunMissingSourceType(t *testing.T) {
	e := newEnv(t)
	write(t, e.work, "in.csv", "id\n1\n")
	write(t, e.work, "typo.yaml", `
name: typo
source: {type: fil, config: {path: in.csv}}
sink: {type: file, config: {path: out.jsonl}}
`)
	r := e.run(t, "run", "typo.yaml")
	if r.code == 0 {
		t.Fatalf("adf run of a flow with a missing source type succeeded\n%s", r)
	}
	for _, want := range []string{
		`source type "fil" is not installed`,
		"searched " + e.pluginDir,
		"installed sources: file",
		`did you mean "file"?`,
		"put its executable adf-plugin-<name> into " + e.pluginDir,
		"ADF_PLUGIN_DIR",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr does not mention %q\n%s", want, r)
		}
	}
	if _, err := os.Stat(filepath.Join(e.work, "out.jsonl")); err == nil {
		t.Error("the failed flow wrote its output")
	}

	// Every missing type is reported at once; a bundled plugin's type says
	// how to build that plugin.
	write(t, e.work, "two.yaml", `
name: two
source: {type: fil, config: {path: in.csv}}
sink: {type: postgres, config: {table: t}}
`)
	r = e.run(t, "--plugin-dir", e.pluginDir, "run", "two.yaml")
	if r.code == 0 {
		t.Fatalf("adf run succeeded\n%s", r)
	}
	for _, want := range []string{
		`source type "fil" is not installed`,
		`sink type "postgres" is not installed`,
		`bundled plugin "sql"`,
		"go build -o " + e.pluginDir + "/adf-plugin-sql ./plugins/sql/cmd/adf-plugin-sql",
		"scripts/build-plugins.sh",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr does not mention %q\n%s", want, r)
		}
	}
}

func TestRunBadRecordPolicies(t *testing.T) {
	e := newEnv(t)
	in := write(t, e.work, "in/data.csv", "id,name,amount\n1,a,5\n2,b,150\n3,c,x,y\n4,d,200\n")
	flowDoc := func(name, onError string) string {
		return fmt.Sprintf(`
name: %s
source: {type: file, config: {path: %q}}
sink: {type: file, config: {path: out/%s.jsonl}}
on_error: %s
`, name, in, name, onError)
	}
	ids := func(t *testing.T, path string) []int64 {
		var out []int64
		for _, row := range readJSONLines(t, path) {
			out = append(out, intField(t, row, "id"))
		}
		sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
		return out
	}

	t.Run("fail", func(t *testing.T) {
		write(t, e.work, "fail.yaml", flowDoc("failing", "fail"))
		r := e.run(t, "run", "fail.yaml")
		if r.code == 0 {
			t.Fatalf("adf run succeeded despite a bad record and on_error: fail\n%s", r)
		}
		for _, want := range []string{in + ":4", "wrong number of fields: expected 3, got 4", "on_error is fail"} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("stderr does not mention %q\n%s", want, r)
			}
		}
		if s := parseSummary(t, r); s.status != "failed" {
			t.Errorf("summary %+v, want failed", s)
		}
		if _, err := os.Stat(filepath.Join(e.work, "out", "failing.jsonl")); err == nil {
			t.Error("a failed run published its output file")
		}
	})

	t.Run("dead_letter in ADF_DATA_DIR", func(t *testing.T) {
		write(t, e.work, "dl.yaml", flowDoc("dl", "dead_letter"))
		r := e.run(t, "run", "dl.yaml")
		if r.code != 0 {
			t.Fatalf("adf run failed\n%s", r)
		}
		if s := parseSummary(t, r); s.read != 3 || s.written != 3 || s.rejected != 1 {
			t.Errorf("summary %+v, want 3 read, 3 written, 1 rejected", s)
		}
		if got := ids(t, filepath.Join(e.work, "out", "dl.jsonl")); fmt.Sprint(got) != "[1 2 4]" {
			t.Errorf("output ids %v, want [1 2 4]", got)
		}
		// Without dead_letter.path the rejected records go to the data dir.
		dlPath := filepath.Join(e.dataDir, "dead_letter", "dl.jsonl")
		dl := readJSONLines(t, dlPath)
		if len(dl) != 1 || dl[0]["record"] != "3,c,x,y" || dl[0]["position"] != in+":4" {
			t.Errorf("dead-letter records %v, want the row 3,c,x,y at %s:4", dl, in)
		}
		if !strings.Contains(r.stdout, "rejected records: "+dlPath) {
			t.Errorf("stdout does not name %s\n%s", dlPath, r)
		}
	})

	t.Run("skip", func(t *testing.T) {
		write(t, e.work, "skip.yaml", flowDoc("skipper", "skip"))
		r := e.run(t, "run", "skip.yaml")
		if r.code != 0 {
			t.Fatalf("adf run failed\n%s", r)
		}
		if got := ids(t, filepath.Join(e.work, "out", "skipper.jsonl")); fmt.Sprint(got) != "[1 2 4]" {
			t.Errorf("output ids %v, want [1 2 4]", got)
		}
		if _, err := os.Stat(filepath.Join(e.dataDir, "dead_letter", "skipper.jsonl")); err == nil {
			t.Error("on_error: skip wrote a dead-letter file")
		}
	})
}

// --- adf validate --------------------------------------------------------------

// problems returns the "  field: reason" lines adf validate prints.
func problems(r result) []string {
	var out []string
	for _, l := range strings.Split(r.stderr, "\n") {
		if strings.HasPrefix(l, "  ") {
			out = append(out, strings.TrimSpace(l))
		}
	}
	return out
}

func TestValidate(t *testing.T) {
	e := newEnv(t)
	write(t, e.work, "in.csv", "id,amount\n1,5\n")

	t.Run("valid", func(t *testing.T) {
		write(t, e.work, "ok.yaml", `
name: ok
source: {type: file, config: {path: in.csv, format: csv, mode: bounded}}
transforms: [{type: filter, config: {expr: "amount > 1"}}]
sink: {type: file, config: {path: out.jsonl}}
on_error: skip
`)
		r := e.run(t, "validate", "ok.yaml")
		if r.code != 0 || !strings.Contains(r.stdout, "flow ok is valid") {
			t.Fatalf("valid flow not accepted\n%s", r)
		}
		if _, err := os.Stat(filepath.Join(e.work, "out.jsonl")); err == nil {
			t.Error("adf validate ran the flow")
		}
	})

	// Every bad component config is reported in one go, each with its full
	// field path, in flow order.
	t.Run("bad component configs", func(t *testing.T) {
		write(t, e.work, "bad.yaml", `
name: bad
source: {type: file, config: {path: in.csv, bogus: 1}}
transforms:
  - {type: filter, config: {expr: "amount >"}}
  - {type: cast, config: {columns: {amount: flot64}}}
sink: {type: file, config: {format: jsonl}}
`)
		r := e.run(t, "validate", "bad.yaml")
		if r.code != 1 {
			t.Fatalf("exit %d, want 1\n%s", r.code, r)
		}
		got := problems(r)
		wantPrefixes := []string{
			"source.config.bogus: unknown field",
			"transforms[0].config.expr: invalid expression",
			"transforms[1].config.columns.amount: unknown type \"flot64\"",
			"sink.config.path: required field is missing",
		}
		if len(got) != len(wantPrefixes) || !strings.Contains(r.stderr, fmt.Sprintf("invalid flow: %d problem(s)", len(wantPrefixes))) {
			t.Fatalf("problems %q, want %d\n%s", got, len(wantPrefixes), r)
		}
		for i, w := range wantPrefixes {
			if !strings.HasPrefix(got[i], w) {
				t.Errorf("problem %d is %q, want %q...", i, got[i], w)
			}
		}
	})

	t.Run("bad plugin configs only", func(t *testing.T) {
		write(t, e.work, "badplugin.yaml", `
name: badplugin
source: {type: file, config: {path: in.csv, mode: sometimes}}
sink: {type: file, config: {path: out.jsonl, delimiter: ";;"}}
`)
		r := e.run(t, "validate", "badplugin.yaml")
		got := problems(r)
		if r.code != 1 || len(got) != 2 || !strings.HasPrefix(got[0], "source.config.mode: ") ||
			!strings.HasPrefix(got[1], "sink.config.delimiter: must be exactly one character") {
			t.Fatalf("want source.config.mode and sink.config.delimiter problems\n%s", r)
		}
	})

	t.Run("bad config of the whole transform", func(t *testing.T) {
		write(t, e.work, "whole.yaml", `
name: whole
source: {type: file, config: {path: in.csv}}
transforms: [{type: filter, config: 5}]
sink: {type: file, config: {path: out.jsonl}}
`)
		r := e.run(t, "validate", "whole.yaml")
		got := problems(r)
		if r.code != 1 || len(got) != 1 || !strings.HasPrefix(got[0], "transforms[0].config: config must be a JSON object") {
			t.Fatalf("want one transforms[0].config problem\n%s", r)
		}
	})

	// The flow document's own fields are checked before the plugins are
	// asked about their configs.
	t.Run("bad flow fields", func(t *testing.T) {
		write(t, e.work, "badflow.yaml", `
name: Bad Name
source: {type: file, config: {path: in.csv}}
sink: {type: file, config: {path: out.jsonl}}
on_error: explode
parallelism: -1
`)
		r := e.run(t, "validate", "badflow.yaml")
		got := problems(r)
		want := []string{"name: ", "parallelism: ", `on_error: must be fail, skip or dead_letter (got "explode")`}
		if r.code != 1 || len(got) != len(want) {
			t.Fatalf("problems %q, want %d\n%s", got, len(want), r)
		}
		for i, w := range want {
			if !strings.HasPrefix(got[i], w) {
				t.Errorf("problem %d is %q, want %q...", i, got[i], w)
			}
		}
	})

	t.Run("unknown flow key", func(t *testing.T) {
		write(t, e.work, "unknown.json", `{"name": "u", "source": {"type": "file"}, "sink": {"type": "file"}, "sinks": []}`)
		r := e.run(t, "validate", "unknown.json")
		want := `sinks: unknown field; did you mean "sink"? (allowed: checkpoint, dead_letter, description, enabled, max_restarts, name, on_error, parallelism, retry_deadline, runtime, schedule, sink, source, timeout, transforms)`
		if got := problems(r); r.code != 1 || len(got) != 1 || got[0] != want {
			t.Fatalf("want the unknown key reported\n%s", r)
		}
	})

	t.Run("missing type", func(t *testing.T) {
		write(t, e.work, "missing.yaml", `
name: missing
source: {type: file, config: {path: in.csv}}
transforms: [{type: filtre, config: {expr: "amount > 1"}}]
sink: {type: file, config: {path: out.jsonl}}
`)
		r := e.run(t, "validate", "missing.yaml")
		if r.code != 1 || !strings.Contains(r.stderr, `transform type "filtre" is not installed`) || !strings.Contains(r.stderr, `did you mean "filter"?`) {
			t.Fatalf("want the missing transform reported\n%s", r)
		}
	})

	t.Run("missing file", func(t *testing.T) {
		r := e.run(t, "validate", "nope.yaml")
		if r.code == 0 || !strings.Contains(r.stderr, "nope.yaml") {
			t.Fatalf("want the missing flow file reported\n%s", r)
		}
	})
}

// allowedKeys lists the keys a component's config takes, from the schema its
// plugin describes, the way an unknown-field message lists them.
func allowedKeys(t *testing.T, e *env, kind sdk.Kind, typ string) string {
	t.Helper()
	reg, err := builtin.Registry(context.Background(), e.pluginDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ent, err := reg.Lookup(kind, typ)
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(ent.Schema, &schema); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range schema.Properties {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

// `adf run` validates the whole flow first, as `adf validate` does, and
// prints every problem with its path before anything starts: no run state,
// no output.
func TestRunValidatesFirst(t *testing.T) {
	e := newEnv(t)
	write(t, e.work, "in.csv", "id,amount\n1,5\n")
	cases := []struct {
		name, doc string
		problems  []string
	}{
		{"typo in a component config", `
name: typo
source: {type: file, config: {path: in.csv, fromat: csv}}
sink: {type: file, config: {path: out.jsonl}}
`, []string{`source.config.fromat: unknown field; did you mean "format"? (allowed: ` + allowedKeys(t, e, sdk.KindSource, "file") + `)`}},
		{"flow and component problems together", `
name: both
source: {type: file, config: {path: in.csv, colour: red}}
sink: {type: file, config: {path: out.jsonl, bogus: 1}}
on_error: explode
`, []string{
			`on_error: must be fail, skip or dead_letter (got "explode")`,
			`source.config.colour: unknown field (allowed: ` + allowedKeys(t, e, sdk.KindSource, "file") + `)`,
			`sink.config.bogus: unknown field (allowed: ` + allowedKeys(t, e, sdk.KindSink, "file") + `)`,
		}},
		{"bad duration", `
name: dur
source: {type: file, config: {path: in.csv}}
sink: {type: file, config: {path: out.jsonl}}
schedule: {every: 5 minutes}
`, []string{`schedule.every: bad duration "5 minutes": use a string such as "30s", "5m", "1h"`}},
		{"key given twice", `
name: twice
source: {type: file, config: {path: in.csv}}
sink: {type: file, config: {path: out.jsonl}}
name: again
`, []string{`name: key given twice (at line 2, column 1 and at line 5, column 1): remove one`}},
		{"two documents", `name: one
source: {type: file, config: {path: in.csv}}
sink: {type: file, config: {path: out.jsonl}}
---
name: two
`, []string{`more than one YAML document: another one starts at line 4; a flow file holds one flow: remove the "---" line and what follows, or put each flow in a file of its own`}},
		{"yaml syntax", `
name: syntax
source: {type: file, config: {path: in.csv}
sink: {type: file, config: {path: out.jsonl}}
`, []string{`not valid YAML at line 4, column 1: ',' or '}' must be specified`}},
		{"json after the object", `{"name": "j", "source": {"type": "file", "config": {"path": "in.csv"}}, "sink": {"type": "file", "config": {"path": "out.jsonl"}}}
{"name": "k"}`, []string{`unexpected content after the JSON value at line 2, column 1: a document is one JSON object`}},
		{"name too long", "name: " + strings.Repeat("n", 300) + `
source: {type: file, config: {path: in.csv}}
sink: {type: file, config: {path: out.jsonl}}
`, []string{`name: is 300 characters long; a flow name has 1 to 100`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := write(t, e.work, "flow.yaml", c.doc)
			want := fmt.Sprintf("invalid flow: %d problem(s)\n", len(c.problems))
			for _, p := range c.problems {
				want += "  " + p + "\n"
			}
			for _, cmd := range []string{"validate", "run"} {
				r := e.run(t, cmd, path)
				if r.code != 1 || r.stderr != want || r.stdout != "" {
					t.Errorf("adf %s: want exit 1, nothing on stdout and on stderr:\n%s\ngot %s", cmd, want, r)
				}
			}
			if _, err := os.Stat(filepath.Join(e.dataDir, "runs")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("adf run of an invalid flow created run state: %v", err)
			}
			if _, err := os.Stat(filepath.Join(e.work, "out.jsonl")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("adf run of an invalid flow wrote output: %v", err)
			}
		})
	}
}

// kafka is not rafka: a type that differs from an installed one by a
// replaced letter gets the list of installed types, not a guess.
func TestRunUnknownTypeWithoutMisleadingHint(t *testing.T) {
	e := newEnv(t)
	write(t, e.work, "kafka.yaml", `
name: kafka
source: {type: file, config: {path: in.csv}}
sink: {type: kafka, config: {topic: t}}
`)
	r := e.run(t, "run", "kafka.yaml")
	want := fmt.Sprintf("error: sink: sink type \"kafka\" is not installed (searched %s; installed sinks: file) To install a plugin, put its executable adf-plugin-<name> into %s (or set ADF_PLUGIN_DIR / --plugin-dir) and check it with `adf plugins list`\n", e.pluginDir, e.pluginDir)
	if r.code != 1 || r.stderr != want {
		t.Errorf("want exit 1 and on stderr:\n%s\ngot %s", want, r)
	}
}

// --- adf plugins ---------------------------------------------------------------

func TestPluginsList(t *testing.T) {
	e := newEnv(t)
	r := e.run(t, "plugins", "list")
	if r.code != 0 {
		t.Fatalf("adf plugins list failed\n%s", r)
	}
	rows := map[string]string{} // "kind type" -> plugin
	for _, l := range strings.Split(r.stdout, "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 {
			rows[f[0]+" "+f[1]] = f[2]
		}
	}
	want := map[string]string{
		"source file": "file", "sink file": "file", "runtime host": "builtin",
		"transform filter": "builtin", "transform select": "builtin", "transform rename": "builtin", "transform cast": "builtin",
	}
	for k, plugin := range want {
		if rows[k] != plugin {
			t.Errorf("%s: plugin %q, want %q\n%s", k, rows[k], plugin, r)
		}
	}
	if !strings.Contains(r.stdout, fmt.Sprintf("plugins directory: %s (1 plugins)", e.pluginDir)) {
		t.Errorf("plugins directory line missing\n%s", r)
	}
	if strings.Contains(r.stdout, "skipped") {
		t.Errorf("problems reported for a clean plugins directory\n%s", r)
	}

	// A broken binary is listed as skipped, and the rest still works.
	if err := os.WriteFile(filepath.Join(e.pluginDir, "adf-plugin-broken"), []byte("#!/bin/sh\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	r = e.run(t, "plugins", "list")
	if r.code != 0 || !strings.Contains(r.stdout, "skipped "+filepath.Join(e.pluginDir, "adf-plugin-broken")+": ") ||
		!regexp.MustCompile(`(?m)^source\s+file\s+file`).MatchString(r.stdout) {
		t.Errorf("want the broken plugin skipped and file still listed\n%s", r)
	}

	// No plugins directory: the builtins only.
	r = e.run(t, "--plugin-dir", filepath.Join(e.work, "no-such-dir"), "plugins", "list")
	if r.code != 0 || strings.Contains(r.stdout, "source") || !strings.Contains(r.stdout, "(0 plugins)") ||
		!regexp.MustCompile(`(?m)^transform\s+filter\s+builtin`).MatchString(r.stdout) {
		t.Errorf("want only builtins for a missing plugins directory\n%s", r)
	}
}

// describeSchemas are the config JSON Schemas of `adf plugins describe
// TYPE -o json`: by kind when the type has several.
func describeSchemas(t *testing.T, e *env, args ...string) map[string]map[string]any {
	t.Helper()
	r := e.run(t, append([]string{"plugins", "describe", "-o", "json"}, args...)...)
	if r.code != 0 {
		t.Fatalf("adf plugins describe -o json %v\n%s", args, r)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("describe -o json is not JSON: %v\n%s", err, r)
	}
	out := map[string]map[string]any{}
	if _, ok := doc["properties"]; ok {
		out[""] = doc
		return out
	}
	for k, v := range doc {
		s, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("describe -o json: %s is not a schema\n%s", k, r)
		}
		out[k] = s
	}
	return out
}

func TestPluginsDescribe(t *testing.T) {
	e := newEnv(t)
	r := e.run(t, "plugins", "describe", "file")
	if r.code != 0 {
		t.Fatalf("adf plugins describe file failed\n%s", r)
	}
	for _, want := range []string{"source file (plugin file ", "sink file (plugin file ", "capabilities: bounded=true unbounded=true"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output does not contain %q\n%s", want, r)
		}
	}
	if !regexp.MustCompile(`(?m)^\s+path\s+string\s+-\s+yes\s`).MatchString(r.stdout) {
		t.Errorf("no required path row in the config table\n%s", r)
	}
	ss := describeSchemas(t, e, "file")
	if len(ss) != 2 || ss["source"] == nil || ss["sink"] == nil {
		t.Fatalf("%d schemas %v, want the source's and the sink's", len(ss), ss)
	}
	for _, s := range ss {
		props, _ := s["properties"].(map[string]any)
		if _, ok := props["path"]; !ok {
			t.Errorf("schema has no path property: %v", s)
		}
		if fmt.Sprint(s["required"]) != "[path]" || s["additionalProperties"] != false {
			t.Errorf("schema should require path and reject unknown keys: %v", s)
		}
	}

	r = e.run(t, "plugins", "describe", "--kind", "transform", "filter")
	if r.code != 0 || !strings.Contains(r.stdout, "transform filter (plugin builtin") || strings.Contains(r.stdout, "source") {
		t.Errorf("describe --kind transform filter\n%s", r)
	}
	if ss := describeSchemas(t, e, "--kind", "transform", "filter"); len(ss) != 1 || fmt.Sprint(ss[""]["required"]) != "[expr]" {
		t.Errorf("filter schema %v, want one requiring expr", ss)
	}

	r = e.run(t, "plugins", "describe", "nope")
	if r.code == 0 {
		t.Fatalf("describe of an unknown type succeeded\n%s", r)
	}
	for _, want := range []string{`component type "nope" is not installed`, "searched " + e.pluginDir,
		"installed components: cast, file, filter, host, rename, select", "To install a plugin"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr does not mention %q\n%s", want, r)
		}
	}
	if strings.Contains(r.stderr, "runtime type") {
		t.Errorf("the error is about runtimes only, though no kind was asked for\n%s", r)
	}

	r = e.run(t, "plugins", "describe", "fil")
	if r.code == 0 || !strings.Contains(r.stderr, `did you mean "file"?`) {
		t.Errorf("want a suggestion for a typo\n%s", r)
	}
	r = e.run(t, "plugins", "describe", "--kind", "sink", "postgres")
	if r.code == 0 || !strings.Contains(r.stderr, `sink type "postgres" is not installed`) || !strings.Contains(r.stderr, "adf-plugin-sql") {
		t.Errorf("want the bundled sql plugin named\n%s", r)
	}
}

// --- processes -------------------------------------------------------------------

// procStat is the state and parent of a process, from /proc/PID/stat.
type procStat struct {
	comm  string
	state byte
	ppid  int
}

func readStat(pid int) (procStat, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, false
	}
	s := string(data)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < 0 {
		return procStat{}, false
	}
	f := strings.Fields(s[end+1:])
	if len(f) < 2 {
		return procStat{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	return procStat{comm: s[open+1 : end], state: f[0][0], ppid: ppid}, true
}

// children lists the live child processes of pid by scanning /proc.
func children(pid int) map[int]procStat {
	out := map[int]procStat{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := readStat(p); ok && st.ppid == pid && st.state != 'Z' {
			out[p] = st
		}
	}
	return out
}

// alive reports whether pid is still the running plugin process.
func alive(pid int, comm string) bool {
	st, ok := readStat(pid)
	return ok && st.state != 'Z' && st.comm == comm
}

// background is an adf run in the background, its output going to files.
type background struct {
	cmd            *exec.Cmd
	stdout, stderr string
	done           chan error
}

func (e *env) start(t *testing.T, args ...string) *background {
	t.Helper()
	cmd := e.command(context.Background(), args...)
	b := &background{cmd: cmd, stdout: filepath.Join(t.TempDir(), "stdout"), stderr: filepath.Join(t.TempDir(), "stderr"), done: make(chan error, 1)}
	so, err := os.Create(b.stdout)
	if err != nil {
		t.Fatal(err)
	}
	se, err := os.Create(b.stderr)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = so, se
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	so.Close()
	se.Close()
	go func() { b.done <- cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case <-b.done:
		default:
			_ = cmd.Process.Kill()
			<-b.done
		}
	})
	return b
}

func (b *background) output() string {
	so, _ := os.ReadFile(b.stdout)
	se, _ := os.ReadFile(b.stderr)
	return fmt.Sprintf("stdout:\n%s\nstderr:\n%s", so, se)
}

func (b *background) errOutput() string {
	se, _ := os.ReadFile(b.stderr)
	return string(se)
}

// wait waits for the process to end and returns its exit code (-1 when killed
// by a signal).
func (b *background) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case err := <-b.done:
		b.done <- err // for the cleanup
		if err == nil {
			return 0
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		t.Fatalf("wait: %v", err)
	case <-time.After(timeout):
		t.Fatalf("adf did not exit within %s\n%s", timeout, b.output())
	}
	return 0
}

// continuousFlow writes a flow reading CSV files from in/ continuously into
// part files in out/.
func continuousFlow(t *testing.T, e *env, checkpointEvery string) {
	t.Helper()
	write(t, e.work, "cont.yaml", fmt.Sprintf(`
name: cont
source: {type: file, config: {path: in, mode: continuous, discover_interval: 100ms}}
sink: {type: file, config: {path: out/}}
checkpoint: {every: %s}
`, checkpointEvery))
}

// addCSV adds a file to the input directory atomically (hidden files are not
// read), with rows id first..first+n-1.
func addCSV(t *testing.T, dir, name string, first, n int) {
	t.Helper()
	var b strings.Builder
	b.WriteString("id,word\n")
	for i := first; i < first+n; i++ {
		fmt.Fprintf(&b, "%d,w%d\n", i, i)
	}
	tmp := write(t, dir, "."+name+".tmp", b.String())
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

// partRows reads the committed part files of dir: ids and how often each
// was written, and the file names (temp parts included).
func partRows(t *testing.T, dir string) (map[int64]int, []string) {
	t.Helper()
	counts := map[int64]int{}
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return counts, nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
		if !strings.HasPrefix(e.Name(), "part-") || !strings.HasSuffix(e.Name(), ".jsonl") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range decodeJSONLines(t, e.Name(), data) {
			id := intField(t, row, "id")
			if row["word"] != fmt.Sprintf("w%d", id) {
				t.Fatalf("%s: bad row %v", e.Name(), row)
			}
			counts[id]++
		}
	}
	return counts, names
}

// Killing the host with SIGKILL (no chance to clean up) must not leave its
// plugin processes running.
func TestPluginsDieWithKilledHost(t *testing.T) {
	e := newEnv(t)
	continuousFlow(t, e, "200ms")
	in := filepath.Join(e.work, "in")
	addCSV(t, in, "a.csv", 1, 10)

	b := e.start(t, "--log-level", "debug", "run", "--progress", "none", "cont.yaml")
	pid := b.cmd.Process.Pid
	out := filepath.Join(e.work, "out")
	// Running for real: the rows went through both plugins into a part file.
	testkit.WaitFor(t, 20*time.Second, "the first rows to be committed", func() bool {
		c, _ := partRows(t, out)
		return len(c) == 10
	}, b.output)
	logged := testkit.PluginPids(b.errOutput())
	kids := children(pid)
	if len(logged) != 2 || logged["source"] == 0 || logged["sink"] == 0 {
		t.Fatalf("want the source and sink plugin started, got %v\n%s", logged, b.output())
	}
	for role, p := range logged {
		st, ok := kids[p]
		if !ok || st.comm != "adf-plugin-file" {
			t.Fatalf("%s plugin pid %d is not a live child of adf (%d); children: %v", role, p, pid, kids)
		}
	}
	if len(kids) != 2 {
		t.Fatalf("adf has %d child processes, want 2 (source, sink): %v", len(kids), kids)
	}

	if err := b.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if code := b.wait(t, 5*time.Second); code != -1 {
		t.Fatalf("adf exit code %d after SIGKILL, want -1 (killed)", code)
	}
	testkit.WaitFor(t, 5*time.Second, "the plugins to die with the host", func() bool {
		for p, st := range kids {
			if alive(p, st.comm) {
				return false
			}
		}
		return true
	}, func() string {
		var s []string
		for p := range kids {
			st, ok := readStat(p)
			s = append(s, fmt.Sprintf("pid %d: %+v exists=%v", p, st, ok))
		}
		return strings.Join(s, "\n")
	})
}

// Ctrl-C on an unbounded run takes a final checkpoint and exits 0; every row
// read, including those of a file added while it runs, is written exactly
// once.
func TestInterruptContinuousRun(t *testing.T) {
	e := newEnv(t)
	// No periodic checkpoint during the test: whatever is committed comes
	// from the final checkpoint Ctrl-C takes.
	continuousFlow(t, e, "1h")
	in := filepath.Join(e.work, "in")
	addCSV(t, in, "a.csv", 1, 50)

	// --progress bar prints the live count of rows read ("N read,") to
	// stderr.
	b := e.start(t, "--log-level", "debug", "run", "--progress", "bar", "cont.yaml")
	rowsRE := regexp.MustCompile(`: (\d+) read, `)
	readAtLeast := func(n int64) func() bool {
		return func() bool {
			for _, m := range rowsRE.FindAllStringSubmatch(b.errOutput(), -1) {
				if v, _ := strconv.ParseInt(m[1], 10, 64); v >= n {
					return true
				}
			}
			return false
		}
	}
	testkit.WaitFor(t, 20*time.Second, "a.csv to be read", readAtLeast(50), b.output)
	addCSV(t, in, "b.csv", 51, 25)
	testkit.WaitFor(t, 20*time.Second, "b.csv (added while running) to be read", readAtLeast(75), b.output)

	out := filepath.Join(e.work, "out")
	if c, names := partRows(t, out); len(c) != 0 {
		t.Fatalf("rows committed before Ctrl-C though no checkpoint was due: %v", names)
	}
	if err := b.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if code := b.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("adf exited %d after Ctrl-C, want 0\n%s", code, b.output())
	}
	so, _ := os.ReadFile(b.stdout)
	s := parseSummary(t, result{stdout: string(so)})
	if s.status != "success" || s.read != 75 || s.written != 75 || s.cps < 1 {
		t.Fatalf("summary %+v, want success with 75 rows read and written after a final checkpoint\n%s", s, b.output())
	}
	counts, names := partRows(t, out)
	for id := int64(1); id <= 75; id++ {
		if counts[id] != 1 {
			t.Errorf("row %d written %d times, want once", id, counts[id])
		}
	}
	if len(counts) != 75 {
		t.Errorf("%d distinct rows written, want 75", len(counts))
	}
	for _, n := range names {
		if strings.HasSuffix(n, ".tmp") {
			t.Errorf("temp part %s left behind", n)
		}
	}
	// The plugins of the run ended with it.
	logged := testkit.PluginPids(b.errOutput())
	if len(logged) != 2 {
		t.Fatalf("want the source and sink plugin started, got %v\n%s", logged, b.output())
	}
	for role, p := range logged {
		if alive(p, "adf-plugin-file") {
			t.Errorf("%s plugin %d still running after adf exited", role, p)
		}
	}
}

// A second Ctrl-C cancels a run that does not stop gracefully (here a
// bounded run stuck opening a FIFO nobody writes to) instead of making the
// user wait for the 30s grace period.
func TestSecondInterruptCancelsRun(t *testing.T) {
	e := newEnv(t)
	if err := syscall.Mkfifo(filepath.Join(e.work, "in.csv"), 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	write(t, e.work, "stuck.yaml", `
name: stuck
source: {type: file, config: {path: in.csv, format: csv}}
sink: {type: file, config: {path: out.jsonl}}
`)
	b := e.start(t, "--log-level", "debug", "run", "--progress", "none", "stuck.yaml")
	testkit.WaitFor(t, 20*time.Second, "the plugins to start", func() bool { return len(testkit.PluginPids(b.errOutput())) == 2 }, b.output)
	logged := testkit.PluginPids(b.errOutput())

	if err := b.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-b.done:
		t.Fatalf("a stuck bounded run ended at the first Ctrl-C (%v); it should wait for the grace period\n%s", err, b.output())
	case <-time.After(500 * time.Millisecond):
	}
	start := time.Now()
	if err := b.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if code := b.wait(t, 15*time.Second); code == 0 {
		t.Fatalf("a cancelled run exited 0\n%s", b.output())
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the second Ctrl-C took %s to end the run", d)
	}
	stderr := b.errOutput()
	if !strings.Contains(stderr, "interrupted again") || !strings.Contains(stderr, "context canceled") {
		t.Errorf("stderr does not say the run was cancelled\n%s", b.output())
	}
	for role, p := range logged {
		if alive(p, "adf-plugin-file") {
			t.Errorf("%s plugin %d still running after adf exited", role, p)
		}
	}
}
