package main

// The fault-injection matrix: every first-party sink, behind the file and
// rafka sources, under `adf run` and `adf serve` (PostgreSQL and SQLite
// stores), with one process killed by SIGKILL at one exact point of the
// checkpoint protocol (ADF_FAULT). Each cell asserts the output row by row:
// nothing lost, duplicates counted (zero for every sink that claims
// exactly-once or idempotent delivery), and the exact dead-letter count.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"sigs.k8s.io/yaml"

	"github.com/activedataflow/adf/host/store"
	"github.com/activedataflow/adf/internal/testkit"
)

const (
	sqlPluginPkg     = "plugins/sql/cmd/adf-plugin-sql"
	icebergPluginPkg = "plugins/iceberg/cmd/adf-plugin-iceberg"
	rafkaPluginPkg   = "plugins/rafka/cmd/adf-plugin-rafka"
)

// faultRows is the input size of a cell: enough batches for several
// checkpoints at the cells' 20ms interval.
const (
	faultRows = 60000
	faultBad  = 3
)

// faultPoints are the protocol points of the matrix (engine.Fault syntax).
var faultPoints = []string{
	"precommitted@2", // after a sink pre-commit, before the checkpoint save
	"saved@2",        // after the save, before the commit
	"committing@2",   // during the commit
	"precommitted@final",
	"saved@final",     // after the final save, before commit and notification
	"committed@final", // after the final commit, before the sources are told
}

// faultEnv is what every cell shares.
type faultEnv struct {
	bin, pluginDir string
	pgURL          string
	redis          *redis.Client
	redisURL       string

	mu    sync.Mutex
	cells []faultCell
}

// faultCell is one row of the printed matrix.
type faultCell struct {
	id                          string
	runner, source, sink, fault string
	rows, want, dups, lost      int
	dead                        int
	ok                          bool
}

// sinkCase is one sink of the matrix: its config and how to read its output
// back in canonical row form.
type sinkCase struct {
	name string
	// delivery is the guarantee the sink claims; idempotent sinks are
	// compared as sets.
	delivery string
	config   func(e *faultEnv, c *cellEnv) string
	readBack func(t *testing.T, e *faultEnv, c *cellEnv) []string
}

// cellEnv is one cell's names and directories.
type cellEnv struct {
	id, work, dataDir string
}

func (c *cellEnv) abs(p string) string { return filepath.Join(c.work, p) }

func TestFaultMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("the fault matrix runs whole processes")
	}
	e := &faultEnv{
		bin:       testkit.Build(t, adfPkg),
		pluginDir: testkit.PluginDir(t, testkit.FilePlugin, sqlPluginPkg, icebergPluginPkg, rafkaPluginPkg),
		pgURL:     testkit.NewDatabase(t),
		redisURL:  testkit.RedisURL(t),
	}
	opt, err := redis.ParseURL(e.redisURL)
	if err != nil {
		t.Fatal(err)
	}
	e.redis = redis.NewClient(opt)
	t.Cleanup(func() { e.redis.Close() })
	t.Cleanup(func() { t.Log("\n" + e.table()) })

	sinks := faultSinks()
	byName := map[string]sinkCase{}
	for _, s := range sinks {
		byName[s.name] = s
	}
	type plan struct {
		runner, source string
		sinks          []string
		targets        []string
	}
	plans := []plan{
		// Every sink, every point, the host and the sink killed; the source
		// killed too for the sinks whose commit is most involved.
		{"adf run", "file", []string{"file", "file_dir", "postgres_append"}, []string{"host", "source", "sink"}},
		{"adf run", "file", []string{"postgres_upsert", "iceberg", "rafka", "redis_cache"}, []string{"host", "sink"}},
		{"adf run", "rafka", []string{"file_dir", "postgres_append"}, []string{"host", "source", "sink"}},
		// adf serve: the plugins die under a live host; a killed host's runs
		// are picked up by the run-liveness work (lease rescue), which the
		// service's own crash tests cover.
		{"adf serve (sqlite)", "file", []string{"file_dir", "postgres_append"}, []string{"source", "sink"}},
		{"adf serve (postgres)", "file", []string{"file_dir", "postgres_append"}, []string{"source", "sink"}},
		{"adf serve (postgres)", "rafka", []string{"postgres_append"}, []string{"sink"}},
	}
	// Cell names are unique per invocation: Redis outlives a test run.
	nonce := strconv.FormatInt(time.Now().UnixNano()%(1<<30), 36)
	n := 0
	for _, p := range plans {
		for _, sinkName := range p.sinks {
			for _, point := range faultPoints {
				for _, target := range p.targets {
					n++
					fault := point + ":" + target
					name := fmt.Sprintf("%s/%s/%s/%s", strings.ReplaceAll(p.runner, " ", "_"), p.source, sinkName, fault)
					cellID := fmt.Sprintf("c%03d_%s", n, nonce)
					sc, runner, source := byName[sinkName], p.runner, p.source
					t.Run(name, func(t *testing.T) {
						// Cells share nothing but the servers; a cell is
						// mostly process start-up and fsync, so two run at
						// once on two cores.
						t.Parallel()
						e.cell(t, cellID, runner, source, sc, fault)
					})
				}
			}
		}
	}
}

// cell runs one flow with one fault and checks its output.
func (e *faultEnv) cell(t *testing.T, id, runner, source string, sc sinkCase, fault string) {
	c := &cellEnv{id: id, work: t.TempDir(), dataDir: t.TempDir()}
	t.Cleanup(func() { e.dropKeys(t, "rafka:{in_"+id+"}*", "rafka:{out_"+id+"}*", "cache_"+id+":*") })
	rec := faultCell{id: id, runner: runner, source: source, sink: sc.name, fault: fault}
	defer func() {
		rec.ok = !t.Failed()
		e.mu.Lock()
		e.cells = append(e.cells, rec)
		e.mu.Unlock()
	}()

	var want []string
	var srcCfg string
	switch source {
	case "file":
		want = writeFaultCSV(t, c.abs("in/orders.csv"))
		srcCfg = fmt.Sprintf(`{type: file, config: {path: %q, split_size: 1048576}}`, c.abs("in/orders.csv"))
	case "rafka":
		want = e.produceOrders(t, "in_"+id)
		srcCfg = fmt.Sprintf(`{type: rafka, config: {url: %q, topic: in_%s, group: g_%s, format: json, mode: available_now, batch_size: 2000}}`, e.redisURL, id, id)
	}
	doc := fmt.Sprintf(`
name: f_%s
source: %s
parallelism: 2
sink: %s
on_error: dead_letter
dead_letter: {path: %q}
checkpoint: {every: 20ms}
max_restarts: 5
`, id, srcCfg, sc.config(e, c), c.abs("dead/rejected.jsonl"))
	flowPath := write(t, c.work, "flow.yaml", doc)

	var log string
	switch {
	case runner == "adf run":
		log = e.runWithFault(t, c, flowPath, fault)
	default:
		dbURL := ""
		if strings.Contains(runner, "postgres") {
			dbURL = testkit.NewDatabase(t)
		}
		log = e.serveWithFault(t, c, doc, fault, dbURL)
	}
	if !strings.Contains(log, "fault injection: killing a process") {
		t.Fatalf("fault %s never fired (the run had fewer checkpoints than the fault needs)\n%s", fault, log)
	}

	got := sc.readBack(t, e, c)
	rec.rows, rec.want = len(got), len(want)
	rec.dups, rec.lost = countDiff(got, want)
	if sc.delivery == "idempotent" {
		got = distinct(got)
	}
	testkit.SameRows(t, got, want)

	dead := countLines(t, c.abs("dead/rejected.jsonl"))
	rec.dead = dead
	if dead != faultBad {
		t.Errorf("dead-letter file has %d records, want %d", dead, faultBad)
	}
	if source == "rafka" {
		e.checkAcked(t, "in_"+id, "g_"+id)
	}
	if strings.HasPrefix(sc.name, "postgres") {
		e.checkNoPrepared(t, "f_"+id)
	}
}

// runWithFault runs the flow under `adf run` with the fault; a killed host is
// followed by the same command again, which resumes the run.
func (e *faultEnv) runWithFault(t *testing.T, c *cellEnv, flowPath, fault string) string {
	en := &env{bin: e.bin, pluginDir: e.pluginDir, dataDir: c.dataDir, work: c.work}
	first := en.runEnv(t, []string{"ADF_FAULT=" + fault}, "run", "--progress", "none", flowPath)
	log := first.stderr
	if strings.HasSuffix(fault, ":host") {
		if first.code != -1 {
			t.Fatalf("adf run with host fault %s was not killed\n%s", fault, first)
		}
		second := en.run(t, "run", "--progress", "none", flowPath)
		if second.code != 0 || !strings.Contains(second.stderr, "resuming interrupted run") {
			t.Fatalf("adf run after the host was killed did not resume and succeed\n%s", second)
		}
		return log
	}
	if first.code != 0 {
		t.Fatalf("adf run with fault %s failed\n%s", fault, first)
	}
	if s := parseSummary(t, first); s.status != "success" {
		t.Fatalf("summary %+v\n%s", s, first)
	}
	if strings.Contains(first.stdout, " 0 restarts") {
		t.Fatalf("adf run with fault %s reports no restart\n%s", fault, first)
	}
	return log
}

// serveWithFault runs the flow once under `adf serve` with the fault.
func (e *faultEnv) serveWithFault(t *testing.T, c *cellEnv, doc, fault, dbURL string) string {
	js, err := yaml.YAMLToJSON([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(js, &m); err != nil {
		t.Fatal(err)
	}
	h := svcStart(t, svcConfig{dataDir: c.dataDir, pluginDir: e.pluginDir, work: c.work, dbURL: dbURL,
		env: []string{"ADF_FAULT=" + fault}, args: []string{"--tick", "0"}})
	h.applyFlow(m)
	var run store.Run
	if code, body := h.api("POST", "/v1/flows/"+m["name"].(string)+"/runs", nil, &run); code != 202 {
		t.Fatalf("trigger: %d %s", code, body)
	}
	run = h.waitRunStatus(run.ID, 90*time.Second, store.StatusSuccess, store.StatusFailed)
	if run.Status != store.StatusSuccess {
		t.Fatalf("run %d %s: %s\n%s", run.ID, run.Status, run.ErrorMessage, h.log())
	}
	if run.RecordsRejected != faultBad {
		t.Errorf("run counts %d rejected records, want %d", run.RecordsRejected, faultBad)
	}
	var page struct {
		Total   int              `json:"total"`
		Records []map[string]any `json:"records"`
	}
	if code, body := h.api("GET", fmt.Sprintf("/v1/runs/%d/rejected?limit=1000", run.ID), nil, &page); code != 200 {
		t.Fatalf("rejected: %d %s", code, body)
	}
	if rejected := page.Records; len(rejected) != faultBad || page.Total != faultBad {
		t.Errorf("the store keeps %d rejected records (total %d), want %d", len(rejected), page.Total, faultBad)
	}
	return h.log()
}

// runEnv is run with extra environment variables.
func (e *env) runEnv(t *testing.T, extra []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := e.command(ctx, args...)
	cmd.Env = append(cmd.Env, extra...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String()}
	if ctx.Err() != nil {
		t.Fatalf("adf %s timed out\n%s", strings.Join(args, " "), res)
	}
	if err != nil {
		res.code = cmd.ProcessState.ExitCode()
	}
	return res
}

// writeFaultCSV writes the cell's input: faultRows orders with faultBad
// malformed lines (one field too many) spread through the file.
func writeFaultCSV(t *testing.T, path string) []string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	orders := testkit.WriteOrdersCSV(t, path, 1, faultRows)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	var b strings.Builder
	for i, l := range lines {
		b.WriteString(l)
		if i > 0 && i%(faultRows/faultBad) == faultRows/(2*faultBad) {
			fmt.Fprintf(&b, "%d,bad,1.00,2026-01-01T00:00:00Z,extra\n", 900000+i)
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return testkit.Canon(orders)
}

// produceOrders writes faultRows orders and faultBad undecodable values to a
// new 2-partition rafka topic, as any Redis client could.
func (e *faultEnv) produceOrders(t *testing.T, topic string) []string {
	t.Helper()
	ctx := context.Background()
	tmp := filepath.Join(t.TempDir(), "orders.csv")
	orders := testkit.WriteOrdersCSV(t, tmp, 1, faultRows)
	if err := e.redis.HSet(ctx, "rafka:{"+topic+"}:meta", "partitions", 2).Err(); err != nil {
		t.Fatal(err)
	}
	pipe := e.redis.Pipeline()
	for i, o := range orders {
		amount := json.Number(o.Amount)
		v, _ := json.Marshal(map[string]any{"id": o.ID, "name": o.Name, "amount": amount, "ts": o.TS.Format(time.RFC3339)})
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: fmt.Sprintf("rafka:{%s}:%d", topic, i%2), Values: []any{"key", fmt.Sprint(o.ID), "value", string(v)}})
		if i%(faultRows/faultBad) == faultRows/(2*faultBad) {
			pipe.XAdd(ctx, &redis.XAddArgs{Stream: fmt.Sprintf("rafka:{%s}:%d", topic, i%2), Values: []any{"key", "bad", "value", "{not json"}})
		}
		if i%5000 == 4999 {
			if _, err := pipe.Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	return testkit.Canon(orders)
}

// dropKeys deletes a cell's Redis keys.
func (e *faultEnv) dropKeys(t *testing.T, patterns ...string) {
	ctx := context.Background()
	for _, p := range patterns {
		iter := e.redis.Scan(ctx, 0, p, 1000).Iterator()
		for iter.Next(ctx) {
			e.redis.Del(ctx, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("clean up %s: %v", p, err)
		}
	}
}

// checkAcked fails unless the group has acknowledged every entry.
func (e *faultEnv) checkAcked(t *testing.T, topic, group string) {
	t.Helper()
	for p := 0; p < 2; p++ {
		st := fmt.Sprintf("rafka:{%s}:%d", topic, p)
		pend, err := e.redis.XPending(context.Background(), st, group).Result()
		if err != nil {
			t.Fatalf("XPENDING %s %s: %v", st, group, err)
		}
		if pend.Count != 0 {
			t.Errorf("%s: %d entries still pending for group %s after the run: a completed checkpoint was not acknowledged", st, pend.Count, group)
		}
	}
}

// checkNoPrepared fails if the flow left a prepared transaction behind (the
// sink names them adf:<flow>:<run>:<checkpoint>).
func (e *faultEnv) checkNoPrepared(t *testing.T, flowName string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, e.pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database() AND gid LIKE $1`,
		"adf:"+flowName+":%").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d prepared transactions left behind", n)
	}
}

func faultSinks() []sinkCase {
	fileRows := func(t *testing.T, paths []string) []string {
		var out []string
		for _, p := range paths {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if i := strings.IndexByte(string(data), 0); i >= 0 {
				t.Fatalf("%s has a NUL byte at offset %d", p, i)
			}
			out = append(out, testkit.ReadOrdersJSONL(t, p)...)
		}
		return out
	}
	pgRows := func(t *testing.T, e *faultEnv, table string) []string {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, e.pgURL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		rows, err := conn.Query(ctx, `SELECT id, name, amount::float8, ts FROM `+table)
		if err != nil {
			t.Fatalf("read %s: %v", table, err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var id int64
			var name string
			var amount float64
			var tsv any // timestamptz from CSV, text from rafka's JSON
			if err := rows.Scan(&id, &name, &amount, &tsv); err != nil {
				t.Fatal(err)
			}
			ts, ok := tsv.(time.Time)
			if s, isText := tsv.(string); isText {
				var err error
				if ts, err = time.Parse(time.RFC3339Nano, s); err != nil {
					t.Fatalf("%s: bad ts %q: %v", table, s, err)
				}
				ok = true
			}
			if !ok {
				t.Fatalf("%s: ts is a %T", table, tsv)
			}
			out = append(out, fmt.Sprintf("%d|%s|%.2f|%s", id, name, amount, ts.UTC().Format(time.RFC3339)))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	jsonRow := func(t *testing.T, v string) string {
		var row struct {
			ID     int64   `json:"id"`
			Name   string  `json:"name"`
			Amount float64 `json:"amount"`
			TS     string  `json:"ts"`
		}
		if err := json.Unmarshal([]byte(v), &row); err != nil {
			t.Fatalf("bad value %q: %v", v, err)
		}
		ts, err := time.Parse(time.RFC3339Nano, row.TS)
		if err != nil {
			t.Fatalf("bad ts in %q: %v", v, err)
		}
		return fmt.Sprintf("%d|%s|%.2f|%s", row.ID, row.Name, row.Amount, ts.UTC().Format(time.RFC3339))
	}
	return []sinkCase{
		{name: "file", delivery: "exactly_once",
			config: func(_ *faultEnv, c *cellEnv) string {
				return fmt.Sprintf(`{type: file, config: {path: %q}}`, c.abs("out/orders.jsonl"))
			},
			readBack: func(t *testing.T, _ *faultEnv, c *cellEnv) []string {
				return fileRows(t, []string{c.abs("out/orders.jsonl")})
			}},
		{name: "file_dir", delivery: "exactly_once",
			config: func(_ *faultEnv, c *cellEnv) string {
				return fmt.Sprintf(`{type: file, config: {path: %q, format: jsonl}}`, c.abs("out")+"/")
			},
			readBack: func(t *testing.T, _ *faultEnv, c *cellEnv) []string {
				ents, err := os.ReadDir(c.abs("out"))
				if err != nil {
					t.Fatal(err)
				}
				var paths []string
				for _, en := range ents {
					if !strings.HasPrefix(en.Name(), ".") {
						paths = append(paths, c.abs("out/"+en.Name()))
					}
				}
				return fileRows(t, paths)
			}},
		{name: "postgres_append", delivery: "exactly_once",
			config: func(e *faultEnv, c *cellEnv) string {
				return fmt.Sprintf(`{type: postgres, config: {url: %q, table: t_%s, mode: append, create_table: true}}`, e.pgURL, c.id)
			},
			readBack: func(t *testing.T, e *faultEnv, c *cellEnv) []string { return pgRows(t, e, "t_"+c.id) }},
		{name: "postgres_upsert", delivery: "exactly_once",
			config: func(e *faultEnv, c *cellEnv) string {
				return fmt.Sprintf(`{type: postgres, config: {url: %q, table: t_%s, mode: upsert, key: [id], create_table: true}}`, e.pgURL, c.id)
			},
			readBack: func(t *testing.T, e *faultEnv, c *cellEnv) []string { return pgRows(t, e, "t_"+c.id) }},
		{name: "iceberg", delivery: "exactly_once",
			config: func(_ *faultEnv, c *cellEnv) string {
				return fmt.Sprintf(`{type: iceberg, config: {catalog_uri: %q, warehouse: %q, table: adf.t_%s}}`,
					"sqlite://"+c.abs("catalog.db"), "file://"+c.abs("warehouse"), c.id)
			},
			readBack: func(t *testing.T, e *faultEnv, c *cellEnv) []string {
				// Read the table back through a second flow into a file.
				dump := write(t, c.work, "dump.yaml", fmt.Sprintf(`
name: dump_%s
source: {type: iceberg, config: {catalog_uri: %q, warehouse: %q, table: adf.t_%s}}
sink: {type: file, config: {path: %q}}
`, c.id, "sqlite://"+c.abs("catalog.db"), "file://"+c.abs("warehouse"), c.id, c.abs("dump.jsonl")))
				en := &env{bin: e.bin, pluginDir: e.pluginDir, dataDir: t.TempDir(), work: c.work}
				if r := en.run(t, "run", "--progress", "none", dump); r.code != 0 {
					t.Fatalf("read the iceberg table back: %s", r)
				}
				return fileRows(t, []string{c.abs("dump.jsonl")})
			}},
		{name: "rafka", delivery: "exactly_once",
			config: func(e *faultEnv, c *cellEnv) string {
				return fmt.Sprintf(`{type: rafka, config: {url: %q, topic: out_%s, partitions: 2}}`, e.redisURL, c.id)
			},
			readBack: func(t *testing.T, e *faultEnv, c *cellEnv) []string {
				var out []string
				for p := 0; p < 2; p++ {
					msgs, err := e.redis.XRange(context.Background(), fmt.Sprintf("rafka:{out_%s}:%d", c.id, p), "-", "+").Result()
					if err != nil {
						t.Fatal(err)
					}
					for _, m := range msgs {
						out = append(out, jsonRow(t, fmt.Sprint(m.Values["value"])))
					}
				}
				return out
			}},
		{name: "redis_cache", delivery: "idempotent",
			config: func(e *faultEnv, c *cellEnv) string {
				return fmt.Sprintf(`{type: redis_cache, config: {url: %q, key_attribute: id, key_prefix: "cache_%s:"}}`, e.redisURL, c.id)
			},
			readBack: func(t *testing.T, e *faultEnv, c *cellEnv) []string {
				ctx := context.Background()
				var out []string
				iter := e.redis.Scan(ctx, 0, "cache_"+c.id+":*", 5000).Iterator()
				for iter.Next(ctx) {
					v, err := e.redis.Get(ctx, iter.Val()).Result()
					if err != nil {
						t.Fatal(err)
					}
					out = append(out, jsonRow(t, v))
				}
				if err := iter.Err(); err != nil {
					t.Fatal(err)
				}
				return out
			}},
	}
}

// countDiff returns how many rows of got are repeats or not wanted, and how
// many wanted rows are missing.
func countDiff(got, want []string) (dups, lost int) {
	count := map[string]int{}
	for _, w := range want {
		count[w]++
	}
	for _, g := range got {
		if count[g] > 0 {
			count[g]--
		} else {
			dups++
		}
	}
	for _, c := range count {
		lost += c
	}
	return dups, lost
}

func distinct(rows []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range rows {
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out
}

func countLines(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(data), "\n")
}

// table renders the matrix as a Markdown table (also in docs/architecture.md).
func (e *faultEnv) table() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	cells := append([]faultCell(nil), e.cells...)
	// In the order the cells were planned (they finish in any order).
	sort.Slice(cells, func(i, j int) bool { return cells[i].id < cells[j].id })
	var b strings.Builder
	fmt.Fprintf(&b, "fault matrix: %d cells\n", len(cells))
	b.WriteString("| runner | source | sink | fault | rows out / in | duplicates | lost | dead letters | result |\n|---|---|---|---|---|---|---|---|---|\n")
	passed := 0
	for _, c := range cells {
		res := "FAIL"
		if c.ok {
			res = "ok"
			passed++
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %d / %d | %d | %d | %d | %s |\n", c.runner, c.source, c.sink, c.fault, c.rows, c.want, c.dups, c.lost, c.dead, res)
	}
	fmt.Fprintf(&b, "%d of %d cells hold\n", passed, len(cells))
	return b.String()
}

// TestRunResumeIsPinnedToItsFlow: an `adf run` killed after a checkpoint is
// resumed only with the flow it started with; a changed flow file is refused
// with a message, and --fresh starts a new run instead.
func TestRunResumeIsPinnedToItsFlow(t *testing.T) {
	e := newEnv(t)
	c := &cellEnv{id: "pin", work: e.work}
	want := writeFaultCSV(t, c.abs("in/orders.csv"))
	doc := func(every string) string {
		return fmt.Sprintf(`
name: pinned
source: {type: file, config: {path: %q, split_size: 1048576}}
sink: {type: file, config: {path: %q}}
on_error: skip
checkpoint: {every: %s}
`, c.abs("in/orders.csv"), c.abs("out/orders.jsonl"), every)
	}
	flowPath := write(t, e.work, "flow.yaml", doc("20ms"))
	killed := e.runEnv(t, []string{"ADF_FAULT=saved@2:host"}, "run", "--progress", "none", flowPath)
	if killed.code != -1 {
		t.Fatalf("the host was not killed at the fault\n%s", killed)
	}
	if _, err := os.Stat(c.abs("out/orders.jsonl")); err == nil {
		t.Fatal("the killed run published its output file")
	}
	write(t, e.work, "flow.yaml", doc("25ms"))
	refused := e.run(t, "run", "--progress", "none", flowPath)
	if refused.code == 0 || !strings.Contains(refused.stderr, "the flow file changed since it started") || !strings.Contains(refused.stderr, "--fresh") {
		t.Fatalf("a changed flow file resumed the interrupted run, or the refusal does not say what to do\n%s", refused)
	}
	fresh := e.run(t, "run", "--progress", "none", "--fresh", flowPath)
	if fresh.code != 0 || strings.Contains(fresh.stderr, "resuming") {
		t.Fatalf("--fresh did not start a new run\n%s", fresh)
	}
	testkit.SameRows(t, testkit.ReadOrdersJSONL(t, c.abs("out/orders.jsonl")), want)
	if _, err := os.Stat(filepath.Join(e.dataDir, "runs", "pinned.json")); !os.IsNotExist(err) {
		t.Errorf("the run state of a finished run was kept (%v)", err)
	}
}

// onePhaseRev is the last revision whose SDK predates two-phase sinks: its
// file plugin is a real "old plugin" for the compatibility test.
const onePhaseRev = "20342d3"

// TestOnePhasePluginStillWorks builds the file plugin as it was before the
// two-phase protocol (from the repository's history) and runs a flow through
// it with today's host: the host drives it one-phase, reports it as
// at-least-once, and the output is exact.
func TestOnePhasePluginStillWorks(t *testing.T) {
	root := testkit.RepoRoot(t)
	src := t.TempDir()
	archive := exec.Command("sh", "-c", "git -C \"$1\" archive "+onePhaseRev+" go.mod go.sum proto sdk plugins/file | tar -x -C \"$2\"", "sh", root, src)
	if out, err := archive.CombinedOutput(); err != nil {
		t.Fatalf("extract the file plugin of %s from git history: %v\n%s", onePhaseRev, err, out)
	}
	plugins := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(plugins, "adf-plugin-file"), "./plugins/file/cmd/adf-plugin-file")
	build.Dir = src
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the one-phase file plugin: %v\n%s", err, out)
	}
	e := &env{bin: testkit.Build(t, adfPkg), pluginDir: plugins, dataDir: t.TempDir(), work: t.TempDir()}
	d := e.run(t, "plugins", "describe", "--kind", "sink", "file")
	if d.code != 0 || !strings.Contains(d.stdout, "delivery: at_least_once (one-phase") {
		t.Fatalf("describe does not report the old sink as one-phase, at-least-once\n%s", d)
	}
	c := &cellEnv{work: e.work}
	want := writeFaultCSV(t, c.abs("in/orders.csv"))
	flowPath := write(t, e.work, "flow.yaml", fmt.Sprintf(`
name: old_sink
source: {type: file, config: {path: %q, split_size: 1048576}}
parallelism: 2
sink: {type: file, config: {path: %q}}
on_error: dead_letter
dead_letter: {path: %q}
checkpoint: {every: 20ms}
`, c.abs("in/orders.csv"), c.abs("out")+"/", c.abs("dead.jsonl")))
	r := e.run(t, "run", "--progress", "none", flowPath)
	if r.code != 0 {
		t.Fatalf("a flow through the one-phase sink failed\n%s", r)
	}
	if s := parseSummary(t, r); s.cps < 2 {
		t.Fatalf("the run took %d checkpoints; the test needs several to exercise the one-phase path\n%s", s.cps, r)
	}
	ents, err := os.ReadDir(c.abs("out"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, en := range ents {
		if !strings.HasPrefix(en.Name(), ".") {
			got = append(got, testkit.ReadOrdersJSONL(t, c.abs("out/"+en.Name()))...)
		}
	}
	testkit.SameRows(t, got, want)
	if n := countLines(t, c.abs("dead.jsonl")); n != faultBad {
		t.Errorf("dead-letter file has %d records, want %d", n, faultBad)
	}
}

// TestServeRetryKeepsRunConfig: a run that another attempt resumes (here
// after its host was killed, by a host that takes over its lease) goes on
// with the config it started with, even if the flow changed in between
// (its checkpoint was taken under that config); the change applies to the
// next run.
func TestServeRetryKeepsRunConfig(t *testing.T) {
	work, data := t.TempDir(), t.TempDir()
	c := &cellEnv{work: work}
	want := writeFaultCSV(t, c.abs("in/orders.csv"))
	doc := func(out string) map[string]any {
		return map[string]any{"name": "pinned",
			"source":      map[string]any{"type": "file", "config": map[string]any{"path": c.abs("in/orders.csv"), "split_size": 1048576}},
			"parallelism": 2,
			"sink":        map[string]any{"type": "file", "config": map[string]any{"path": c.abs(out) + "/"}},
			"on_error":    "skip",
			"checkpoint":  map[string]any{"every": "20ms"},
		}
	}
	// The host dies (SIGKILL) after checkpoint 2 is saved; the next host
	// takes the run over once its lease (5s) runs out.
	plugins := testkit.PluginDir(t, testkit.FilePlugin)
	args := []string{"--tick", "0", "--lease-ttl", "5s"}
	h := svcStart(t, svcConfig{dataDir: data, pluginDir: plugins, work: work, env: []string{"ADF_FAULT=saved@2:host"}, args: args})
	h.applyFlow(doc("out1"))
	var run store.Run
	if code, body := h.api("POST", "/v1/flows/pinned/runs", nil, &run); code != 202 {
		t.Fatalf("trigger: %d %s", code, body)
	}
	select {
	case <-h.done:
		h.done <- nil
	case <-time.After(60 * time.Second):
		t.Fatalf("the host was not killed at checkpoint 2\n%s", h.log())
	}
	h = svcStart(t, svcConfig{dataDir: data, pluginDir: plugins, work: work, args: args})
	if code, body := h.api("PUT", "/v1/flows/pinned", doc("out2"), nil); code != 200 && code != 201 {
		t.Fatalf("update the flow: %d %s", code, body)
	}
	if r := h.getRun(run.ID); r.Status == store.StatusSuccess || r.Status == store.StatusFailed {
		t.Fatalf("run %d ended (%s) before the flow was changed", run.ID, r.Status)
	}
	run = h.waitRunStatus(run.ID, 60*time.Second, store.StatusSuccess, store.StatusFailed)
	if run.Status != store.StatusSuccess || !strings.Contains(h.log(), "resuming from checkpoint") {
		t.Fatalf("run %d: %s after %d attempts: %s\n%s", run.ID, run.Status, run.Attempt, run.ErrorMessage, h.log())
	}
	if run.ConfigVersion != 1 {
		t.Errorf("the retried run records config version %d, want 1 (the version it started with)", run.ConfigVersion)
	}
	if _, err := os.Stat(c.abs("out2")); !os.IsNotExist(err) {
		t.Errorf("the retry wrote to the changed flow's output (%v)", err)
	}
	ents, err := os.ReadDir(c.abs("out1"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, en := range ents {
		if !strings.HasPrefix(en.Name(), ".") {
			got = append(got, testkit.ReadOrdersJSONL(t, c.abs("out1/"+en.Name()))...)
		}
	}
	testkit.SameRows(t, got, want)
}
