package runner_test

import (
	"context"
	"testing"
	"time"

	"github.com/activedataflow/adf/host/runner"
	"github.com/activedataflow/adf/host/store"
	"github.com/activedataflow/adf/internal/testkit"
)

// BenchmarkHeartbeat measures one heartbeat (due-flow selection with FOR
// UPDATE SKIP LOCKED, flow updates, run rows and River job inserts in one
// transaction) over 10,000 flows of which 1,000 are due, on PostgreSQL.
// Goal: under one second per heartbeat.
//
//	go test ./host/runner -run '^$' -bench BenchmarkHeartbeat -benchtime 5x
func BenchmarkHeartbeat(b *testing.B) {
	const flows, every = 10000, 10 // every 10th flow is due: 1,000
	ctx := context.Background()
	st, err := store.Open(ctx, testkit.NewDatabase(b), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	r, err := runner.New(runner.Options{Store: st, Registry: registryWith(b), DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	if err := r.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	db := st.DB()
	if _, err := db.ExecContext(ctx, `INSERT INTO data_flows (name, source, sink, runtime, run_interval, next_run_at)
		SELECT 'flow-' || lpad(i::text, 5, '0'), '{"type": "file", "config": {"path": "in.csv"}}', '{"type": "file", "config": {"path": "out.jsonl"}}',
		'{"type": "host"}', 3600000, now() + interval '1 hour' FROM generate_series(1, $1) AS i`, flows); err != nil {
		b.Fatal(err)
	}
	reset := func() {
		for _, q := range []string{`DELETE FROM data_flow_runs`, `DELETE FROM river_job`,
			`UPDATE data_flows SET next_run_at = CASE WHEN id % 10 = 0 THEN now() - interval '1 minute' ELSE now() + interval '1 hour' END, last_run_at = NULL, last_run_status = NULL`,
			`VACUUM ANALYZE data_flows`, `VACUUM ANALYZE data_flow_runs`, `VACUUM ANALYZE river_job`} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				b.Fatal(err)
			}
		}
	}
	var total time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		reset()
		b.StartTimer()
		start := time.Now()
		res, err := r.Heartbeat(ctx, time.Now())
		total += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		if res.Due != flows/every || len(res.Triggered) != flows/every || len(res.RunIDs) != flows/every {
			b.Fatalf("heartbeat: %d due, %d triggered; want %d", res.Due, len(res.Triggered), flows/every)
		}
	}
	b.StopTimer()
	per := total / time.Duration(b.N)
	b.ReportMetric(float64(per)/float64(time.Millisecond), "ms/heartbeat")
	b.ReportMetric(float64(per)/float64(time.Microsecond)/float64(flows/every), "µs/due-flow")
	b.ReportMetric(float64(per)/float64(time.Microsecond)/float64(flows), "µs/flow")
	var jobs int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM river_job`).Scan(&jobs); err != nil || jobs != flows/every {
		b.Fatalf("%d river jobs (%v), want %d", jobs, err, flows/every)
	}
}
