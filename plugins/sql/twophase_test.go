package sql_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5"

	"github.com/activedataflow/adf/internal/testkit"
	"github.com/activedataflow/adf/sdk"
)

// These tests drive the sink in process, as the host would, through each
// window a crash can fall in between Flush (PREPARE TRANSACTION) and
// Commit (COMMIT PREPARED), and check the table row by row. A "crash" is
// Close without Commit: the prepared transaction outlives the sink, as it
// outlives a killed plugin process.

// preparedXacts lists the prepared transactions of c's database.
func preparedXacts(t testing.TB, c *pgx.Conn) []string {
	t.Helper()
	rows, err := c.Query(context.Background(), `SELECT gid FROM pg_prepared_xacts WHERE database = current_database() ORDER BY gid`)
	if err != nil {
		t.Fatalf("pg_prepared_xacts: %v", err)
	}
	gids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("pg_prepared_xacts: %v", err)
	}
	return gids
}

// newSinkDatabase is testkit.NewDatabase for tests that run the sink: a
// failing test may leave prepared transactions behind, which would keep the
// database from being dropped and hold their identifiers (unique per
// server), so they are rolled back first.
func newSinkDatabase(t *testing.T) string {
	t.Helper()
	url := testkit.NewDatabase(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, url)
		if err != nil {
			return
		}
		defer c.Close(ctx)
		for _, gid := range preparedXacts(t, c) {
			t.Logf("rolling back prepared transaction %s left by the test", gid)
			_, _ = c.Exec(ctx, "ROLLBACK PREPARED '"+gid+"'")
		}
	})
	return url
}

// cwBatch is rows id from..from+n-1, named "<tag> <id>".
func cwBatch(from, n int, tag string) arrow.RecordBatch {
	mem := memory.DefaultAllocator
	ids := array.NewInt64Builder(mem)
	names := array.NewStringBuilder(mem)
	defer ids.Release()
	defer names.Release()
	for i := from; i < from+n; i++ {
		ids.Append(int64(i))
		names.Append(fmt.Sprintf("%s %d", tag, i))
	}
	a, b := ids.NewArray(), names.NewArray()
	defer a.Release()
	defer b.Release()
	schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "name", Type: arrow.BinaryTypes.String}}, nil)
	return array.NewRecordBatch(schema, []arrow.Array{a, b}, int64(n))
}

// cwRows renders the rows cwBatch(from, n, tag) as the table holds them.
func cwRows(from, n int, tag string) []string {
	var out []string
	for i := from; i < from+n; i++ {
		out = append(out, fmt.Sprintf("%d|%s %d", i, tag, i))
	}
	return out
}

// crashWindow is one table and one flow run in it.
type crashWindow struct {
	t     *testing.T
	ctx   context.Context
	c     *pgx.Conn
	cfg   []byte
	table string
	run   string
}

func newCrashWindow(t *testing.T, url string, c *pgx.Conn, mode, name string) *crashWindow {
	t.Helper()
	table := "cw_" + mode + "_" + name
	if mode == "append" {
		// No key: a row written twice stays twice and is counted.
		exec(t, c, fmt.Sprintf("CREATE TABLE %s (id bigint NOT NULL, name text)", table))
	} else {
		exec(t, c, fmt.Sprintf("CREATE TABLE %s (id bigint PRIMARY KEY, name text)", table))
	}
	// A sink waiting on a lock a forgotten prepared transaction holds would
	// hang: fail instead.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return &crashWindow{t: t, ctx: ctx, c: c, table: table, run: "run-" + mode + "-" + name,
		cfg: []byte(fmt.Sprintf(`{"url": %q, "table": %q, "mode": %q, "key": ["id"], "connect_timeout": "5s"}`, url, table, mode))}
}

// open opens a sink of the run, restored from the checkpoint that
// returned st at id (none when st is nil).
func (w *crashWindow) open(id int64, st *sdk.FlushResult) sdk.Sink {
	w.t.Helper()
	s, err := component(w.t, sdk.KindSink).NewSinkFromConfig(w.cfg)
	if err != nil {
		w.t.Fatal(err)
	}
	init := sdk.SinkInit{Flow: "crash", RunID: w.run, Reject: func(r sdk.Rejected) error { w.t.Errorf("rejected %+v", r); return nil }}
	if st != nil {
		init.RestoredState, init.RestoredCheckpointID = st.State, id
	}
	if err := s.Open(w.ctx, init); err != nil {
		w.t.Fatalf("Open (restored checkpoint %d): %v", id, err)
	}
	return s
}

func (w *crashWindow) write(s sdk.Sink, from, n int, tag string) {
	w.t.Helper()
	rec := cwBatch(from, n, tag)
	defer rec.Release()
	if err := s.Write(w.ctx, rec); err != nil {
		w.t.Fatalf("Write: %v", err)
	}
}

func (w *crashWindow) flush(s sdk.Sink, id int64, final bool) sdk.FlushResult {
	w.t.Helper()
	res, err := s.Flush(w.ctx, id, final)
	if err != nil {
		w.t.Fatalf("Flush(%d): %v", id, err)
	}
	return res
}

func (w *crashWindow) commit(s sdk.Sink, id int64, res sdk.FlushResult, restored bool) {
	w.t.Helper()
	if err := s.(sdk.Committer).Commit(w.ctx, sdk.CommitRequest{CheckpointID: id, Committables: res.Committables, Restored: restored}); err != nil {
		w.t.Fatalf("Commit(%d, restored %v): %v", id, restored, err)
	}
}

// crash ends s without Commit: the prepared transaction stays behind.
func (w *crashWindow) crash(s sdk.Sink) {
	w.t.Helper()
	if err := s.Close(w.ctx); err != nil {
		w.t.Fatalf("Close: %v", err)
	}
}

// check compares the table with want row by row, and its count, sum(id)
// and distinct ids.
func (w *crashWindow) check(when string, want []string) {
	w.t.Helper()
	rows, err := w.c.Query(w.ctx, fmt.Sprintf("SELECT id::text || '|' || name FROM %s ORDER BY id, name", w.table))
	if err != nil {
		w.t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		w.t.Fatal(err)
	}
	slices.Sort(got)
	want = slices.Clone(want)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		w.t.Fatalf("%s: table %s holds %d rows, want %d:\n got %s\nwant %s", when, w.table, len(got), len(want), summary(got), summary(want))
	}
	var count, sum, distinct int64
	if err := w.c.QueryRow(w.ctx, fmt.Sprintf("SELECT count(*), coalesce(sum(id), 0)::bigint, count(DISTINCT id) FROM %s", w.table)).Scan(&count, &sum, &distinct); err != nil {
		w.t.Fatal(err)
	}
	var wantSum int64
	for _, r := range want {
		var id int64
		fmt.Sscanf(r, "%d|", &id)
		wantSum += id
	}
	if count != int64(len(want)) || sum != wantSum || distinct != int64(len(want)) {
		w.t.Fatalf("%s: count %d, sum %d, distinct %d; want %d, %d, %d", when, count, sum, distinct, len(want), wantSum, len(want))
	}
}

// prepared is the run's prepared transactions.
func (w *crashWindow) prepared() []string {
	w.t.Helper()
	var out []string
	for _, g := range preparedXacts(w.t, w.c) {
		if strings.HasPrefix(g, "adf:crash:"+w.run+":") {
			out = append(out, g)
		}
	}
	return out
}

func (w *crashWindow) wantPrepared(when string, gids ...string) {
	w.t.Helper()
	for i := range gids {
		gids[i] = "adf:crash:" + w.run + ":" + gids[i]
	}
	if got := w.prepared(); !slices.Equal(got, gids) {
		w.t.Fatalf("%s: prepared transactions %v, want %v", when, got, gids)
	}
}

func summary(rows []string) string {
	if len(rows) <= 6 {
		return fmt.Sprint(rows)
	}
	return fmt.Sprintf("%v … %v", rows[:3], rows[len(rows)-3:])
}

func TestCrashWindows(t *testing.T) {
	url := newSinkDatabase(t)
	c := connect(t, url)
	for _, mode := range []string{"append", "upsert"} {
		t.Run(mode, func(t *testing.T) {
			// (a) Flush(2) prepared, the sink dies before Commit(2), the
			// host restores checkpoint 1: checkpoint 2's transaction is
			// rolled back at Open and the replay is written once.
			t.Run("restore_before_prepared", func(t *testing.T) {
				w := newCrashWindow(t, url, c, mode, "a")
				s := w.open(0, nil)
				w.write(s, 0, 1000, "a1")
				r1 := w.flush(s, 1, false)
				w.commit(s, 1, r1, false)
				w.write(s, 1000, 1000, "a1")
				w.write(s, 2000, 500, "a1")
				w.flush(s, 2, false)
				w.crash(s)
				w.wantPrepared("after the crash", "2")
				w.check("after the crash", cwRows(0, 1000, "a1"))

				s = w.open(1, &r1)
				w.wantPrepared("after Open restoring checkpoint 1")
				w.commit(s, 1, r1, true)
				// The replay from checkpoint 1 (renamed, so a row surviving
				// from the rolled-back attempt would show).
				w.write(s, 1000, 1500, "a2")
				w.write(s, 2500, 500, "a2")
				r2 := w.flush(s, 2, true)
				w.commit(s, 2, r2, false)
				w.crash(s)
				w.wantPrepared("at the end")
				w.check("at the end", append(cwRows(0, 1000, "a1"), cwRows(1000, 2000, "a2")...))
			})
			// (b) Flush(2) prepared, the host persisted checkpoint 2 but
			// Commit(2) never ran; restored from 2, the restored Commit
			// publishes it once.
			t.Run("restore_prepared", func(t *testing.T) {
				w := newCrashWindow(t, url, c, mode, "b")
				s := w.open(0, nil)
				w.write(s, 0, 1000, "b1")
				r1 := w.flush(s, 1, false)
				w.commit(s, 1, r1, false)
				w.write(s, 1000, 1000, "b1")
				r2 := w.flush(s, 2, false)
				w.crash(s)

				s = w.open(2, &r2)
				w.wantPrepared("after Open restoring checkpoint 2", "2")
				w.check("before the restored Commit", cwRows(0, 1000, "b1"))
				w.commit(s, 2, r2, true)
				w.wantPrepared("after the restored Commit")
				w.check("after the restored Commit", cwRows(0, 2000, "b1"))
				w.commit(s, 2, r2, true) // again: nothing changes
				w.write(s, 2000, 700, "b2")
				r3 := w.flush(s, 3, true)
				w.commit(s, 3, r3, false)
				w.crash(s)
				w.check("at the end", append(cwRows(0, 2000, "b1"), cwRows(2000, 700, "b2")...))
			})
			// (c) Commit(2) ran, then the sink died; restored from 2, the
			// restored Commit finds the marker and does nothing.
			t.Run("restore_committed", func(t *testing.T) {
				w := newCrashWindow(t, url, c, mode, "c")
				s := w.open(0, nil)
				w.write(s, 0, 1000, "c1")
				r1 := w.flush(s, 1, false)
				w.commit(s, 1, r1, false)
				w.write(s, 1000, 1000, "c1")
				r2 := w.flush(s, 2, false)
				w.commit(s, 2, r2, false)
				w.write(s, 2000, 300, "lost") // not flushed: discarded
				w.crash(s)
				w.check("after the crash", cwRows(0, 2000, "c1"))

				s = w.open(2, &r2)
				w.commit(s, 2, r2, true)
				w.check("after the restored Commit", cwRows(0, 2000, "c1"))
				w.write(s, 2000, 300, "c2")
				r3 := w.flush(s, 3, true)
				w.commit(s, 3, r3, false)
				w.crash(s)
				w.wantPrepared("at the end")
				w.check("at the end", append(cwRows(0, 2000, "c1"), cwRows(2000, 300, "c2")...))
			})
			// The prepared transaction vanished (an operator ran ROLLBACK
			// PREPARED): the restored Commit reports data loss instead of
			// passing it over.
			t.Run("prepared_rolled_back_by_someone", func(t *testing.T) {
				w := newCrashWindow(t, url, c, mode, "d")
				s := w.open(0, nil)
				w.write(s, 0, 100, "d1")
				r1 := w.flush(s, 1, false)
				w.crash(s)
				exec(t, c, "ROLLBACK PREPARED 'adf:crash:"+w.run+":1'")

				s = w.open(1, &r1)
				defer s.Close(w.ctx)
				err := s.(sdk.Committer).Commit(w.ctx, sdk.CommitRequest{CheckpointID: 1, Committables: r1.Committables, Restored: true})
				var se *sdk.Error
				if !errors.As(err, &se) || se.Code != "data_loss" || se.Transient || !strings.Contains(se.Error(), "lost") {
					t.Fatalf("Commit of a rolled-back checkpoint: %v (%#v), want a non-transient data_loss error", err, se)
				}
				t.Logf("error: %v", err)
			})
			// A host that breaks the protocol (a Write between Flush(N) and
			// Commit(N) or before the restored Commit, a Commit without the
			// committables of a checkpoint that pre-committed rows, a restore
			// without the checkpoint id) gets an internal error naming it,
			// and the prepared transaction stays for the proper Commit.
			t.Run("protocol_violations", func(t *testing.T) {
				w := newCrashWindow(t, url, c, mode, "e")
				wantViolation := func(what string, err error, says ...string) {
					t.Helper()
					var se *sdk.Error
					if !errors.As(err, &se) || se.Code != sdk.CodeInternal || se.Transient {
						t.Fatalf("%s: %v (%#v), want a non-transient internal error", what, err, se)
					}
					for _, want := range says {
						if !strings.Contains(se.Error(), want) {
							t.Errorf("%s: error %q does not say %q", what, se.Error(), want)
						}
					}
					t.Logf("%s: %v", what, err)
				}
				gid := func(id int) string { return fmt.Sprintf("adf:crash:%s:%d", w.run, id) }
				write := func(s sdk.Sink, from, n int) error {
					rec := cwBatch(from, n, "e1")
					defer rec.Release()
					return s.Write(w.ctx, rec)
				}
				commitWithout := func(s sdk.Sink, id int64) error {
					return s.(sdk.Committer).Commit(w.ctx, sdk.CommitRequest{CheckpointID: id})
				}
				s := w.open(0, nil)
				w.write(s, 0, 100, "e1")
				r1 := w.flush(s, 1, false)
				wantViolation("Write after Flush(1) before Commit(1)", write(s, 100, 100), "before Commit(1)", "checkpoint 1 is pre-committed", gid(1))
				wantViolation("Commit(1) without committables", commitWithout(s, 1), "checkpoint 1 carries no committables", "checkpoint 1 pre-committed rows", gid(1))
				w.flush(s, 2, false) // nothing written: nothing prepared
				wantViolation("Commit(2) without committables before Commit(1)", commitWithout(s, 2), "checkpoint 1 before it", gid(1))
				w.wantPrepared("after the violations", "1")
				w.check("after the violations", nil)
				w.commit(s, 1, r1, false)
				if err := commitWithout(s, 2); err != nil {
					t.Fatalf("Commit(2) of a checkpoint that wrote nothing: %v", err)
				}
				w.check("after Commit(1)", cwRows(0, 100, "e1"))
				w.write(s, 100, 100, "e1")
				r3 := w.flush(s, 3, false)
				w.crash(s) // checkpoint 3 persisted, Commit(3) never ran

				bad, err := component(t, sdk.KindSink).NewSinkFromConfig(w.cfg)
				if err != nil {
					t.Fatal(err)
				}
				wantViolation("Open restored without a checkpoint id", bad.Open(w.ctx, sdk.SinkInit{Flow: "crash", RunID: w.run, RestoredState: []byte{}, Reject: func(sdk.Rejected) error { return nil }}),
					"no restored checkpoint id")
				bad.Close(w.ctx)
				w.wantPrepared("after the refused Open", "3")

				s = w.open(3, &r3)
				wantViolation("Write before the restored Commit(3)", write(s, 200, 100), "before Commit(3)", gid(3))
				w.commit(s, 3, r3, true)
				w.write(s, 200, 100, "e2")
				r4 := w.flush(s, 4, true)
				w.commit(s, 4, r4, false)
				w.crash(s)
				w.wantPrepared("at the end")
				w.check("at the end", append(cwRows(0, 200, "e1"), cwRows(200, 100, "e2")...))
			})
		})
	}
	var markers int
	if err := c.QueryRow(context.Background(), `SELECT count(*) FROM adf_sink_commits WHERE flow = 'crash'`).Scan(&markers); err != nil {
		t.Fatal(err)
	}
	// Each run keeps the markers of its last two checkpoints at most.
	if markers > 2*10 {
		t.Fatalf("%d markers left for 10 runs", markers)
	}
}
