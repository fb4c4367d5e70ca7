package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/activedataflow/adf/internal/testkit"
	"github.com/activedataflow/adf/plugins/rafka/rafka"
)

// ordersFlow is the CSV -> filter -> rename -> PostgreSQL flow of the
// acceptance test; runtime is "" for the host runtime. The file is cut into
// 8 MiB splits so that both readers have work.
func ordersFlow(name, csv, dbURL, table, mode, runtime string) string {
	doc := fmt.Sprintf(`{"name": %q, "parallelism": 2,
  "source": {"type": "file", "config": {"path": %q, "split_size": 8388608}},
  "transforms": [
    {"type": "filter", "config": {"expr": "amount >= 5000"}},
    {"type": "rename", "config": {"columns": {"name": "customer"}}}],
  "sink": {"type": "postgres", "config": {"url": %q, "table": %q, "mode": %q, "key": ["id"], "create_table": true}},
  "checkpoint": {"every": "1s"}`, name, csv, dbURL, table, mode)
	if runtime != "" {
		doc += `, "runtime": ` + runtime
	}
	return doc + "}"
}

// expectedOrders is what ordersFlow writes: rows with amount >= 5000.
func expectedOrders(orders []testkit.Order) []string {
	var want []string
	for _, o := range orders {
		if a, _ := strconv.ParseFloat(o.Amount, 64); a >= 5000 {
			want = append(want, o.Canon())
		}
	}
	return want
}

// The same flow file, with the host runtime and on Flink at parallelism 2,
// fills two tables that are identical, row by row.
func TestSameTableOnHostAndFlink(t *testing.T) {
	a := newADF(t)
	dbURL := testkit.NewDatabase(t)
	csv := filepath.Join(t.TempDir(), "orders.csv")
	const n = 1_000_000
	want := expectedOrders(testkit.WriteOrdersCSV(t, csv, 0, n))

	start := time.Now()
	host, _ := a.RunFlow(t, "orders-host", ordersFlow("orders-host", csv, dbURL, "orders_host", "upsert", ""))
	hostTook := time.Since(start)
	start = time.Now()
	fl, res := a.RunFlow(t, "orders-flink", ordersFlow("orders-flink", csv, dbURL, "orders_flink", "upsert", flinkRuntime(t)))
	flinkTook := time.Since(start)
	t.Logf("host runtime: %s, %+v; flink runtime: %s, %+v", hostTook.Round(time.Millisecond), host, flinkTook.Round(time.Millisecond), fl)
	if fl.Read != n || fl.Written != int64(len(want)) {
		t.Fatalf("flink run counted %d read and %d written, want %d and %d\n%s", fl.Read, fl.Written, n, len(want), res)
	}

	c := pg(t, dbURL)
	for _, q := range []string{
		`SELECT count(*) FROM (SELECT id, customer, amount, ts FROM orders_host EXCEPT SELECT id, customer, amount, ts FROM orders_flink) d`,
		`SELECT count(*) FROM (SELECT id, customer, amount, ts FROM orders_flink EXCEPT SELECT id, customer, amount, ts FROM orders_host) d`,
	} {
		if d := count(t, c, q); d != 0 {
			t.Fatalf("%d rows differ: %s", d, q)
		}
	}
	sameRows(t, "orders_flink", tableRows(t, c, "orders_flink", "customer"), want)
	sameRows(t, "orders_host", tableRows(t, c, "orders_host", "customer"), want)
}

// produce creates a rafka topic of 4 partitions holding n JSON messages
// {"id": i, "name": "n<i>"}.
func produce(t *testing.T, rdb *redis.Client, n int) string {
	t.Helper()
	ctx := context.Background()
	topic := fmt.Sprintf("flink-%s-%d", strings.ToLower(t.Name()), time.Now().UnixNano())
	if err := rafka.CreateTopic(ctx, rdb, topic, 4, true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rafka.DeleteTopic(context.Background(), rdb, topic) })
	p, err := rafka.NewProducer(ctx, rdb, topic, rafka.ProducerOptions{PipelineSize: 2000})
	if err != nil {
		t.Fatal(err)
	}
	msgs := make([]rafka.Message, 0, 10000)
	for i := 0; i < n; i++ {
		msgs = append(msgs, rafka.Message{Key: fmt.Sprintf("k%d", i), HasKey: true, Value: fmt.Appendf(nil, `{"id": %d, "name": "n%d"}`, i, i)})
		if len(msgs) == cap(msgs) || i == n-1 {
			if _, err := p.Send(ctx, msgs...); err != nil {
				t.Fatal(err)
			}
			msgs = msgs[:0]
		}
	}
	return topic
}

// pending is the number of entries of group still pending on the topic.
func pending(t *testing.T, rdb *redis.Client, topic, group string) int64 {
	t.Helper()
	ctx := context.Background()
	var total int64
	for p := 0; p < 4; p++ {
		res, err := rdb.XPending(ctx, rafka.StreamKey(topic, p), group).Result()
		if err != nil {
			t.Fatalf("XPENDING: %v", err)
		}
		total += res.Count
	}
	return total
}

// rafka (4 partitions, a consumer group) -> JSON lines on Flink with
// mode available_now: every message once, none left pending.
func TestRafkaToJSONLinesOnFlink(t *testing.T) {
	a := newADF(t)
	url := testkit.RedisURL(t)
	rdb := redis.NewClient(mustRedisOptions(t, url))
	t.Cleanup(func() { rdb.Close() })
	const n = 200_000
	topic := produce(t, rdb, n)
	out := filepath.Join(t.TempDir(), "out.jsonl")
	doc := fmt.Sprintf(`{"name": "rafka-flink", "parallelism": 2,
  "source": {"type": "rafka", "config": {"url": %q, "topic": %q, "group": "flink", "format": "json", "mode": "available_now"}},
  "sink": {"type": "file", "config": {"path": %q}},
  "checkpoint": {"every": "1s"}, "runtime": %s}`, url, topic, out, flinkRuntime(t))
	sum, res := a.RunFlow(t, "rafka-flink", doc)
	if sum.Read != n || sum.Written != n {
		t.Fatalf("summary %+v, want %d read and written\n%s", sum, n, res)
	}
	exactlyIDs(t, jsonlIDs(t, out), n)
	if p := pending(t, rdb, topic, "flink"); p != 0 {
		t.Fatalf("%d entries left pending: the bridge did not pass Flink's checkpoint completion on to the readers", p)
	}
}

func mustRedisOptions(t *testing.T, url string) *redis.Options {
	t.Helper()
	o, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// A TaskManager killed with SIGKILL mid-run, after a checkpoint, and
// started again: Flink restores the job from its last checkpoint and the
// exactly-once PostgreSQL sink (append, two-phase) holds every row once.
func TestTaskManagerKilledMidRun(t *testing.T) {
	a := newADF(t)
	dbURL := testkit.NewDatabase(t)
	csv := filepath.Join(t.TempDir(), "orders.csv")
	const n = 1_000_000
	want := expectedOrders(testkit.WriteOrdersCSV(t, csv, 0, n))
	flow := "orders-tm-kill"
	old := jobIDs(t)
	p := a.Start(t, "run", "--progress", "none", a.WriteFlow(t, flow, ordersFlow(flow, csv, dbURL, "orders", "append", flinkRuntime(t))))
	job := jobOfFlow(t, flow, old, 2*time.Minute)
	testkit.WaitFor(t, 2*time.Minute, "a completed checkpoint", func() bool {
		return completedCheckpoints(t, job.ID) >= 1
	}, p.Stderr)
	if st := jobState(t, job.ID); st != "RUNNING" {
		t.Fatalf("job %s is %s before the kill: make the run longer", job.ID, st)
	}
	pids := killTaskManagers(t)
	killedAt := completedCheckpoints(t, job.ID)
	t.Logf("killed TaskManager %v after %d completed checkpoints", pids, killedAt)
	testkit.Flink(t, "restart-taskmanager")
	res := p.Wait(t, 5*time.Minute)
	if res.Code != 0 {
		t.Fatalf("run after the TaskManager kill failed\n%s", res)
	}
	var exc struct {
		History struct {
			Entries []struct {
				Name string `json:"exceptionName"`
			} `json:"entries"`
		} `json:"exceptionHistory"`
	}
	flinkGet(t, "/jobs/"+job.ID+"/exceptions", &exc)
	if len(exc.History.Entries) == 0 {
		t.Fatalf("job %s has no failure in its exception history: the kill did not hit it", job.ID)
	}
	t.Logf("job %s failed over %d time(s), first: %s", job.ID, len(exc.History.Entries), exc.History.Entries[0].Name)
	c := pg(t, dbURL)
	sameRows(t, "orders after the TaskManager kill", tableRows(t, c, "orders", "customer"), want)
	if left := count(t, c, `SELECT count(*) FROM pg_prepared_xacts WHERE gid LIKE 'adf:`+flow+`:%'`); left != 0 {
		t.Fatalf("%d prepared transactions of the run are left", left)
	}
}

// killTaskManagers kills every TaskManager JVM of the test cluster with
// SIGKILL, by pid, and returns the pids.
func killTaskManagers(t *testing.T) []string {
	t.Helper()
	pids := strings.Fields(testkit.Flink(t, "taskmanager-pid")["Output"])
	if len(pids) == 0 {
		t.Fatal("no TaskManager pid")
	}
	for _, s := range pids {
		pid, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("TaskManager pid %q: %v", s, err)
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatalf("kill -9 %d: %v", pid, err)
		}
	}
	return pids
}

// The TaskManager killed in each window of the sink's two-phase commit:
// after the pre-commit of checkpoint 2 (its transaction prepared, the
// checkpoint not complete: the restored job rolls it back and writes the
// rows again) and after checkpoint 2 completed but before its commit (the
// restored job commits it). The sink pauses at that step (the runtime's
// pause setting) and the test kills the TaskManager there; the table then
// holds every row once.
func TestTaskManagerKilledInCommitWindows(t *testing.T) {
	for _, at := range []string{"after_flush", "before_commit"} {
		t.Run(at, func(t *testing.T) {
			a := newADF(t)
			dbURL := testkit.NewDatabase(t)
			csv := filepath.Join(t.TempDir(), "orders.csv")
			const n = 300_000
			want := expectedOrders(testkit.WriteOrdersCSV(t, csv, 0, n))
			marker := filepath.Join(t.TempDir(), "paused")
			flow := "orders-" + strings.ReplaceAll(at, "_", "-")
			testkit.BridgeJar(t)
			runtime := fmt.Sprintf(`{"type": "flink", "config": {"url": %q, "pause": {"at": %q, "checkpoint": 2, "marker": %q}}}`, testkit.FlinkURL(t), at, marker)
			doc := strings.Replace(ordersFlow(flow, csv, dbURL, "orders", "append", runtime), `"every": "1s"`, `"every": "500ms"`, 1)
			old := jobIDs(t)
			p := a.Start(t, "run", "--progress", "none", a.WriteFlow(t, flow, doc))
			testkit.WaitFor(t, 3*time.Minute, "the sink paused "+at+" checkpoint 2", func() bool {
				_, err := os.Stat(marker)
				return err == nil
			}, p.Stderr)
			job := jobOfFlow(t, flow, old, time.Second)
			c := pg(t, dbURL)
			var gid string
			if err := c.QueryRow(context.Background(), `SELECT gid FROM pg_prepared_xacts WHERE gid LIKE 'adf:`+flow+`:%' ORDER BY gid DESC LIMIT 1`).Scan(&gid); err != nil {
				t.Fatalf("no prepared transaction of the run while the sink is paused %s: %v", at, err)
			}
			done := completedCheckpoints(t, job.ID)
			t.Logf("paused %s: prepared %s, %d checkpoints complete", at, gid, done)
			if at == "before_commit" && done < 2 {
				t.Fatalf("paused before the commit of checkpoint 2, but Flink has completed only %d checkpoints", done)
			}
			pids := killTaskManagers(t)
			t.Logf("killed TaskManager %v", pids)
			testkit.Flink(t, "restart-taskmanager")
			if res := p.Wait(t, 5*time.Minute); res.Code != 0 {
				t.Fatalf("run after the TaskManager kill failed\n%s", res)
			}
			sameRows(t, "orders after the kill "+at, tableRows(t, c, "orders", "customer"), want)
			if left := count(t, c, `SELECT count(*) FROM pg_prepared_xacts WHERE gid LIKE 'adf:`+flow+`:%'`); left != 0 {
				t.Fatalf("%d prepared transactions of the run are left", left)
			}
		})
	}
}

// A flow that cannot run on Flink is refused before anything is submitted,
// with the reason: Flink unreachable, a plugin that is a script.
func TestRefusedBeforeSubmission(t *testing.T) {
	a := newADF(t)
	csv := filepath.Join(t.TempDir(), "orders.csv")
	testkit.WriteOrdersCSV(t, csv, 0, 10)
	out := filepath.Join(t.TempDir(), "out.jsonl")
	flowDoc := func(name, runtime string) string {
		return fmt.Sprintf(`{"name": %q, "source": {"type": "file", "config": {"path": %q}},
  "sink": {"type": "file", "config": {"path": %q}}, "runtime": %s}`, name, csv, out, runtime)
	}
	before := len(flinkJobs(t))

	t.Run("flink unreachable", func(t *testing.T) {
		testkit.BridgeJar(t)
		res := a.Run(t, "run", "--progress", "none", a.WriteFlow(t, "unreachable",
			flowDoc("unreachable", `{"type": "flink", "config": {"url": "http://127.0.0.1:1"}}`)))
		if res.Code == 0 || !strings.Contains(res.Stdout+res.Stderr, "cannot run flow unreachable") || !strings.Contains(res.Stdout+res.Stderr, "127.0.0.1:1") {
			t.Fatalf("want a refusal naming the flow and the address\n%s", res)
		}
	})

	t.Run("plugin is a script", func(t *testing.T) {
		real, err := os.Readlink(filepath.Join(a.PluginDir, "adf-plugin-file"))
		if err != nil {
			t.Fatal(err)
		}
		b := *a
		b.PluginDir = t.TempDir()
		for _, name := range []string{"adf-plugin-runtime-flink"} {
			target, err := os.Readlink(filepath.Join(a.PluginDir, name))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, filepath.Join(b.PluginDir, name)); err != nil {
				t.Fatal(err)
			}
		}
		script := "#!/bin/sh\nexec " + real + " \"$@\"\n"
		if err := os.WriteFile(filepath.Join(b.PluginDir, "adf-plugin-file"), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		res := b.Run(t, "run", "--progress", "none", b.WriteFlow(t, "script", flowDoc("script", flinkRuntime(t))))
		msg := res.Stdout + res.Stderr
		if res.Code == 0 || !strings.Contains(msg, "cannot run flow script") || !strings.Contains(msg, "not a Linux amd64 executable") {
			t.Fatalf("want a refusal saying the file plugin is not a Linux amd64 executable\n%s", res)
		}
	})

	if after := len(flinkJobs(t)); after != before {
		t.Fatalf("Flink has %d jobs after the refusals, %d before: something was submitted", after, before)
	}
}
