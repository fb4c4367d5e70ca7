package file_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

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
