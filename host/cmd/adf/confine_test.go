package main

// Confinement of what flows touch, through the real adf binary: the file
// roots (ADF_FILE_ROOTS) of `adf serve` refuse, at create, flows naming
// files outside them (the exfiltration of /etc/shadow through dead
// letters, a sink writing elsewhere, .. and symlinks out of a root), and
// refuse again right before a run a flow saved under other roots; the
// allow-list of destinations (ADF_CONNECT_ALLOW) refuses or allows a
// PostgreSQL URL on 127.0.0.1.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/activedataflow/adf/internal/testkit"
	"github.com/activedataflow/adf/sdk"
)

// leakyPlugin is the test plugin whose errors quote its secrets; its
// source and null sink have annotated path fields.
const leakyPlugin = "host/cmd/adf/testdata/adf-plugin-leaky"

const sqlPlugin = "plugins/sql/cmd/adf-plugin-sql"

// realDir is a fresh directory with its symlinks resolved (t.TempDir may
// be under a symlinked /tmp).
func realDir(t *testing.T) string {
	t.Helper()
	d, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// refusal is the 422 answer to a refused flow.
type refusal struct {
	Error    string `json:"error"`
	Problems []struct {
		Field  string `json:"field"`
		Reason string `json:"reason"`
	} `json:"problems"`
}

// fileAnnotated says whether the installed file plugin marks its path
// fields (plugins/file/config.go: adf:"path").
func fileAnnotated(h *svcHost) bool {
	var comps []struct {
		Kind, Type   string
		ConfigSchema json.RawMessage `json:"config_schema"`
	}
	h.api("GET", "/v1/plugins", nil, &comps)
	for _, c := range comps {
		if c.Type == "file" && c.Kind == "source" {
			for _, f := range sdk.AnnotatedFields(c.ConfigSchema, []byte(`{"path":"x"}`)) {
				if f.Field == "path" && f.Path {
					return true
				}
			}
		}
	}
	return false
}

func TestServeFileRoots(t *testing.T) {
	dataDir, work, root, outside := realDir(t), realDir(t), realDir(t), realDir(t)
	if err := os.Symlink(outside, filepath.Join(root, "escape")); err != nil {
		t.Fatal(err)
	}
	pluginDir := testkit.PluginDir(t, testkit.FilePlugin, leakyPlugin)
	h := svcStart(t, svcConfig{dataDir: dataDir, pluginDir: pluginDir, work: work,
		env: []string{"ADF_FILE_ROOTS=" + root}, args: []string{"--tick", "0"}})
	rule := fmt.Sprintf("flows may only use files under %s, %s (ADF_FILE_ROOTS)", dataDir, root)
	leaky := func(name, srcPath, sinkPath string, extra map[string]any) map[string]any {
		doc := map[string]any{"name": name,
			"source": map[string]any{"type": "leaky", "config": map[string]any{"path": srcPath}},
			"sink":   map[string]any{"type": "void", "config": map[string]any{"path": sinkPath}}}
		for k, v := range extra {
			doc[k] = v
		}
		return doc
	}
	ok := filepath.Join(root, "out.jsonl")
	dl := map[string]any{"on_error": "dead_letter"}
	for _, c := range []struct {
		name         string
		doc          map[string]any
		field, rsn   string
		fileRequired bool
	}{
		{"shadow", leaky("shadow", "/etc/shadow", ok, dl), "source.config.path",
			`path "/etc/shadow" is outside the file roots: ` + rule, false},
		{"sink-outside", leaky("sink-outside", filepath.Join(root, "in.csv"), filepath.Join(outside, "out.jsonl"), nil), "sink.config.path",
			fmt.Sprintf(`path %q is outside the file roots: %s`, filepath.Join(outside, "out.jsonl"), rule), false},
		{"dotdot", leaky("dotdot", root+"/../"+filepath.Base(outside)+"/in.csv", ok, nil), "source.config.path",
			fmt.Sprintf(`path %q is outside the file roots: %s`, root+"/../"+filepath.Base(outside)+"/in.csv", rule), false},
		{"symlink", leaky("symlink", filepath.Join(root, "escape", "in.csv"), ok, nil), "source.config.path",
			fmt.Sprintf(`path %q is outside the file roots (it resolves to %s): %s`, filepath.Join(root, "escape", "in.csv"), filepath.Join(outside, "in.csv"), rule), false},
		{"glob", leaky("glob", filepath.Join(root, "escape", "*.csv"), ok, nil), "source.config.path",
			fmt.Sprintf(`glob directory %q of path %q is outside the file roots (it resolves to %s): %s`, filepath.Join(root, "escape"), filepath.Join(root, "escape", "*.csv"), outside, rule), false},
		{"dead-letter", leaky("dead-letter", filepath.Join(root, "in.csv"), ok, map[string]any{"on_error": "dead_letter", "dead_letter": map[string]any{"path": "/tmp/x/dl.jsonl"}}),
			"dead_letter.path", `path "/tmp/x/dl.jsonl" is outside the file roots: ` + rule, false},
		// serve's working directory is no root unless listed.
		{"work", leaky("work", filepath.Join(work, "in.csv"), ok, nil), "source.config.path",
			fmt.Sprintf(`path %q is outside the file roots: %s`, filepath.Join(work, "in.csv"), rule), false},
		// The exfiltration: /etc/shadow read as CSV, every line a
		// bad record in the dead letters the API serves.
		{"file-shadow", map[string]any{"name": "file-shadow", "on_error": "dead_letter",
			"source": map[string]any{"type": "file", "config": map[string]any{"path": "/etc/shadow", "format": "csv"}},
			"sink":   map[string]any{"type": "file", "config": map[string]any{"path": ok}}},
			"source.config.path", `path "/etc/shadow" is outside the file roots: ` + rule, true},
		{"file-sink", map[string]any{"name": "file-sink",
			"source": map[string]any{"type": "file", "config": map[string]any{"path": filepath.Join(root, "in.csv")}},
			"sink":   map[string]any{"type": "file", "config": map[string]any{"path": filepath.Join(outside, "stolen.csv")}}},
			"sink.config.path", fmt.Sprintf(`path %q is outside the file roots: %s`, filepath.Join(outside, "stolen.csv"), rule), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.fileRequired && !fileAnnotated(h) {
				t.Fatalf(`the file plugin does not mark its path fields adf:"path"`)
			}
			var p refusal
			code, body := h.api("POST", "/v1/flows", c.doc, &p)
			if code != 422 || p.Error != "invalid_flow" || len(p.Problems) != 1 || p.Problems[0].Field != c.field || p.Problems[0].Reason != c.rsn {
				t.Fatalf("POST /v1/flows: %d %s\nwant 422 with the one problem %s: %s", code, body, c.field, c.rsn)
			}
			// Updating a flow is refused alike.
			if code, body := h.api("PUT", "/v1/flows/"+c.name, c.doc, nil); code != 422 {
				t.Errorf("PUT /v1/flows/%s: %d %s, want 422", c.name, code, body)
			}
		})
	}
	if code, _ := h.api("GET", "/v1/flows/shadow", nil, nil); code != 404 {
		t.Errorf("the refused flow was saved: GET answers %d", code)
	}
	// Inside the root (a symlink that stays in it included) is fine.
	if err := os.Mkdir(filepath.Join(root, "in"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "in"), filepath.Join(root, "alias")); err != nil {
		t.Fatal(err)
	}
	h.applyFlow(leaky("inside", filepath.Join(root, "alias", "in.csv"), ok, dl))

	// A flow saved under other roots is refused right before it runs.
	h.kill()
	h = svcStart(t, svcConfig{dataDir: dataDir, pluginDir: pluginDir, work: work,
		env: []string{"ADF_FILE_ROOTS=" + outside}, args: []string{"--tick", "0"}})
	var run struct{ ID int64 }
	if code, body := h.api("POST", "/v1/flows/inside/runs", nil, &run); code != 202 {
		t.Fatalf("trigger: %d %s", code, body)
	}
	got := h.waitRunStatus(run.ID, 30*time.Second, "failed")
	rule = fmt.Sprintf("flows may only use files under %s, %s (ADF_FILE_ROOTS) "+
		"(use a file under one of the roots, or add its directory to ADF_FILE_ROOTS (--file-roots) where the host runs)", dataDir, outside)
	want := fmt.Sprintf(`source.config.path: path %q is outside the file roots (it resolves to %s): %s; sink.config.path: path %q is outside the file roots: %s`,
		filepath.Join(root, "alias", "in.csv"), filepath.Join(root, "in", "in.csv"), rule, ok, rule)
	if got.ErrorMessage != want {
		t.Errorf("run error:\n got %s\nwant %s", got.ErrorMessage, want)
	}
	if got.Attempt != 1 {
		t.Errorf("the refused run made %d attempts, want 1 (a refusal is not retried)", got.Attempt)
	}
}

// `adf run` confines to the data and working directories by default, and
// to the data directory and the listed roots with ADF_FILE_ROOTS.
func TestRunFileRoots(t *testing.T) {
	a := testkit.NewADF(t, leakyPlugin)
	a.Env = []string{"ADF_FILE_ROOTS="} // the defaults, not the test kit's
	// The sink writes into the data directory, always a root.
	doc := func(path string) string {
		return fmt.Sprintf("name: roots\nsource: {type: leaky, config: {path: %q}}\nsink: {type: void, config: {path: %q}}\n", path, filepath.Join(a.DataDir, "out.jsonl"))
	}
	flowPath := a.WriteFlow(t, "in-work", doc("in.csv"))
	if r := a.Run(t, "validate", flowPath); r.Code != 0 || r.Stdout != "flow roots is valid\n" {
		t.Errorf("a relative path in the working directory:\n%s", r)
	}
	r := a.Run(t, "validate", a.WriteFlow(t, "passwd", doc("/etc/passwd")))
	work, _ := filepath.EvalSymlinks(a.Work)
	data, _ := filepath.EvalSymlinks(a.DataDir)
	want := fmt.Sprintf("invalid flow: 1 problem(s)\n  source.config.path: path \"/etc/passwd\" is outside the file roots: flows may only use files under %s, %s (ADF_FILE_ROOTS) "+
		"(use a file under one of the roots, or add its directory to ADF_FILE_ROOTS (--file-roots) where the host runs)\n", data, work)
	if r.Code != 1 || r.Stderr != want {
		t.Errorf("adf validate of /etc/passwd:\n%s\nwant stderr %q", r, want)
	}
	// adf run refuses before anything starts.
	r = a.Run(t, "run", "--progress", "none", a.WriteFlow(t, "passwd", doc("/etc/passwd")))
	if r.Code != 1 || r.Stderr != want || r.Stdout != "" {
		t.Errorf("adf run of /etc/passwd:\n%s", r)
	}
	// Listed roots replace the working directory; the flag wins over the env.
	r = a.Run(t, "validate", "--file-roots", "/etc", flowPath)
	want = fmt.Sprintf("source.config.path: path \"in.csv\" is outside the file roots (it resolves to %s): flows may only use files under %s, /etc (ADF_FILE_ROOTS)",
		filepath.Join(work, "in.csv"), data)
	if r.Code != 1 || !strings.Contains(r.Stderr, want) {
		t.Errorf("adf validate --file-roots /etc:\n%s\nwant %s", r, want)
	}
	if r := a.Run(t, "validate", "--file-roots", "/etc", a.WriteFlow(t, "passwd", doc("/etc/passwd"))); r.Code != 0 {
		t.Errorf("/etc/passwd under the root /etc:\n%s", r)
	}
}

// ADF_CONNECT_ALLOW: a PostgreSQL URL on 127.0.0.1 is refused by an
// allow-list without it (adf validate, adf run: nothing runs) and allowed,
// and read, with it.
func TestConnectAllow(t *testing.T) {
	dbURL := testkit.NewDatabase(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE orders (id bigint PRIMARY KEY, amount int); INSERT INTO orders SELECT g, g FROM generate_series(1, 7) g"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	a := testkit.NewADF(t, sqlPlugin, leakyPlugin)
	flowPath := a.WriteFlow(t, "pg", fmt.Sprintf("name: pg\nsource: {type: postgres, config: {url: %q, table: orders}}\nsink: {type: void}\n", dbURL))
	port := strings.TrimPrefix(strings.Split(strings.Split(dbURL, "@")[1], "/")[0], "127.0.0.1:")
	want := fmt.Sprintf("invalid flow: 1 problem(s)\n  source.config.url: destination 127.0.0.1:%s is not allowed: flows may only connect to 10.0.0.0/8, *.internal (ADF_CONNECT_ALLOW) "+
		"(connect to an allowed destination, or add this one to ADF_CONNECT_ALLOW (--connect-allow) where the host runs)\n", port)
	a.Env = []string{"ADF_CONNECT_ALLOW=10.0.0.0/8,*.internal"}
	for _, cmd := range [][]string{{"validate", flowPath}, {"run", "--progress", "none", flowPath}} {
		if r := a.Run(t, cmd...); r.Code != 1 || r.Stderr != want || r.Stdout != "" {
			t.Errorf("adf %s with 127.0.0.1 not allowed:\n%s\nwant stderr %q", cmd[0], r, want)
		}
	}
	for _, allow := range []string{"127.0.0.0/8", "127.0.0.1:" + port} {
		a.Env = []string{"ADF_CONNECT_ALLOW=" + allow}
		if r := a.Run(t, "validate", flowPath); r.Code != 0 || r.Stdout != "flow pg is valid\n" {
			t.Errorf("adf validate with %s allowed:\n%s", allow, r)
		}
	}
	a.Env = nil
	s, _ := a.RunFlow(t, "pg", fmt.Sprintf("name: pg\nsource: {type: postgres, config: {url: %q, table: orders}}\nsink: {type: void}\n", dbURL))
	if s.Status != "success" || s.Read != 7 {
		t.Errorf("run without an allow-list: %+v, want 7 rows read", s)
	}
	a.Env = []string{"ADF_CONNECT_ALLOW=127.0.0.1"}
	s, _ = a.RunFlow(t, "pg", fmt.Sprintf("name: pg\nsource: {type: postgres, config: {url: %q, table: orders}}\nsink: {type: void}\n", dbURL))
	if s.Status != "success" || s.Read != 7 {
		t.Errorf("run with 127.0.0.1 allowed: %+v, want 7 rows read", s)
	}
	a.Env = []string{"ADF_CONNECT_ALLOW=10.0.0.0/33"}
	if r := a.Run(t, "validate", flowPath); r.Code != 1 || !strings.Contains(r.Stderr, `--connect-allow (ADF_CONNECT_ALLOW): "10.0.0.0/33": not a CIDR such as 10.0.0.0/8`) {
		t.Errorf("a bad allow-list:\n%s", r)
	}
}
