package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/activedataflow/adf/host/engine"
	"github.com/activedataflow/adf/internal/testkit"
	"github.com/activedataflow/adf/sdk/flow"
)

// Migration 0007 on a store with data, on both databases: every flow gets
// its current version in the history, last_success_at is back-filled, and
// the runs (SQLite rebuilds their table) keep their rows, ids, checkpoints
// and rejected records; run ids go on from where they were. Afterwards a
// flow with a run in progress is deleted only when its runs are cancelled,
// and the runs stay.
func TestMigrationFlowControl(t *testing.T) {
	for _, dialect := range []Dialect{Postgres, SQLite} {
		t.Run(string(dialect), func(t *testing.T) {
			ctx := context.Background()
			url := ""
			if dialect == Postgres {
				url = testkit.NewDatabase(t)
			}
			s, err := Open(ctx, url, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := s.migrate(ctx, "0006_runtime_job"); err != nil {
				t.Fatal(err)
			}
			// A flow at config version 3 as the schema before 0007 keeps it.
			f := &flow.Flow{Name: "old", Description: "from before",
				Source: flow.Component{Type: "file", Config: []byte(`{"path": "in.csv", "format": "csv"}`)},
				Sink:   flow.Component{Type: "file", Config: []byte(`{"path": "out.jsonl"}`)}}
			f.Normalize()
			cols, err := columnsOf(f)
			if err != nil {
				t.Fatal(err)
			}
			changed := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
			var flowID int64
			if err := s.db.QueryRowContext(ctx, `INSERT INTO data_flows (name, description, enabled, source, transforms, sink, runtime, options,
				parallelism, on_error, config_version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 3, $11, $11) RETURNING id`,
				f.Name, f.Description, true, string(cols.source), string(cols.transforms), string(cols.sink), string(cols.runtime), string(cols.options),
				f.Parallelism, f.OnError, s.ts(changed)).Scan(&flowID); err != nil {
				t.Fatal(err)
			}
			run := func(status string, ended *time.Time, slot int) int64 {
				var id int64
				if err := s.db.QueryRowContext(ctx, `INSERT INTO data_flow_runs (flow_id, flow_name, status, scheduled_for, ended_at, config_version, lease_owner)
					VALUES ($1, 'old', $2, $3, $4, 3, $5) RETURNING id`, flowID, status, s.ts(changed.Add(time.Duration(slot)*time.Hour)), s.tsOrNil(ended),
					map[bool]any{true: "host-a", false: nil}[status == StatusInProgress]).Scan(&id); err != nil {
					t.Fatal(err)
				}
				return id
			}
			succeeded := changed.Add(30 * time.Minute)
			ok := run(StatusSuccess, &succeeded, 1)
			going := run(StatusInProgress, nil, 2)
			gone := run(StatusFailed, &succeeded, 3)
			if _, err := s.db.ExecContext(ctx, `DELETE FROM data_flow_runs WHERE id = $1`, gone); err != nil {
				t.Fatal(err)
			}
			cp := s.LeasedCheckpoints("host-a", time.Minute)
			if err := cp.Save(ctx, "old", fmt.Sprint(going), &engine.Checkpoint{ID: 7},
				[]engine.Rejected{{Time: changed, Flow: "old", Stage: "source", Split: "in.csv:0", Position: "in.csv:9", Reason: "bad", Record: "x"}}); err != nil {
				t.Fatal(err)
			}

			applied, err := s.Migrate(ctx)
			if err != nil || fmt.Sprint(applied) != "[0007_flow_control]" {
				t.Fatalf("migrate: %v %v, want 0007_flow_control applied", applied, err)
			}
			if dialect == SQLite {
				var on int
				if err := s.db.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&on); err != nil || on != 1 {
					t.Fatalf("foreign_keys after the migration: %d (%v), want 1 (on)", on, err)
				}
			}
			vs, err := s.FlowVersions(ctx, "old")
			if err != nil || len(vs) != 1 || vs[0].Version != 3 || !vs[0].CreatedAt.Equal(changed) || vs[0].Flow.Description != "from before" ||
				!sameJSON(vs[0].Flow.Source.Config, f.Source.Config) {
				t.Fatalf("versions after the migration: %+v (%v), want version 3 of %v with the flow's config", vs, err, changed)
			}
			rec, err := s.GetFlow(ctx, "old")
			if err != nil || rec.LastSuccessAt == nil || !rec.LastSuccessAt.Equal(succeeded) || !rec.Enabled {
				t.Fatalf("flow after the migration: %+v (%v), want last_success_at %v", rec, err, succeeded)
			}
			for _, id := range []int64{ok, going} {
				if r, err := s.GetRun(ctx, id); err != nil || r.FlowID != flowID || r.FlowDeleted {
					t.Fatalf("run %d after the migration: %+v (%v)", id, r, err)
				}
			}
			if c, err := cp.Latest(ctx, "old", fmt.Sprint(going)); err != nil || c == nil || c.ID != 7 {
				t.Fatalf("checkpoint after the migration: %+v (%v), want 7", c, err)
			}
			if p, err := s.RejectedPage(ctx, going, 0, 10); err != nil || p.Total != 1 || p.Records[0].Position != "in.csv:9" {
				t.Fatalf("rejected records after the migration: %+v (%v)", p, err)
			}
			// Run ids are not reused, not even the deleted newest one's.
			next := run(StatusPending, nil, 4)
			if next != gone+1 {
				t.Errorf("new run id %d, want %d", next, gone+1)
			}

			var active *RunActiveError
			if _, err := s.DeleteFlow(ctx, "old", false, time.Now()); !errors.As(err, &active) || fmt.Sprint(active.ActiveRuns()) != fmt.Sprint([]int64{going, next}) {
				t.Fatalf("delete with runs active: %v, want RunActiveError naming %d and %d", err, going, next)
			}
			stopped, err := s.DeleteFlow(ctx, "old", true, time.Now())
			if err != nil || fmt.Sprint(stopped) != fmt.Sprint([]int64{going, next}) {
				t.Fatalf("delete cancelling runs: %v %v", stopped, err)
			}
			if _, err := s.GetFlow(ctx, "old"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("flow after delete: %v, want not found", err)
			}
			if _, err := s.FlowVersions(ctx, "old"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("versions after delete: %v, want not found", err)
			}
			var n int
			if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM flow_versions`).Scan(&n); err != nil || n != 0 {
				t.Fatalf("%d version rows after delete (%v), want none", n, err)
			}
			// The queued run (no lease) is cancelled at once; the one in
			// progress is asked to stop and stopped by its host, which can
			// still write its checkpoints and outcome.
			want := map[int64]string{ok: StatusSuccess, going: StatusInProgress, next: StatusCancelled}
			for id, status := range want {
				r, err := s.GetRun(ctx, id)
				if err != nil || r.Status != status || !r.FlowDeleted || r.FlowID != 0 || r.FlowName != "old" {
					t.Fatalf("run %d after delete: %+v (%v), want %s, flow old deleted", id, r, err, status)
				}
			}
			if err := s.RenewLease(ctx, going, "host-a", time.Minute); !errors.Is(err, ErrCancelRequested) {
				t.Fatalf("renewing the lease of the run in progress: %v, want ErrCancelRequested", err)
			}
			if err := cp.Save(ctx, "old", fmt.Sprint(going), &engine.Checkpoint{ID: 8}, nil); err != nil {
				t.Fatalf("final checkpoint of the run whose flow was deleted: %v", err)
			}
			if err := s.FinishRun(ctx, going, StatusCancelled, RunCounts{Read: 5}, ErrCancelRequested.Error(), "", time.Now()); err != nil {
				t.Fatalf("finish the run whose flow was deleted: %v", err)
			}
			if r, err := s.GetRun(ctx, going); err != nil || r.Status != StatusCancelled || r.RecordsRead != 5 {
				t.Fatalf("run after its host stopped it: %+v (%v)", r, err)
			}
			if p, err := s.RejectedPage(ctx, going, 0, 10); err != nil || p.Total != 1 {
				t.Fatalf("rejected records of the run of a deleted flow: %+v (%v)", p, err)
			}
		})
	}
}
