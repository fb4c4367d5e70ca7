package rafkaplugin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/activedataflow/adf/internal/testkit"
	"github.com/activedataflow/adf/sdk"
	"github.com/activedataflow/adf/sdk/flow"
)

// sqlPlugin is the package of the PostgreSQL plugin binary.
const sqlPlugin = "plugins/sql/cmd/adf-plugin-sql"

// outageRun is a flow from a rafka topic (format json) into a PostgreSQL
// table upserted by id, on a private Redis that the test restarts or kills.
type outageRun struct {
	priv  *testkit.Private
	a     *testkit.ADF
	topic string
	n     int
}

// newOutageRun starts a private PostgreSQL and Redis (append-only file on,
// so a restart or a kill -9 keeps the data) and produces n entries with ids
// 0..n-1 over 4 partitions.
func newOutageRun(t *testing.T, name string, offset, n int) *outageRun {
	t.Helper()
	priv := testkit.NewPrivate(t, name, offset, testkit.RedisAOF())
	rdb := connect(t, priv.RedisURL())
	// The private Redis is this test's: what an earlier run left goes.
	if err := rdb.FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	topic := uniqueTopic(t, rdb)
	start := time.Now()
	produceJSON(t, rdb, topic, 4, n, 0)
	t.Logf("produced %d entries over 4 partitions in %s", n, time.Since(start).Round(time.Millisecond))
	a := testkit.NewADF(t, rafkaPlugin, sqlPlugin)
	a.Env = append(a.Env, "ADF_LOG_LEVEL=debug")
	return &outageRun{priv: priv, a: a, topic: topic, n: n}
}

// flow reads the topic as group into table (mode available_now or
// continuous), two readers, a checkpoint every 200ms.
func (o *outageRun) flow(name, group, table, mode string) *flow.Flow {
	return &flow.Flow{
		Name: name,
		Source: flow.Component{Type: "rafka", Config: json.RawMessage(fmt.Sprintf(
			`{"url": %q, "topic": %q, "group": %q, "format": "json", "mode": %q, "block": "100ms"}`, o.priv.RedisURL(), o.topic, group, mode))},
		Parallelism: 2,
		Sink: flow.Component{Type: "postgres", Config: json.RawMessage(fmt.Sprintf(
			`{"url": %q, "table": %q, "mode": "upsert", "key": ["id"], "create_table": true}`, o.priv.PostgresURL(), table))},
		Checkpoint: &flow.Checkpoint{Every: sdk.Duration(200 * time.Millisecond)},
	}
}

// dropTable drops table if an earlier run of the test left it (the private
// PostgreSQL keeps its data).
func (o *outageRun) dropTable(t *testing.T, table string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, o.priv.PostgresURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP TABLE IF EXISTS "+table); err != nil {
		t.Fatal(err)
	}
}

// tableFigures are count(*), sum(id) and count(DISTINCT id) of table (0s
// while it does not exist).
func (o *outageRun) tableFigures(t *testing.T, table string) (count, sum, distinct int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, o.priv.PostgresURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	err = conn.QueryRow(ctx, fmt.Sprintf(`SELECT count(*), coalesce(sum(id), 0)::bigint, count(DISTINCT id) FROM %s`, table)).Scan(&count, &sum, &distinct)
	if err != nil && strings.Contains(err.Error(), "does not exist") {
		return 0, 0, 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return count, sum, distinct
}

// checkExact checks that table holds every input id once and that the group
// has nothing pending.
func (o *outageRun) checkExact(t *testing.T, table, group string) {
	t.Helper()
	count, sum, distinct := o.tableFigures(t, table)
	n := int64(o.n)
	t.Logf("%s: %d rows, sum(id) %d, %d distinct ids", table, count, sum, distinct)
	if count != n || sum != n*(n-1)/2 || distinct != n {
		t.Fatalf("%s: %d rows, sum(id) %d, %d distinct ids; want %d rows, sum %d, %d distinct: entries lost or repeated",
			table, count, sum, distinct, n, n*(n-1)/2, n)
	}
	if p := pendingCount(t, connect(t, o.priv.RedisURL()), o.topic, group); p != 0 {
		t.Fatalf("group %s: %d entries left pending (XPENDING) after the run", group, p)
	}
}

// waitProgress waits until the run saved a checkpoint (not the final one)
// after log offset from, and returns the log's length then. It fails when the
// run ended first: the outage would not have hit it mid-run.
func waitProgress(t *testing.T, p *testkit.Process, from int, what string) int {
	t.Helper()
	testkit.WaitFor(t, time.Minute, "a checkpoint "+what, func() bool {
		log := p.Stderr()
		for _, c := range savedCheckpoints(log) {
			if c.At >= from {
				return true
			}
		}
		return false
	}, p.Stderr)
	log := p.Stderr()
	for _, c := range savedCheckpoints(log) {
		if c.At >= from && c.Final {
			t.Fatalf("the run ended before the outage %s: make it longer", what)
		}
	}
	return len(log)
}

// outage is a way to take Redis away mid-run.
type outage struct {
	name string
	do   func(o *outageRun)
}

var (
	restartRedis = outage{"restart (SHUTDOWN, start)", func(o *outageRun) { o.priv.RestartRedis() }}
	killRedis    = outage{"kill -9 and start", func(o *outageRun) {
		o.priv.KillRedis()
		time.Sleep(500 * time.Millisecond)
		o.priv.StartRedis()
	}}
)

// hit runs the outages one after the other while the run p goes on, each
// after a checkpoint saved since the previous one. It returns the rows the
// table held when the last outage began.
func (o *outageRun) hit(t *testing.T, p *testkit.Process, table string, outages ...outage) int64 {
	t.Helper()
	at := 0
	var rows int64
	for i, x := range outages {
		at = waitProgress(t, p, at, fmt.Sprintf("before outage %d (%s)", i+1, x.name))
		rows, _, _ = o.tableFigures(t, table)
		start := time.Now()
		x.do(o)
		t.Logf("outage %d: Redis %s with %d rows in the table, back after %s", i+1, x.name, rows, time.Since(start).Round(time.Millisecond))
		at = len(p.Stderr())
	}
	// The run goes on after the last outage.
	waitProgress(t, p, at, "after the last outage")
	return rows
}

// available_now, an upsert into PostgreSQL (key id): Redis restarted three
// times mid-run, then (another group, another table) killed with SIGKILL
// and started again. Every connection of the readers drops while a read may
// be in flight: Redis may have moved a batch into the consumer's pending
// list without the reply arriving. Each run's table holds every input id
// once, the group has nothing pending, and a second run of the group reads
// nothing.
func TestRedisOutagesAvailableNow(t *testing.T) {
	const n = 1_000_000
	o := newOutageRun(t, "rafka-aof-now", 38, n)
	for _, c := range []struct {
		name    string
		outages []outage
	}{
		{"restarts", []outage{restartRedis, restartRedis, restartRedis}},
		{"kill", []outage{killRedis}},
	} {
		t.Run(c.name, func(t *testing.T) {
			group, table := "now_"+c.name, "rafka_now_"+c.name
			o.dropTable(t, table)
			f := o.flow("outage-now-"+c.name, group, table, "available_now")
			start := time.Now()
			p := o.a.Start(t, "run", "--progress", "none", o.a.WriteFlow(t, f.Name, flowDoc(t, f)))
			o.hit(t, p, table, c.outages...)
			sum := succeeded(t, p.Wait(t, 5*time.Minute))
			t.Logf("run: %s, %d read, %d written, %d checkpoints, %d restarts of the attempt",
				time.Since(start).Round(time.Millisecond), sum.Read, sum.Written, sum.Checkpoints, sum.Restarts)
			if sum.Read != n || sum.Written != n || sum.Rejected != 0 {
				t.Fatalf("summary %+v, want exactly %d read and written", sum, n)
			}
			o.checkExact(t, table, group)
			// A second run of the group finds nothing new, nothing pending.
			again, _ := o.a.RunFlow(t, f.Name, flowDoc(t, f))
			if again.Read != 0 || again.Written != 0 {
				t.Fatalf("a second run of group %s read %d rows, wrote %d; want 0: entries were left for it", group, again.Read, again.Written)
			}
			o.checkExact(t, table, group)
		})
	}
}

// continuous mode, the same outages: a run stopped with SIGINT once the
// table holds every entry has read each exactly once and left nothing
// pending.
func TestRedisOutagesContinuous(t *testing.T) {
	const n = 200_000
	o := newOutageRun(t, "rafka-aof-cont", 39, n)
	group, table := "cont", "rafka_cont"
	o.dropTable(t, table)
	f := o.flow("outage-cont", group, table, "continuous")
	start := time.Now()
	p := o.a.Start(t, "run", "--progress", "none", o.a.WriteFlow(t, f.Name, flowDoc(t, f)))
	if rows := o.hit(t, p, table, restartRedis, killRedis, restartRedis); rows >= n {
		t.Fatalf("the table held all %d rows before the last outage: make the run longer", n)
	}
	testkit.WaitFor(t, time.Minute, fmt.Sprintf("%d rows in %s", n, table), func() bool {
		count, _, _ := o.tableFigures(t, table)
		return count >= int64(n)
	}, func() string {
		count, _, _ := o.tableFigures(t, table)
		log := p.Stderr()
		return fmt.Sprintf("%d rows in %s, %d entries pending: entries lost\nend of the log:\n%s", count, table,
			pendingCount(t, connect(t, o.priv.RedisURL()), o.topic, group), log[max(0, len(log)-3000):])
	})
	if err := p.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	res := p.Wait(t, time.Minute)
	sum := succeeded(t, res)
	t.Logf("run: %s, %d read, %d written, %d checkpoints, %d restarts of the attempt",
		time.Since(start).Round(time.Millisecond), sum.Read, sum.Written, sum.Checkpoints, sum.Restarts)
	if cps := savedCheckpoints(res.Stderr); len(cps) == 0 || !cps[len(cps)-1].Final {
		t.Fatal("the stop took no final checkpoint")
	}
	if sum.Read != n || sum.Written != n || sum.Rejected != 0 {
		t.Fatalf("summary %+v, want exactly %d read and written", sum, n)
	}
	o.checkExact(t, table, group)
}
