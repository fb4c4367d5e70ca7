package flink

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/activedataflow/adf/sdk"
	"github.com/activedataflow/adf/sdk/flow"
)

// writeBridge writes a jar with a stored and a deflated entry.
func writeBridge(t *testing.T, path string) map[string][]byte {
	t.Helper()
	entries := map[string][]byte{
		"META-INF/MANIFEST.MF": []byte("Manifest-Version: 1.0\n"),
		entryClassFile:         bytes.Repeat([]byte("class bytes "), 100),
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	names := []string{"META-INF/MANIFEST.MF", entryClassFile}
	for i, n := range names {
		method := zip.Deflate
		if i == 0 {
			method = zip.Store
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: n, Method: method})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(entries[n])
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return entries
}

func TestJobJar(t *testing.T) {
	dir := t.TempDir()
	bridge := filepath.Join(dir, "adf-flink-bridge.jar")
	bridgeEntries := writeBridge(t, bridge)
	src := copyAs(t, helloBinary(t, "linux", "amd64"), dir, "adf-plugin-file")
	sink := filepath.Join(dir, "adf-plugin-sql")
	if err := os.WriteFile(sink, []byte("\x7fELF pretend sink binary"), 0o700); err != nil {
		t.Fatal(err)
	}
	tr := filepath.Join(dir, "adf-transforms")
	if err := os.WriteFile(tr, []byte("\x7fELF pretend transforms binary"), 0o644); err != nil {
		t.Fatal(err)
	}
	doc := []byte(`{"name": "orders", "source": {"type": "file", "config": {"path": "/in"}}, "parallelism": 3,
		"transforms": [{"type": "select"}, {"type": "rename"}], "sink": {"type": "postgres"},
		"checkpoint": {"every": "2s"}, "max_restarts": 4}`)
	job := sdk.RuntimeJob{Flow: doc, RunID: "42", Components: []sdk.RuntimeComponent{
		{Kind: sdk.KindSource, Type: "file", Executable: src, Plugin: "file"},
		// Out of order on purpose: transforms are listed by Index.
		{Kind: sdk.KindTransform, Type: "rename", Index: 1, Executable: tr, Plugin: "builtin"},
		{Kind: sdk.KindTransform, Type: "select", Index: 0, Executable: tr, Plugin: "builtin"},
		{Kind: sdk.KindSink, Type: "postgres", Executable: sink, Plugin: "sql"},
	}}
	f, err := flow.Decode(doc)
	if err != nil {
		t.Fatal(err)
	}
	p, err := planJob(&Config{URL: "http://x"}, job, f)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := writeJobJar(&buf, bridge, p); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	br, _ := zip.OpenReader(bridge)
	defer br.Close()
	orig := map[string]*zip.File{}
	for _, e := range br.File {
		orig[e.Name] = e
	}
	got := map[string]*zip.File{}
	var names []string
	for _, e := range zr.File {
		if got[e.Name] != nil {
			t.Fatalf("entry %s twice", e.Name)
		}
		got[e.Name] = e
		names = append(names, e.Name)
	}
	want := []string{"META-INF/MANIFEST.MF", entryClassFile, "adf/job.json", "adf/plugins/adf-plugin-file", "adf/plugins/adf-plugin-sql", "adf/plugins/adf-transforms"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("entries %v, want %v", names, want)
	}
	read := func(e *zip.File) []byte {
		rc, err := e.Open()
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatalf("%s: %v", e.Name, err)
		}
		return b
	}
	for n, b := range bridgeEntries {
		e := got[n]
		if e.Method != orig[n].Method || e.CRC32 != orig[n].CRC32 || e.CompressedSize64 != orig[n].CompressedSize64 || !bytes.Equal(read(e), b) {
			t.Fatalf("bridge entry %s changed: method %d/%d size %d/%d", n, e.Method, orig[n].Method, e.CompressedSize64, orig[n].CompressedSize64)
		}
	}
	for n, path := range map[string]string{"adf-plugin-file": src, "adf-plugin-sql": sink, "adf-transforms": tr} {
		e := got["adf/plugins/"+n]
		want, _ := os.ReadFile(path)
		if e.Method != zip.Deflate || e.Mode().Perm() != 0o755 || !bytes.Equal(read(e), want) {
			t.Fatalf("%s: method %d mode %v, same content %v", e.Name, e.Method, e.Mode(), bytes.Equal(read(e), want))
		}
	}
	var spec map[string]any
	if err := json.Unmarshal(read(got["adf/job.json"]), &spec); err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 0, len(spec))
	for k := range spec {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if !reflect.DeepEqual(keys, []string{"checkpoint_interval_ms", "components", "flow", "parallelism", "restart", "run_id"}) {
		t.Fatalf("job.json keys %v", keys)
	}
	if spec["run_id"] != "42" || spec["parallelism"] != 3.0 || spec["checkpoint_interval_ms"] != 2000.0 {
		t.Fatalf("job.json %v", spec)
	}
	if r := spec["restart"].(map[string]any); r["initial_backoff_ms"] != 200.0 || r["max_backoff_ms"] != 30000.0 || r["max_attempts"] != 4.0 {
		t.Fatalf("restart %v", r)
	}
	c := spec["components"].(map[string]any)
	if c["source"] != "adf-plugin-file" || c["sink"] != "adf-plugin-sql" || !reflect.DeepEqual(c["transforms"], []any{"adf-transforms", "adf-transforms"}) {
		t.Fatalf("components %v", c)
	}
	if fl := spec["flow"].(map[string]any); fl["name"] != "orders" || fl["source"].(map[string]any)["config"].(map[string]any)["path"] != "/in" {
		t.Fatalf("flow %v", fl)
	}
}

func TestPlanDefaults(t *testing.T) {
	doc := flowDoc("plain", "")
	f, err := flow.Decode(doc)
	if err != nil {
		t.Fatal(err)
	}
	job := sdk.RuntimeJob{Flow: doc, Components: components("/a/adf-plugin-file", "/b/adf-transforms", "/c/adf-plugin-sql")}
	p, err := planJob(&Config{}, job, f)
	if err != nil {
		t.Fatal(err)
	}
	if p.spec.Parallelism != 1 || p.spec.CheckpointIntervalMS != flow.DefaultCheckpointInterval.Milliseconds() || p.spec.Restart.MaxAttempts != 10 {
		t.Fatalf("defaults: %+v", p.spec)
	}
	p, _ = planJob(&Config{Parallelism: 5}, job, f)
	if p.spec.Parallelism != 5 {
		t.Fatalf("config parallelism: %d", p.spec.Parallelism)
	}
	// Two executables with one name cannot both ship.
	job.Components[2].Executable = "/other/adf-plugin-file"
	if _, err := planJob(&Config{}, job, f); errCode(err) != sdk.CodeInvalidConfig {
		t.Fatalf("same base name: %v", err)
	}
}

// TestJobJarFromJarTool: a bridge written by the jar tool (directories
// deflated, as Maven writes them) is copied whole.
func TestJobJarFromJarTool(t *testing.T) {
	bridge := fakeBridgeJar(t)
	dir := t.TempDir()
	doc := flowDoc("ok", "")
	f, _ := flow.Decode(doc)
	tr := copyAs(t, helloBinary(t, "linux", "amd64"), dir, "adf-transforms")
	p, err := planJob(&Config{}, sdk.RuntimeJob{Flow: doc, Components: components(tr, tr, tr)}, f)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := writeJobJar(&buf, bridge, p); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	br, _ := zip.OpenReader(bridge)
	defer br.Close()
	var dirs int
	for i, e := range br.File {
		if zr.File[i].Name != e.Name {
			t.Fatalf("entry %d: %s, want %s", i, zr.File[i].Name, e.Name)
		}
		if strings.HasSuffix(e.Name, "/") {
			dirs++
		}
	}
	if dirs == 0 || len(zr.File) != len(br.File)+2 {
		t.Fatalf("%d dirs, %d entries (bridge %d)", dirs, len(zr.File), len(br.File))
	}
}
