package main

// Tests of the operator's CLI: --version, -o table|json|yaml, the run
// control verbs against a real `adf serve`, plugins describe, the progress
// bar and the logs (format, start-up line, plugin lines tagged with flow,
// run and component). All through the real adf binary and real plugins.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/activedataflow/adf/internal/testkit"
)

// chattyPlugin is the test plugin whose sink logs when it opens.
const chattyPlugin = "host/cmd/adf/testdata/adf-plugin-chatty"

func TestVersion(t *testing.T) {
	e := newEnv(t)
	r := e.run(t, "--version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "adf devel ("+runtime.Version()) {
		t.Errorf("adf --version of a build without a version: want adf devel (%s...\n%s", runtime.Version(), r)
	}

	// A release build names its version (-ldflags -X main.version).
	bin := filepath.Join(t.TempDir(), "adf")
	build := exec.Command("go", "build", "-ldflags", "-X main.version=9.8.7", "-o", bin, "./"+adfPkg)
	build.Dir = testkit.RepoRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil || !regexp.MustCompile(`^adf 9\.8\.7 \(go\S+.*\)\n$`).Match(out) {
		t.Errorf("adf --version of a release build: %v %q, want adf 9.8.7 (go...)", err, out)
	}
}

// The describe table has every key of the file source, nested ones as
// dotted paths, with types, defaults (from the config's Defaults), required
// and secret, and whole descriptions, commas and all.
func TestPluginsDescribeTable(t *testing.T) {
	e := newEnv(t)
	r := e.run(t, "plugins", "describe", "--kind", "source", "file")
	if r.code != 0 {
		t.Fatalf("describe\n%s", r)
	}
	rows := map[string][]string{} // key -> type, default, required, secret, description
	header := false
	for _, l := range strings.Split(r.stdout, "\n") {
		f := regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(l), 6)
		if len(f) > 0 && f[0] == "KEY" {
			header = true
			continue
		}
		if header && len(f) == 6 {
			rows[f[0]] = f[1:]
		}
	}
	for key, want := range map[string][]string{
		"path":                 {"string", "-", "yes", "-", "a file, a directory (every file in it) or a glob such as data/*.csv"},
		"batch_size":           {"integer", "8192", "-", "-", "rows per Arrow batch (default 8192)"},
		"discover_interval":    {"duration", "10s", "-", "-", "continuous mode: how often to look for new files (default 10s, at least 100ms)"},
		"mode":                 {"string: bounded|continuous", "bounded", "-", "-"},
		"s3.secret_access_key": {"string", "-", "-", "yes", "secret access key; default: the AWS credential chain"},
		"schema[].name":        {"string", "-", "-", "-", "-"},
	} {
		got := rows[key]
		if got == nil {
			t.Errorf("no row for %s\n%s", key, r.stdout)
			continue
		}
		for i, w := range want {
			if got[i] != w {
				t.Errorf("%s: column %d is %q, want %q (row %q)", key, i+2, got[i], w, got)
			}
		}
	}
	// A description with several commas, written with plain commas in the
	// plugin's source, is whole in the schema as in the table.
	ss := describeSchemas(t, e, "--kind", "source", "file")
	props := ss[""]["properties"].(map[string]any)
	if d := props["path"].(map[string]any)["description"]; d != "a file, a directory (every file in it) or a glob such as data/*.csv" {
		t.Errorf("path description in the JSON schema: %q", d)
	}
	// The chatty plugin's description has unescaped commas.
	e.pluginDir = testkit.PluginDir(t, testkit.FilePlugin, chattyPlugin)
	r = e.run(t, "plugins", "describe", "chatty")
	if !strings.Contains(r.stdout, "what the sink says when it opens, such as hello, or hi") {
		t.Errorf("the description with plain commas is cut\n%s", r)
	}
	r = e.run(t, "plugins", "describe", "chatty", "-o", "yaml")
	var y map[string]any
	if err := yaml.Unmarshal([]byte(r.stdout), &y); err != nil || y["properties"] == nil {
		t.Errorf("describe -o yaml: %v\n%s", err, r)
	}
	if r := e.run(t, "plugins", "describe", "chatty", "-o", "xml"); r.code == 0 || !strings.Contains(r.stderr, `-o "xml": use table, json or yaml`) {
		t.Errorf("an unknown -o is not refused\n%s", r)
	}
}

func TestPluginsListFormats(t *testing.T) {
	e := newEnv(t)
	r := e.run(t, "plugins", "list", "-o", "json")
	var list []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
		t.Fatalf("plugins list -o json: %v\n%s", err, r)
	}
	found := false
	for _, c := range list {
		if c["kind"] == "sink" && c["type"] == "file" && c["plugin"] == "file" && c["delivery"] != nil {
			found = true
		}
	}
	if !found {
		t.Errorf("no file sink with its delivery in %v", list)
	}
	r = e.run(t, "plugins", "list", "-o", "yaml")
	var y []map[string]any
	if err := yaml.Unmarshal([]byte(r.stdout), &y); err != nil || len(y) != len(list) {
		t.Errorf("plugins list -o yaml: %v, %d components, want %d\n%s", err, len(y), len(list), r)
	}
}

// cliHost is an `adf serve` with the environment to run adf commands
// against it.
type cliHost struct {
	*svcHost
	e *env
}

func startCLIHost(t *testing.T, args ...string) *cliHost {
	t.Helper()
	e := newEnv(t)
	h := svcStart(t, svcConfig{dataDir: e.dataDir, pluginDir: e.pluginDir, work: e.work, args: append([]string{"--tick", "0"}, args...)})
	return &cliHost{svcHost: h, e: e}
}

// adf runs an adf command against the host.
func (h *cliHost) adf(t *testing.T, args ...string) result {
	t.Helper()
	return h.e.run(t, append(args, "--server", h.url)...)
}

// ok runs an adf command that must succeed.
func (h *cliHost) ok(t *testing.T, args ...string) result {
	t.Helper()
	r := h.adf(t, args...)
	if r.code != 0 {
		t.Fatalf("adf %s\n%s\nserver log:\n%s", strings.Join(args, " "), r, h.log())
	}
	return r
}

// jsonOf runs a command with -o json and decodes its output.
func (h *cliHost) jsonOf(t *testing.T, out any, args ...string) {
	t.Helper()
	r := h.ok(t, append(args, "-o", "json")...)
	if err := json.Unmarshal([]byte(r.stdout), out); err != nil {
		t.Fatalf("adf %s -o json: %v\n%s", strings.Join(args, " "), err, r)
	}
}

// runIDOf is the run id of `adf flows run`'s answer.
func runIDOf(t *testing.T, r result) int64 {
	t.Helper()
	m := regexp.MustCompile(`run (\d+) of flow`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("no run id in\n%s", r)
	}
	id, _ := strconv.ParseInt(m[1], 10, 64)
	return id
}

// tableRows splits a table's lines into cells (two or more spaces apart).
func tableRows(out string) [][]string {
	var rows [][]string
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		rows = append(rows, regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(l), -1))
	}
	return rows
}

func TestCLIFlowsAndRuns(t *testing.T) {
	h := startCLIHost(t)
	e := h.e
	in := filepath.Join(e.work, "orders.csv")
	var csv strings.Builder
	csv.WriteString("id,customer,amount\n")
	for i := 1; i <= 1500; i++ {
		fmt.Fprintf(&csv, "%d,c%d,%d\n", i, i, i)
	}
	csv.WriteString("x,bad, row,with too many fields\n")
	csv.WriteString("y,worse,row,also,bad\n")
	if err := os.WriteFile(in, []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	flowFile := write(t, e.work, "orders.yaml", fmt.Sprintf(`
name: orders
description: "orders, all of them"
source: {type: file, config: {path: %q}}
sink: {type: file, config: {path: %q}}
on_error: dead_letter
schedule: {every: 1h}
`, in, filepath.Join(e.work, "out", "orders.jsonl")))
	if r := h.ok(t, "flows", "apply", "-f", flowFile); !strings.Contains(r.stdout, "flow orders created") {
		t.Fatalf("apply\n%s", r)
	}

	// flows list: a table (the default, also without a terminal), JSON and
	// YAML of the API's objects.
	r := h.ok(t, "flows", "list")
	rows := tableRows(r.stdout)
	if len(rows) != 2 || rows[0][0] != "NAME" || rows[1][0] != "orders" || rows[1][1] != "true" || rows[1][2] != "every 1h" {
		t.Errorf("flows list table %q\n%s", rows, r)
	}
	var flows []map[string]any
	h.jsonOf(t, &flows, "flows", "list")
	if len(flows) != 1 || flows[0]["flow"].(map[string]any)["name"] != "orders" {
		t.Errorf("flows list -o json: %v", flows)
	}
	r = h.ok(t, "flows", "list", "-o", "yaml")
	var yflows []map[string]any
	if err := yaml.Unmarshal([]byte(r.stdout), &yflows); err != nil || len(yflows) != 1 || yflows[0]["config_version"] != float64(1) {
		t.Errorf("flows list -o yaml: %v %v\n%s", err, yflows, r)
	}
	// flows show
	r = h.ok(t, "flows", "show", "orders")
	for _, want := range []string{"description     orders, all of them", "schedule        every 1h", "definition:", "  name: orders"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("flows show does not show %q\n%s", want, r)
		}
	}
	var flow map[string]any
	h.jsonOf(t, &flow, "flows", "show", "orders")
	if flow["config_version"] != float64(1) || flow["flow"].(map[string]any)["description"] != "orders, all of them" {
		t.Errorf("flows show -o json: %v", flow)
	}

	// A run to its end; then runs list and show in every format.
	r = h.ok(t, "flows", "run", "orders", "--wait")
	id := runIDOf(t, r)
	if !strings.Contains(r.stdout, "rows read 1,500  written 1,500  rejected 2") {
		t.Errorf("flows run --wait: want the counts, with thousands separators\n%s", r)
	}
	r = h.ok(t, "runs", "list")
	rows = tableRows(r.stdout)
	if len(rows) != 2 || rows[1][0] != strconv.FormatInt(id, 10) || rows[1][2] != "success" || rows[1][7] != "1,500" || rows[1][8] != "1,500" ||
		!regexp.MustCompile(`^(just now|\d+s ago)$`).MatchString(rows[1][5]) {
		t.Errorf("runs list table %q\n%s", rows, r)
	}
	var runs []map[string]any
	h.jsonOf(t, &runs, "runs", "list", "--flow", "orders")
	if len(runs) != 1 || runs[0]["records_read"] != float64(1500) || runs[0]["status"] != "success" {
		t.Errorf("runs list -o json: %v", runs)
	}
	var run map[string]any
	h.jsonOf(t, &run, "runs", "show", strconv.FormatInt(id, 10))
	if run["records_written"] != float64(1500) || run["started_at"] == nil {
		t.Errorf("runs show -o json: %v", run)
	}
	r = h.ok(t, "runs", "show", strconv.FormatInt(id, 10), "-o", "yaml")
	var yrun map[string]any
	if err := yaml.Unmarshal([]byte(r.stdout), &yrun); err != nil || yrun["records_rejected"] != float64(2) {
		t.Errorf("runs show -o yaml: %v %v\n%s", err, yrun, r)
	}

	// The rejected records, with positions and reasons, paged.
	r = h.ok(t, "runs", "rejected", strconv.FormatInt(id, 10))
	if !regexp.MustCompile(`(?m)^1\s+source\s+\S+\s+\S+orders\.csv:1502\s+wrong number of fields`).MatchString(r.stdout) ||
		!strings.Contains(r.stdout, "record: x,bad, row,with too many fields") ||
		!strings.Contains(r.stdout, "record: y,worse,row,also,bad") {
		t.Errorf("runs rejected: want both records with positions, reasons and their text\n%s", r)
	}
	r = h.ok(t, "runs", "rejected", strconv.FormatInt(id, 10), "--limit", "1")
	if !strings.Contains(r.stdout, "record: x,bad") || strings.Contains(r.stdout, "record: y,") ||
		!strings.Contains(r.stdout, fmt.Sprintf("records 1-1 of 2; next page: adf runs rejected %d --offset 1 --limit 1", id)) {
		t.Errorf("runs rejected --limit 1: want the first record and the next page\n%s", r)
	}
	r = h.ok(t, "runs", "rejected", strconv.FormatInt(id, 10), "--offset", "1", "--limit", "1")
	if !regexp.MustCompile(`(?m)^2\s+source`).MatchString(r.stdout) || !strings.Contains(r.stdout, "record: y,worse") || strings.Contains(r.stdout, "record: x,") {
		t.Errorf("runs rejected --offset 1: want the second record, numbered 2\n%s", r)
	}
	var page struct {
		Total   int              `json:"total"`
		Records []map[string]any `json:"records"`
	}
	h.jsonOf(t, &page, "runs", "rejected", strconv.FormatInt(id, 10))
	if page.Total != 2 || len(page.Records) != 2 || page.Records[1]["reason"] != "wrong number of fields: expected 3, got 5" ||
		!strings.HasSuffix(fmt.Sprint(page.Records[1]["position"]), "orders.csv:1503") {
		t.Errorf("runs rejected -o json: %+v", page)
	}

	// Cancelling an ended run says so.
	if r := h.adf(t, "runs", "cancel", strconv.FormatInt(id, 10)); r.code == 0 || !strings.Contains(r.stderr, fmt.Sprintf("run %d already ended (success)", id)) {
		t.Errorf("cancel of an ended run\n%s", r)
	}

	// disable and enable.
	if r := h.ok(t, "flows", "disable", "orders"); !strings.Contains(r.stdout, "flow orders disabled") {
		t.Errorf("disable\n%s", r)
	}
	h.jsonOf(t, &flows, "flows", "list")
	if flows[0]["enabled"] != false {
		t.Errorf("after disable, enabled is %v", flows[0]["enabled"])
	}
	var enabled map[string]any
	h.jsonOf(t, &enabled, "flows", "enable", "orders")
	if enabled["enabled"] != true {
		t.Errorf("flows enable -o json: %v", enabled)
	}
	if r := h.adf(t, "flows", "enable", "nope"); r.code == 0 || !strings.Contains(r.stderr, "nope") {
		t.Errorf("enable of an unknown flow\n%s", r)
	}

	// A continuous run: live progress in runs show; delete refused while
	// it runs, with the run named and the flag; cancel stops it.
	dir := filepath.Join(e.work, "in")
	addCSV(t, dir, "a.csv", 1, 100)
	contFile := write(t, e.work, "cont.yaml", fmt.Sprintf(`
name: cont
source: {type: file, config: {path: %q, mode: continuous, discover_interval: 100ms}}
sink: {type: file, config: {path: %q}}
checkpoint: {every: 100ms}
`, filepath.Join(dir, "*.csv"), filepath.Join(e.work, "out", "cont")+"/"))
	h.ok(t, "flows", "apply", "-f", contFile)
	cont := runIDOf(t, h.ok(t, "flows", "run", "cont"))
	cs := strconv.FormatInt(cont, 10)
	deadline := time.Now().Add(60 * time.Second)
	for {
		r = h.ok(t, "runs", "show", cs)
		if strings.Contains(r.stdout, "live (updated") && strings.Contains(r.stdout, "rows read 100") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("runs show of the continuous run never showed live progress with 100 rows\n%s\n%s", r, h.log())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(r.stdout, "splits: ") || !strings.Contains(r.stdout, "checkpoints ") {
		t.Errorf("runs show: no splits or checkpoints in the live part\n%s", r)
	}
	r = h.adf(t, "flows", "delete", "cont")
	if r.code == 0 || !strings.Contains(r.stderr, "flow cont is not deleted: run(s) "+cs+" pending or in progress") ||
		!strings.Contains(r.stderr, "adf flows delete cont --cancel-runs") || !strings.Contains(r.stderr, "adf runs cancel "+cs) {
		t.Errorf("delete of a flow with a run going: want the run named and --cancel-runs\n%s", r)
	}
	// runs show --watch follows the run's events to its end.
	watch := e.start(t, "runs", "show", cs, "--watch", "--server", h.url)
	deadline = time.Now().Add(60 * time.Second)
	for !strings.Contains(watch.output(), "run "+cs+": rows read 100 ") {
		if time.Now().After(deadline) {
			t.Fatalf("runs show --watch printed no progress line\n%s", watch.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
	r = h.ok(t, "runs", "cancel", cs, "--wait")
	if !strings.Contains(r.stdout, "cancellation of run "+cs+" requested") || !strings.Contains(r.stdout, "run "+cs+" cancelled") {
		t.Errorf("runs cancel --wait\n%s", r)
	}
	if code := watch.wait(t, 60*time.Second); code != 1 || !strings.Contains(watch.output(), "status cancelled") {
		t.Errorf("runs show --watch of the cancelled run: exit %d, want 1 and the cancelled run\n%s", code, watch.output())
	}
	h.ok(t, "flows", "delete", "cont")
	if r := h.adf(t, "flows", "show", "cont"); r.code == 0 {
		t.Errorf("the deleted flow is still there\n%s", r)
	}

	// delete --cancel-runs of a flow with a run going: deleted, and the
	// run ends cancelled.
	h.ok(t, "flows", "apply", "-f", contFile)
	cont2 := h.startedRun(t, "cont")
	r = h.ok(t, "flows", "delete", "cont", "--cancel-runs")
	if !strings.Contains(r.stdout, "flow cont deleted") || !strings.Contains(r.stdout, fmt.Sprintf("cancellation requested for run(s) %d", cont2)) {
		t.Errorf("delete --cancel-runs\n%s", r)
	}
	h.waitRunStatus(cont2, 60*time.Second, "cancelled")
}

// startedRun triggers a run of the flow and waits until it is in progress.
func (h *cliHost) startedRun(t *testing.T, flow string) int64 {
	t.Helper()
	id := runIDOf(t, h.ok(t, "flows", "run", flow))
	h.waitRunStatus(id, 60*time.Second, "in_progress")
	return id
}

// jsonLines decodes the lines of a log that are JSON objects; every line
// must be one.
func jsonLines(t *testing.T, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Errorf("log line is not JSON: %v: %s", err, sc.Text())
			continue
		}
		out = append(out, m)
	}
	return out
}

// find is the first line whose @message is msg.
func find(lines []map[string]any, msg string) map[string]any {
	for _, l := range lines {
		if l["@message"] == msg {
			return l
		}
	}
	return nil
}

// A plugin's log lines reach the host's log structured (level and fields
// kept) and tagged with the flow, the run and the component, as JSON or
// as text; also what a library in the plugin logs with the log package.
func TestPluginLogLines(t *testing.T) {
	e := newEnv(t)
	e.pluginDir = testkit.PluginDir(t, testkit.FilePlugin, chattyPlugin)
	write(t, e.work, "in.csv", "id,name\n1,a\n2,b\n")
	flowPath := write(t, e.work, "chat.yaml", "name: chat\nsource: {type: file, config: {path: in.csv}}\nsink: {type: chatty, config: {greeting: \"hello, world\"}}\n")

	r := e.run(t, "run", flowPath, "--log-level", "info", "--log-format", "json")
	if r.code != 0 {
		t.Fatalf("adf run\n%s", r)
	}
	runID := regexp.MustCompile(`flow chat run (\S+):`).FindStringSubmatch(r.stdout)
	if runID == nil {
		t.Fatalf("no run id in the summary\n%s", r)
	}
	lines := jsonLines(t, r.stderr)
	opened := find(lines, "chatty sink opened")
	if opened == nil {
		t.Fatalf("the plugin's info line is not in the log\n%s", r.stderr)
	}
	for k, want := range map[string]any{"@level": "info", "flow": "chat", "run": runID[1], "component": "sink:chatty", "greeting": "hello, world"} {
		if opened[k] != want {
			t.Errorf("plugin line: %s = %v, want %v\n%v", k, opened[k], want, opened)
		}
	}
	warned := find(lines, "chatty sink: a library warns through the log package")
	if warned == nil || warned["@level"] != "warn" || warned["run"] != runID[1] || warned["component"] != "sink:chatty" {
		t.Errorf("the log package's [WARN] line: %v, want level warn with flow, run and component\n%s", warned, r.stderr)
	}

	// Text on request (ADF_LOG_FORMAT as well as --log-format).
	r = e.runEnv(t, []string{"ADF_LOG_FORMAT=text"}, "run", flowPath, "--log-level", "info")
	runID = regexp.MustCompile(`flow chat run (\S+):`).FindStringSubmatch(r.stdout)
	if r.code != 0 || runID == nil {
		t.Fatalf("adf run with ADF_LOG_FORMAT=text\n%s", r)
	}
	line := regexp.MustCompile(`(?m)^\S+ \[INFO\]\s+adf\.plugin\.adf-plugin-chatty: chatty sink opened: (.*)$`).FindStringSubmatch(r.stderr)
	if line == nil {
		t.Fatalf("no text line of the plugin\n%s", r.stderr)
	}
	for _, want := range []string{"flow=chat", "run=" + runID[1], "component=sink:chatty", `greeting="hello, world"`} {
		if !strings.Contains(line[1], want) {
			t.Errorf("text line %q lacks %s", line[0], want)
		}
	}
	if strings.Contains(r.stderr, `{"@level"`) {
		t.Errorf("JSON lines in the text log\n%s", r.stderr)
	}

	if r := e.run(t, "run", flowPath, "--log-format", "xml"); r.code == 0 || !strings.Contains(r.stderr, `--log-format (ADF_LOG_FORMAT) "xml": use text or json`) {
		t.Errorf("an unknown log format is not refused\n%s", r)
	}
}

// adf serve logs JSON when its stderr is no terminal, text on request, and
// starts with one line saying what it is: version, store (no password),
// plugins and the console's URL.
func TestServeStartupLine(t *testing.T) {
	h := startCLIHost(t)
	lines := jsonLines(t, h.log())
	up := find(lines, "adf serving")
	if up == nil {
		t.Fatalf("no start-up line\n%s", h.log())
	}
	if v, _ := up["version"].(string); !strings.HasPrefix(v, "devel ("+runtime.Version()) {
		t.Errorf("version %q", v)
	}
	if up["console"] != h.url+"/console/" || up["store"] != "sqlite "+filepath.Join(h.e.dataDir, "adf.db") || up["plugins_loaded"] != float64(1) ||
		fmt.Sprint(up["plugin_names"]) != "[file]" {
		t.Errorf("start-up line %v", up)
	}

	// PostgreSQL: host and database, never the password; text format.
	dbURL := testkit.NewDatabase(t)
	e := newEnv(t)
	pg := svcStart(t, svcConfig{dataDir: e.dataDir, pluginDir: e.pluginDir, work: e.work, dbURL: dbURL, args: []string{"--tick", "0", "--log-format", "text"}})
	log := pg.log()
	m := regexp.MustCompile(`(?m)^\S+ \[INFO\]\s+adf: adf serving: (.*)$`).FindStringSubmatch(log)
	if m == nil {
		t.Fatalf("no text start-up line\n%s", log)
	}
	for _, want := range []string{"version=\"devel (", "console=" + pg.url + "/console/", "store=\"postgres ", "plugins_loaded=1", `plugin_names=["file"]`} {
		if !strings.Contains(m[1], want) {
			t.Errorf("start-up line %q lacks %s", m[1], want)
		}
	}
	if strings.Contains(log, `{"@level"`) {
		t.Errorf("JSON lines in the text log of serve --log-format text\n%s", log)
	}
	if u, err := url.Parse(dbURL); err == nil {
		if pw, ok := u.User.Password(); ok && pw != "" && strings.Contains(log, pw) {
			t.Errorf("the database password is in the log\n%s", log)
		}
	}
}

// On a terminal (here forced with --progress bar) adf run shows the bytes
// read of the file's total and the time left, and the rows read, written
// and rejected with rows/s.
func TestRunProgressBar(t *testing.T) {
	e := newEnv(t)
	var b strings.Builder
	b.WriteString("id,name,amount\n")
	for i := 0; i < 300000; i++ {
		fmt.Fprintf(&b, "%d,customer %d,%d.5\n", i, i, i%500)
	}
	b.WriteString("bad,row,with,four\n")
	write(t, e.work, "in.csv", b.String())
	flowPath := write(t, e.work, "big.yaml", `
name: big
source: {type: file, config: {path: in.csv}}
sink: {type: file, config: {path: out/big.jsonl}}
on_error: skip
checkpoint: {every: 20ms}
`)
	r := e.run(t, "run", flowPath, "--progress", "bar")
	if s := parseSummary(t, r); s.status != "success" || s.read != 300000 || s.rejected != 1 {
		t.Fatalf("summary %+v\n%s", s, r)
	}
	frames := strings.Split(r.stderr, "\r")
	bar := regexp.MustCompile(`\d+% \|.*\| \(.*/\s*\d+(\.\d+)? MB.*\) \[\d+s:\d+s\] big: [\d,]+ read, [\d,]+ written, [\d,]+ rejected, [\d,.]+ rows/s`)
	seen := false
	for _, f := range frames {
		if bar.MatchString(f) {
			seen = true
		}
	}
	if !seen {
		t.Errorf("no frame of a bar over the bytes with the total, time left and the row counts\n%q", r.stderr)
	}

	// Without a terminal (auto), no bar; the summary stays.
	r = e.run(t, "run", flowPath)
	if strings.Contains(r.stderr, "rows/s") || parseSummary(t, r).status != "success" {
		t.Errorf("adf run without a terminal\n%s", r)
	}
}
