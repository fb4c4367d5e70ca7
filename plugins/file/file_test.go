package file_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/activedataflow/adf/plugins/file"
	"github.com/activedataflow/adf/sdk"
	"github.com/activedataflow/adf/sdk/sdktest"
)

func component(t *testing.T, kind sdk.Kind) sdk.Component {
	t.Helper()
	for _, c := range file.Plugin().Components {
		if c.Kind() == kind {
			return c
		}
	}
	t.Fatalf("file plugin has no %s", kind)
	return sdk.Component{}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestSourceConformanceCSV(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("id,name,amount\n")
	for i := 0; i < 20000; i++ {
		fmt.Fprintf(&b, "%d,\"n, %d\",%d.5\n", i, i, i)
	}
	writeFile(t, filepath.Join(dir, "a.csv"), b.String())
	writeFile(t, filepath.Join(dir, "b.csv"), "id,name,amount\n1,x,2.5\n")
	cfg := fmt.Sprintf(`{"path": %q, "split_size": 50000, "batch_size": 700}`, dir)
	sdktest.TestSource(t, component(t, sdk.KindSource), sdktest.SourceOptions{Config: []byte(cfg), Parallelism: 3, ExpectRows: 20001})
}

func TestSourceConformanceJSON(t *testing.T) {
	dir := t.TempDir()
	var lines, arr strings.Builder
	arr.WriteString("[\n")
	for i := 0; i < 5000; i++ {
		fmt.Fprintf(&lines, "{\"id\": %d, \"tags\": [\"x\"], \"ok\": %v}\n", i, i%2 == 0)
		if i > 0 {
			arr.WriteString(",\n")
		}
		fmt.Fprintf(&arr, "{\"id\": %d, \"name\": \"n%d\"}", i, i)
	}
	arr.WriteString("\n]\n")
	writeFile(t, filepath.Join(dir, "a.jsonl"), lines.String())
	writeFile(t, filepath.Join(dir, "b.json"), arr.String())
	for _, name := range []string{"a.jsonl", "b.json"} {
		t.Run(name, func(t *testing.T) {
			cfg := fmt.Sprintf(`{"path": %q, "split_size": 20000, "batch_size": 300}`, filepath.Join(dir, name))
			sdktest.TestSource(t, component(t, sdk.KindSource), sdktest.SourceOptions{Config: []byte(cfg), Parallelism: 2, ExpectRows: 5000})
		})
	}
}

// readJSONL renders JSON-lines output the way sdktest.Rows renders batches.
func readJSONL(t *testing.T, paths ...string) []string {
	t.Helper()
	var out []string
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var row struct {
				ID   int64  `json:"id"`
				Name string `json:"name"`
			}
			if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
				t.Fatalf("bad line %q: %v", sc.Text(), err)
			}
			out = append(out, fmt.Sprintf("%d\x1f%s", row.ID, row.Name))
		}
		f.Close()
	}
	return out
}

// readOutput reads a single output file, or nothing while none is
// published (the two-phase scenarios look before the final Commit).
func readOutput(t *testing.T, out string, read func() []string) []string {
	t.Helper()
	if _, err := os.Stat(out); os.IsNotExist(err) {
		return nil
	}
	return read()
}

// removeOutput is SinkOptions.Reset for a single output file: each run
// replaces the file, so each scenario starts without it.
func removeOutput(out string) func(t *testing.T) {
	return func(t *testing.T) {
		if err := os.Remove(out); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
}

func TestSinkConformanceFile(t *testing.T) {
	out := filepath.Join(t.TempDir(), "sub", "out.jsonl")
	sdktest.TestSink(t, component(t, sdk.KindSink), sdktest.SinkOptions{
		Config: []byte(fmt.Sprintf(`{"path": %q}`, out)),
		ReadBack: func(t *testing.T) []string {
			return readOutput(t, out, func() []string { return readJSONL(t, out) })
		},
		Reset: removeOutput(out),
	})
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".*"))
	if len(left) > 0 {
		t.Fatalf("temp files left after publishing: %v", left)
	}
}

func TestSinkConformanceDirectory(t *testing.T) {
	out := t.TempDir() + "/parts/"
	sdktest.TestSink(t, component(t, sdk.KindSink), sdktest.SinkOptions{
		Config: []byte(fmt.Sprintf(`{"path": %q}`, out)),
		ReadBack: func(t *testing.T) []string {
			// Every scenario has its own run id, so parts accumulate.
			parts, _ := filepath.Glob(filepath.Join(out, "part-*.jsonl"))
			sort.Strings(parts)
			return readJSONL(t, parts...)
		},
	})
	if parts, _ := filepath.Glob(filepath.Join(out, "part-run-1-*.jsonl")); len(parts) != 2 {
		t.Errorf("want one part file per flushed checkpoint of run-1 (2), got %v", parts)
	}
	if left, _ := filepath.Glob(filepath.Join(out, ".*")); len(left) > 0 {
		t.Errorf("hidden parts left after the final commits: %v", left)
	}
}

func TestSinkConformanceCSV(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out.csv")
	sdktest.TestSink(t, component(t, sdk.KindSink), sdktest.SinkOptions{
		Config: []byte(fmt.Sprintf(`{"path": %q}`, out)),
		ReadBack: func(t *testing.T) []string {
			return readOutput(t, out, func() []string {
				data, err := os.ReadFile(out)
				if err != nil {
					t.Fatal(err)
				}
				return csvRows(t, data)
			})
		},
		Reset: removeOutput(out),
	})
}

func TestConfigErrors(t *testing.T) {
	src := component(t, sdk.KindSource)
	_, err := src.DecodeConfig([]byte(`{"format": "xml", "delimiter": ";;", "bogus": 1, "schema": [{"name": "a", "type": "flot"}]}`))
	if err == nil {
		t.Fatal("bad config accepted")
	}
	fields := map[string]bool{}
	for _, e := range sdk.AsErrors(err) {
		fields[e.Field] = true
	}
	for _, want := range []string{"path", "format", "bogus"} {
		if !fields[want] {
			t.Errorf("errors %v do not name field %q", err, want)
		}
	}
	_, err = src.DecodeConfig([]byte(`{"path": "x.csv", "delimiter": ";;", "schema": [{"name": "a", "type": "flot"}]}`))
	for _, want := range []string{"delimiter", "schema[0].type"} {
		if !strings.Contains(fmt.Sprint(err), want) {
			t.Errorf("error %v does not name %q", err, want)
		}
	}
}

// configErrors decodes cfg for kind and returns "field: summary" of each
// error.
func configErrors(t *testing.T, kind sdk.Kind, cfg string) []string {
	t.Helper()
	_, err := component(t, kind).DecodeConfig([]byte(cfg))
	var out []string
	for _, e := range sdk.AsErrors(err) {
		if e.Code != sdk.CodeInvalidConfig {
			t.Errorf("%s: code %s", e, e.Code)
		}
		out = append(out, e.Field+": "+e.Summary)
	}
	return out
}

// TestConfigValidation: empty paths, a discover_interval that would spin, a
// column named twice and delimiters CSV reserves are field errors.
func TestConfigValidation(t *testing.T) {
	tests := []struct {
		kind sdk.Kind
		cfg  string
		want []string
	}{
		{sdk.KindSource, `{"path": ""}`, []string{"path: must not be empty: name a file, a directory or a glob such as data/*.csv"}},
		{sdk.KindSource, `{"path": "in/", "mode": "continuous", "discover_interval": "0s"}`, []string{"discover_interval: must be at least 100ms (got 0s)"}},
		{sdk.KindSource, `{"path": "in/", "discover_interval": "99ms"}`, []string{"discover_interval: must be at least 100ms (got 99ms)"}},
		{sdk.KindSource, `{"path": "in/", "mode": "continuous", "discover_interval": "100ms"}`, nil},
		{sdk.KindSource, `{"path": "a.csv", "schema": [{"name": "a", "type": "int64"}, {"name": "a", "type": "string"}]}`, []string{`schema[1].name: column "a" is named twice`}},
		{sdk.KindSource, `{"path": "a.csv", "delimiter": "\""}`, []string{`delimiter: cannot be "\"": quotes and line breaks have their own meaning in CSV`}},
		{sdk.KindSource, `{"path": "a.csv", "multiline": true, "schema": [{"name": "a", "type": "int64", "strict": true}]}`, nil},
		{sdk.KindSink, `{"path": ""}`, []string{`path: must name an output file, or a directory ending in / (got "")`}},
		{sdk.KindSink, `{"path": "/", "delimiter": "\n"}`, []string{`path: must name an output file, or a directory ending in / (got "/")`, `delimiter: cannot be "\n": quotes and line breaks have their own meaning in CSV`}},
		{sdk.KindSink, `{"path": "out/"}`, nil},
	}
	for _, tc := range tests {
		if got := configErrors(t, tc.kind, tc.cfg); !slices.Equal(got, tc.want) {
			t.Errorf("%s %s:\n got %q\nwant %q", tc.kind, tc.cfg, got, tc.want)
		}
	}
}

// check decodes cfg for kind and returns its Check warnings as
// "code field: summary (detail)".
func check(t *testing.T, kind sdk.Kind, cfg string) []string {
	t.Helper()
	v, err := component(t, kind).DecodeConfig([]byte(cfg))
	if err != nil {
		t.Fatalf("%s: %v", cfg, err)
	}
	c, ok := v.(sdk.Checker)
	if !ok {
		t.Fatalf("%T is not an sdk.Checker", v)
	}
	var out []string
	for _, w := range c.Check(context.Background()) {
		out = append(out, w.Code+" "+w.Error())
	}
	return out
}

// TestConfigCheck: warnings for an input that matches nothing now and for
// an output directory the sink could not create; none when all is there.
func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	wd, _ := os.Getwd()
	rel := "; relative paths are resolved against the working directory " + wd
	writeFile(t, filepath.Join(dir, "a.csv"), "a\n1\n")
	if err := os.Mkdir(filepath.Join(dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		kind sdk.Kind
		cfg  string
		want []string
	}{
		{sdk.KindSource, fmt.Sprintf(`{"path": %q}`, filepath.Join(dir, "a.csv")), nil},
		{sdk.KindSource, fmt.Sprintf(`{"path": %q}`, filepath.Join(dir, "*.csv")), nil},
		{sdk.KindSource, fmt.Sprintf(`{"path": %q}`, dir), nil},
		{sdk.KindSource, fmt.Sprintf(`{"path": %q}`, filepath.Join(dir, "b.csv")),
			[]string{"not_found path: input " + filepath.Join(dir, "b.csv") + " does not exist (check the path; it may be a file, a directory or a glob such as data/*.csv" + rel + ")"}},
		{sdk.KindSource, fmt.Sprintf(`{"path": %q, "mode": "continuous"}`, filepath.Join(dir, "in", "*.csv")),
			[]string{fmt.Sprintf("not_found path: no input files match %q (directory %s does not exist; check the path%s; in continuous mode the run waits for files to appear)", filepath.Join(dir, "in", "*.csv"), filepath.Join(dir, "in"), rel)}},
		{sdk.KindSource, fmt.Sprintf(`{"path": %q}`, filepath.Join(dir, "empty")),
			[]string{"not_found path: directory " + filepath.Join(dir, "empty") + " holds no input files (files are taken by extension (.csv, .tsv, .json, .jsonl, .ndjson, .parquet, .pq; hidden ones skipped) unless format is set)"}},
		{sdk.KindSink, fmt.Sprintf(`{"path": %q}`, filepath.Join(dir, "out.jsonl")), nil},
		{sdk.KindSink, fmt.Sprintf(`{"path": %q}`, filepath.Join(dir, "new", "out.jsonl")), nil},
		{sdk.KindSink, fmt.Sprintf(`{"path": %q}`, filepath.Join(dir, "parts")+"/"), nil},
		{sdk.KindSink, fmt.Sprintf(`{"path": %q}`, filepath.Join(dir, "no", "such", "out.jsonl")),
			[]string{fmt.Sprintf("not_found path: output directory %s does not exist, and neither does its parent %s (the file sink creates the output's own directory, not its parents; create %s or fix the path%s)",
				filepath.Join(dir, "no", "such"), filepath.Join(dir, "no"), filepath.Join(dir, "no"), rel)}},
		{sdk.KindSink, fmt.Sprintf(`{"path": %q}`, filepath.Join(dir, "a.csv", "out.jsonl")),
			[]string{"invalid_config path: " + filepath.Join(dir, "a.csv") + " is not a directory (the output's directory is a file; fix the path)"}},
	}
	for _, tc := range tests {
		if got := check(t, tc.kind, tc.cfg); !slices.Equal(got, tc.want) {
			t.Errorf("%s %s:\n got %q\nwant %q", tc.kind, tc.cfg, got, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "new")); !os.IsNotExist(err) {
		t.Errorf("Check created %s", filepath.Join(dir, "new"))
	}
}

// TestConfigCheckNamedPipe: Check does not open a named pipe (which would
// wait for a writer) and returns at once.
func TestConfigCheckNamedPipe(t *testing.T) {
	p := filepath.Join(t.TempDir(), "in.csv")
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan []string, 1)
	go func() { done <- check(t, sdk.KindSource, fmt.Sprintf(`{"path": %q}`, p)) }()
	select {
	case got := <-done:
		if got != nil {
			t.Errorf("warnings %q", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Check blocked on a named pipe")
	}
}
